"""Embedding distribution shift between corpora (the paper's Fig. 4B, with numbers).

Documents are embedded (:mod:`toedit_stats.embed`); for the reference (first corpus) and each
other corpus, equal-size seeded samples of ``n = min(len(a), len(b), max_docs)`` documents are
compared:

``mauve_mean``, ``mauve_std``
    MAUVE (Pillutla et al. 2021) from the ``mauve-text`` package on our features
    (``p_features``/``q_features``, its defaults: PCA, k-means with n/10 clusters), repeated over
    ``mauve_seeds`` seeds; 1 = indistinguishable.
``frechet``
    Fréchet distance between Gaussian fits, ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``,
    with the trace of the matrix square root computed stably as ``sum sqrt(eig(S_a^(1/2) S_b S_a^(1/2)))``.
``mmd2``, ``mmd_pvalue``
    unbiased MMD² with an RBF kernel ``exp(-|x-y|^2 / (2 s^2))``, ``s`` the median pairwise
    distance of the pooled sample (median heuristic), and a permutation-test p-value
    ``(1 + #{perm >= observed}) / (1 + permutations)`` (all permutations in one matrix product).
``c2st_auc``
    classifier two-sample test: logistic regression, stratified 5-fold ROC-AUC (0.5 =
    indistinguishable, 1 = separable).
``precision``, ``recall``, ``density``, ``coverage``
    Naeem et al. 2020 with k = 5, the reference as "real".

Per corpus: ``mean_pairwise_cosine`` (mean cosine similarity over distinct pairs; higher = more
homogeneous) and ``cov_trace`` (total variance).
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..corpus import Corpus
from ..embed.loading import load_embedder
from ..embed.worker import PrefilledEmbedder, embed_count, embed_texts
from ..execution import LocalExecutor, resolve_executor
from ..kernels import prdc, weighted_mmd2
from ..options import option
from ..plotting import _lit, _plt, colors
from .base import Analyzer, Metric, Result, prepare_corpora

__all__ = [
    "EmbedCorpus",
    "EmbedPair",
    "EmbeddingAnalyzer",
    "EmbedResult",
    "analyze_embeddings",
    "c2st_auc",
    "c2st_scores",
    "c2st_test",
    "frechet_distance",
    "mauve_joint",
    "mmd2_test",
    "prdc",
]


# ---------------------------------------------------------------------------------------------
# metrics


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two samples (rows are points)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return frechet_from_stats(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def frechet_from_stats(mu_a, sa, mu_b, sb) -> float:
    """Fréchet distance between N(mu_a, sa) and N(mu_b, sb)."""
    from scipy.linalg import eigh

    mu = np.asarray(mu_a, np.float64) - np.asarray(mu_b, np.float64)
    sa = np.atleast_2d(np.asarray(sa, np.float64))
    sb = np.atleast_2d(np.asarray(sb, np.float64))
    w, v = eigh(sa)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root_a @ sb @ root_a
    tr_sqrt = np.sqrt(np.clip(eigh(m, eigvals_only=True), 0, None)).sum()
    return float(max(0.0, mu @ mu + np.trace(sa) + np.trace(sb) - 2 * tr_sqrt))


def mmd2_test(
    a: np.ndarray, b: np.ndarray, *, permutations: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Unbiased MMD² (RBF, median heuristic), its permutation p-value and the bandwidth (the
    kernel visited in blocks: :mod:`toedit_stats.kernels`)."""
    from ..kernels import pair_quantiles, permutation_labels, permutation_mmd2

    x = np.concatenate([a, b]).astype(np.float64)
    n, m = len(a), len(b)
    if n < 2 or m < 2:
        return math.nan, math.nan, math.nan
    sigma = float(np.sqrt(pair_quantiles(x, [0.5], sqrt=False)[0]))
    if sigma == 0:
        sigma = 1.0
    stats = permutation_mmd2(x, n, permutation_labels(n, m, permutations, seed), [sigma])[0]
    observed = stats[0]
    pvalue = (1 + np.sum(stats[1:] >= observed)) / (1 + permutations)
    return float(observed), float(pvalue), sigma


def c2st_classifier():
    """The classifier of every classifier two-sample test and score: standardised features,
    logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def c2st_scores(a: np.ndarray, b: np.ndarray, *, seed: int = 0, folds: int = 5) -> np.ndarray | None:
    """Out-of-fold decision scores of a logistic regression separating ``a`` (label 0) from
    ``b`` (label 1), stratified k-fold; ``None`` with fewer than 2 documents on a side. Rows are
    ``a`` then ``b``."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.concatenate([a, b])
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    folds = min(folds, len(a), len(b))
    if folds < 2:
        return None
    clf = c2st_classifier()
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return cross_val_predict(clf, x, y, cv=cv, method="decision_function")


def c2st_repeated_scores(
    a: np.ndarray, b: np.ndarray, *, seed: int = 0, folds: int = 5, repeats: int = 5
) -> np.ndarray | None:
    """Out-of-fold scores of :func:`c2st_scores` for ``repeats`` seeded fold splits (seeds
    ``seed``, ``seed + 1``, ...): shape ``(repeats, len(a) + len(b))``; ``None`` as there. The
    AUC averaged over the splits removes the luck of one fold split."""
    runs = [c2st_scores(a, b, seed=seed + r, folds=folds) for r in range(max(1, repeats))]
    return None if runs[0] is None else np.stack(runs)


def repeated_auc(scores: np.ndarray, n_a: int) -> float:
    """The ROC-AUC of each fold split's out-of-fold ``scores`` (rows: splits; columns: ``n_a``
    documents of label 0, then label 1), averaged over the splits."""
    from ..stats import auc_test

    scores = np.atleast_2d(scores)
    y = np.r_[np.zeros(n_a), np.ones(scores.shape[1] - n_a)]
    return float(np.mean([auc_test(row, y)[0] for row in scores]))


def equal_size_rows(ids: Sequence[str], n: int, seed: int) -> np.ndarray:
    """Rows of the ``n`` documents whose seeded hash of the id is smallest, in row order (the
    equal-size rule of the n-gram analyzer): corpora that share ids get the same documents."""
    from ..stats import id_order

    if n >= len(ids):
        return np.arange(len(ids))
    return np.sort(np.array(id_order(ids, seed)[:n], np.int64))


def c2st_test(a: np.ndarray, b: np.ndarray, *, seed: int = 0, folds: int = 5) -> tuple[float, float]:
    """Classifier two-sample test: the ROC-AUC of the out-of-fold scores of ``folds``-fold
    cross-validation (the effect size; 0.5 = indistinguishable), and a p-value from a held-out
    half (Lopez-Paz & Oquab 2017): a logistic regression is fitted on a stratified, seeded half
    and the one-sided (AUC > 0.5) Mann–Whitney test runs on the other half's scores, which are
    independent of the fit — an exactly valid test. (A Mann–Whitney test on pooled out-of-fold
    scores is not: those scores are dependent, and it rejected 11.5% of 200 null splits at 5%.)"""
    from ..stats import auc_test

    scores = c2st_scores(a, b, seed=seed, folds=folds)
    if scores is None:
        return math.nan, math.nan
    return auc_test(scores, np.r_[np.zeros(len(a)), np.ones(len(b))])[0], c2st_heldout_pvalue(a, b, seed=seed)


def c2st_heldout_pvalue(a: np.ndarray, b: np.ndarray, *, seed: int = 0) -> float:
    """The p-value of :func:`c2st_test`: fit on a stratified seeded half, one-sided Mann–Whitney
    on the other half's scores (``nan`` with fewer than 4 documents on a side)."""
    from sklearn.model_selection import train_test_split

    from ..stats import auc_test

    if min(len(a), len(b)) < 4:
        return math.nan
    x = np.concatenate([a, b])
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
    clf = c2st_classifier().fit(xtr, ytr)
    return auc_test(clf.decision_function(xte), yte)[1]


def c2st_auc(a: np.ndarray, b: np.ndarray, *, seed: int = 0, folds: int = 5) -> float:
    """ROC-AUC of the classifier two-sample test (:func:`c2st_test`)."""
    return c2st_test(a, b, seed=seed, folds=folds)[0]


VENDI_REPLICATES = 200  # bootstrap replicates of the Vendi score (an eigendecomposition each)


def vendi_score(x: np.ndarray, weights: np.ndarray | None = None) -> Any:
    """The Vendi score (Friedman & Dieng 2023) of the rows of ``x`` with the cosine kernel:
    ``exp(−Σ λ log λ)`` over the eigenvalues ``λ`` of ``K / n`` (``K`` the cosine similarities),
    the effective number of distinct documents (``n`` for orthogonal rows, 1 for identical ones).
    Computed from the smaller of ``X Xᵀ / n`` and ``Xᵀ X / n`` (the same non-zero eigenvalues;
    vendi-score's ``score_X`` and ``score_dual``). With ``weights`` (``(B, n)``, bootstrap replicates) one score per row, from
    ``Xᵀ diag(w) X / Σ w``."""
    u = np.asarray(x, np.float64)
    if not len(u):
        return math.nan if weights is None else np.full(np.atleast_2d(weights).shape[0], math.nan)
    u = u / np.clip(np.linalg.norm(u, axis=1, keepdims=True), 1e-12, None)
    w = np.ones((1, len(u))) if weights is None else np.atleast_2d(np.asarray(weights, np.float64))
    out = np.full(w.shape[0], math.nan)
    gram = u @ u.T if len(u) <= u.shape[1] else None  # the smaller of the two matrices
    for b, row in enumerate(w):
        total = row.sum()
        if total <= 0:
            continue
        if gram is not None:
            r = np.sqrt(row)
            lam = np.linalg.eigvalsh(gram * np.outer(r, r) / total)
        else:
            lam = np.linalg.eigvalsh((u.T * row) @ u / total)
        out[b] = _vendi_of_eigenvalues(lam)
    return float(out[0]) if weights is None else out


def _vendi_of_eigenvalues(lam: np.ndarray) -> float:
    lam = lam[lam > 1e-12]
    lam = lam / lam.sum()
    return float(np.exp(-(lam * np.log(lam)).sum()))


def vendi_interval(
    x: np.ndarray, ids: Sequence[str], seed: int = 0, groups: int = 20, level: float = 0.95
) -> tuple[float, float]:
    """A normal interval for :func:`vendi_score` from the delete-a-group jackknife: the documents
    in ``groups`` seeded groups (by id), the score recomputed without each group, and
    ``SE² = (G − 1) / G · Σ (V₋g − mean)²``. The bootstrap cannot serve here (a document drawn
    twice lowers the score); the jackknife deletes and never duplicates. Every ``V₋g`` is on the
    same number of documents, so its dependence on n shifts them alike and leaves ``SE``."""
    from scipy.stats import norm

    from ..stats import id_order

    n = len(x)
    g = min(groups, n)
    if g < 3:
        return (math.nan, math.nan)
    group = np.empty(n, np.int64)
    group[id_order(list(ids), seed)] = np.arange(n) % g
    value = vendi_score(x)
    u = np.asarray(x, np.float64)
    u = u / np.clip(np.linalg.norm(u, axis=1, keepdims=True), 1e-12, None)
    if n - math.ceil(n / g) > u.shape[1]:
        # every deleted set keeps more rows than dimensions: vendi_score would use Xᵀ X, so
        # take it for all documents once and subtract each group's part (a group's rows only)
        full = u.T @ u
        loo = np.empty(g)
        for k in range(g):
            ug = u[group == k]
            loo[k] = _vendi_of_eigenvalues(np.linalg.eigvalsh((full - ug.T @ ug) / (n - len(ug))))
    else:
        loo = np.array([vendi_score(x[group != k]) for k in range(g)])
    se = math.sqrt((g - 1) / g * float(((loo - loo.mean()) ** 2).sum()))
    z = float(norm.ppf(0.5 + level / 2))
    return (value - z * se, value + z * se)


def mean_pairwise_cosine(x: np.ndarray) -> float:
    n = len(x)
    if n < 2:
        return math.nan
    u = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    s = u.sum(0)
    return float((s @ s - n) / (n * (n - 1)))


MAUVE_EXPLAINED_VARIANCE = 0.9  # mauve-text's kmeans_explained_var
MAUVE_MAX_ITER = 500  # mauve-text's kmeans_max_iter
MAUVE_CURVE_POINTS = 25  # mauve-text's divergence_curve_discretization_size
MAUVE_SCALING = 5  # mauve-text's mauve_scaling_factor


def mauve_joint(
    samples: dict[str, np.ndarray],
    pairs: Sequence[tuple[str, np.ndarray, str, np.ndarray]],
    seeds: Sequence[int],
) -> list[list[float]]:
    """MAUVE of every pair over one joint quantisation (as mauve-text's maintainers advise for
    scores that are compared with each other, mauve issue #13): the rows of all ``samples``
    (name → vectors) that any pair uses are L2-normalised and reduced by one PCA (kept to 90% of
    the variance, as ``compute_mauve``), then, per seed, clustered once by faiss k-means into
    ``round(n / 10)`` buckets (``n`` the smallest pair) and each pair's two histograms read off
    the same clusters. ``pairs`` holds ``(a, rows of a, b, rows of b)``; returns, per pair, one
    MAUVE per seed — ``compute_mauve``'s own divergence curve and area on those histograms.

    What differs from one ``compute_mauve`` call per pair and seed: the clusters are shared, so
    a copy of a corpus gets exactly its original's values and an edit's change is not mixed with
    a change of buckets; each seed is one k-means run (``compute_mauve`` keeps the best of 5), so
    the spread over seeds carries the clustering's own variability; PCA runs once."""
    from sklearn.decomposition import PCA
    from sklearn.metrics import auc
    from sklearn.preprocessing import normalize

    from .._deps import require

    require("mauve", feature="MAUVE (package mauve-text)")
    import faiss
    from mauve.compute_mauve import get_divergence_curve_for_multinomials

    if not pairs:
        return []
    used: dict[str, np.ndarray] = {}
    for a, ra, b, rb in pairs:
        used[a] = np.union1d(used.get(a, np.empty(0, np.int64)), ra)
        used[b] = np.union1d(used.get(b, np.empty(0, np.int64)), rb)
    names = list(used)
    start = np.cumsum([0] + [len(used[n]) for n in names])
    data = normalize(np.concatenate([np.asarray(samples[n], np.float64)[used[n]] for n in names]), norm="l2")
    pca = PCA(n_components=None).fit(data)
    keep = int(np.argmax(np.cumsum(pca.explained_variance_ratio_) >= MAUVE_EXPLAINED_VARIANCE)) + 1
    data = np.ascontiguousarray(pca.transform(data)[:, :keep], np.float32)
    buckets = max(2, round(min(min(len(ra), len(rb)) for _, ra, _, rb in pairs) / 10))
    weights = np.linspace(1e-6, 1 - 1e-6, MAUVE_CURVE_POINTS)

    def hist(labels, name, rows):
        at = start[names.index(name)] + np.searchsorted(used[name], rows)
        counts = np.bincount(labels[at], minlength=buckets)
        return counts / counts.sum()

    out: list[list[float]] = [[] for _ in pairs]
    with _without_faiss_warnings():
        for seed in seeds:
            km = faiss.Kmeans(
                keep, buckets, niter=MAUVE_MAX_ITER, nredo=1, update_index=True, seed=int(seed) + 2
            )
            km.train(data)
            labels = km.index.search(data, 1)[1].reshape(-1)
            for i, (a, ra, b, rb) in enumerate(pairs):
                curve = get_divergence_curve_for_multinomials(
                    hist(labels, a, ra), hist(labels, b, rb), weights, MAUVE_SCALING
                )
                x, y = curve.T
                ix, iy = np.argsort(x), np.argsort(y)
                out[i].append(float(0.5 * (auc(x[ix], y[ix]) + auc(y[iy], x[iy]))))
    return out


@contextlib.contextmanager
def _without_faiss_warnings():
    """faiss (MAUVE's k-means) prints "WARNING clustering N points to K centroids" from C++ to
    file descriptor 2 whenever there are fewer than 39 points per centroid — always, with MAUVE's
    n/10 clusters. The verdict already says how little resolution MAUVE has with few documents;
    these lines are dropped, anything else faiss prints is passed through."""
    import os
    import tempfile

    try:
        fd = sys.stderr.fileno() if hasattr(sys.stderr, "fileno") else 2
        saved = os.dup(fd)
    except (OSError, ValueError, io.UnsupportedOperation):
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            rest = [
                x for x in tmp.read().splitlines(keepends=True) if not x.startswith(b"WARNING clustering")
            ]
            if rest:
                os.write(fd, b"".join(rest))


# ---------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True)
class EmbedPair:
    a: str
    b: str
    n: int
    mauve_mean: float
    mauve_std: float
    frechet: float
    mmd2: float
    mmd_pvalue: float
    c2st_auc: float
    precision: float
    recall: float
    density: float
    coverage: float
    mauve_runs: list[float] = field(default_factory=list)
    mmd_bandwidth: float = math.nan
    c2st_pvalue: float = math.nan
    mmd_agg_pvalue: float = math.nan
    mmd_agg_bandwidths: list[float] = field(default_factory=list)
    # for the bootstrap (not in to_dict): the documents of each side and the out-of-fold scores
    a_ids: list[str] = field(default_factory=list, repr=False)
    b_ids: list[str] = field(default_factory=list, repr=False)
    c2st_oof: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in ("a_ids", "b_ids", "c2st_oof")}


@dataclass(frozen=True)
class EmbedCorpus:
    """One corpus's embedding sample: its size (``of``: documents before sampling) and homogeneity."""

    name: str
    documents: int
    of: int
    mean_pairwise_cosine: float
    cov_trace: float
    vendi: float = math.nan  # Vendi score of an equal-size sample (vendi_docs documents)
    vendi_docs: int = 0
    vendi_ids: list[str] = field(default_factory=list, repr=False)  # that sample's documents
    vendi_low: float = math.nan  # 95% delete-a-group jackknife interval (vendi_interval)
    vendi_high: float = math.nan


def _corpus_dict(c: EmbedCorpus) -> dict[str, Any]:
    return {k: v for k, v in vars(c).items() if k != "vendi_ids"}


@dataclass(frozen=True, repr=False)
class EmbedResult(Result):
    """Result of :class:`EmbeddingAnalyzer` / :func:`analyze_embeddings` (the contract of
    :class:`~toedit_stats.analyzers.base.Result`); ``to_dict()`` is what ``embed --json`` prints."""

    analyzer: ClassVar[str] = "embed"
    # not the Vendi score: a resampled document counted twice lowers it (on 90 + 90 essays the
    # replicates' 95% range, 21.5-26.3, lies below the value, 32.5), so its replicates serve only
    # paired differences (the edit's change of the diversity gap), where the bias cancels
    interval_metrics: ClassVar[frozenset[str]] = frozenset({"mean_pairwise_cosine", "c2st_auc_distance"})
    title: ClassVar[str] = "Embedding distribution"

    embedder: dict[str, Any]
    corpora: list[EmbedCorpus]
    pairs: list[EmbedPair]
    embeddings: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    projection: dict[str, Any] = field(repr=False, default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(repr=False, default_factory=dict)  # document ids per corpus, row order

    def to_dict(self) -> dict[str, Any]:
        return {
            "embedder": self.embedder,
            "corpora": [_corpus_dict(c) for c in self.corpora],
            "pairs": [p.to_dict() for p in self.pairs],
            "config": self.config,
        }

    def corpus_names(self) -> list[str]:
        return [c.name for c in self.corpora]

    def describe(self) -> str:
        return f"Embedder {self.embedder['name']}, {self.embedder['dim']} dimensions; equal-size seeded samples per pair."

    def metrics(self) -> list[Metric]:
        out: list[Metric] = []
        for c in self.corpora:
            out.append(
                Metric(
                    "embed",
                    "mean_pairwise_cosine",
                    "mean pairwise cosine",
                    "per corpus",
                    c.name,
                    c.mean_pairwise_cosine,
                    n=c.documents,
                    headline=True,
                )
            )
            out.append(
                Metric(
                    "embed",
                    "cov_trace",
                    "total variance (covariance trace)",
                    "per corpus",
                    c.name,
                    c.cov_trace,
                    n=c.documents,
                )
            )
            out.append(
                Metric(
                    "embed",
                    "vendi",
                    f"Vendi score: effective number of distinct documents (cosine kernel, {c.vendi_docs} per corpus)",
                    "per corpus",
                    c.name,
                    c.vendi,
                    unit="documents",
                    n=c.vendi_docs,
                    interval=(c.vendi_low, c.vendi_high),
                    note="Friedman & Dieng 2023; equal-size samples, so corpora of different sizes compare; "
                    "jackknife interval",
                )
            )
            out.append(
                Metric(
                    "embed",
                    "vendi_share",
                    "Vendi score / documents (1 = all distinct)",
                    "per corpus",
                    c.name,
                    c.vendi / c.vendi_docs if c.vendi_docs else math.nan,
                    unit="share",
                    n=c.vendi_docs,
                    headline=True,
                    interval=(c.vendi_low / c.vendi_docs, c.vendi_high / c.vendi_docs)
                    if c.vendi_docs
                    else None,
                )
            )
        by = {c.name: c for c in self.corpora}
        noise = max((p.mauve_std for p in self.pairs if math.isfinite(p.mauve_std)), default=0.0)
        for p in self.pairs:
            d = lambda name, label, value, better, identical, head=True, noise_=None, note=None, p=p: Metric(  # noqa: E731
                "embed",
                name,
                label,
                "distance",
                p.b,
                value,
                reference=p.a,
                n=p.n,
                better=better,
                identical=identical,
                noise=noise_,
                headline=head,
                note=note,
            )
            out.append(
                d(
                    "mauve",
                    "MAUVE (mean over seeds)",
                    p.mauve_mean,
                    "higher",
                    1.0,
                    noise_=2 * noise,
                    note=f"seed-to-seed std up to {noise:.3f}",
                )
            )
            out.append(d("frechet", "Fréchet distance", p.frechet, "lower", 0.0))
            out.append(d("mmd2", "MMD² (median-heuristic bandwidth)", p.mmd2, "lower", None))
            for name, label, value, head in (
                (
                    "c2st_pvalue",
                    "classifier test p-value (held-out half, one-sided Mann–Whitney)",
                    p.c2st_pvalue,
                    True,
                ),
                (
                    "mmd_agg_pvalue",
                    "aggregated MMD test p-value (bandwidths calibrated jointly)",
                    p.mmd_agg_pvalue,
                    True,
                ),
                ("mmd_pvalue", "MMD permutation p-value (median bandwidth only)", p.mmd_pvalue, False),
            ):
                out.append(
                    Metric(
                        "embed",
                        name,
                        label,
                        "test",
                        p.b,
                        value,
                        reference=p.a,
                        n=p.n,
                        headline=head,
                        resamples=self.config.get("permutations") if name.startswith("mmd") else None,
                    )
                )
            out.append(
                d(
                    "c2st_auc_distance",
                    "classifier AUC distance from 0.5",
                    abs(p.c2st_auc - 0.5),
                    "lower",
                    None,
                )
            )
            va, vb = by[p.a], by[p.b]
            gap = abs(vb.vendi - va.vendi) / va.vendi_docs if va.vendi_docs else math.nan
            out.append(
                d(
                    "vendi_gap",
                    "|Vendi share − reference's| (diversity gap)",
                    gap,
                    "lower",
                    0.0,
                    note="how far the corpus's effective diversity is from the reference's",
                )
            )
            out.append(d("precision", "precision (k-NN manifold)", p.precision, "higher", 1.0, head=False))
            out.append(d("recall", "recall (k-NN manifold)", p.recall, "higher", 1.0, head=False))
            out.append(d("coverage", "coverage (k-NN manifold)", p.coverage, "higher", 1.0, head=False))
        return out

    def findings(self, corpus: str | None = None, adjusted: dict[str, float] | None = None) -> list[str]:
        if not self.pairs:
            return []
        ps = next((p for p in self.pairs if p.b == corpus), self.pairs[0])
        adj = adjusted or {}
        from ..stats import format_p

        # the aggregated MMD leads: on the shared corpora it has the power (human vs Llama-2 at
        # n = 40 per corpus it rejected in 100% of splits, the classifier test in 4%)
        tests = [
            (
                "the aggregated MMD test",
                ps.mmd_agg_pvalue,
                adj.get("mmd_agg_pvalue"),
                self.config.get("permutations", 0),
            ),
            ("the classifier test", ps.c2st_pvalue, adj.get("c2st_pvalue"), 0),
        ]
        tests = [(n, p, a, r) for n, p, a, r in tests if math.isfinite(p)]
        decide = lambda p, a: (a if a is not None else p) < 0.05  # noqa: E731
        rejecting = [n for n, p, a, _ in tests if decide(p, a)]

        def show(p, a, r):
            return format_p(p, r) + (f", Holm-adjusted {format_p(a, r)}" if a is not None else "")

        detail = "; ".join(f"{n}: {show(p, a, r)}" for n, p, a, r in tests)
        if rejecting:
            head = (
                f"In embedding space ({self.embedder['name']}, n = {ps.n} each) the {ps.a} and {ps.b} samples are "
                f"distinguishable ({detail}; the aggregated MMD is listed first: it is the test with the "
                "most power in our calibration)"
            )
        elif tests:
            head = (
                f"In embedding space ({self.embedder['name']}, n = {ps.n} each) neither the aggregated MMD test nor "
                f"the classifier test separates the {ps.a} and {ps.b} samples at the 5% level ({detail}); with "
                "this sample size, a small shift could go undetected"
            )
        else:
            return []
        text = (
            f"{head}. The classifier's AUC is {ps.c2st_auc:.2f} (0.5 = indistinguishable; averaged over "
            f"{self.config.get('cv_repeats', 1)} seeded fold splits; its p-value is from a separate test: a "
            "classifier fitted on one half of the documents, scored on the other, so at small n an AUC well "
            f"above 0.5 can come with a large p-value — the AUC is the effect, the p-value the test); MAUVE is {ps.mauve_mean:.3f}; the "
            f"single-bandwidth MMD (median heuristic, less power) gives "
            f"{format_p(ps.mmd_pvalue, self.config.get('permutations', 0))}."
        )
        if ps.n < 200:
            text += (
                f" (MAUVE quantises the samples into about n/10 = {max(2, ps.n // 10)} clusters, so with "
                f"{ps.n} documents it has little resolution.)"
            )
        return [text]

    def bootstrap(self, weights: Any) -> dict[tuple[str, str], np.ndarray]:
        """Replicates of the mean pairwise cosine per corpus, the median-bandwidth MMD² and the
        classifier AUC distance from 0.5 (weighted AUC of the fixed out-of-fold scores of one of
        the ``cv_repeats`` fold splits per replicate, in turn; the classifier is not refitted).
        MAUVE and Fréchet are not resampled (too costly): MAUVE keeps
        its seed spread, Fréchet has no interval."""
        from ..stats import weighted_auc

        out: dict[tuple[str, str], np.ndarray] = {}
        vendi: dict[str, np.ndarray] = {}
        ids = self.ids
        for c in self.corpora:
            x = self.embeddings.get(c.name)
            if x is None or c.name not in ids or len(ids[c.name]) != len(x):
                return {}
            w = weights(c.name, ids[c.name])
            u = x.astype(np.float64)
            u = u / np.clip(np.linalg.norm(u, axis=1, keepdims=True), 1e-12, None)
            sw = w @ u
            with np.errstate(invalid="ignore", divide="ignore"):
                out[("mean_pairwise_cosine", c.name)] = ((sw * sw).sum(1) - (w * w).sum(1)) / (
                    w.sum(1) ** 2 - (w * w).sum(1)
                )
            if c.vendi_docs:  # the first VENDI_REPLICATES replicates: one eigendecomposition each
                rows = [ids[c.name].index(i) for i in c.vendi_ids]
                vendi[c.name] = vendi_score(x[rows], weights(c.name, c.vendi_ids)[:VENDI_REPLICATES])
                out[("vendi", c.name)] = vendi[c.name]
                out[("vendi_share", c.name)] = vendi[c.name] / c.vendi_docs
        ref = self.corpora[0] if self.corpora else None
        for c in self.corpora[1:]:
            if ref is not None and ref.name in vendi and c.name in vendi:
                out[("vendi_gap", c.name)] = np.abs(vendi[c.name] - vendi[ref.name]) / ref.vendi_docs
        for p in self.pairs:
            if not p.a_ids or p.c2st_oof is None:
                continue
            a, b = self._pair_rows(p)
            wa, wb = weights(p.a, p.a_ids), weights(p.b, p.b_ids)
            out[("mmd2", p.b)] = weighted_mmd2(a, b, wa, wb, p.mmd_bandwidth)
            labels = np.r_[np.zeros(len(a)), np.ones(len(b))]
            # replicate j reads the out-of-fold scores of fold split j mod R, so the interval
            # carries the split-to-split variability as well as the documents'
            oof = np.atleast_2d(p.c2st_oof)
            w = np.concatenate([wa, wb], axis=1)
            auc = np.empty(w.shape[0])
            for r in range(oof.shape[0]):
                rows = np.arange(r, w.shape[0], oof.shape[0])
                auc[rows] = weighted_auc(oof[r], labels, w[rows])
            out[("c2st_auc_distance", p.b)] = np.abs(auc - 0.5)
        return out

    def _pair_rows(self, p: EmbedPair) -> tuple[np.ndarray, np.ndarray]:
        """The embeddings (float64) of a pair's equal-size samples, in the pair's row order."""
        rows = []
        for name, ids in ((p.a, p.a_ids), (p.b, p.b_ids)):
            pos = {i: k for k, i in enumerate(self.ids[name])}
            rows.append(self.embeddings[name][[pos[i] for i in ids]].astype(np.float64))
        return rows[0], rows[1]

    def swap_replicates(
        self, base: str, variant: str, ids: Sequence[str], masks: np.ndarray
    ) -> dict[tuple[str, str], np.ndarray]:
        """The median-bandwidth MMD² of ``base`` and ``variant`` to the reference with document
        ``d`` swapped for its namesake wherever ``masks[j, ids.index(d)]`` (the paired permutation
        test of an edit), on each pair's equal-size sample, with one bandwidth that no swap
        changes (the median heuristic over the three samples together, so it may differ slightly
        from each pair's own: the effects take the observed Δ from the unswapped row). The
        classifier's AUC is not swapped (the two sides' out-of-fold scores come from different
        fits)."""
        from ..kernels import pair_quantiles
        from ..stats import swap_weights

        pb = next((p for p in self.pairs if p.b == base), None)
        pv = next((p for p in self.pairs if p.b == variant), None)
        if pb is None or pv is None or not pb.a_ids or pb.a_ids != pv.a_ids:
            return {}
        h, xb = self._pair_rows(pb)
        xv = self._pair_rows(pv)[1]

        own_b, into_b, own_v, into_v = swap_weights(pb.b_ids, pv.b_ids, ids, masks)
        both = np.concatenate([xb, xv])
        wh = np.ones((own_b.shape[0], len(h)))
        # one bandwidth that no swap changes: the median heuristic over all three samples
        sigma = float(np.sqrt(pair_quantiles(np.concatenate([h, both]), [0.5], sqrt=False)[0])) or 1.0
        return {
            ("mmd2", base): weighted_mmd2(h, both, wh, np.concatenate([own_b, into_b], 1), sigma),
            ("mmd2", variant): weighted_mmd2(h, both, wh, np.concatenate([into_v, own_v], 1), sigma),
        }

    def extra_tables(self) -> dict[str, Any]:
        return {"embed_pairs": self.pairs_frame(), "embed_corpora": self.corpora_frame()}

    def pairs_frame(self):
        """One row per (reference, other) pair, with both corpora's homogeneity columns."""
        import pandas as pd

        per = {c.name: c for c in self.corpora}
        rows = []
        for p in self.pairs:
            row = {k: v for k, v in p.to_dict().items() if k not in ("mauve_runs", "mmd_agg_bandwidths")}
            row["b_mean_pairwise_cosine"] = per[p.b].mean_pairwise_cosine
            row["a_mean_pairwise_cosine"] = per[p.a].mean_pairwise_cosine
            rows.append(row)
        return pd.DataFrame(rows)

    def corpora_frame(self):
        import pandas as pd

        return pd.DataFrame([_corpus_dict(c) for c in self.corpora])

    def _figure_makers(self) -> dict[str, Any]:
        return {"embedding_map": self._fig_map}

    def _fig_map(self, ax=None):
        plt = _plt()
        proj = self.projection
        names = self.corpus_names()
        col = colors(names)
        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 5))
        xy, labels = proj.get("xy"), proj.get("labels")
        if xy is not None and len(xy):
            for name in names:
                m = labels == name
                ax.scatter(
                    xy[m, 0],
                    xy[m, 1],
                    s=12,
                    alpha=0.65,
                    color=col[name],
                    label=f"{_lit(name)} (n={int(m.sum())})",
                    edgecolors="none",
                )
        ax.set_title(
            f"{_lit(self.embedder['name'])} embeddings, {proj.get('method', 'pca').upper()} of all corpora"
        )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=8, markerscale=1.5)
        ax.figure.tight_layout()
        return ax.figure


@dataclass(kw_only=True)
class EmbeddingAnalyzer(Analyzer):
    """Embed each corpus (a seeded sample of at most ``max_docs``) and compare with the reference
    (see the module docstring). ``embedder`` is a name (see :mod:`toedit_stats.embed`) or an
    object with ``embed``."""

    name: ClassVar[str] = "embed"
    title: ClassVar[str] = "Embedding distribution"

    max_docs: int | None = option(
        1000,
        kind="int",
        min=2,
        optional=True,
        help="Embed a seeded sample of at most N documents per corpus.",
    )
    embedder: Any = option(
        "minilm", kind="any", help="minilm, tfidf, lm, or a sentence-transformers model id or path."
    )
    projection: str = option("pca", choices=("pca", "tsne"), cli="--map", help="2-D map of the embeddings.")
    pair_docs: int | None = option(
        2000,
        kind="int",
        min=2,
        optional=True,
        help="Compare each pair on a seeded equal-size sample of at most N documents per side "
        "(MAUVE, MMD, classifier, PRDC, Fréchet; their cost grows with the square of N).",
    )
    mauve_seeds: int = option(5, min=1, help="MAUVE repeats (seeds).")
    permutations: int = option(1000, min=1, help="MMD permutation-test permutations.")
    cv_repeats: int = option(
        5, min=1, help="Classifier test: seeded fold splits whose out-of-fold AUCs are averaged."
    )
    cache: bool = option(False, help="Cache embeddings on disk, keyed by embedder and text hash.")
    # where the texts are embedded (an :class:`~toedit_stats.execution.Executor`; on Ray each
    # actor loads the embedder by name); the statistics are computed here from the vectors
    executor: Any = field(
        default_factory=LocalExecutor, repr=False, compare=False, metadata={"execution": True}
    )
    progress: bool = option(False, cli="", help="Progress bars on stderr.")

    def analyze(self, corpora: Sequence[Corpus] | Corpus, reference: int = 0) -> EmbedResult:
        prepared, totals = prepare_corpora(corpora, reference, self.max_docs, self.seed)
        samples = [(c.name, [d.text for d in c], totals[c.name]) for c in prepared]
        doc_ids = {c.name: [d.id for d in c] for c in prepared}
        seed = self.seed
        emb = load_embedder(self.embedder, seed=seed, cache=self.cache)
        bar = None
        if self.progress and not isinstance(emb, PrefilledEmbedder):  # prefilled: nothing left to embed
            from ..progress import bar as progress_bar

            bar = progress_bar(
                total=embed_count([t for _, t, _ in samples], emb), desc="embedding", unit="doc"
            )
        served = embed_texts(
            [texts for _, texts, _ in samples],
            self.embedder,
            resolve_executor(self.executor),
            seed=seed,
            cache=self.cache,
            loaded=emb,
            progress=bar.update if bar is not None else None,
        )
        if bar is not None:
            bar.close()
        vectors: dict[str, np.ndarray] = {name: served.embed(texts) for name, texts, _ in samples}
        from .._threads import single_threaded_math

        with single_threaded_math():  # many small products: extra threads spin more than they work
            return self._statistics(samples, doc_ids, vectors, served, seed)

    def _statistics(
        self,
        samples: list[tuple[str, list[str], int]],
        doc_ids: dict[str, list[str]],
        vectors: dict[str, np.ndarray],
        served: Any,
        seed: int,
    ) -> EmbedResult:
        """Every statistic of :meth:`analyze` from the embedded ``vectors``."""
        corpora_info = []
        # the Vendi score grows with the number of documents: every corpus on the same number,
        # chosen by the equal-size rule (a synthetic corpus and its edited version: the same ids)
        n_vendi = min((len(t) for _, t, _ in samples), default=0)
        for name, texts, total in samples:
            x = vectors[name].astype(np.float64)
            rows = equal_size_rows(doc_ids[name], n_vendi, seed)
            vids = [doc_ids[name][i] for i in rows]
            lo, hi = vendi_interval(x[rows], vids, seed) if n_vendi else (math.nan, math.nan)
            corpora_info.append(
                EmbedCorpus(
                    name,
                    len(texts),
                    total,
                    mean_pairwise_cosine(x),
                    float(np.trace(np.atleast_2d(np.cov(x, rowvar=False)))) if len(x) > 1 else math.nan,
                    vendi_score(x[rows]) if n_vendi else math.nan,
                    n_vendi,
                    vids,
                    lo,
                    hi,
                )
            )
        pairs = []
        ref = samples[0][0]
        # equal-size samples by a seeded hash of the document id: every pair gets the same
        # human documents, and a synthetic corpus and its edited version the same ids in the
        # same rows, so a copy gives the same numbers (every Δ exactly 0) at any corpus sizes;
        # at most pair_docs per side (the kernel tests and MAUVE cost the square of it)
        rows = {}
        for name, _, _ in samples[1:]:
            n = min(len(vectors[ref]), len(vectors[name]), self.pair_docs or math.inf)
            rows[name] = (equal_size_rows(doc_ids[ref], n, seed), equal_size_rows(doc_ids[name], n, seed))
        measured = [(ref, ia, name, ib) for name, (ia, ib) in rows.items() if len(ia) >= 2]
        joint = mauve_joint(vectors, measured, [seed + j for j in range(self.mauve_seeds)])
        mauve_runs = {name: runs for (_, _, name, _), runs in zip(measured, joint)}
        for name, (ia, ib) in rows.items():
            n = len(ia)
            a, b = vectors[ref][ia], vectors[name][ib]
            runs = mauve_runs.get(name, [])
            from ..stats import mmd_agg_test

            # the median-bandwidth test (mmd2_test) and the aggregated one share their passes
            agg = mmd_agg_test(a, b, permutations=self.permutations, seed=seed, median=True)
            mmd, pval, sigma = agg["median"]
            oof = c2st_repeated_scores(a, b, seed=seed, repeats=self.cv_repeats)
            auc = repeated_auc(oof, n) if oof is not None else math.nan
            auc_p = c2st_heldout_pvalue(a, b, seed=seed)
            pr = prdc(a, b, k=5)
            pairs.append(
                EmbedPair(
                    ref,
                    name,
                    n,
                    float(np.mean(runs)) if runs else math.nan,
                    float(np.std(runs)) if runs else math.nan,
                    frechet_distance(a, b) if n >= 2 else math.nan,
                    mmd,
                    pval,
                    auc,
                    pr["precision"],
                    pr["recall"],
                    pr["density"],
                    pr["coverage"],
                    runs,
                    sigma,
                    auc_p,
                    agg["pvalue"],
                    agg["bandwidths"],
                    [doc_ids[ref][i] for i in ia],
                    [doc_ids[name][i] for i in ib],
                    oof,
                )
            )
        proj = _project(vectors, self.projection, seed)
        info = {"name": served.name, "fingerprint": served.fingerprint, "dim": int(served.dim)}
        config = {
            "max_docs": self.max_docs,
            "seed": seed,
            "mauve_seeds": self.mauve_seeds,
            "permutations": self.permutations,
            "cv_repeats": self.cv_repeats,
            "projection": self.projection,
            "prdc_k": 5,
            "pair_docs": self.pair_docs,
        }
        return EmbedResult(info, corpora_info, pairs, vectors, proj, config, doc_ids)


def analyze_embeddings(
    corpora: Sequence[Corpus] | Corpus,
    *,
    embedder: Any = "minilm",
    max_docs: int | None = 1000,
    seed: int = 0,
    mauve_seeds: int = 5,
    permutations: int = 1000,
    projection: str = "pca",
    cache: bool = False,
    progress: bool = False,
) -> EmbedResult:
    """``EmbeddingAnalyzer(...).analyze(corpora)`` as one call: embed each corpus (a seeded
    sample of at most ``max_docs``; ``None``: all) and compare with the first.
    ``projection`` is ``pca`` or ``tsne`` (seeded) for the map."""
    return EmbeddingAnalyzer(
        embedder=embedder,
        max_docs=max_docs,
        seed=seed,
        mauve_seeds=mauve_seeds,
        permutations=permutations,
        projection=projection,
        cache=cache,
        progress=progress,
    ).analyze(corpora)


def _project(vectors: dict[str, np.ndarray], method: str, seed: int) -> dict[str, Any]:
    names = list(vectors)
    x = np.concatenate([vectors[n] for n in names]).astype(np.float64)
    labels = np.concatenate([[n] * len(vectors[n]) for n in names])
    if len(x) < 3:
        return {"method": method, "xy": np.zeros((len(x), 2)), "labels": labels}
    if method == "tsne":
        from sklearn.manifold import TSNE

        xy = TSNE(2, random_state=seed, perplexity=min(30, (len(x) - 1) / 3), init="pca").fit_transform(x)
    else:
        from sklearn.decomposition import PCA

        xy = PCA(2, random_state=seed).fit_transform(x)
    return {"method": method, "xy": xy, "labels": labels}
