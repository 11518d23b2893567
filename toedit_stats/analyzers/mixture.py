"""The synthetic share α of a corpus: how much of it looks like the synthetic reference.

The estimator of Liang et al. 2024 ("Monitoring AI-Modified Content at Scale", arXiv
2403.07183, their *distributional* estimate), on word occurrence:

- a document is the set of vocabulary words it contains (occurrence, not counts);
- the human reference gives, per word ``w``, the probability ``p_w`` that a document contains it,
  the synthetic reference ``q_w`` (add-½ smoothing: ``(documents with w + ½) / (documents + 1)``);
- a document ``x`` has likelihood ``P(x) = Π_w p_w^{x_w} (1 − p_w)^{1 − x_w}`` under the human
  model and ``Q(x)`` likewise under the synthetic one;
- a target corpus is taken as the mixture ``(1 − α) P + α Q`` and α is the maximum-likelihood
  estimate over ``[0, 1]`` of ``Σ_i log((1 − α) P(x_i) + α Q(x_i))``. The log-likelihood is
  concave in α and depends on each document only through ``d_i = log Q(x_i) − log P(x_i)``; its
  derivative is solved by bisection (:func:`mixture_mle`, vectorised over bootstrap replicates);
- **rescaled by the held-out references** (:func:`adjust`): the raw estimate of held-out human
  text is not exactly 0, nor that of held-out synthetic text 1 (a few synthetic documents look
  human to a word model, and count fully as human: on OUTFOX held-out ChatGPT essays read 0.97).
  ``α = (raw − raw_human) / (raw_synthetic − raw_human)``, clipped to [0, 1], so that the
  scale runs from "like held-out human" (0) to "like held-out synthetic" (1); the raw estimate
  is reported too (``alpha_raw``). Without it the interval misses the truth at α = 1 in 90% of
  the validation runs;
- the interval is a percentile bootstrap over documents (seeded Poisson weights by document id,
  :class:`toedit_stats.stats.BootstrapWeights`, the report's own), the references' held-out parts
  resampled in the same replicates, so a synthetic document and its edited version are
  resampled together and the edit's change of α gets a paired interval.

**Splits.** Each reference is split by a seeded order of its document ids
(:func:`toedit_stats.stats.id_order`) into a fit part (``fit_share``) that estimates ``p`` and
``q``, and a held-out part. α is reported for the held-out part of each reference as a sanity
check (human ≈ 0, synthetic ≈ 1), and for every other corpus over its documents that are not
in a fit part: a corpus whose ids are mostly the synthetic reference's (its edited version, a
selection from it) loses the documents whose ids were used to fit, so that no target document is
one the model was fit on.

**What differs from the paper.** The rescaling above is ours. Liang et al. model sentences or reviews and restrict the
vocabulary to one part of speech (adjectives; adverbs or verbs as alternatives) chosen for its
shift; here documents are modelled whole and the vocabulary is every word
(:func:`toedit_stats.tokenize.words`) occurring in at least ``min_docs`` documents of the two
fit parts together (no part-of-speech tagger is shipped). The interval covers the sampling of
target documents, not the references' estimation error. Validated on mixtures of known α built
from held-out OUTFOX and ChatGPT-essay documents (``tests/test_mixture.py``,
``benchmarks/bench_mixture.py``; numbers in README).

>>> round(float(mixture_mle(np.log([4.0, 0.25, 0.25]))), 4)  # hand-computed: 2/9
0.2222
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..corpus import Corpus
from ..errors import ConfigError
from ..options import option
from ..plotting import _lit, _plt, colors
from ..stats import BootstrapWeights, id_order, interval, weighted_auc
from ..tokenize import words
from .base import Analyzer, Metric, Result, prepare_corpora

__all__ = [
    "MixtureAnalyzer",
    "MixtureResult",
    "OccurrenceModel",
    "adjust",
    "fit_occurrence_model",
    "mixture_mle",
    "split_reference",
]


def mixture_mle(d: np.ndarray, weights: np.ndarray | None = None, iterations: int = 60) -> Any:
    """α in ``[0, 1]`` maximising ``Σ_i w_i log(1 − α + α e^{d_i})`` (a two-component mixture
    with per-document log-likelihood ratios ``d``); one α per row of ``weights`` (``(B, n)``),
    a float without weights. ``nan`` when every ``d_i`` is 0 (the references are identical on
    these documents: α is not identifiable) or no document has weight."""
    d = np.asarray(d, np.float64)
    single = weights is None
    w = np.ones((1, d.size)) if single else np.atleast_2d(np.asarray(weights, np.float64))
    out = np.full(w.shape[0], math.nan)
    if d.size and np.any(d != 0):
        pos = d > 0
        e = np.exp(-np.abs(d))  # in (0, 1]: no overflow whatever |d|
        num = np.where(pos, 1.0 - e, e - 1.0)

        def slope(alpha: np.ndarray) -> np.ndarray:  # the derivative, decreasing in alpha
            a = alpha[:, None]
            den = np.where(pos, a + (1.0 - a) * e, 1.0 - a + a * e)
            # at alpha 0 (1) a document with a large positive (negative) d has den ~ 0: its term
            # and so the sum are +inf (-inf), the right sign; only one sign can be infinite there,
            # and between the ends every term is at most 1 / min(alpha, 1 - alpha)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                terms = np.where(w > 0, w * num / den, 0.0)
                return terms.sum(1)

        live = w.sum(1) > 0
        lo, hi = np.zeros(w.shape[0]), np.ones(w.shape[0])
        at0, at1 = slope(lo) <= 0, slope(hi) >= 0
        for _ in range(iterations):
            mid = (lo + hi) / 2
            up = slope(mid) > 0
            lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
        out = np.where(at0, 0.0, np.where(at1, 1.0, (lo + hi) / 2))
        out[~live] = math.nan
    return float(out[0]) if single else out


@dataclass(frozen=True)
class OccurrenceModel:
    """Word-occurrence models of the two references: ``log_ratios(texts)`` gives each text's
    ``log Q(x) − log P(x)``."""

    vocabulary: tuple[str, ...]
    coef: np.ndarray = field(repr=False)  # per word: logit(q) − logit(p)
    bias: float = 0.0  # Σ_w log(1 − q_w) − log(1 − p_w)
    human_docs: int = 0
    synthetic_docs: int = 0

    def log_ratios(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros(0)
        return np.asarray(self._occurrences(texts) @ self.coef).ravel() + self.bias

    def _occurrences(self, texts: Sequence[str]):
        from sklearn.feature_extraction.text import CountVectorizer

        vec = CountVectorizer(analyzer=words, vocabulary=list(self.vocabulary), binary=True, dtype=np.float64)
        return vec.transform(list(texts))


def fit_occurrence_model(
    human: Sequence[str], synthetic: Sequence[str], *, min_docs: int = 5
) -> OccurrenceModel:
    """Fit ``p`` (human) and ``q`` (synthetic) on the two references' texts (module docstring).
    The vocabulary: words in at least ``min_docs`` documents of the two together."""
    from sklearn.feature_extraction.text import CountVectorizer

    if not human or not synthetic:
        raise ConfigError("mixture: each reference needs at least one document to fit")
    vec = CountVectorizer(analyzer=words, binary=True, min_df=min_docs, dtype=np.float64)
    try:
        x = vec.fit_transform([*human, *synthetic])
    except ValueError:  # no word reaches min_docs
        return OccurrenceModel((), np.zeros(0), 0.0, len(human), len(synthetic))
    nh, ns = len(human), len(synthetic)
    df_h = np.asarray(x[:nh].sum(0)).ravel()
    df_s = np.asarray(x[nh:].sum(0)).ravel()
    p = (df_h + 0.5) / (nh + 1.0)
    q = (df_s + 0.5) / (ns + 1.0)
    coef = (np.log(q) - np.log1p(-q)) - (np.log(p) - np.log1p(-p))
    bias = float(np.sum(np.log1p(-q) - np.log1p(-p)))
    return OccurrenceModel(tuple(vec.get_feature_names_out()), coef, bias, nh, ns)


def split_reference(docs: Sequence[Any], fit_share: float, seed: int) -> tuple[list, list]:
    """A reference's (fit, held-out) documents: a seeded order of ids, the first ``fit_share``
    (at least one, and one left to hold out) to fit."""
    if len(docs) < 2:
        raise ConfigError("mixture: a reference needs two documents at least (fit and held out)")
    order = id_order([d.id for d in docs], seed)
    k = min(len(docs) - 1, max(1, round(fit_share * len(docs))))
    return [docs[j] for j in order[:k]], [docs[j] for j in order[k:]]


def adjust(raw: Any, raw_human: Any, raw_synthetic: Any) -> Any:
    """The raw estimate rescaled by the estimator's own response on the references' held-out
    parts: ``(raw − raw_human) / (raw_synthetic − raw_human)``, so that held-out human text reads 0
    and held-out synthetic text 1 (unclipped; ``nan`` where the references are not separated).
    Works on floats and on arrays of replicates alike."""
    raw, h, s = (np.asarray(x, np.float64) for x in (raw, raw_human, raw_synthetic))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(s > h, (raw - h) / (s - h), np.nan)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class MixtureEstimate:
    """α for one corpus, over which documents, with its interval: ``raw`` is the paper's
    maximum-likelihood estimate, ``alpha`` the same rescaled by the held-out references
    (:func:`adjust`, clipped to [0, 1])."""

    corpus: str
    role: str  # "human reference (held out)", "synthetic reference (held out)", "target"
    alpha: float
    low: float
    high: float
    raw: float
    raw_low: float
    raw_high: float
    ids: list[str] = field(repr=False)
    log_ratios: np.ndarray = field(repr=False)
    excluded: int = 0  # documents left out because the model was fit on them
    auc: float = math.nan  # the log-ratio's ROC AUC against the held-out human documents
    sampled: int = 0  # documents of the corpus in the sample (fit, held out or excluded included)

    @property
    def documents(self) -> int:
        return len(self.ids)


def _replicates(samples: Sequence[tuple[str, list[str], np.ndarray]], weights: Any) -> tuple[list, list]:
    """Bootstrap replicates of each corpus's raw and adjusted α from its ``(corpus, document ids,
    log-ratios)``, human reference first and synthetic second (their raw estimates resampled in
    the same replicates)."""
    raw = [mixture_mle(d, weights(name, ids)) for name, ids, d in samples]
    adjusted = [adjust(r, raw[0], raw[1]) for r in raw] if len(raw) > 1 else []
    return raw, adjusted


def _clipped(lo_hi: tuple[float, float]) -> tuple[float, float]:
    return tuple(float(np.clip(x, 0.0, 1.0)) if math.isfinite(x) else math.nan for x in lo_hi)  # type: ignore[return-value]


@dataclass(frozen=True, repr=False)
class MixtureResult(Result):
    """Result of :class:`MixtureAnalyzer` (the contract of :class:`~toedit_stats.analyzers.base.Result`)."""

    analyzer: ClassVar[str] = "mixture"
    title: ClassVar[str] = "Synthetic share α (mixture estimate)"
    interval_metrics: ClassVar[frozenset[str]] = frozenset(
        {"alpha", "alpha_raw", "alpha_human_heldout", "auc"}
    )

    estimates: list[MixtureEstimate]
    vocabulary: int
    fit_documents: dict[str, int]
    config: dict[str, Any] = field(default_factory=dict)

    def corpus_names(self) -> list[str]:
        return [e.corpus for e in self.estimates]

    def describe(self) -> str:
        h, s = self.estimates[0].corpus, self.estimates[1].corpus
        return (
            f"Share α of each corpus that looks like {s} by word occurrence (Liang et al. 2024's "
            f"estimator, rescaled so that held-out {h} reads 0 and held-out {s} 1); word models fit on "
            f"{self.fit_documents.get(h, 0)} {h} and {self.fit_documents.get(s, 0)} {s} documents "
            f"({self.vocabulary:,} words), α measured on documents not used to fit."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimates": [
                {
                    "corpus": e.corpus,
                    "role": e.role,
                    "alpha": e.alpha,
                    "interval": [e.low, e.high],
                    "alpha_raw": e.raw,
                    "raw_interval": [e.raw_low, e.raw_high],
                    "documents": e.documents,
                    "excluded": e.excluded,
                    "auc": e.auc,
                    "sampled": e.sampled,
                }
                for e in self.estimates
            ],
            "vocabulary": self.vocabulary,
            "fit_documents": self.fit_documents,
            "config": self.config,
        }

    def metrics(self) -> list[Metric]:
        out = []
        ref = self.estimates[0].corpus
        for i, e in enumerate(self.estimates):
            out.append(
                Metric(
                    "mixture",
                    "documents",
                    "documents in the sample (fit and held out)",
                    "per corpus",
                    e.corpus,
                    float(e.sampled),
                    unit="documents",
                    n=e.sampled,
                )
            )
            if i == 0:
                out.append(
                    Metric(
                        "mixture",
                        "alpha_human_heldout",
                        "synthetic share α, raw, of held-out human documents (≈ 0 expected)",
                        "per corpus",
                        e.corpus,
                        e.raw,
                        unit="share",
                        n=e.documents,
                        interval=(e.raw_low, e.raw_high),
                        headline=True,
                        note="sanity check of the estimator",
                    )
                )
                continue
            out += [
                Metric(
                    "mixture",
                    "alpha",
                    "synthetic share α (word occurrence; held-out human = 0, held-out synthetic = 1)",
                    "distance",
                    e.corpus,
                    e.alpha,
                    reference=ref,
                    unit="share",
                    n=e.documents,
                    better="lower",
                    identical=None,  # an estimate on held-out documents: near 0, not exactly
                    interval=(e.low, e.high),
                    headline=True,
                    note="1 by construction for the synthetic reference" if i == 1 else None,
                ),
                Metric(
                    "mixture",
                    "alpha_raw",
                    "synthetic share α, raw maximum-likelihood estimate (Liang et al. 2024)",
                    "distance",
                    e.corpus,
                    e.raw,
                    reference=ref,
                    unit="share",
                    n=e.documents,
                    better="lower",
                    identical=None,
                    interval=(e.raw_low, e.raw_high),
                ),
                Metric(
                    "mixture",
                    "auc",
                    "word-occurrence log-ratio AUC against held-out human documents",
                    "distance",
                    e.corpus,
                    e.auc,
                    reference=ref,
                    n=e.documents,
                    better="lower",
                    identical=0.5,  # the same documents score the same: no separation
                    note="how well the word models tell the corpus from human text (0.5: not at all)",
                ),
            ]
        return out

    def bootstrap(self, weights: Any) -> dict[tuple[str, str], np.ndarray]:
        """Replicates of α (adjusted and raw) and of the AUC per corpus, the references' raw
        estimates resampled in the same replicates (paired by id where corpora share ids)."""
        raw, adjusted = _replicates([(e.corpus, e.ids, e.log_ratios) for e in self.estimates], weights)
        out = {("alpha_human_heldout", self.estimates[0].corpus): raw[0]}
        h = self.estimates[0]
        wh = weights(h.corpus, h.ids)
        for i, e in enumerate(self.estimates[1:], 1):
            out[("alpha_raw", e.corpus)] = raw[i]
            out[("alpha", e.corpus)] = np.clip(adjusted[i], 0.0, 1.0)
            labels = np.r_[np.zeros(h.documents), np.ones(e.documents)]
            w = np.concatenate([wh, weights(e.corpus, e.ids)], axis=1)
            out[("auc", e.corpus)] = weighted_auc(np.r_[h.log_ratios, e.log_ratios], labels, w)
        return out

    def findings(self, corpus: str | None = None, adjusted: dict[str, float] | None = None) -> list[str]:
        if len(self.estimates) < 2:
            return []
        h, s = self.estimates[0], self.estimates[1]
        target = next((e for e in self.estimates[1:] if e.corpus == corpus), s)
        if not math.isfinite(s.raw) or not s.raw > h.raw:
            return [
                f"Synthetic share: not identifiable (the word models of {h.corpus} and {s.corpus} do not "
                "separate their held-out documents)."
            ]
        check = (
            f"the estimator reads held-out {h.corpus} as {h.raw:.2f} and held-out {s.corpus} as {s.raw:.2f} "
            f"(AUC {s.auc:.2f}), and α is rescaled to that range"
        )
        if target is s:
            return [f"Synthetic share by word occurrence (Liang et al. 2024): {check}."]
        return [
            f"Synthetic share by word occurrence (Liang et al. 2024): {target.corpus} α = {target.alpha:.2f} "
            f"[{target.low:.2f}, {target.high:.2f}] over {target.documents} documents (0 = like held-out "
            f"{h.corpus}, 1 = like held-out {s.corpus}); {check}."
        ]

    def extra_tables(self) -> dict[str, Any]:
        import pandas as pd

        return {"mixture": pd.DataFrame(self.to_dict()["estimates"])}

    def _figure_makers(self) -> dict[str, Any]:
        return {"alpha": self._fig_alpha}

    def _fig_alpha(self, ax=None):
        plt = _plt()
        names = self.corpus_names()
        col = colors(names)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.6 * len(names) + 1.4))
        for y, e in enumerate(self.estimates[1:]):
            if math.isfinite(e.alpha):
                lo, hi = (e.low, e.high) if math.isfinite(e.low) else (e.alpha, e.alpha)
                ax.errorbar(
                    [e.alpha],
                    [y],
                    xerr=[[e.alpha - lo], [hi - e.alpha]],
                    fmt="o",
                    color=col[e.corpus],
                    capsize=4,
                )
        ax.set_yticks(
            range(len(names) - 1), [f"{_lit(e.corpus)} ({e.role})" for e in self.estimates[1:]], fontsize=8
        )
        ax.set_xlim(-0.02, 1.02)
        ax.invert_yaxis()
        ax.set_xlabel(
            f"synthetic share α (0 = held-out {_lit(names[0])}, 1 = held-out {_lit(names[1])}; 95% interval)"
        )
        ax.set_title("How much of each corpus looks synthetic")
        ax.figure.tight_layout()
        return ax.figure


@dataclass(kw_only=True)
class MixtureAnalyzer(Analyzer):
    """The share α of each corpus that looks like the synthetic reference, by word occurrence
    (Liang et al. 2024; see the module docstring). The reference is the human corpus and the
    first corpus after it the synthetic one; every other corpus is a target. Needs no model."""

    name: ClassVar[str] = "mixture"
    title: ClassVar[str] = "Synthetic share α (mixture estimate)"

    min_docs: int = option(
        5, min=1, help="A word enters the model when it occurs in at least this many fit documents."
    )
    fit_share: float = option(
        0.5,
        min=0.05,
        max=0.95,
        help="Share of each reference that fits the word models (the rest is held out).",
    )
    resamples: int = option(1000, min=0, help="Bootstrap resamples of target documents for α's interval.")

    def analyze(self, corpora: Sequence[Corpus] | Corpus, reference: int = 0) -> MixtureResult:
        prepared, _ = prepare_corpora(corpora, reference, self.max_docs, self.seed)
        if len(prepared) < 2:
            raise ConfigError("mixture needs a human and a synthetic reference (two corpora at least)")
        refs = prepared[:2]
        fit: list[list] = []
        held: list[list] = []
        for c in refs:
            f, h = split_reference(list(c), self.fit_share, self.seed)
            fit.append(f)
            held.append(h)
        model = fit_occurrence_model(
            [d.text for d in fit[0]], [d.text for d in fit[1]], min_docs=self.min_docs
        )
        fit_ids = [{d.id for d in part} for part in fit]
        all_ids = [{d.id for d in c} for c in refs]
        parts = []
        for i, c in enumerate(prepared):
            if i < 2:
                docs, excluded = held[i], len(fit[i])
                role = ("human" if i == 0 else "synthetic") + " reference (held out)"
            else:
                docs = list(c)
                ids = {d.id for d in docs}
                drop: set = set()
                for j in (0, 1):  # a corpus derived from a reference (edited, selected): no fit document
                    if ids and len(ids & all_ids[j]) > len(ids) / 2:
                        drop |= fit_ids[j]
                excluded = sum(d.id in drop for d in docs)
                docs = [d for d in docs if d.id not in drop]
                role = "target"
            parts.append((c, docs, excluded, role, model.log_ratios([x.text for x in docs])))
        raw = [mixture_mle(d) for *_, d in parts]
        samples = [(c.name, [x.id for x in docs], d) for c, docs, _, _, d in parts]
        reps_raw, reps_adj = (
            _replicates(samples, BootstrapWeights(seed=self.seed, replicates=self.resamples))
            if self.resamples
            else ([], [])
        )
        estimates = []
        h = parts[0][4]
        for i, ((c, docs, excluded, role, d), r) in enumerate(zip(parts, raw)):
            a = adjust(r, raw[0], raw[1])
            a = float(np.clip(a, 0.0, 1.0)) if math.isfinite(a) else math.nan
            lo = hi = rlo = rhi = math.nan
            if reps_raw and docs:
                rlo, rhi = interval(reps_raw[i])
                if math.isfinite(a):
                    lo, hi = _clipped(interval(reps_adj[i]))
            auc = math.nan
            if i and h.size and d.size:
                both = np.r_[h, d]
                auc = float(
                    weighted_auc(both, np.r_[np.zeros(h.size), np.ones(d.size)], np.ones((1, both.size)))[0]
                )
            estimates.append(
                MixtureEstimate(
                    c.name, role, a, lo, hi, r, rlo, rhi, [x.id for x in docs], d, excluded, auc, len(c)
                )
            )
        return MixtureResult(
            estimates=estimates,
            vocabulary=len(model.vocabulary),
            fit_documents={refs[0].name: len(fit[0]), refs[1].name: len(fit[1])},
            config=self.params(),
        )
