"""Per-group results of a report (``--group-by FIELD``): real corpora mix generators and domains.

For each value ``g`` of the field among the synthetic documents, every analyzer runs again on
``[human_g, synthetic_g, edited_g]``: ``synthetic_g`` are the synthetic documents with that value
(``edited_g`` their edited versions), and ``human_g`` the human documents with the same value when
the human corpus has the field (topic- or domain-paired data), otherwise the whole human corpus
(generators: the human text has none). The documents are the report's sample, so a group's
numbers equal a report run on that group alone with the same sample. A group with fewer than 2
documents on either side is left out and named.

Statistics: per group, the analyzers' headline tests of human vs synthetic; all of them, over all
groups, form **one** family corrected with Holm's method (the number of tests is stated). Values
are point estimates; the report's bootstrap intervals and edit effects are for the whole corpora.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..corpus import Corpus, Document, MemoryCorpus, _as_text, _lookup
from ..errors import ConfigError

__all__ = ["GroupResults", "group_of", "run_groups", "split_by"]

MIN_DOCS = 2
MISSING = "(missing)"


def group_of(doc: Document, field_name: str) -> str | None:
    """The document's value of ``field_name`` (dotted for nested fields) as text; ``None`` when
    the field is absent or null."""
    found, value = _lookup(doc.metadata, field_name)
    return _as_text(value) if found and value is not None else None


@dataclass
class GroupResults:
    """``results[group][analyzer]``: the analyzers' results per group; ``sizes[group]``: documents
    per corpus; ``paired``: whether each group has its own human documents; ``skipped``: groups
    left out, with the reason; ``tests``: the per-group test family (Holm over all of it)."""

    field: str
    paired: bool
    results: dict[str, dict[str, Any]]
    sizes: dict[str, dict[str, int]]
    skipped: dict[str, str] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)  # corpus -> group of each document

    def to_frame(self):
        """Tidy: the analyzers' ``to_frame()`` rows of every group, with a ``group`` column."""
        import pandas as pd

        frames = []
        for g, res in self.results.items():
            for r in res.values():
                f = r.to_frame()
                f.insert(0, "group", g)
                frames.append(f)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def tests_frame(self):
        import pandas as pd

        return pd.DataFrame(self.tests)

    def headline_frame(self, synthetic: str):
        """One row per headline distance metric, one column per group: the synthetic corpus's
        distance to human."""
        import pandas as pd

        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for g, res in self.results.items():
            for name, r in res.items():
                for m in r.metrics():
                    if m.kind == "distance" and m.headline and m.corpus == synthetic:
                        row = rows.setdefault((name, m.name), {"analyzer": name, "metric": m.label})
                        row[g] = m.value
        return pd.DataFrame(list(rows.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "paired": self.paired,
            "sizes": self.sizes,
            "skipped": self.skipped,
            "tests": self.tests,
            "results": {g: {n: r.to_dict() for n, r in res.items()} for g, res in self.results.items()},
        }

    def figure(self, names: dict[str, str]):
        """Each group's distance to human on every headline distance metric (one panel per
        metric): synthetic filled, edited hollow; groups in their own colours."""
        from ..plotting import _lit, _plt, colors

        plt = _plt()
        s, e = names["synthetic"], names["edited"]
        metrics: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
        for g, res in self.results.items():
            for name, r in res.items():
                for m in r.metrics():
                    if m.kind == "distance" and m.headline and m.corpus in (s, e):
                        metrics.setdefault((name, m.label), {}).setdefault(g, {})[m.corpus] = m.value
        groups = list(self.results)
        col = colors(groups)
        n = max(1, len(metrics))
        cols = min(3, n)
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(
            rows, cols, figsize=(4.3 * cols, 0.35 * len(groups) * rows + 1.6 * rows), squeeze=False
        )
        for ax, ((analyzer, label), by_group) in zip(axes.ravel(), metrics.items()):
            for y, g in enumerate(groups):
                v = by_group.get(g, {})
                if s in v:
                    ax.plot(v[s], y, "o", color=col[g], ms=7)
                if e in v:
                    ax.plot(v[e], y, "o", mfc="none", mec=col[g], ms=10)
            ax.set_yticks(range(len(groups)), [_lit(g) for g in groups], fontsize=8)
            ax.set_title(_lit(f"{analyzer}: {label}"), fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
            ax.invert_yaxis()
        for ax in axes.ravel()[len(metrics) :]:
            ax.set_visible(False)
        fig.suptitle(f"distance to {names['human']} by {self.field} (filled: {s}; hollow: {e})", fontsize=10)
        fig.tight_layout()
        return fig


def run_groups(report, corpora: dict[str, Corpus], field_name: str) -> GroupResults:
    """Run the report's analyzers (as configured for the whole report, shared model and embedder)
    once per group; see the module docstring."""
    n_h, n_s, n_e = report.names["human"], report.names["synthetic"], report.names["edited"]
    human = list(corpora[n_h])
    synthetic = list(corpora[n_s])
    edited = {d.id: d for d in corpora[n_e]} if n_e in corpora else None
    syn_groups = [group_of(d, field_name) or MISSING for d in synthetic]
    if all(g == MISSING for g in syn_groups):
        raise ConfigError(
            f"group_by: no {n_s} document has the field {field_name!r} (fields: {', '.join(list(synthetic[0].metadata)[:8]) if synthetic else 'none'})"
        )
    human_groups = [group_of(d, field_name) for d in human]
    paired = any(g is not None for g in human_groups)
    out = GroupResults(field_name, paired, {}, {})
    out.labels[n_s] = syn_groups
    if paired:
        out.labels[n_h] = [g or MISSING for g in human_groups]
    for g in sorted(set(syn_groups)):
        s_docs = [d for d, x in zip(synthetic, syn_groups) if x == g]
        h_docs = [d for d, x in zip(human, human_groups) if (x or MISSING) == g] if paired else human
        if len(s_docs) < MIN_DOCS or len(h_docs) < MIN_DOCS:
            out.skipped[g] = (
                f"{len(h_docs)} {n_h} and {len(s_docs)} {n_s} documents (at least {MIN_DOCS} each needed)"
            )
            continue
        group = [_memory(h_docs, n_h), _memory(s_docs, n_s)]
        if edited is not None:
            group.append(_memory([edited[d.id] for d in s_docs], n_e))
        out.sizes[g] = {c.name: len(c) for c in group}
        out.results[g] = {name: a.analyze(group, reference=0) for name, a in report._effective.items()}
    from .effects import headline_tests, with_holm

    out.tests = with_holm(
        [{"group": g, **row} for g, res in out.results.items() for row in headline_tests(res, n_h, n_s)]
    )
    return out


def split_by(corpus: Corpus, field_name: str) -> list[Corpus]:
    """``corpus`` as one in-memory corpus per value of ``field_name``, named ``name·value`` in
    order of the values (documents without it in ``name·(missing)``); the analyzer subcommands'
    ``--group-by``."""
    by: dict[str, list[Document]] = {}
    for d in corpus:
        by.setdefault(group_of(d, field_name) or MISSING, []).append(d)
    if set(by) == {MISSING}:
        raise ConfigError(f"--group-by: no document of {corpus.name} has the field {field_name!r}")
    return [MemoryCorpus(by[g], name=f"{corpus.name}·{g}") for g in sorted(by)]


def _memory(docs: list[Document], name: str) -> MemoryCorpus:
    c = MemoryCorpus(docs, name=name)
    c._canonical = True  # already the report's sample, in its order
    return c


def group_map(embed_result: Any, groups: GroupResults):
    """The embedding map of the whole report with the synthetic (and, paired, the human) points
    coloured by group: human circles, synthetic crosses; the edited corpus is left out (it lies on
    the synthetic points)."""
    import numpy as np

    from ..plotting import _lit, _plt, colors

    plt = _plt()
    proj = embed_result.projection
    xy, labels = proj.get("xy"), proj.get("labels")
    fig, ax = plt.subplots(figsize=(7, 5.5))
    names = sorted({g for v in groups.labels.values() for g in v})
    col = colors(names)
    marker = {0: "o", 1: "x"}
    for i, corpus in enumerate(embed_result.corpus_names()[:2]):
        pts = xy[labels == corpus] if xy is not None and len(xy) else np.zeros((0, 2))
        lab = groups.labels.get(corpus)
        if lab is None or len(lab) != len(pts):
            ax.scatter(
                pts[:, 0],
                pts[:, 1],
                s=10,
                alpha=0.35,
                color="#888888",
                label=f"{_lit(corpus)} (n={len(pts)})",
            )
            continue
        lab = np.asarray(lab, dtype=object)
        for g in names:
            m = lab == g
            if m.any():
                ax.scatter(
                    pts[m, 0],
                    pts[m, 1],
                    s=14,
                    alpha=0.7,
                    color=col[g],
                    marker=marker[i],
                    label=f"{_lit(corpus)} · {_lit(g)} (n={int(m.sum())})",
                )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{_lit(embed_result.embedder['name'])} embeddings by {_lit(groups.field)}")
    ax.legend(fontsize=7, markerscale=1.3)
    fig.tight_layout()
    return fig
