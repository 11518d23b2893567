"""One report: edit the synthetic corpus, run every analyzer on all three corpora, and hold the
results, figures and provenance.

``Report(analyzers=[...], editor=EditConfig(...)).run(human, synthetic, edited=None)`` does the
work; :func:`compare` is the same in one call. The report holds ``results: dict[name, Result]``
and knows no analyzer by name: its verdict, ``metrics.json``, tables and HTML loop over the
results' :meth:`~toedit_stats.analyzers.base.Result.metrics` and ``figures()``.

One language model serves the editor and every analyzer that needs one, through an in-memory
score cache: the editor's scoring pass of the synthetic corpus also gives its token statistics,
and documents the edit left unchanged are not scored again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..analyzers.base import Analyzer, Metric, Result
from ..errors import ConfigError
from ..execution import resolve_executor
from .config import DEFAULTS, SampleOptions
from .inputs import make_analyzers
from .stages import STAGES, read_stage

__all__ = ["Report", "compare", "make_analyzers"]

SCHEMA_VERSION = 2


class Report:
    """Everything one report shows. ``run()`` fills it; ``save(dir)`` writes it; in Jupyter it
    renders a compact summary inline (``html()`` is the full page).

    Parameters
    ----------
    analyzers : names or :class:`~toedit_stats.analyzers.base.Analyzer` instances (default:
        every registered analyzer).
    editor : an :class:`~toedit_stats.editing.EditConfig`, ``True`` (the paper's setting) or
        ``None``/``False`` (no editing).
    lm : the language model for the editor and every analyzer that needs one (name,
        :class:`~toedit_stats.lm.config.LMConfig` or loaded backend); an analyzer constructed with
        its own model object keeps it.
    max_docs : each corpus is sampled (seeded, :func:`~toedit_stats.corpus.sample_documents`) to
        at most this many documents before anything runs; ``None`` uses every document (held in
        memory). Analyzers then see exactly these documents.
    seed : one seed for sampling, editing, every analyzer and the bootstrap.
    bootstrap : replicates of the seeded paired bootstrap behind every interval and the edit
        effect (:mod:`toedit_stats.report.effects`); 0 switches intervals off.
    select : ``"dsir"`` adds DSIR importance resampling (the paper's selection baseline,
        :mod:`toedit_stats.selection`) beside editing: ``select_n`` documents (default: half the
        synthetic sample) drawn from the synthetic sample with the human sample as target form a
        corpus ``selected``, and as many drawn uniformly at random (seeded) form ``uniform``, its
        control; the selection effect is ``Δ = d(human, selected) − d(human, uniform)`` with a
        bootstrap interval, so selection is credited only with what picking that many documents at
        random would not do (plug-in distances depend on sample size).
    group_by : a metadata field (e.g. ``generator``, ``domain``; dotted for nested fields): every
        analyzer also runs per value of it on the synthetic (and edited) documents of that group —
        against the human documents of the same group when the human corpus has the field, else
        against the whole human corpus — with the per-group tests Holm-corrected together
        (:mod:`toedit_stats.report.groups`).
    work_dir : keep the language-model scores and the embeddings in this folder (content-addressed
        caches, written atomically) instead of in memory, so that a report killed part-way and run
        again with the same ``work_dir`` redoes only what was not finished (``report --resume``).
    scores : write per-document audit scores (:func:`toedit_stats.scores.score`) of the human,
        synthetic and edited corpora; the report lists the most and least human-like synthetic
        documents by the classifier. Needs the embedding analyzer (its embeddings are reused).
    executor : where the per-document model work runs (an
        :class:`~toedit_stats.execution.Executor`, default this process): scoring the human,
        synthetic and edited documents and embedding every text, each text once, into the
        report's caches; the editing (from those scores, with the edited documents rescored from
        their first change here), the statistics and the sweep run here. On Ray each worker loads
        ``lm`` itself, which must then be a name or an ``LMConfig``.
    """

    def __init__(
        self,
        analyzers: Sequence[str | Analyzer] | None = None,
        editor: Any = True,
        *,
        lm: Any = "smollm2-135m",
        max_docs: int | None = DEFAULTS.max_docs,
        seed: int = 0,
        names: Sequence[str] = ("human", "synthetic", "edited"),
        bootstrap: int = DEFAULTS.bootstrap,
        select: str | None = None,
        select_n: int | None = None,
        scores: bool = True,
        group_by: str | None = None,
        work_dir: str | Path | None = None,
        progress: bool = False,
        command: str | None = None,
        executor: Any = None,
    ):
        from ..editing import EditConfig

        SampleOptions(max_docs=max_docs, bootstrap=bootstrap)  # checked as the flags are
        if editor is True:
            editor = EditConfig(seed=seed)
        elif editor is False:
            editor = None
        elif editor is not None and not isinstance(editor, EditConfig):
            raise ConfigError(f"editor must be an EditConfig, True or None, got {type(editor).__name__}")
        if len(names) != 3:
            raise ConfigError(f"names must be three labels (human, synthetic, edited), got {list(names)}")
        if select not in (None, "dsir"):
            from ..options import bad_value

            raise bad_value("select", "'dsir' or None", select)
        if select_n is not None and (
            isinstance(select_n, bool) or not isinstance(select_n, int) or select_n < 2
        ):
            raise ConfigError(f"select_n must be an integer >= 2 (or none), got {select_n!r}")
        self.analyzers = make_analyzers(analyzers)
        self.editor = editor
        self.select = select
        self.select_n = select_n
        self.want_scores = bool(scores)
        if group_by is not None and (not isinstance(group_by, str) or not group_by.strip()):
            raise ConfigError(f"group_by must be a field name, got {group_by!r}")
        self.group_by = group_by
        self.groups: Any = None
        self.work_dir = work_dir
        self.executor = resolve_executor(executor)  # where the model work (scoring, embedding) runs
        self.selection: dict[str, Any] | None = None
        self.scores: Any = None
        self.lm_spec = lm
        self.max_docs = max_docs
        self.seed = seed
        self.names = {"human": names[0], "synthetic": names[1], "edited": names[2]}
        self.bootstrap = bootstrap
        self.sweep_result: Any = None  # a SweepResult, added after the run (report.sweep.add_sweep)
        self.context: Any = None  # the last run's RunContext (report.stages)
        self.progress = progress
        self.command = command
        self._effects: dict[str, Any] | None = None
        self.results: dict[str, Result] = {}
        self.corpora: list[dict[str, Any]] = []
        self.config: dict[str, Any] = {}
        self.edit: dict[str, Any] | None = None
        self.edited_docs: list[Any] = []
        self.edited_records: list[dict[str, Any]] = []
        self.edit_manifest: dict[str, Any] | None = None
        self.timings: dict[str, float] = {}
        self.provenance: dict[str, Any] = {}
        self._verdict: dict[str, Any] | None = None
        self._figures: dict[str, Any] | None = None
        self._pngs: dict[str, bytes] | None = None

    # -- running --------------------------------------------------------------------------------
    def run(self, human: Any, synthetic: Any, edited: Any = None) -> Report:
        """Sample the corpora, edit the synthetic one (unless ``edited`` is given or editing is
        off), run every analyzer on all corpora with the human one as reference: the stages of
        :mod:`toedit_stats.report.stages`, in order, over one context (kept as ``context`` for
        what runs after, e.g. :func:`~toedit_stats.report.sweep.add_sweep`). Returns self."""
        t0 = time.perf_counter()
        self.context = read_stage(self, human, synthetic, edited)
        self.timings["read"] = time.perf_counter() - t0
        for name, stage in STAGES:
            t = time.perf_counter()
            if stage(self, self.context):
                self.timings[name] = time.perf_counter() - t
        self.timings["total"] = time.perf_counter() - t0
        self.timings = {k: round(v, 3) for k, v in self.timings.items()}
        self._verdict = self._figures = self._pngs = self._effects = None
        self._differences = None
        self._length_fair = None
        return self

    def human_like(self, k: int = 10, excerpt: int = 300):
        """The ``k`` most and least human-like synthetic documents by the classifier's out-of-fold
        probability ``p_synthetic`` (from the per-document scores), with an excerpt each."""
        import pandas as pd

        if self.scores is None or "p_synthetic" not in self.scores:
            return pd.DataFrame()
        texts = {d.id: d.text for d in self._synthetic_docs}
        syn = self.scores[self.scores["corpus"] == self.names["synthetic"]].dropna(subset=["p_synthetic"])
        order = syn.sort_values(["p_synthetic", "id"], kind="stable")
        k = min(k, len(order) // 2)  # no document in both lists
        most = order.head(k).assign(rank="most human-like")
        least = order.tail(k).iloc[::-1].assign(rank="least human-like")
        out = pd.concat([most, least], ignore_index=True)
        out["excerpt"] = [_excerpt(texts.get(i, ""), excerpt) for i in out["id"]]
        cols = ["rank", "id", "p_synthetic", "nearest_reference", "perplexity", "words", "excerpt"]
        return out[[c for c in cols if c in out]]

    # -- numbers ----------------------------------------------------------------------------------
    def metrics(self) -> list[Metric]:
        """Every analyzer's typed :class:`~toedit_stats.analyzers.base.Metric` records."""
        return [m for r in self.results.values() for m in r.metrics()]

    def effects(self) -> dict[str, Any]:
        """Intervals, the edit effect per distance metric and the Holm-corrected test families
        (computed once; see :mod:`toedit_stats.report.effects`)."""
        if self._effects is None:
            from .effects import compute_effects

            t = time.perf_counter()
            self._effects = compute_effects(self, self.bootstrap)
            self.timings["bootstrap"] = round(time.perf_counter() - t, 3)
        return self._effects

    def differences(self):
        """The ranked "largest differences" (synthetic vs human, edited vs synthetic): one
        standardised effect per metric with its interval and Holm-adjusted p-value, largest first
        (:mod:`toedit_stats.report.differences`). Also ``tables/differences.csv``."""
        if getattr(self, "_differences", None) is None:
            from .differences import differences

            self._differences = differences(self)
        return self._differences

    def length_fair(self):
        """Synthetic vs human on all documents and on length-matched ones: whether each
        difference remains once both sides have the same document lengths or is mostly length
        (:mod:`toedit_stats.report.lengthfair`; needs the per-document scores). Also
        ``tables/length_fair.csv``."""
        if getattr(self, "_length_fair", None) is None:
            import pandas as pd

            from .lengthfair import length_fair

            emb = self.results.get("embed")
            self._length_fair = (
                pd.DataFrame()
                if self.scores is None
                else length_fair(
                    self.scores,
                    self.names["human"],
                    self.names["synthetic"],
                    embeddings=getattr(emb, "embeddings", None),
                    embedding_ids=getattr(emb, "ids", None),
                    seed=self.seed,
                )
            )
        return self._length_fair

    def effects_frame(self):
        """The edit effect: one row per distance metric (Δ, its interval, the verdict)."""
        import pandas as pd

        return pd.DataFrame(self.effects()["effects"])

    def plot(self, which: str | None = None):
        """The report's figure that answers the question: a forest plot of the edit effect Δ with
        its interval for every distance metric (``which`` picks any other figure by name)."""
        if which is None or which == "edit_effects":
            from ..plotting import detached
            from .forest import forest_plot

            return detached(forest_plot(self))
        figs = self.figures()
        if which not in figs:
            raise ConfigError(f"figure must be one of {', '.join(figs)}, got {which!r}")
        return figs[which]

    def verdict(self) -> dict[str, Any]:
        """Per analyzer, its headline metrics for every corpus, and the summary paragraph (made once)."""
        if self._verdict is None:
            from .verdict import build_verdict

            self._verdict = build_verdict(self)
        return self._verdict

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` object (JSON-safe)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "config": self.config,
            "corpora": self.corpora,
            "results": {name: r.to_dict() for name, r in self.results.items()},
            "metrics": [m.to_dict() for m in self.metrics()],
            "edit": self.edit,
            "effects": {
                "replicates": self.effects()["replicates"],
                "edit": self.effects()["effects"],
                "tests": self.effects()["tests"],
                "paired_tests": self.effects()["paired"]["tests"],
                "intervals": [
                    {"analyzer": a, "metric": m, "corpus": c, "low": lo, "high": hi}
                    for (a, m, c), (lo, hi) in self.effects()["intervals"].items()
                ],
            },
            "verdict": self.verdict(),
            "sweep": self.sweep_result.to_dict() if self.sweep_result is not None else None,
            "selection": (
                {
                    **{k: v for k, v in self.selection.items() if k != "log_weights"},
                    "effects": self.effects()["selection"],
                }
                if self.selection
                else None
            ),
            "groups": self.groups.to_dict() if self.groups is not None else None,
            "timings": self.timings,
            "provenance": self.provenance,
        }

    def to_frame(self):
        """Tidy: one row per metric × corpus over every analyzer (see ``Result.to_frame``)."""
        import pandas as pd

        frames = [r.to_frame() for r in self.results.values()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def summary_frame(self):
        """The verdict table: headline metrics, one row per metric, one column per corpus."""
        import pandas as pd

        rows = []
        for fam in self.verdict()["families"]:
            for m in fam["metrics"]:
                rows.append(
                    {
                        "analyzer": fam["analyzer"],
                        "metric": m["name"],
                        **m["values"],
                        "edited vs synthetic": m.get("moved", ""),
                    }
                )
        return pd.DataFrame(rows)

    # -- figures and output ---------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        """All figures, ``{analyzer_figure: matplotlib Figure}`` (made once)."""
        if self._figures is None:
            from ..plotting import edit_figures

            figs: dict[str, Any] = {}
            if self.effects()["effects"]:
                figs["edit_effects"] = self.plot()
            for view in self.effects()["paired"]["views"].values():
                figs[f"edit_paired_{view.analyzer}"] = view.figure()
            if self.sweep_result is not None:
                figs["sweep_frontier"] = self.sweep_result.frontier()
            if self.groups is not None and self.groups.results:
                from .groups import group_map

                figs["groups_distances"] = self.groups.figure(self.names)
                if "embed" in self.results:
                    figs["groups_embedding_map"] = group_map(self.results["embed"], self.groups)
            for name, r in self.results.items():
                figs.update({f"{name}_{k}": v for k, v in r.figures().items()})
            if self.edited_docs:
                figs.update({f"edit_{k}": v for k, v in edit_figures(self.edited_docs).items()})
            from ..plotting import detached

            self._figures = {k: detached(v) for k, v in figs.items()}
        return self._figures

    def tables(self) -> dict[str, Any]:
        out = {"summary": self.summary_frame(), "differences": self.differences()}
        if len(self.length_fair()):
            out["length_fair"] = self.length_fair()
        if self.effects()["effects"]:
            out["edit_effects"] = self.effects_frame()
        for name, view in self.effects()["paired"]["views"].items():
            out[f"edit_paired_{name}"] = view.frame
        if self.sweep_result is not None:
            out["sweep"] = self.sweep_result.to_frame()
            out["sweep_effects"] = self.sweep_result.effects_frame()
        for r in self.results.values():
            out.update(r.tables())
        if self.effects()["selection"]:
            import pandas as pd

            out["selection_effects"] = pd.DataFrame(self.effects()["selection"])
            w = self.selection["log_weights"]
            chosen, uniform = set(self.selection["selected_ids"]), set(self.selection["uniform_ids"])
            out["selection_documents"] = pd.DataFrame(
                {
                    "id": list(w),
                    "dsir_log_weight": list(w.values()),
                    "selected": [i in chosen for i in w],
                    "uniform": [i in uniform for i in w],
                }
            )
        if self.scores is not None and "p_synthetic" in self.scores:
            out["human_like_documents"] = self.human_like()
        if self.groups is not None:
            out["groups"] = self.groups.to_frame()
            out["group_tests"] = self.groups.tests_frame()
        if self.edited_docs:
            import pandas as pd

            out["edit_documents"] = pd.DataFrame(
                [
                    {"id": e.doc.id, **{k: v for k, v in e.audit.to_dict().items() if k != "positions"}}
                    for e in self.edited_docs
                ]
            )
        return out

    def html(self) -> str:
        """The full self-contained report page."""
        from .render import render_html

        return render_html(self)

    def __repr__(self) -> str:
        docs = ", ".join(f"{c['name']} {c['documents']}" for c in self.corpora) or "not run"
        return f"<Report [{docs}] analyzers={list(self.results) or [a.name for a in self.analyzers]}>"

    def _repr_html_(self) -> str:
        """A compact, escaped summary for Jupyter: the verdict and its table, scoped styles only
        (the full page is ``html()`` / ``save()``)."""
        from .render import render_summary

        return render_summary(self)

    def save(self, directory: str | Path = "toedit-report", *, overwrite: bool = False) -> Path:
        """Write ``report.html``, ``metrics.json``, ``tables/*.csv``, ``figures/*.png`` and, when it
        edited, ``edited.jsonl`` with its manifest. The folder appears only when complete."""
        from .render import save_report

        return save_report(self, Path(directory), overwrite=overwrite)


def _excerpt(text: str, n: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1].rstrip() + "…"


def compare(
    human: Any,
    synthetic: Any,
    edited: Any = None,
    *,
    editor: Any = True,
    analyzers: Sequence[str | Analyzer] | None = None,
    lm: Any = "smollm2-135m",
    max_docs: int | None = DEFAULTS.max_docs,
    seed: int = 0,
    names: Sequence[str] = ("human", "synthetic", "edited"),
    bootstrap: int = DEFAULTS.bootstrap,
    progress: bool = False,
    command: str | None = None,
    **analyzer_options: Any,
) -> Report:
    """Compare a human corpus with a synthetic one and (unless ``editing=False``) its ToEdit variant:
    ``Report(...).run(human, synthetic, edited)`` in one call.

    ``human``, ``synthetic`` and ``edited`` are :class:`~toedit_stats.Corpus` objects, paths, or
    lists of texts. ``editor`` is ``True`` (the paper's setting, seeded with ``seed``), an
    :class:`~toedit_stats.editing.EditConfig`, or ``False``. ``lm`` is the language model for
    the editor and the token analyzer (the names are :class:`Report`'s). ``max_docs`` samples each corpus (seeded) before anything
    runs (``None``: every document, held in memory). Other keyword arguments are analyzer options,
    given to the analyzer that declares them (``embedder="tfidf"``, ``mauve_seeds=2``, ``n=(1, 2)``).

    >>> report = compare("examples/human.jsonl", "examples/synthetic.jsonl")   # doctest: +SKIP
    >>> report.save("toedit-report")                                           # doctest: +SKIP
    """
    return Report(
        make_analyzers(analyzers, analyzer_options),
        editor,
        lm=lm,
        max_docs=max_docs,
        seed=seed,
        names=names,
        bootstrap=bootstrap,
        progress=progress,
        command=command,
    ).run(human, synthetic, edited)
