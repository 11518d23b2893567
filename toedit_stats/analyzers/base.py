"""The analyzer contract: every analyzer and every result behaves the same way.

An **analyzer** (scikit-learn style) is a dataclass whose constructor only stores parameters,
each declared once with :func:`toedit_stats.options.option` (which also makes its command-line
flag and validates it); the work happens in :meth:`Analyzer.analyze`::

    result = NgramAnalyzer(n=(1, 2)).analyze([human, synthetic], reference=0)

A **result** implements :class:`Result`:

``metrics()``
    typed :class:`Metric` records, declared next to the numbers they describe: name, unit, kind
    (``per corpus``, ``distance`` to the reference, or ``test`` p-value), which direction is
    closer to the reference, the value for identical corpora, and the noise where known.
``to_dict()``
    JSON-safe numbers (what ``--json`` prints and ``metrics.json`` holds).
``to_frame()``
    tidy: one row per metric × corpus, columns :data:`FRAME_COLUMNS`.
``tables()``
    named DataFrames for CSV export (the tidy frame and any wider views).
``figures()`` / ``plot(which=None, ax=None)``
    matplotlib figures, made by the analyzer's own module.
``findings()``
    sentences for the report's verdict, each backed by a number or a test in ``metrics()``.
``_repr_html_()``
    a compact, escaped HTML view for Jupyter.

The report, its verdict, ``metrics.json``, ``tables/`` and the command line loop over these; a
new analyzer is one module plus one line in :mod:`toedit_stats.registry`.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..corpus import Corpus, MemoryCorpus, sample_documents
from ..errors import ConfigError
from ..options import check_fields, option

__all__ = ["FRAME_COLUMNS", "KINDS", "Analyzer", "Metric", "PairedView", "Result", "prepare_corpora"]

FRAME_COLUMNS = ("analyzer", "metric", "label", "kind", "corpus", "reference", "n", "value", "unit", "better")
KINDS = ("per corpus", "distance", "test", "effect")


@dataclass(frozen=True)
class Metric:
    """One number of a result, with what it means.

    ``kind``: ``per corpus`` (describes ``corpus``), ``distance`` (between ``reference`` and
    ``corpus``; ``better`` says whether ``lower`` or ``higher`` is closer; ``identical`` is its
    value for identical corpora, ``None`` when an estimate has no exact value there), ``test``
    (a p-value of ``reference`` vs ``corpus``), or ``effect`` (a signed difference ``corpus`` minus
    ``reference``, e.g. of medians, reported with its interval; not a distance). ``noise`` is a known spread of the estimate (e.g.
    seed-to-seed); ``interval`` a confidence interval where one was computed. ``headline`` marks
    the metrics that the report's verdict table shows. ``resamples``: for a permutation test,
    its number of permutations (a p-value at the floor ``1 / (resamples + 1)`` is a bound, "≤").
    """

    analyzer: str
    name: str
    label: str
    kind: str
    corpus: str
    value: float
    reference: str | None = None
    unit: str = ""
    n: int | None = None
    better: str | None = None
    identical: float | None = None
    noise: float | None = None
    interval: tuple[float, float] | None = None
    headline: bool = False
    note: str | None = None
    resamples: int | None = None  # a test's permutations: its p-value's floor 1/(resamples+1) is a bound

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"metric kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "distance" and self.better not in ("lower", "higher"):
            raise ValueError(f"distance metric {self.name} must say which direction is closer")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["value"] = _num(self.value)
        return d


def _num(x: Any) -> Any:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return x
    if not math.isfinite(f):
        return None
    return int(x) if isinstance(x, int) and not isinstance(x, bool) else f


class Result:
    """Base of every analyzer result (see the module docstring). Subclasses define
    ``analyzer``, ``title``, ``metrics()``, ``to_dict()`` and ``_figure_makers()``."""

    analyzer: ClassVar[str] = ""
    title: ClassVar[str] = ""
    # metrics whose bootstrap replicates give a valid interval for the value itself (means, shares,
    # quantiles). Plug-in divergences and type counts are biased under resampling (a duplicated
    # document adds no new n-gram): their replicates serve only paired differences, like the
    # edit effect, where the bias cancels.
    interval_metrics: ClassVar[frozenset[str]] = frozenset()

    # -- to implement --------------------------------------------------------------------------
    def metrics(self) -> list[Metric]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def _figure_makers(self) -> dict[str, Callable[..., Any]]:
        """``{name: make(ax=None) -> Figure}``; a maker that draws several panels ignores no
        ``ax``: it raises when given one."""
        return {}

    def findings(self, corpus: str | None = None, adjusted: dict[str, float] | None = None) -> list[str]:
        """Sentences about ``corpus`` (default: the first non-reference corpus) against the
        reference, for the report's verdict; each must rest on a number or test in ``metrics()``.
        ``adjusted`` maps test-metric names to multiplicity-adjusted p-values (the report's Holm
        correction); a sentence that calls a test significant uses them when given."""
        return []

    def bootstrap(self, weights: Any) -> dict[tuple[str, str], Any]:
        """Bootstrap replicates of the metrics that can be recomputed cheaply from per-document
        contributions: ``{(metric name, corpus): array of shape (B,)}``. ``weights(corpus, ids)``
        gives the ``(B, len(ids))`` document weights (:class:`toedit_stats.stats.BootstrapWeights`:
        seeded, by document id, shared between paired corpora). Metrics left out have no interval."""
        return {}

    def paired(self, before: str, after: str) -> Any:
        """A per-document before/after view of two corpora whose documents pair by id (the
        synthetic corpus and its edited version): a :class:`PairedView`, or ``None``."""
        return None

    def extra_tables(self) -> dict[str, Any]:
        """Wider views for CSV export, besides the tidy metrics frame."""
        return {}

    def corpus_names(self) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        """One line for the report: what was measured, with which model or settings."""
        return ""

    # -- shared ---------------------------------------------------------------------------------
    def to_frame(self):
        """Tidy: one row per metric × corpus (columns :data:`FRAME_COLUMNS`)."""
        import pandas as pd

        rows = [
            {
                "analyzer": m.analyzer,
                "metric": m.name,
                "label": m.label,
                "kind": m.kind,
                "corpus": m.corpus,
                "reference": m.reference,
                "n": m.n,
                "value": _num(m.value),
                "unit": m.unit,
                "better": m.better,
            }
            for m in self.metrics()
        ]
        return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))

    def tables(self) -> dict[str, Any]:
        return {f"{self.analyzer}_metrics": self.to_frame(), **self.extra_tables()}

    def figure_names(self) -> list[str]:
        return list(self._figure_makers())

    def figures(self) -> dict[str, Any]:
        """Every figure, ``{name: matplotlib Figure}`` (new figures on each call)."""
        from ..plotting import detached

        return {name: detached(make()) for name, make in self._figure_makers().items()}

    def plot(self, which: str | None = None, ax: Any = None):
        """One figure (the first by default), made alone; ``ax`` draws into an existing axes
        where the figure has a single panel."""
        makers = self._figure_makers()
        if not makers:
            raise ConfigError(f"the {self.analyzer} result has no figures")
        name = which or next(iter(makers))
        if name not in makers:
            raise ConfigError(f"figure must be one of {', '.join(makers)}, got {name!r}")
        from ..plotting import detached

        return makers[name](ax=ax) if ax is not None else detached(makers[name]())

    def save(self, directory: str | Path, *, overwrite: bool = False, inputs: Sequence[Any] = ()) -> Path:
        """Write ``<analyzer>.json``, ``<table>.csv`` and ``<figure>.png`` into ``directory``
        (a new folder appears only when complete; into an existing one, with ``overwrite``, each
        file is renamed into place and other files stay)."""
        from .._io import atomic_dir, atomic_write_bytes, atomic_write_text, dumps, to_csv
        from ..plotting import figure_png

        with atomic_dir(directory, overwrite=overwrite, inputs=inputs, replace=False) as tmp:
            atomic_write_text(tmp / f"{self.analyzer}.json", dumps(self.to_dict()) + "\n")
            for name, frame in self.tables().items():
                atomic_write_text(tmp / f"{name}.csv", to_csv(frame))
            for name, fig in self.figures().items():
                atomic_write_bytes(tmp / f"{name}.png", figure_png(fig, dpi=110))
        return Path(directory)

    def __repr__(self) -> str:
        names = ", ".join(self.corpus_names())
        return f"<{type(self).__name__} {self.analyzer}: {len(self.metrics())} metrics over [{names}]>"

    def _repr_html_(self) -> str:
        """A compact escaped table of the headline metrics (no page styles, no script)."""
        from .._io import visible

        frame = self.to_frame()
        head = frame[frame["metric"].isin({m.name for m in self.metrics() if m.headline})]
        if head.empty:
            head = frame
        wide = head.pivot_table(index="label", columns="corpus", values="value", aggfunc="first", sort=False)
        cols = list(wide.columns)
        out = [
            f"<div><b>{html.escape(self.title or self.analyzer)}</b>",
            "<table><tr><th>metric</th>"
            + "".join(f"<th>{html.escape(visible(str(c)))}</th>" for c in cols)
            + "</tr>",
        ]
        for label, row in wide.iterrows():
            cells = "".join(f"<td>{_fmt(row[c])}</td>" for c in cols)
            out.append(f"<tr><td>{html.escape(visible(str(label)))}</td>{cells}</tr>")
        out.append("</table></div>")
        return "\n".join(out)


@dataclass
class PairedView:
    """Per-document before/after comparison (see :meth:`Result.paired`): ``frame`` has one row
    per paired document, ``metrics`` the paired tests and effects, ``figure()`` draws it."""

    analyzer: str
    title: str
    frame: Any
    metrics: list[Metric]
    figure: Callable[[], Any]


def _fmt(x: Any) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return html.escape(str(x))
    return "–" if not math.isfinite(f) else f"{f:.4g}"


def prepare_corpora(
    corpora: Sequence[Corpus] | Corpus,
    reference: int,
    max_docs: int | None,
    seed: int,
    *,
    stratify: str | None = None,
) -> tuple[list[MemoryCorpus], dict[str, int]]:
    """The analyzers' common first step: the reference moved first, and each corpus sampled by
    the one sampling rule (:func:`~toedit_stats.corpus.sample_documents`: pairs kept together,
    strata of ``stratify`` kept) into memory."""
    if isinstance(corpora, Corpus):
        corpora = [corpora]
    corpora = list(corpora)
    if not corpora:
        raise ConfigError("no corpora given")
    if not isinstance(reference, int) or not 0 <= reference < len(corpora):
        raise ConfigError(f"reference must be an index in 0..{len(corpora) - 1}, got {reference!r}")
    corpora.insert(0, corpora.pop(reference))
    out, totals = [], {}
    for c in corpora:
        if isinstance(c, MemoryCorpus) and getattr(c, "_canonical", False) and max_docs is None:
            out.append(c)
            totals[c.name] = len(c)
            continue
        docs, total = sample_documents(iter(c), max_docs, seed, stratify=stratify)
        mc = MemoryCorpus(docs, name=c.name)
        mc._canonical = True
        out.append(mc)
        totals[c.name] = total
    return out, totals


@dataclass(kw_only=True)
class Analyzer:
    """Base of every analyzer: ``max_docs`` and ``seed`` follow the one sampling rule; subclasses
    add their own :func:`~toedit_stats.options.option` fields and define ``name``, ``title``,
    ``needs`` (``"lm"`` and/or ``"embedder"``) and :meth:`analyze`."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()

    max_docs: int | None = option(
        None, kind="int", min=1, help="Analyze a seeded sample of at most N documents per corpus."
    )
    seed: int = option(0, cli="", help="Seed for sampling and everything random.")

    def __post_init__(self):
        check_fields(self)

    def analyze(self, corpora: Sequence[Corpus] | Corpus, reference: int = 0) -> Result:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The parameters (JSON-safe): what the report records as this analyzer's configuration."""
        out = {}
        for f in dataclasses.fields(self):
            if f.metadata.get("execution"):  # where the work runs, not what it computes
                continue
            v = getattr(self, f.name)
            out[f.name] = (
                v
                if isinstance(v, (int, float, str, bool, type(None), tuple, list))
                else getattr(v, "name", type(v).__name__)
            )
        return out
