"""``compare(human, synthetic)``: edit the synthetic corpus, run every analyzer on all three
corpora, and hold the numbers, figures and provenance of one report.

The editor's scoring pass of the synthetic corpus also gives its token statistics, so no text is
scored twice. The verdict compares, per family, the distance human↔synthetic with human↔edited
and says only what those numbers show.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._provenance import file_facts, package_versions
from ..corpus import Corpus, Document, MemoryCorpus, read_corpus, reservoir_sample
from ..errors import ConfigError

__all__ = ["ANALYZERS", "Report", "compare"]

ANALYZERS = ("ngrams", "tokens", "embed")
SCHEMA_VERSION = 1


@dataclass
class Report:
    """Everything one report shows. ``save(dir)`` writes it; in Jupyter it renders inline."""

    names: dict[str, str]
    corpora: list[dict[str, Any]]
    config: dict[str, Any]
    ngrams: Any = None
    tokens: Any = None
    embed: Any = None
    edit: dict[str, Any] | None = None
    edited_docs: list[Any] = field(default_factory=list, repr=False)
    edited_records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    edit_manifest: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    _figures: dict[str, Any] | None = field(default=None, repr=False)

    # -- numbers -----------------------------------------------------------------------------
    def verdict(self) -> dict[str, Any]:
        from .verdict import build_verdict

        return build_verdict(self)

    def metrics(self) -> dict[str, Any]:
        """The ``metrics.json`` object."""
        return {
            "schema_version": SCHEMA_VERSION,
            "config": self.config,
            "corpora": self.corpora,
            "ngrams": self.ngrams.to_dict() if self.ngrams is not None else None,
            "tokens": self.tokens.to_dict() if self.tokens is not None else None,
            "embed": self.embed.to_dict() if self.embed is not None else None,
            "edit": self.edit,
            "verdict": self.verdict(),
            "timings": self.timings,
            "provenance": self.provenance,
        }

    def to_frame(self):
        """One row per corpus × metric (headline metrics; pair metrics are against human)."""
        import pandas as pd

        rows = []
        for family in self.verdict()["families"]:
            for m in family["metrics"]:
                for corpus, value in m["values"].items():
                    rows.append(
                        {
                            "family": family["name"],
                            "metric": m["name"],
                            "corpus": corpus,
                            "value": value,
                            "kind": m["kind"],
                        }
                    )
        return pd.DataFrame(rows)

    # -- figures and output --------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        """All figures, ``{name: matplotlib Figure}`` (made once)."""
        if self._figures is None:
            from ..plotting import edit_figures

            figs: dict[str, Any] = {}
            if self.ngrams is not None:
                figs.update({f"ngrams_{k}": v for k, v in self.ngrams.plot().items()})
            if self.tokens is not None:
                figs.update({f"tokens_{k}": v for k, v in self.tokens.plot().items()})
            if self.embed is not None:
                figs.update({f"embed_{k}": v for k, v in self.embed.plot().items()})
            if self.edited_docs:
                figs.update({f"edit_{k}": v for k, v in edit_figures(self.edited_docs).items()})
            self._figures = figs
        return self._figures

    def html(self) -> str:
        from .render import render_html

        return render_html(self)

    def _repr_html_(self) -> str:
        return self.html()

    def tables(self) -> dict[str, Any]:
        out = {"summary": self.to_frame()}
        if self.ngrams is not None:
            out["ngrams"] = self.ngrams.to_frame()
            out["ngram_pairs"] = self.ngrams.pairs_frame()
        if self.tokens is not None:
            out["tokens"] = self.tokens.to_frame()
            out["token_pairs"] = self.tokens.pairs_frame()
            out["token_documents"] = self.tokens.documents_frame()
        if self.embed is not None:
            out["embed_pairs"] = self.embed.to_frame()
            out["embed_corpora"] = self.embed.corpora_frame()
        if self.edited_docs:
            import pandas as pd

            out["edit_documents"] = pd.DataFrame(
                [
                    {"id": e.doc.id, **{k: v for k, v in e.audit.to_dict().items() if k != "positions"}}
                    for e in self.edited_docs
                ]
            )
        return out

    def save(self, directory: str | Path = "toedit-report", *, overwrite: bool = False) -> Path:
        """Write ``report.html``, ``metrics.json``, ``tables/*.csv``, ``figures/*.png`` and, when it
        edited, ``edited.jsonl`` with its manifest. The folder appears only when complete."""
        from .render import save_report

        return save_report(self, Path(directory), overwrite=overwrite)


# ---------------------------------------------------------------------------------------------


def _as_corpus(x: Any, name: str, **read_kw: Any) -> Corpus:
    if isinstance(x, Corpus):
        return x
    if isinstance(x, (str, Path)) or (
        isinstance(x, Sequence) and x and isinstance(x[0], (str, Path)) and Path(str(x[0])).exists()
    ):
        return read_corpus(x, name=name, **read_kw)
    if isinstance(x, Sequence):
        return MemoryCorpus(x, name=name)
    raise ConfigError(f"cannot read a corpus from {type(x).__name__}")


def _sample(corpus: Corpus, max_docs: int | None, seed: int, name: str) -> tuple[MemoryCorpus, int]:
    docs, total = reservoir_sample(iter(corpus), max_docs, seed) if max_docs else (list(corpus), None)
    total = total if total is not None else len(docs)
    return MemoryCorpus(docs, name=name), total


def compare(
    human: Any,
    synthetic: Any,
    edited: Any = None,
    *,
    edit: bool = True,
    names: Sequence[str] = ("human", "synthetic", "edited"),
    model: Any = "smollm2-135m",
    backend: str = "transformers",
    lm_kwargs: dict[str, Any] | None = None,
    embedder: Any = "minilm",
    max_docs: int | None = 1000,
    seed: int = 0,
    p: float = 0.99,
    k: int = 8,
    beta: float | None = None,
    strategy: str = "up_revise",
    drop_below: float = 0.001,
    analyzers: Sequence[str] = ANALYZERS,
    mauve_seeds: int = 5,
    permutations: int = 1000,
    progress: bool = False,
    command: str | None = None,
) -> Report:
    """Compare a human corpus with a synthetic one and (unless ``edit=False``) its ToEdit variant.

    ``human``, ``synthetic`` and ``edited`` are :class:`~toedit_stats.Corpus` objects, paths, or
    lists of texts. With ``edited=None`` and ``edit=True`` the synthetic corpus is edited here
    (``p``, ``k``, ``beta``, ``strategy``, ``drop_below``, ``seed``). ``max_docs`` samples each
    corpus (seeded) before anything runs (default 1,000; ``None`` uses every document, held in
    memory). Returns a :class:`Report`.

    >>> report = compare("examples/human.jsonl", "examples/synthetic.jsonl")   # doctest: +SKIP
    >>> report.save("toedit-report")                                           # doctest: +SKIP
    """
    from ..analyzers.tokens import token_stats
    from ..editing import EditConfig
    from ..editing import edit as run_edit
    from ..lm import load_lm

    unknown = set(analyzers) - set(ANALYZERS)
    if unknown:
        raise ConfigError(f"unknown analyzers {sorted(unknown)}; choose from {', '.join(ANALYZERS)}")
    if max_docs is not None and max_docs < 2:
        raise ConfigError(f"max_docs must be at least 2, got {max_docs}")
    n_h, n_s, n_e = names
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    src = {n_h: _as_corpus(human, n_h), n_s: _as_corpus(synthetic, n_s)}
    if edited is not None:
        src[n_e] = _as_corpus(edited, n_e)
    corpora: dict[str, MemoryCorpus] = {}
    totals: dict[str, int] = {}
    for name, c in src.items():
        corpora[name], totals[name] = _sample(c, max_docs, seed, name)
    timings["read"] = time.perf_counter() - t0

    cfg = EditConfig(p=p, k=k, beta=beta, strategy=strategy, drop_below=drop_below, seed=seed)
    lm = None
    if "tokens" in analyzers or (edited is None and edit):
        lm = load_lm(model, backend=backend, **dict(lm_kwargs or {}))
    precomputed = {}
    edit_summary = None
    edited_docs: list[Any] = []
    edited_records: list[dict[str, Any]] = []
    if edited is None and edit:
        t = time.perf_counter()
        stream = run_edit(list(corpora[n_s]), lm, cfg, audit_positions=True)
        if progress:
            from tqdm.auto import tqdm

            stream = tqdm(stream, total=len(corpora[n_s]), desc="editing synthetic", unit="doc")
        edited_docs = list(stream)
        edited_records = [e.record() for e in edited_docs]
        corpora[n_e] = MemoryCorpus(
            [Document(e.doc.id, e.doc.text, e.doc.metadata) for e in edited_docs], name=n_e
        )
        totals[n_e] = len(edited_docs)
        precomputed[n_s] = token_stats(n_s, (e.scores for e in edited_docs))
        sums = {
            key: sum(getattr(e.audit, key) for e in edited_docs)
            for key in ("tokens", "selected", "changed", "deleted", "skipped_unsafe")
        }
        edit_summary = {
            "documents": len(edited_docs),
            **sums,
            "config": cfg.to_dict(),
            "documents_changed": sum(1 for e in edited_docs if e.doc.text != e.original),
        }
        timings["edit"] = time.perf_counter() - t
    order = [n for n in (n_h, n_s, n_e) if n in corpora]
    ordered = [corpora[n] for n in order]
    stages = None
    if progress:
        from tqdm.auto import tqdm

        stages = tqdm(total=len(analyzers), desc="analyzers", unit="stage")

    result = {}
    if "tokens" in analyzers:
        from ..analyzers.tokens import analyze_tokens

        t = time.perf_counter()
        result["tokens"] = analyze_tokens(
            ordered, model=lm, max_docs=None, seed=seed, precomputed=precomputed, progress=progress
        )
        timings["tokens"] = time.perf_counter() - t
        if stages is not None:
            stages.update(1)
    if "ngrams" in analyzers:
        from ..analyzers.ngrams import analyze_ngrams

        t = time.perf_counter()
        result["ngrams"] = analyze_ngrams(ordered, seed=seed)
        timings["ngrams"] = time.perf_counter() - t
        if stages is not None:
            stages.update(1)
    if "embed" in analyzers:
        from ..analyzers.embeddings import analyze_embeddings

        t = time.perf_counter()
        result["embed"] = analyze_embeddings(
            ordered,
            embedder=embedder,
            max_docs=max_docs or 1000,
            seed=seed,
            mauve_seeds=mauve_seeds,
            permutations=permutations,
            progress=progress,
        )
        timings["embed"] = time.perf_counter() - t
        if stages is not None:
            stages.update(1)

    if stages is not None:
        stages.close()
    info = []
    for name in order:
        c = src.get(name)
        info.append(
            {
                "name": name,
                "documents": len(corpora[name]),
                "of": totals[name],
                "sampled": max_docs is not None and len(corpora[name]) < totals[name],
                "characters": sum(len(d.text) for d in corpora[name]),
                "source": "edited here"
                if c is None
                else [str(p) for p in getattr(c, "paths", ())] or "in memory",
                "files": [] if c is None else [file_facts(f) for f in getattr(c, "files", [])],
            }
        )
    config = {
        "names": list(order),
        "analyzers": list(analyzers),
        "seed": seed,
        "max_docs": max_docs,
        "model": getattr(lm, "name", model if isinstance(model, str) else None),
        "backend": backend,
        "embedder": embedder if isinstance(embedder, str) else getattr(embedder, "name", str(embedder)),
        "edit": cfg.to_dict() if edit_summary else None,
        "edited_given": edited is not None,
        "mauve_seeds": mauve_seeds,
        "permutations": permutations,
    }
    provenance = {
        "command": command or " ".join(sys.argv),
        "versions": package_versions(),
        "model": lm.info() if lm is not None and hasattr(lm, "info") else None,
        "embedder": result["embed"].embedder if "embed" in result else None,
        "platform": platform.platform(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    timings["total"] = time.perf_counter() - t0
    return Report(
        names={"human": n_h, "synthetic": n_s, "edited": n_e},
        corpora=info,
        config=config,
        ngrams=result.get("ngrams"),
        tokens=result.get("tokens"),
        embed=result.get("embed"),
        edit=edit_summary,
        edited_docs=edited_docs,
        edited_records=edited_records,
        timings={k: round(v, 3) for k, v in timings.items()},
        provenance=provenance,
    )
