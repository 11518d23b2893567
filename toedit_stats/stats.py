"""Resampling and tests shared by the analyzers and the report.

**Bootstrap weights.** Intervals come from a seeded *Poisson bootstrap* over documents: in
replicate ``b`` document ``i`` gets weight ``w_bi ~ Poisson(1)``, drawn from a generator seeded by
``(seed, group, sha256(document id))``. So the weights of a document do not depend on the order of
the input or on which other documents are present (an analyzer that works on a subset, like the
n-grams' equal token budgets, sees the same weights for the same documents), and corpora in the
same *group* share weights by id: a synthetic document and its edited version are resampled
together (paired), the human corpus independently. Metrics are recomputed from per-document
contributions under the weights (weighted histograms, weighted ECDFs, weighted kernel sums), never
by re-running an analyzer.

**Tests.** :func:`mmd_agg_test` aggregates RBF-MMD over several bandwidths (quantiles of the
pairwise distances) by the minimum p-value, calibrated jointly by the same permutations, so its
level holds (the min-p aggregation of Fromont et al. 2013 and MMDAgg, Schrab et al. 2023, without
MMDAgg's weighted thresholds). :func:`auc_test` gives the AUC of scores and its one-sided (AUC > 0.5)
Mann–Whitney p-value (scipy; the classifier test applies it to held-out scores). :func:`holm` is
Holm's step-down adjustment.

>>> w = BootstrapWeights(seed=0, replicates=3)
>>> w.weights("g", ["a", "b"]).shape, bool((w.weights("g", ["b"]) == w.weights("g", ["a", "b"])[:, 1:]).all())
((3, 2), True)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "BootstrapWeights",
    "auc_test",
    "holm",
    "interval",
    "js_bits_rows",
    "mmd_agg_test",
    "weighted_auc",
    "weighted_ks",
    "weighted_quantile",
    "weighted_wasserstein",
]


class BootstrapWeights:
    """Seeded Poisson(1) weights per document id and group (see the module docstring)."""

    def __init__(self, *, seed: int = 0, replicates: int = 1000, groups: dict[str, str] | None = None):
        self.seed = int(seed)
        self.replicates = int(replicates)
        self.groups = dict(groups or {})  # corpus name -> group (default: its own)
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def column(self, group: str, doc_id: str) -> np.ndarray:
        key = (group, doc_id)
        col = self._cache.get(key)
        if col is None:
            h = hashlib.sha256(f"{group}\0{doc_id}".encode("utf-8", "surrogatepass")).digest()
            rng = np.random.default_rng([self.seed, *np.frombuffer(h[:16], np.uint32).tolist()])
            col = rng.poisson(1.0, self.replicates).astype(np.float64)
            self._cache[key] = col
        return col

    def weights(self, corpus: str, ids: Sequence[str]) -> np.ndarray:
        """``(replicates, len(ids))`` weights for the documents ``ids`` of ``corpus``."""
        group = self.groups.get(corpus, corpus)
        if not len(ids):
            return np.zeros((self.replicates, 0))
        return np.stack([self.column(group, str(i)) for i in ids], axis=1)

    __call__ = weights


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN replicates dropped)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return (math.nan, math.nan)
    a = (1 - level) / 2
    lo, hi = np.quantile(v, [a, 1 - a])
    return (float(lo), float(hi))


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> np.ndarray:
    """Per row of ``w`` (B, n): the weighted ``q``-quantile of ``x`` (n,) (lower interpolation:
    the smallest x with cumulative weight share >= q). NaN where a row's weights sum to 0."""
    order = np.argsort(x, kind="stable")
    xs = np.asarray(x, np.float64)[order]
    cw = np.cumsum(w[:, order], axis=1)
    tot = cw[:, -1:] if cw.shape[1] else np.zeros((w.shape[0], 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = cw / tot
    idx = (share < q - 1e-12).sum(axis=1)
    out = xs[np.minimum(idx, xs.size - 1)] if xs.size else np.full(w.shape[0], math.nan)
    return np.where(tot[:, 0] > 0, out, math.nan)


def _ecdfs(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray):
    grid = np.concatenate([a, b])
    order = np.argsort(grid, kind="stable")
    g = grid[order]
    w = np.concatenate([wa, np.zeros_like(wb)], axis=1)[:, order]
    v = np.concatenate([np.zeros_like(wa), wb], axis=1)[:, order]
    with np.errstate(invalid="ignore", divide="ignore"):
        fa = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
        fb = np.cumsum(v, axis=1) / v.sum(axis=1, keepdims=True)
    # only the last of tied grid values is a step point
    last = np.r_[g[1:] != g[:-1], True]
    return g, fa, fb, last


def ks_2samp(a: np.ndarray, b: np.ndarray):
    """``scipy.stats.ks_2samp`` without its "Exact calculation unsuccessful. Switching to
    method=asymp" warning: scipy falls back to the asymptotic p-value on its own, which is the
    right call, and a library must not print (issue 30: it reached users' terminals)."""
    import warnings

    from scipy import stats

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful")
        return stats.ks_2samp(a, b)


def weighted_ks(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """Two-sample KS statistic per bootstrap row (weighted ECDFs); equals scipy's ``ks_2samp``
    statistic with unit weights."""
    if not (a.size and b.size):
        return np.full(wa.shape[0], math.nan)
    _, fa, fb, last = _ecdfs(a, wa, b, wb)
    return np.abs(fa - fb)[:, last].max(axis=1)


def weighted_wasserstein(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """1-Wasserstein distance per bootstrap row: the integral of |F_a - F_b|; equals scipy's
    ``wasserstein_distance`` with unit weights."""
    if not (a.size and b.size):
        return np.full(wa.shape[0], math.nan)
    g, fa, fb, _ = _ecdfs(a, wa, b, wb)
    dx = np.diff(g)
    return (np.abs(fa - fb)[:, :-1] * dx).sum(axis=1)


def js_bits_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon divergence (bits) between count rows of ``p`` and ``q`` (each (B, K),
    normalised per row); equals ``scipy.spatial.distance.jensenshannon(.., base=2) ** 2``."""
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = p / p.sum(axis=-1, keepdims=True)
        q = q / q.sum(axis=-1, keepdims=True)
        m = (p + q) / 2
        kl = lambda x: np.where(x > 0, x * np.log2(np.where(x > 0, x, 1) / np.where(m > 0, m, 1)), 0.0)  # noqa: E731
        return 0.5 * kl(p).sum(axis=-1) + 0.5 * kl(q).sum(axis=-1)


def weighted_auc(scores: np.ndarray, labels: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ROC-AUC of fixed scores per bootstrap row of weights (ties count half); equals
    ``sklearn.metrics.roc_auc_score`` with unit weights."""
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    y = labels[order].astype(bool)
    w = w[:, order]
    wp, wn = w * y, w * ~y
    # for each positive, the weight of negatives below it plus half the tied ones
    uniq, inv = np.unique(s, return_inverse=True)
    neg_at = np.zeros((w.shape[0], uniq.size))
    np.add.at(neg_at.T, inv, wn.T)
    below = np.cumsum(neg_at, axis=1) - neg_at
    credit = below[:, inv] + 0.5 * neg_at[:, inv]
    num = (wp * credit).sum(axis=1)
    den = wp.sum(axis=1) * wn.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, math.nan)


def auc_test(scores: np.ndarray, labels: np.ndarray, alternative: str = "greater") -> tuple[float, float]:
    """AUC of ``scores`` for ``labels`` (1 = positive) and the Mann–Whitney p-value (scipy: exact
    for small samples without ties, else asymptotic with tie correction). ``greater`` (default):
    the classifier two-sample test asks whether the positives score *higher* — an AUC below 0.5
    is a failed classifier, not evidence of a difference (and out-of-fold AUCs are biased below
    0.5 under the null, which a two-sided test would count as rejections)."""
    from scipy.stats import mannwhitneyu

    pos, neg = scores[labels == 1], scores[labels == 0]
    if not (pos.size and neg.size):
        return math.nan, math.nan
    res = mannwhitneyu(pos, neg, alternative=alternative)
    return float(res.statistic / (pos.size * neg.size)), float(res.pvalue)


def mmd_agg_test(
    a: np.ndarray,
    b: np.ndarray,
    *,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    scales: Sequence[float] = (0.5, 1.0, 2.0),
    permutations: int = 1000,
    seed: int = 0,
    median: bool = False,
) -> dict[str, Any]:
    """Aggregated RBF-MMD two-sample test over bandwidths ``s = scale * quantile`` of the pooled
    pairwise distances: the unbiased MMD² per bandwidth, each bandwidth's permutation p-value,
    and the aggregated p-value — the minimum p-value, calibrated by the same permutations (its
    permutation distribution), so the test's level holds for any number of bandwidths.

    With ``median=True`` the result also holds, under ``"median"``, the median-heuristic test of
    :func:`~toedit_stats.analyzers.embeddings.mmd2_test` (``(mmd2, pvalue, bandwidth)``, equal
    to it: the same permutations and bandwidth), from the same passes over the distances — the
    two tests share one quantile search and one kernel pass (one extra bandwidth) instead of two
    of each."""
    from .kernels import pair_quantile_table, permutation_labels, permutation_mmd2

    x = np.concatenate([a, b]).astype(np.float64)
    n, m = len(a), len(b)
    if n < 2 or m < 2:
        out: dict[str, Any] = {"pvalue": math.nan, "bandwidths": [], "mmd2": [], "pvalues": []}
        if median:
            out["median"] = (math.nan, math.nan, math.nan)
        return out
    wanted = [(float(q), True) for q in quantiles] + ([(0.5, False)] if median else [])
    qv = pair_quantile_table(x, wanted)
    base = qv[: len(quantiles)]
    bands = sorted({float(s * q) for s in scales for q in base if s * q > 0}) or [1.0]
    sigma = (math.sqrt(qv[-1]) or 1.0) if median else None
    labels = permutation_labels(n, m, permutations, seed)
    # the M × M kernel is visited a block of rows at a time (memory linear in M)
    st = permutation_mmd2(x, n, labels, bands + ([sigma] if median else []))  # (bands, perms + 1)
    if median:
        med, st = st[-1], st[:-1]
    # per-bandwidth p-value of every permutation (and the observed) within its own distribution
    ranks = (st[:, None, :] >= st[:, :, None]).sum(axis=2)  # (bands, perms+1): #stats >= this one
    pv = ranks / (permutations + 1)
    minp = pv.min(axis=0)
    agg = (1 + np.sum(minp[1:] <= minp[0])) / (1 + permutations)
    out = {
        "pvalue": float(agg),
        "bandwidths": [float(s) for s in bands],
        "mmd2": [float(v) for v in st[:, 0]],
        "pvalues": [float(v) for v in pv[:, 0]],
    }
    if median:
        out["median"] = (
            float(med[0]),
            float((1 + np.sum(med[1:] >= med[0])) / (1 + permutations)),
            float(sigma),
        )
    return out


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted).

    >>> [round(p, 6) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, np.float64)
    ok = np.flatnonzero(np.isfinite(p))
    out = np.full(p.shape, math.nan)
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        k = ok.size
        adj = np.maximum.accumulate([min(1.0, (k - i) * p[j]) for i, j in enumerate(order)])
        out[order] = adj
    return [float(x) for x in out]


def swap_weights(
    base_ids: Sequence[str], variant_ids: Sequence[str], ids: Sequence[str], masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weights that express a paired swap of documents between two corpora as weighted sums:
    document ``d`` of ``base`` trades places with its namesake in ``variant`` in permutation
    ``j`` when ``masks[j, ids.index(d)]`` is true (documents without a namesake, or not in
    ``ids``, never move). Returns ``(own_base, into_base, own_variant, into_variant)``: the new
    base is ``base × own_base + variant × into_base`` (shapes ``(P, len(base_ids))`` and
    ``(P, len(variant_ids))``), the new variant ``variant × own_variant + base × into_variant``.

    >>> wb, xb, wv, xv = swap_weights(["a", "b"], ["b", "a"], ["a", "b"], np.array([[True, False]]))
    >>> wb.tolist(), xb.tolist(), wv.tolist(), xv.tolist()
    ([[0.0, 1.0]], [[0.0, 1.0]], [[1.0, 0.0]], [[1.0, 0.0]])
    """
    col = {d: j for j, d in enumerate(ids)}
    pos_v = {d: k for k, d in enumerate(variant_ids)}
    pairs = [(k, pos_v[d], col[d]) for k, d in enumerate(base_ids) if d in pos_v and d in col]
    masks = np.asarray(masks, bool)
    P = masks.shape[0]
    own_b, into_b = np.ones((P, len(base_ids))), np.zeros((P, len(variant_ids)))
    own_v, into_v = np.ones((P, len(variant_ids))), np.zeros((P, len(base_ids)))
    if pairs:
        kb, kv, kc = (np.array(x, np.int64) for x in zip(*pairs))
        m = masks[:, kc].astype(np.float64)
        own_b[:, kb] -= m
        into_b[:, kv] = m
        own_v[:, kv] -= m
        into_v[:, kb] = m
    return own_b, into_b, own_v, into_v


def format_p(p: float, resamples: int = 0) -> str:
    """A p-value for prose: ``"p ≤ 0.001"`` at the floor ``1 / (resamples + 1)`` of a permutation
    or bootstrap test (a bound, not a value), else ``"p = 0.032"``.

    >>> format_p(1 / 1001, 1000), format_p(0.0321), format_p(float("nan"))
    ('p ≤ 0.001', 'p = 0.032', 'p = –')
    """
    if not math.isfinite(p):
        return "p = –"
    if resamples and p <= 1.0 / (resamples + 1) * (1 + 1e-9):
        return f"p ≤ {1.0 / (resamples + 1):.2g}"
    return f"p = {p:.2g}"


def ks_detectable(n: int, m: int, alpha: float = 0.05) -> float:
    """The smallest two-sample KS statistic that rejects at ``alpha`` with ``n`` and ``m``
    observations (the asymptotic critical value ``c(α) √((n + m) / (n m))``): the smallest
    difference in distribution the sample can show.

    >>> round(ks_detectable(40, 40), 3)
    0.304
    """
    if n < 1 or m < 1:
        return math.nan
    return math.sqrt(-0.5 * math.log(alpha / 2)) * math.sqrt((n + m) / (n * m))


def label_permutations(n_a: int, n_b: int, permutations: int, seed: int) -> np.ndarray:
    """``(permutations, n_a + n_b)`` booleans: which pooled documents (``a``'s first, then
    ``b``'s) go to the second sample in each seeded relabelling; exactly ``n_b`` per row."""
    rng = np.random.default_rng([seed, 8, n_a, n_b])
    order = np.argsort(rng.random((permutations, n_a + n_b)), axis=1)
    out = np.zeros((permutations, n_a + n_b), bool)
    np.put_along_axis(out, order[:, :n_b], True, axis=1)
    return out


def ratio_permutation_test(
    num_a: np.ndarray,
    den_a: np.ndarray,
    num_b: np.ndarray,
    den_b: np.ndarray,
    *,
    permutations: int = 1000,
    seed: int = 0,
) -> float:
    """Two-sided permutation p-value of the difference of two ratios of sums (e.g. the share of
    tokens with p >= 0.99: tokens flagged / tokens, per document), documents relabelled at random:
    ``(1 + #{|T*| >= |T|}) / (1 + P)``; NaN with an empty side.

    >>> a = np.array([1.0, 2, 1]); b = np.array([9.0, 8, 9]); t = np.full(3, 10.0)
    >>> ratio_permutation_test(a, t, b, t, permutations=200) <= 0.2
    True
    """
    num = np.concatenate([num_a, num_b]).astype(np.float64)
    den = np.concatenate([den_a, den_b]).astype(np.float64)
    if not (len(num_a) and len(num_b)) or den.sum() == 0:
        return math.nan
    observed = num_b.sum() / den_b.sum() - num_a.sum() / den_a.sum()
    in_b = label_permutations(len(num_a), len(num_b), permutations, seed).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        null = in_b @ num / (in_b @ den) - (1 - in_b) @ num / ((1 - in_b) @ den)
    return permutation_pvalue(observed, null)


def permutation_pvalue(observed: float, null: np.ndarray, *, two_sided: bool = True) -> float:
    """``(1 + #{T* ≥ T}) / (1 + P)`` over the finite permutation statistics ``null`` (``|T|`` and
    ``|T*|`` when ``two_sided``), ties within relative rounding (1e-12) counted; NaN without any.

    >>> permutation_pvalue(2.0, np.array([-3.0, -1.0, 0.0, 1.0, 2.0, 3.0]))
    0.5714285714285714
    """
    null = np.asarray(null, np.float64)
    null = null[np.isfinite(null)]
    if not null.size:
        return math.nan
    if two_sided:
        observed, null = abs(observed), np.abs(null)
    tol = 1e-12 * max(1.0, abs(observed))
    return float((1 + np.count_nonzero(null >= observed - tol)) / (1 + null.size))


def id_order(ids: Sequence[str], seed: int) -> list[int]:
    """Positions of ``ids`` ordered by a seeded hash of the id (ties by position): the order in
    which the equal-size rules take documents, so that corpora sharing ids (a synthetic corpus and
    its edited version) take the same ones whatever their order.

    >>> ids = ["a", "b", "c", "d"]
    >>> [ids[j] for j in id_order(ids, 0)] == [ids[::-1][j] for j in id_order(ids[::-1], 0)]
    True
    """
    keys = [hashlib.sha256(f"{seed}\0{i}".encode("utf-8", "surrogatepass")).digest()[:8] for i in ids]
    return sorted(range(len(ids)), key=lambda j: (keys[j], j))
