"""Per-token probabilities and per-document perplexity under a prior LM (the paper's Finding II).

Every real token of every document is scored once by a :class:`~toedit_stats.lm.LanguageModel`
(teacher forcing, see :mod:`toedit_stats.lm.hf`); ``p`` is the probability the model gives the
actual token. Per corpus:

``prob_hist10``
    shares of tokens in the paper's 10 equal bins ``[0, .1), ..., [.9, 1]`` (Table 6); sums to 1.
``prob_hist100``
    the same with 100 bins (for plots and the JS divergence).
``share_ge`` / ``share_le``
    shares of tokens with ``p >= t`` for t in 0.5, 0.9, 0.99, 0.999 (Table 15 uses 0.99) and
    ``p <= t`` for t in 0.01, 0.001. Exact comparisons, not read off a histogram.
``prob_quantiles``
    p25/p50/p75 of ``p`` over tokens (the paper's percentile lines), interpolated in a
    10,000-bin histogram (error below 1e-4).
``rank_buckets``
    GLTR's shares of tokens whose rank in the vocabulary is 1, 2–10, 11–100, 101–1000, >1000.
``ppl``
    quantiles p5/p25/p50/p75/p95 and mean of per-document perplexity ``exp(-mean log p)``.
``mean_entropy_nats``
    mean over tokens of the entropy of the predictive distribution (``None`` with vLLM).

Between the first corpus (the reference) and each other: the two-sample Kolmogorov–Smirnov
test on per-document perplexity (``ppl_ks_stat``, ``ppl_ks_pvalue``; scipy ``ks_2samp``), the
1-Wasserstein distance between the per-document log-perplexity distributions
(``log_ppl_wasserstein``, in nats), and the Jensen–Shannon divergence in bits between the
100-bin probability histograms (``prob_hist_js_bits``).

Statistics merge: :class:`TokenStats` objects add with ``+`` (fixed bins, counts, sums and the
list of per-document perplexities), so sharded or streamed scoring equals one-shot scoring.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..corpus import Corpus
from ..execution import LocalExecutor, batched, resolve_executor
from ..lm.base import TokenScores
from ..lm.config import LMConfig, load_lm
from ..lm.worker import ModelWorker
from ..options import option
from ..plotting import _lit, _plt, colors, styles
from ..progress import TokenProgress
from .base import Analyzer, Metric, PairedView, Result, prepare_corpora

__all__ = [
    "GE",
    "LE",
    "RANK_BUCKETS",
    "TokenAnalyzer",
    "TokenPair",
    "TokenResult",
    "TokenStats",
    "analyze_tokens",
]

FINE = 10_000
GE = (0.5, 0.9, 0.99, 0.999)
LE = (0.01, 0.001)
RANK_BUCKETS = ("1", "2-10", "11-100", "101-1000", ">1000")
_RANK_EDGES = np.array([1, 2, 11, 101, 1001])


@dataclass
class TokenStats:
    """Mergeable accumulator of one corpus's token statistics (see the module docstring)."""

    name: str
    documents: int = 0
    tokens: int = 0
    fine: np.ndarray = field(default_factory=lambda: np.zeros(FINE, np.int64))
    ge: np.ndarray = field(default_factory=lambda: np.zeros(len(GE), np.int64))
    le: np.ndarray = field(default_factory=lambda: np.zeros(len(LE), np.int64))
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(len(RANK_BUCKETS), np.int64))
    entropy_sum: float = 0.0
    entropy_tokens: int = 0
    doc_ids: list[str] = field(default_factory=list)
    doc_ppl: list[float] = field(default_factory=list)
    doc_tokens: list[int] = field(default_factory=list)
    skipped_long: int = 0  # documents over max_doc_tokens, not scored
    # per-document contributions (for bootstrap intervals and the paired view; not in to_dict)
    doc_hist: list[np.ndarray] = field(default_factory=list, repr=False)  # 100-bin counts
    doc_ge99: list[int] = field(default_factory=list, repr=False)  # tokens with p >= 0.99
    doc_entropy: list[float] = field(default_factory=list, repr=False)  # sum of entropies (nats)
    doc_curvature: list[float] = field(default_factory=list, repr=False)  # TokenScores.curvature

    def add(self, s: TokenScores) -> TokenStats:
        """Add one document's scores."""
        lp = s.logprobs.astype(np.float64)
        p = np.exp(lp)
        self.documents += 1
        self.tokens += p.size
        self.doc_ids.append(s.doc_id)
        self.doc_tokens.append(int(p.size))
        self.doc_ppl.append(float(np.exp(-lp.mean())) if p.size else math.nan)
        fine = np.bincount(np.minimum((p * FINE).astype(np.int64), FINE - 1), minlength=FINE)
        self.doc_hist.append(fine.reshape(100, -1).sum(1).astype(np.int32))
        self.doc_ge99.append(int((p >= 0.99).sum()))
        self.doc_entropy.append(
            float(s.entropy.astype(np.float64).sum()) if s.entropy is not None else math.nan
        )
        self.doc_curvature.append(s.curvature)
        if p.size == 0:
            return self
        self.fine += fine
        self.ge += np.array([(p >= t).sum() for t in GE])
        self.le += np.array([(p <= t).sum() for t in LE])
        self.ranks += np.bincount(np.searchsorted(_RANK_EDGES, s.ranks, side="right") - 1, minlength=5)[:5]
        if s.entropy is not None:
            self.entropy_sum += float(s.entropy.astype(np.float64).sum())
            self.entropy_tokens += p.size
        return self

    def __add__(self, other: TokenStats) -> TokenStats:
        return TokenStats(
            self.name,
            self.documents + other.documents,
            self.tokens + other.tokens,
            self.fine + other.fine,
            self.ge + other.ge,
            self.le + other.le,
            self.ranks + other.ranks,
            self.entropy_sum + other.entropy_sum,
            self.entropy_tokens + other.entropy_tokens,
            self.doc_ids + other.doc_ids,
            self.doc_ppl + other.doc_ppl,
            self.doc_tokens + other.doc_tokens,
            self.skipped_long + other.skipped_long,
            self.doc_hist + other.doc_hist,
            self.doc_ge99 + other.doc_ge99,
            self.doc_entropy + other.doc_entropy,
            self.doc_curvature + other.doc_curvature,
        )

    @classmethod
    def merged(cls, name: str, parts: Sequence[TokenStats]) -> TokenStats:
        """``parts`` (statistics of consecutive runs of documents) as one, like ``sum`` with ``+``
        but copying the per-document lists once."""
        import itertools

        out = cls(name)
        for f in dataclasses.fields(cls):
            if f.name == "name" or not parts:
                continue
            values = [getattr(p, f.name) for p in parts]
            if isinstance(values[0], list):
                setattr(out, f.name, list(itertools.chain.from_iterable(values)))
            else:
                total = values[0]
                for v in values[1:]:
                    total = total + v
                setattr(out, f.name, total)
        return out

    # -- derived ------------------------------------------------------------------------------
    def _share(self, counts: np.ndarray) -> np.ndarray:
        return counts / self.tokens if self.tokens else np.zeros(counts.shape)

    @property
    def prob_hist10(self) -> np.ndarray:
        return self._share(self.fine.reshape(10, -1).sum(1))

    @property
    def prob_hist100(self) -> np.ndarray:
        return self._share(self.fine.reshape(100, -1).sum(1))

    def prob_quantile(self, q: float) -> float:
        if not self.tokens:
            return math.nan
        cum = np.cumsum(self.fine)
        target = q * self.tokens
        i = int(np.searchsorted(cum, target, side="left"))
        before = cum[i - 1] if i else 0
        inside = self.fine[i]
        frac = (target - before) / inside if inside else 0.0
        return float((i + frac) / FINE)

    @property
    def ppl(self) -> np.ndarray:
        a = np.asarray(self.doc_ppl, np.float64)
        return a[np.isfinite(a)]

    @property
    def curvature(self) -> np.ndarray:
        """Per-document Fast-DetectGPT curvature (``nan`` where the backend gives none)."""
        return np.asarray(self.doc_curvature, np.float64)

    def to_dict(self) -> dict[str, Any]:
        ppl = self.ppl
        q = np.percentile(ppl, [5, 25, 50, 75, 95]) if ppl.size else [math.nan] * 5
        curv = self.curvature[np.isfinite(self.curvature)]
        return {
            "name": self.name,
            "documents": self.documents,
            "tokens": self.tokens,
            "prob_hist10": self.prob_hist10.tolist(),
            "share_ge": {str(t): float(v) for t, v in zip(GE, self._share(self.ge))},
            "share_le": {str(t): float(v) for t, v in zip(LE, self._share(self.le))},
            "prob_quantiles": {f"p{int(x * 100)}": self.prob_quantile(x) for x in (0.25, 0.5, 0.75)},
            "rank_buckets": {k: float(v) for k, v in zip(RANK_BUCKETS, self._share(self.ranks))},
            "ppl": {
                "p5": float(q[0]),
                "p25": float(q[1]),
                "p50": float(q[2]),
                "p75": float(q[3]),
                "p95": float(q[4]),
                "mean": float(ppl.mean()) if ppl.size else math.nan,
            },
            "mean_entropy_nats": self.entropy_sum / self.entropy_tokens if self.entropy_tokens else None,
            "prob_hist100": self.prob_hist100.tolist(),
            "skipped_long": self.skipped_long,
            # None: the backend returns only the top-k (no curvature, not approximated)
            "curvature_p50": float(np.median(curv)) if curv.size else None,
        }


@dataclass(frozen=True)
class TokenPair:
    a: str
    b: str
    ppl_ks_stat: float
    ppl_ks_pvalue: float
    log_ppl_wasserstein: float
    prob_hist_js_bits: float
    share_ge99_pvalue: float = math.nan  # permutation test of the share of tokens with p >= 0.99
    curvature_auc: float = math.nan  # ROC AUC of the curvature, b (1) against a (0)
    curvature_pvalue: float = math.nan  # Mann–Whitney, two-sided


def compare_token_stats(a: TokenStats, b: TokenStats) -> TokenPair:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    from ..stats import ks_2samp

    pa, pb = a.ppl, b.ppl
    if pa.size and pb.size:
        ks = ks_2samp(pa, pb)
        stat, pval = float(ks.statistic), float(ks.pvalue)
        w = float(wasserstein_distance(np.log(pa), np.log(pb)))
    else:
        stat = pval = w = math.nan
    ha, hb = a.prob_hist100, b.prob_hist100
    js = float(jensenshannon(ha, hb, base=2) ** 2) if ha.sum() and hb.sum() else math.nan
    share_p = math.nan
    if len(a.doc_ge99) == len(a.doc_tokens) and len(b.doc_ge99) == len(b.doc_tokens):
        from ..stats import ratio_permutation_test

        share_p = ratio_permutation_test(
            np.asarray(a.doc_ge99, np.float64),
            np.asarray(a.doc_tokens, np.float64),
            np.asarray(b.doc_ge99, np.float64),
            np.asarray(b.doc_tokens, np.float64),
        )
    ca, cb = a.curvature, b.curvature
    curv_auc = curv_p = math.nan
    if ca.size and cb.size and np.isfinite(ca).all() and np.isfinite(cb).all():
        from ..stats import auc_test

        curv_auc, curv_p = auc_test(np.r_[ca, cb], np.r_[np.zeros(ca.size), np.ones(cb.size)], "two-sided")
    return TokenPair(a.name, b.name, stat, pval, w, js, share_p, curv_auc, curv_p)


_SHARE_LABEL = {0.5: "0.5", 0.9: "0.9", 0.99: "0.99", 0.999: "0.999"}


@dataclass(frozen=True, repr=False)
class TokenResult(Result):
    """Result of :class:`TokenAnalyzer` / :func:`analyze_tokens` (the contract of
    :class:`~toedit_stats.analyzers.base.Result`); ``to_dict()`` is what ``tokens --json`` prints."""

    analyzer: ClassVar[str] = "tokens"
    interval_metrics: ClassVar[frozenset[str]] = frozenset(
        {"share_ge_0.99", "mean_entropy_nats", "ppl_p50", "ppl_p50_diff", "curvature_p50", "curvature_auc"}
    )
    title: ClassVar[str] = "Token probabilities and perplexity"

    model: dict[str, Any]
    corpora: list[TokenStats]
    pairs: list[TokenPair]
    sampling: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "corpora": [c.to_dict() for c in self.corpora],
            "pairs": [vars(p) for p in self.pairs],
            "sampling": self.sampling,
        }

    def corpus_names(self) -> list[str]:
        return [c.name for c in self.corpora]

    def describe(self) -> str:
        fp = self.model.get("fingerprint", "")
        curvature = any(np.isfinite(c.curvature).any() for c in self.corpora)
        return (
            f"Model {self.model.get('name')} ({fp}). Every token of every document is scored once "
            "(teacher forcing); no text is scored twice."
            + (
                ""
                if curvature or not any(c.documents for c in self.corpora)
                else " Fast-DetectGPT curvature: not available (this backend returns only the top-k)."
            )
        )

    def metrics(self) -> list[Metric]:
        out: list[Metric] = []
        for c in self.corpora:
            d = c.to_dict()
            m = lambda name, label, value, unit="", head=False, c=c: Metric(  # noqa: E731
                "tokens", name, label, "per corpus", c.name, value, unit=unit, n=c.documents, headline=head
            )
            out.append(m("documents", "documents scored", c.documents, "documents"))
            out.append(m("tokens", "tokens scored", c.tokens, "tokens"))
            for t, v in d["share_ge"].items():
                out.append(m(f"share_ge_{t}", f"share of tokens with p >= {t}", v, "share", t == "0.99"))
            for t, v in d["share_le"].items():
                out.append(m(f"share_le_{t}", f"share of tokens with p <= {t}", v, "share"))
            for q, v in d["prob_quantiles"].items():
                out.append(m(f"prob_{q}", f"token probability, {q}", v))
            for b, v in d["rank_buckets"].items():
                out.append(m(f"rank_{b}", f"share of tokens with rank {b}", v, "share"))
            for q, v in d["ppl"].items():
                label = "median per-document perplexity" if q == "p50" else f"per-document perplexity, {q}"
                out.append(m(f"ppl_{q}", label, v, "", q == "p50"))
            out.append(m("mean_entropy_nats", "mean entropy", d["mean_entropy_nats"], "nats", True))
            if d["curvature_p50"] is not None:
                out.append(
                    m(
                        "curvature_p50",
                        "median Fast-DetectGPT curvature (higher: more machine-like)",
                        d["curvature_p50"],
                        "",
                        True,
                    )
                )
            limit = self.sampling.get(c.name, {}).get("max_doc_tokens")
            out.append(
                m(
                    "skipped_long",
                    f"documents over {limit:,} tokens, not scored"
                    if limit
                    else "documents over the length limit",
                    c.skipped_long,
                    "documents",
                    any(x.skipped_long for x in self.corpora),
                )
            )
        n = {c.name: c.documents for c in self.corpora}
        for p in self.pairs:

            def d(
                name,
                label,
                value,
                unit="",
                kind="distance",
                better="lower",
                identical=0.0,
                p=p,
                resamples=None,
            ):
                return Metric(
                    "tokens",
                    name,
                    label,
                    kind,
                    p.b,
                    value,
                    reference=p.a,
                    unit=unit,
                    n=min(n[p.a], n[p.b]),
                    better=better if kind == "distance" else None,
                    identical=identical if kind == "distance" else None,
                    headline=True,
                    resamples=resamples,
                )

            out.append(d("ppl_ks_stat", "KS statistic, per-document perplexity", p.ppl_ks_stat))
            out.append(
                d("ppl_ks_pvalue", "KS p-value, per-document perplexity", p.ppl_ks_pvalue, kind="test")
            )
            if math.isfinite(p.share_ge99_pvalue):
                out.append(
                    d(
                        "share_ge99_pvalue",
                        "permutation p-value, share of tokens with p ≥ 0.99 (documents relabelled, P = 1000)",
                        p.share_ge99_pvalue,
                        kind="test",
                        resamples=1000,
                    )
                )
            out.append(d("log_ppl_wasserstein", "Wasserstein, log-perplexity", p.log_ppl_wasserstein, "nats"))
            if math.isfinite(p.curvature_auc):
                out.append(
                    d(
                        "curvature_auc",
                        "ROC AUC of the Fast-DetectGPT curvature against the reference (0.5: none)",
                        p.curvature_auc,
                        identical=0.5,
                    )
                )
                out.append(
                    d(
                        "curvature_pvalue",
                        "Mann–Whitney p-value, Fast-DetectGPT curvature",
                        p.curvature_pvalue,
                        kind="test",
                    )
                )
            out.append(
                d(
                    "prob_hist_js_bits",
                    "JS divergence, 100-bin token probabilities",
                    p.prob_hist_js_bits,
                    "bits",
                )
            )
            ref, oth = self._by_name(p.a), self._by_name(p.b)
            diff = (
                float(np.median(oth.ppl) - np.median(ref.ppl)) if ref.ppl.size and oth.ppl.size else math.nan
            )
            out.append(
                Metric(
                    "tokens",
                    "ppl_p50_diff",
                    "median per-document perplexity, difference from the reference",
                    "effect",
                    p.b,
                    diff,
                    reference=p.a,
                    n=min(n[p.a], n[p.b]),
                    headline=True,
                )
            )
        return out

    def _by_name(self, name: str) -> TokenStats:
        return next(c for c in self.corpora if c.name == name)

    def bootstrap(self, weights: Any) -> dict[tuple[str, str], np.ndarray]:
        from ..stats import js_bits_rows, weighted_ks, weighted_quantile, weighted_wasserstein

        out: dict[tuple[str, str], np.ndarray] = {}
        parts = {}
        curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for c in self.corpora:
            if not c.doc_ids or len(c.doc_hist) != len(c.doc_ids):
                return {}
            w = weights(c.name, c.doc_ids)
            ppl = np.asarray(c.doc_ppl, np.float64)
            ok = np.isfinite(ppl)
            toks = np.asarray(c.doc_tokens, np.float64)
            hist = np.stack(c.doc_hist).astype(np.float64)
            parts[c.name] = (w[:, ok], ppl[ok], w @ hist)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[("share_ge_0.99", c.name)] = (w @ np.asarray(c.doc_ge99, np.float64)) / (w @ toks)
                ent = np.asarray(c.doc_entropy, np.float64)
                if np.isfinite(ent).all():
                    out[("mean_entropy_nats", c.name)] = (w @ ent) / (w @ toks)
            out[("ppl_p50", c.name)] = weighted_quantile(ppl[ok], w[:, ok], 0.5)
            curv = c.curvature
            if curv.size and np.isfinite(curv).all():
                out[("curvature_p50", c.name)] = weighted_quantile(curv, w, 0.5)
                curves[c.name] = (curv, w)
        ref = self.corpora[0].name
        if ref in curves:
            from ..stats import weighted_auc

            cr, wr_c = curves[ref]
            for c in self.corpora[1:]:
                if c.name in curves:
                    co, wo_c = curves[c.name]
                    labels = np.r_[np.zeros(cr.size), np.ones(co.size)]
                    w_both = np.concatenate([wr_c, wo_c], axis=1)
                    out[("curvature_auc", c.name)] = weighted_auc(np.r_[cr, co], labels, w_both)
        wr, pr, hr = parts[ref]
        for c in self.corpora[1:]:
            wo, po, ho = parts[c.name]
            out[("ppl_ks_stat", c.name)] = weighted_ks(pr, wr, po, wo)
            out[("log_ppl_wasserstein", c.name)] = weighted_wasserstein(np.log(pr), wr, np.log(po), wo)
            out[("prob_hist_js_bits", c.name)] = js_bits_rows(hr, ho)
            out[("ppl_p50_diff", c.name)] = weighted_quantile(po, wo, 0.5) - weighted_quantile(pr, wr, 0.5)
        return out

    def swap_replicates(
        self, base: str, variant: str, ids: Sequence[str], masks: np.ndarray
    ) -> dict[tuple[str, str], np.ndarray]:
        """The KS statistic and log-Wasserstein distance of per-document perplexity and the JS
        divergence of the probability histograms, for ``base`` and ``variant`` against the
        reference with document ``d`` swapped for its namesake wherever ``masks[j, ids.index(d)]``
        (the paired permutation test of an edit)."""
        from ..stats import js_bits_rows, swap_weights, weighted_ks, weighted_wasserstein

        names = self.corpus_names()
        if base not in names or variant not in names:
            return {}
        if any(not c.doc_ids or len(c.doc_hist) != len(c.doc_ids) for c in self.corpora):
            return {}
        ref, b, v = self.corpora[0], self._by_name(base), self._by_name(variant)
        own_b, into_b, own_v, into_v = swap_weights(b.doc_ids, v.doc_ids, ids, masks)
        P = own_b.shape[0]

        def arrays(c):
            ppl = np.asarray(c.doc_ppl, np.float64)
            return ppl, np.isfinite(ppl), np.stack(c.doc_hist).astype(np.float64)

        (pr, okr, hr), (pb, okb, hb), (pv, okv, hv) = arrays(ref), arrays(b), arrays(v)
        wr = np.ones((P, int(okr.sum())))
        both = np.concatenate([pb[okb], pv[okv]])
        out: dict[tuple[str, str], np.ndarray] = {}
        for name, w_own_b, w_own_v in ((base, own_b, into_b), (variant, into_v, own_v)):
            w = np.concatenate([w_own_b[:, okb], w_own_v[:, okv]], axis=1)
            out[("ppl_ks_stat", name)] = weighted_ks(pr[okr], wr, both, w)
            out[("log_ppl_wasserstein", name)] = weighted_wasserstein(np.log(pr[okr]), wr, np.log(both), w)
            hist = w_own_b @ hb + w_own_v @ hv
            out[("prob_hist_js_bits", name)] = js_bits_rows(np.tile(hr.sum(0), (P, 1)), hist)
        return out

    def paired(self, before: str, after: str):
        """Per-document perplexity and share of p >= 0.99 before and after (documents paired by
        id), Wilcoxon signed-rank tests (scipy, two-sided, zero differences dropped), a scatter."""
        import pandas as pd
        from scipy.stats import wilcoxon

        names = self.corpus_names()
        if before not in names or after not in names:
            return None
        b, a = self._by_name(before), self._by_name(after)
        idx_a = {i: k for k, i in enumerate(a.doc_ids)}
        rows = []
        for k, i in enumerate(b.doc_ids):
            j = idx_a.get(i)
            if j is None or not b.doc_tokens[k] or not a.doc_tokens[j]:
                continue
            rows.append(
                {
                    "id": i,
                    "perplexity_before": b.doc_ppl[k],
                    "perplexity_after": a.doc_ppl[j],
                    "share_ge_0.99_before": b.doc_ge99[k] / b.doc_tokens[k],
                    "share_ge_0.99_after": a.doc_ge99[j] / a.doc_tokens[j],
                }
            )
        frame = pd.DataFrame(rows)
        metrics = []
        for key, label in (
            ("perplexity", "per-document perplexity"),
            ("share_ge_0.99", "per-document share of p >= 0.99"),
        ):
            if frame.empty:
                break
            d = frame[f"{key}_after"] - frame[f"{key}_before"]
            nz = d[d != 0]
            p = float(wilcoxon(nz).pvalue) if len(nz) >= 1 else math.nan
            metrics.append(
                Metric(
                    "tokens",
                    f"paired_{key}_wilcoxon_pvalue",
                    f"Wilcoxon signed-rank p-value, {label}",
                    "test",
                    after,
                    p,
                    reference=before,
                    n=len(frame),
                    headline=True,
                    note=f"{len(nz)} of {len(frame)} documents changed",
                )
            )
            metrics.append(
                Metric(
                    "tokens",
                    f"paired_{key}_median_change",
                    f"median change, {label}",
                    "effect",
                    after,
                    float(d.median()),
                    reference=before,
                    n=len(frame),
                    headline=True,
                )
            )

        def figure():
            plt = _plt()
            fig, axes = plt.subplots(1, 2, figsize=(9, 4))
            panels = (
                ("perplexity", "per-document perplexity", True),
                ("share_ge_0.99", "share of tokens with p >= 0.99", False),
            )
            for ax, (key, label, log) in zip(axes, panels):
                if not frame.empty:
                    x, y = frame[f"{key}_before"], frame[f"{key}_after"]
                    ax.scatter(x, y, s=14, alpha=0.7, color=colors([after])[after], edgecolors="none")
                    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
                    ax.plot([lo, hi], [lo, hi], color="#888", lw=1, ls="--")
                    if log:
                        ax.set_xscale("log")
                        ax.set_yscale("log")
                ax.set_xlabel(f"{label}, {_lit(before)}")
                ax.set_ylabel(f"{label}, {_lit(after)}")
            fig.suptitle(f"Per document, before and after ({len(frame)} paired documents; dashed: no change)")
            fig.tight_layout()
            return fig

        return PairedView(
            "tokens", "Token statistics per document, before and after editing", frame, metrics, figure
        )

    def findings(self, corpus: str | None = None, adjusted: dict[str, float] | None = None) -> list[str]:
        long_note = [
            f"{c.skipped_long:,} {c.name} document(s) longer than "
            f"{self.sampling.get(c.name, {}).get('max_doc_tokens', 0):,} tokens were not scored (max_doc_tokens)."
            for c in self.corpora
            if c.skipped_long
        ]
        if len(self.corpora) < 2:
            return long_note
        ref = self.corpora[0]
        other = next((c for c in self.corpora[1:] if c.name == corpus), self.corpora[1])
        pair = next((p for p in self.pairs if p.b == other.name), None)
        ph, ps = ref.to_dict()["ppl"]["p50"], other.to_dict()["ppl"]["p50"]
        gh, gs = ref.to_dict()["share_ge"]["0.99"], other.to_dict()["share_ge"]["0.99"]
        if pair is None or not (math.isfinite(ph) and math.isfinite(ps)):
            return long_note
        from ..stats import ks_detectable

        p_adj = (adjusted or {}).get("ppl_ks_pvalue")
        decisive = p_adj if p_adj is not None else pair.ppl_ks_pvalue
        holm = f", Holm-adjusted {p_adj:.2g}" if p_adj is not None else ""
        shares = f"{100 * gs:.1f}% vs {100 * gh:.1f}% of tokens get p ≥ 0.99"
        if not (math.isfinite(decisive) and decisive < 0.05):
            # the sign of a median is not a finding: say what the sample could have shown
            detectable = ks_detectable(ref.documents, other.documents)
            return [
                f"Under the prior model the {other.name} and {ref.name} corpora are not distinguishable in "
                f"per-document perplexity at this sample size (median {ps:.2f} vs {ph:.2f}; {shares}; KS "
                f"statistic {pair.ppl_ks_stat:.2f}, p = {pair.ppl_ks_pvalue:.2g}{holm}; with {other.documents} "
                f"and {ref.documents} documents the KS test detects differences of D ≥ {detectable:.2f}).",
                *long_note,
            ]
        more = "more" if ps < ph else "less"
        out = [
            f"Under the prior model the {other.name} corpus is {more} predictable than the {ref.name} one: median "
            f"per-document perplexity {ps:.2f} vs {ph:.2f}, and {shares}. The difference in per-document "
            f"perplexity is significant at the 5% level (KS p = {pair.ppl_ks_pvalue:.2g}{holm})."
        ]
        if ps >= ph:
            out.append(
                f"Note that this {other.name} corpus is not over-concentrated in the way the paper describes; "
                "editing over-confident tokens is not expected to help it."
            )
        return out + long_note

    def extra_tables(self) -> dict[str, Any]:
        return {
            "tokens": self.wide_frame(),
            "token_pairs": self.pairs_frame(),
            "token_documents": self.documents_frame(),
        }

    def wide_frame(self):
        """One row per corpus: the scalar statistics, flattened (``share_ge_0.99``, ``ppl_p50``...)."""
        import pandas as pd

        rows = []
        for c in self.corpora:
            d = c.to_dict()
            row = {"corpus": d["name"], "documents": d["documents"], "tokens": d["tokens"]}
            for i, v in enumerate(d["prob_hist10"]):
                row[f"prob_bin_{i / 10:.1f}"] = v
            for group in ("share_ge", "share_le", "prob_quantiles", "rank_buckets", "ppl"):
                for k, v in d[group].items():
                    row[f"{group}_{k}"] = v
            row["mean_entropy_nats"] = d["mean_entropy_nats"]
            rows.append(row)
        return pd.DataFrame(rows)

    def pairs_frame(self):
        import pandas as pd

        return pd.DataFrame([vars(p) for p in self.pairs])

    def documents_frame(self):
        """One row per document: corpus, id, tokens, perplexity."""
        import pandas as pd

        return pd.DataFrame(
            [
                {"corpus": c.name, "id": i, "tokens": t, "perplexity": p, "curvature": k}
                for c in self.corpora
                for i, t, p, k in zip(c.doc_ids, c.doc_tokens, c.doc_ppl, c.doc_curvature)
            ]
        )

    # -- figures --------------------------------------------------------------------------------
    def _figure_makers(self) -> dict[str, Any]:
        return {
            "prob_u_shape": self._fig_prob_u_shape,
            "perplexity_hist": self._fig_perplexity_hist,
            "rank_buckets": self._fig_rank_buckets,
        }

    def _fig_prob_u_shape(self, ax=None):
        plt = _plt()
        col = colors(self.corpus_names())
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        centers = (np.arange(100) + 0.5) / 100
        for c in self.corpora:
            ax.step(
                centers,
                c.prob_hist100,
                where="mid",
                color=col[c.name],
                ls=styles(self.corpus_names())[c.name],
                lw=1.5,
                label=f"{_lit(c.name)} ({c.tokens:,} tokens)",
            )
            for q, ls in ((0.25, ":"), (0.5, "--"), (0.75, ":")):
                ax.axvline(c.prob_quantile(q), color=col[c.name], ls=ls, lw=1, alpha=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("probability of the actual token")
        ax.set_ylabel("share of tokens (100 bins)")
        ax.set_title("Token probabilities (dashed: median, dotted: p25/p75)")
        ax.legend(fontsize=8)
        ax.figure.tight_layout()
        return ax.figure

    def _fig_perplexity_hist(self, ax=None):
        plt = _plt()
        col = colors(self.corpus_names())
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        parts = [c.ppl for c in self.corpora if c.ppl.size]
        all_ppl = np.concatenate(parts) if parts else np.array([])
        if all_ppl.size:
            bins = np.geomspace(max(all_ppl.min(), 1e-3), all_ppl.max() * 1.0001, 40)
            for c in self.corpora:
                ax.hist(
                    c.ppl,
                    bins=bins,
                    histtype="step",
                    lw=1.6,
                    color=col[c.name],
                    ls=styles(self.corpus_names())[c.name],
                    label=f"{_lit(c.name)} (n={c.ppl.size})",
                )
            ax.set_xscale("log")
        ax.set_xlabel("per-document perplexity")
        ax.set_ylabel("documents")
        ax.set_title("Per-document perplexity")
        ax.legend(fontsize=8)
        ax.figure.tight_layout()
        return ax.figure

    def _fig_rank_buckets(self, ax=None):
        plt = _plt()
        names = self.corpus_names()
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.6))
        left = np.zeros(len(names))
        shades = plt.cm.viridis(np.linspace(0.1, 0.9, len(RANK_BUCKETS)))
        for j, bucket in enumerate(RANK_BUCKETS):
            vals = np.array([c.ranks[j] / c.tokens if c.tokens else 0 for c in self.corpora])
            ax.barh([_lit(n) for n in names], vals, left=left, color=shades[j], label=f"rank {bucket}")
            left += vals
        ax.set_xlabel("share of tokens")
        ax.set_title("GLTR rank buckets")
        ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.35))
        ax.figure.tight_layout()
        return ax.figure


def token_stats(name: str, scores: Iterable[TokenScores]) -> TokenStats:
    acc = TokenStats(name)
    for s in scores:
        acc.add(s)
    return acc


class TokenStatsWorker(ModelWorker):
    """Scores a batch of documents and returns its :class:`TokenStats` (no scores leave the
    worker; batches merge with ``+``, per-document fields in batch order)."""

    def __call__(self, batch: Sequence[Any]) -> TokenStats:
        acc = TokenStats("batch")
        for sc in self._score(batch):
            acc.add(sc)
        return acc


@dataclass(kw_only=True)
class TokenAnalyzer(Analyzer):
    """Score each corpus with a language model and compare token statistics with the reference.

    ``model`` is a name (``smollm2-135m``, hub id, path), an :class:`~toedit_stats.lm.config.LMConfig`
    or a loaded :class:`~toedit_stats.lm.LanguageModel`. Scores come from ``model.score``, so a
    model wrapped in a score cache (the report does this) never scores the same text twice.
    """

    name: ClassVar[str] = "tokens"
    title: ClassVar[str] = "Token probabilities and perplexity"
    needs: ClassVar[tuple[str, ...]] = ("lm",)

    max_docs: int | None = option(
        500, kind="int", min=1, optional=True, help="Score a seeded sample of at most N documents per corpus."
    )
    max_doc_tokens: int | None = option(
        100_000,
        kind="int",
        min=1,
        optional=True,
        help="Documents longer than this many tokens are skipped and counted, not scored (none: score all; "
        "long documents are scored in overlapping windows).",
    )
    model: Any = option("smollm2-135m", kind="any", cli="", help="Language model (name, LMConfig or object).")
    progress: bool = option(False, cli="", help="Progress bars on stderr.")
    # where the scoring runs (an :class:`~toedit_stats.execution.Executor`): each batch of
    # ``batch_docs`` documents is scored by a worker and only its TokenStats comes back, merged
    # here with ``+`` (on Ray each actor loads ``model``, which must then be a name or LMConfig)
    executor: Any = field(
        default_factory=LocalExecutor, repr=False, compare=False, metadata={"execution": True}
    )
    batch_docs: int = field(
        default=256, repr=False, metadata={"execution": True}
    )  # the backends' buffer: the same batches here

    def analyze(self, corpora: Sequence[Corpus] | Corpus, reference: int = 0) -> TokenResult:
        prepared, totals = prepare_corpora(corpora, reference, self.max_docs, self.seed)
        model = self.model
        lm = model.load() if isinstance(model, LMConfig) else load_lm(model)
        executor = resolve_executor(self.executor)
        stats, sampling = [], {}
        for c in prepared:
            docs, skipped = self._within_limit(lm, list(c))
            bar = TokenProgress(
                chars_total=sum(len(d.text) for d in docs),
                documents=len(docs),
                desc=f"scoring {c.name}",
                enabled=self.progress,
            )
            worker = TokenStatsWorker(model, loaded=lm, on_tokens=bar.on_tokens if self.progress else None)
            parts = []
            chunks = batched(docs, self.batch_docs)
            for part, chunk in zip(executor.map_batches(worker, batched(docs, self.batch_docs)), chunks):
                parts.append(part)
                bar.batch_done(
                    chars=sum(len(d.text) for d in chunk), tokens=part.tokens, documents=part.documents
                )
            bar.close()
            acc = TokenStats.merged(c.name, parts)
            acc.skipped_long = skipped
            stats.append(acc)
            sampling[c.name] = self._sampling(len(docs), skipped, totals[c.name])
        info: dict[str, Any] = {"name": getattr(lm, "name", str(model))}
        info["fingerprint"] = lm.fingerprint
        info["backend"] = getattr(lm, "backend", None)
        pairs = [compare_token_stats(stats[0], s) for s in stats[1:]]
        return TokenResult(info, stats, pairs, sampling)

    def _sampling(self, scored: int, skipped: int, total: int) -> dict[str, Any]:
        n = scored + skipped
        return {
            "scored": scored,
            "of": total,
            "seed": self.seed,
            "skipped_long": skipped,
            "max_doc_tokens": self.max_doc_tokens,
            "note": (f"sampled {n} of {total}" if n < total else "all documents")
            + (f"; {skipped} over {self.max_doc_tokens:,} tokens not scored" if skipped else ""),
        }

    def _within_limit(self, lm: Any, docs: list) -> tuple[list, int]:
        """Documents with at most ``max_doc_tokens`` tokens, and how many were over. Only texts
        with more UTF-8 bytes than the limit are tokenised to check (a token covers at least one
        byte)."""
        limit = self.max_doc_tokens
        if limit is None:
            return docs, 0
        long = [i for i, d in enumerate(docs) if len(d.text.encode("utf-8", "surrogatepass")) > limit]
        if not long:
            return docs, 0
        counts = lm.count_tokens([docs[i].text for i in long])
        over = {i for i, n in zip(long, counts) if n > limit}
        return [d for i, d in enumerate(docs) if i not in over], len(over)


def analyze_tokens(
    corpora: Sequence[Corpus] | Corpus,
    *,
    model: Any = "smollm2-135m",
    max_docs: int | None = 500,
    seed: int = 0,
    progress: bool = False,
) -> TokenResult:
    """``TokenAnalyzer(...).analyze(corpora)`` as one call: score each corpus with ``model`` and
    compare token statistics with the first.

    Parameters
    ----------
    corpora : the first is the reference.
    model : a model name (``smollm2-135m``, hub id, path), an ``LMConfig`` or a loaded
        :class:`~toedit_stats.lm.LanguageModel`.
    max_docs : score a seeded sample of at most this many documents per corpus
        (``None``: all); the result says "sampled N of M" in ``sampling``.
    """
    return TokenAnalyzer(model=model, max_docs=max_docs, seed=seed, progress=progress).analyze(corpora)
