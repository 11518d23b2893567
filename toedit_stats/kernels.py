"""Kernel and nearest-neighbour statistics over all pairs of points, computed in row blocks.

Every function here visits the ``M × M`` (or ``n × m``) pairwise distances a block of rows at a
time and keeps only per-row or per-permutation sums, so memory grows linearly in the number of
points (a block is at most :data:`BLOCK_BYTES`); the values equal the dense computation up to
summation order (tested to 1e-10 against it). Time stays quadratic: that is what the analyzers'
caps on the number of documents bound.

- :func:`pair_quantiles` — exact quantiles of the pairwise distances (``np.quantile``'s linear
  rule): a histogram over the blocks locates each needed order statistic, a last pass keeps only
  the values in those bins (one pass when all pairs fit in a block);
  :func:`pair_quantile_table` several, of distances and squared distances, in the same passes.
- :func:`permutation_mmd2` — unbiased RBF-MMD² for the observed split and every permutation of
  the labels, per bandwidth.
- :func:`weighted_mmd2` — MMD² per row of document weights (the bootstrap's replicates).
- :func:`prdc` — precision, recall, density and coverage (Naeem et al. 2020) through
  scikit-learn's :func:`~sklearn.metrics.pairwise_distances_chunked`.
- :func:`nearest_cosine` — each row's largest cosine similarity to a reference set.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = [
    "BLOCK_BYTES",
    "nearest_cosine",
    "pair_quantile_table",
    "pair_quantiles",
    "permutation_labels",
    "permutation_mmd2",
    "prdc",
    "weighted_mmd2",
]

BLOCK_BYTES = 64 << 20  # one block of float64 distances (and its kernel) at most this size


def _blocks(rows: int, cols: int, at_least: int = 1) -> Iterator[slice]:
    """Slices of ``rows`` of at most :data:`BLOCK_BYTES` of float64 ``cols`` each, and at least
    ``at_least`` of them when there are that many rows."""
    step = max(1, min(BLOCK_BYTES // (8 * max(1, cols)), math.ceil(rows / at_least)))
    for start in range(0, rows, step):
        yield slice(start, min(rows, start + step))


def _sqdist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances as ``|x|² + |y|² − 2 x·y`` (one BLAS product: ~10x faster
    than scipy's per-pair loop), pairs closer than 1e-8 of their squared norms recomputed
    directly, so a duplicate point is at exactly 0."""
    xx, yy = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    d = x @ y.T
    d *= -2.0
    d += xx[:, None]
    d += yy[None, :]
    np.maximum(d, 0.0, out=d)
    # near-duplicates: the difference of large norms cancels (a copy would get ~1e-17, 1e-9 after
    # a square root); recompute those few pairs directly
    i, j = np.nonzero(d <= 1e-8 * (xx[:, None] + yy[None, :]))
    if i.size:
        d[i, j] = ((x[i] - y[j]) ** 2).sum(axis=1)
    return d


def _upper(x: np.ndarray, sl: slice) -> np.ndarray:
    """The squared distances of rows ``sl`` to every later row (each unordered pair once)."""
    d = _sqdist(x[sl], x[sl.start :])
    rows = np.arange(d.shape[0])
    d[rows, rows] = 0.0  # a point's distance to itself, exactly
    keep = np.arange(d.shape[1])[None, :] > np.arange(d.shape[0])[:, None]
    return d[keep]


def _order_stats(x: np.ndarray, ks: Sequence[int], total: int, bins: int) -> dict[int, float]:
    """The ``k``-th smallest squared distance between distinct rows, for each ``k`` in ``ks``.
    When the pairs' values fit in one block: one pass (a block of rows at a time) and
    :func:`numpy.partition`. Otherwise pass one
    finds the range, pass two histograms the values, pass three keeps the bins that hold the
    ``k``-th values."""
    m = len(x)
    ks = sorted(set(ks))
    blocks = list(_blocks(m, m))
    if total * 8 <= BLOCK_BYTES:  # the pairs themselves fit one block: keep them all
        part = np.partition(np.concatenate([_upper(x, sl) for sl in blocks]), ks)
        return {k: float(part[k]) for k in ks}
    lo, hi = math.inf, -math.inf
    for sl in blocks:
        v = _upper(x, sl)
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    if hi <= lo:
        return {k: lo for k in ks}
    edges = np.linspace(lo, hi, bins + 1)

    def bin_of(v):
        return np.clip(np.searchsorted(edges, v, side="right") - 1, 0, bins - 1)

    counts = np.zeros(bins, np.int64)
    for sl in blocks:
        counts += np.bincount(bin_of(_upper(x, sl)), minlength=bins)
    before = np.concatenate([[0], np.cumsum(counts)])
    bin_k = {k: int(np.searchsorted(before, k, side="right") - 1) for k in ks}
    kept: dict[int, list[np.ndarray]] = {b: [] for b in set(bin_k.values())}
    for sl in blocks:
        v = _upper(x, sl)
        b = bin_of(v)
        for w in kept:
            kept[w].append(v[b == w])
    sorted_bins = {w: np.sort(np.concatenate(vals)) for w, vals in kept.items()}
    return {k: float(sorted_bins[b][k - before[b]]) for k, b in bin_k.items()}


def pair_quantile_table(
    x: np.ndarray, wanted: Sequence[tuple[float, bool]], *, bins: int = 4096
) -> np.ndarray:
    """Several :func:`pair_quantiles` in one set of passes: for each ``(q, sqrt)`` in ``wanted``
    the ``q``-quantile of the Euclidean distances (``sqrt=True``) or of the squared distances.
    The order statistics are found among the squared distances (a square root keeps their order,
    so the ``k``-th distance is exactly the root of the ``k``-th squared one), then interpolated
    by ``np.quantile``'s linear rule in each quantile's own scale."""
    x = np.asarray(x, np.float64)
    m = len(x)
    total = m * (m - 1) // 2
    if total == 0:
        return np.full(len(wanted), math.nan)
    pos = [q * (total - 1) for q, _ in wanted]
    stats = _order_stats(x, [f(p) for p in pos for f in (math.floor, math.ceil)], total, bins)
    out = np.empty(len(wanted))
    for i, (p, (_, sqrt)) in enumerate(zip(pos, wanted)):
        a, c = stats[math.floor(p)], stats[math.ceil(p)]
        if sqrt:
            a, c = math.sqrt(a), math.sqrt(c)
        t = p - math.floor(p)
        out[i] = a + (c - a) * t if t < 0.5 else c - (c - a) * (1 - t)  # numpy's _lerp
    return out


def pair_quantiles(x: np.ndarray, qs: Sequence[float], *, sqrt: bool = True, bins: int = 4096) -> np.ndarray:
    """``np.quantile`` of the ``M (M − 1) / 2`` distances between distinct rows of ``x``
    (Euclidean; squared with ``sqrt=False``), without holding them when they pass one block
    (:func:`pair_quantile_table`).

    >>> x = np.array([[0.0], [1.0], [3.0]])
    >>> pair_quantiles(x, [0.0, 0.5, 1.0]).tolist()
    [1.0, 2.0, 3.0]
    """
    qs = np.asarray(qs, np.float64)
    return pair_quantile_table(x, [(float(q), sqrt) for q in qs.ravel()], bins=bins).reshape(qs.shape)


def permutation_labels(n: int, m: int, permutations: int, seed: int) -> np.ndarray:
    """``(n + m, permutations + 1)`` 0/1 labels: column 0 the observed split (the first ``n``
    rows), then one seeded permutation per column with ``n`` ones."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((n + m, permutations + 1))
    labels[:n, 0] = 1
    for j in range(1, permutations + 1):
        labels[rng.permutation(n + m)[:n], j] = 1
    return labels


def permutation_mmd2(x: np.ndarray, n: int, labels: np.ndarray, bandwidths: Sequence[float]) -> np.ndarray:
    """The unbiased RBF-MMD² (kernel ``exp(−|x − y|² / (2 s²))``, diagonal left out) between the
    rows labelled 1 (``n`` of them) and the rest, for every column of ``labels`` and every
    bandwidth ``s``: shape ``(len(bandwidths), labels.shape[1])``.

    The kernel is symmetric, so only its upper block triangle is visited: a block of rows ``I``
    against the columns from ``I``'s first row on, the diagonal block counted once and the blocks
    to its right twice (``lᵀ K l = Σ_I l_Iᵀ K_II l_I + 2 Σ_{J > I} l_Iᵀ K_IJ l_J``). With at least
    eight blocks that is about 56% of the products of the full square. Only the per-column sums
    ``Σ K_ij l_i l_j`` and each row's kernel sum are kept."""
    x = np.asarray(x, np.float64)
    total = len(x)
    m = total - n
    bands = list(bandwidths)
    sxx = np.zeros((len(bands), labels.shape[1]))
    rowsum = np.zeros((len(bands), total))  # Σ_j K_ij per row i, per bandwidth
    for sl in _blocks(total, total, at_least=8):
        start, stop = sl.start, sl.stop
        d2 = _sqdist(x[start:stop], x[start:])
        w = stop - start
        rows = np.arange(w)
        lab = labels[start:stop]
        k = np.empty_like(d2)
        for i, s in enumerate(bands):
            np.divide(d2, -(2 * s * s), out=k)
            np.exp(k, out=k)
            k[rows, rows] = 0.0
            rowsum[i, start:stop] += k.sum(1)
            rowsum[i, stop:] += k[:, w:].sum(0)  # the mirrored blocks' rows
            k[:, w:] *= 2.0
            sxx[i] += (lab * (k @ labels[start:])).sum(0)
    sx = np.stack([r @ labels for r in rowsum])  # per bandwidth: its values never depend on the others
    ksum = rowsum.sum(1)
    sxy = sx - sxx
    syy = ksum[:, None] - sxx - 2 * sxy
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)


def _weighted_quadratic(
    x: np.ndarray, y: np.ndarray | None, wx: np.ndarray, wy: np.ndarray, s: float
) -> np.ndarray:
    """``Σ_ij wx[r, i] K(x_i, y_j) wy[r, j]`` per row ``r`` of the weights (``y=None``: ``y = x``
    with the diagonal left out)."""
    same = y is None
    other = x if same else y
    out = np.zeros(wx.shape[0])
    for sl in _blocks(len(x), len(other)):
        k = np.exp(-_sqdist(x[sl], other) / (2 * s * s))
        if same:
            rows = np.arange(sl.stop - sl.start)
            k[rows, rows + sl.start] = 0.0
        out += ((wx[:, sl] @ k) * wy).sum(1)
    return out


def weighted_mmd2(a: np.ndarray, b: np.ndarray, wa: np.ndarray, wb: np.ndarray, sigma: float) -> np.ndarray:
    """MMD² with an RBF kernel of bandwidth ``sigma`` per row of document weights (``wa``:
    ``(R, len(a))``, ``wb``: ``(R, len(b))``); with unit weights the unbiased estimate of
    :func:`permutation_mmd2`'s observed column (diagonal terms left out)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    sa, sb = wa.sum(1), wb.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xx = _weighted_quadratic(a, None, wa, wa, sigma) / (sa**2 - (wa * wa).sum(1))
        yy = _weighted_quadratic(b, None, wb, wb, sigma) / (sb**2 - (wb * wb).sum(1))
        xy = _weighted_quadratic(a, b, wa, wb, sigma) / (sa * sb)
    return xx + yy - 2 * xy


def _kth_neighbour(x: np.ndarray, k: int) -> np.ndarray:
    """Each row's distance to its ``k``-th nearest other row (the row itself, at 0, excluded)."""
    from sklearn.metrics import pairwise_distances_chunked

    parts = pairwise_distances_chunked(
        x, reduce_func=lambda d, start: np.partition(d, k, axis=1)[:, k], working_memory=BLOCK_BYTES >> 20
    )
    return np.concatenate(list(parts))


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage (Naeem et al. 2020), equal to the ``prdc``
    package's ``compute_prdc``, with the real × fake distances visited in blocks."""
    from sklearn.metrics import pairwise_distances_chunked

    real = np.asarray(real, np.float64)
    fake = np.asarray(fake, np.float64)
    if len(real) <= k or len(fake) <= k:
        return dict.fromkeys(("precision", "recall", "density", "coverage"), math.nan)
    r_real = _kth_neighbour(real, k)
    r_fake = _kth_neighbour(fake, k)
    fake_inside = np.zeros(len(fake), bool)  # inside some real point's ball
    fake_count = np.zeros(len(fake), np.int64)  # how many real balls hold it
    recalled = np.empty(len(real), bool)
    covered = np.empty(len(real), bool)

    def reduce(d, start):
        rows = slice(start, start + len(d))
        inside = d <= r_real[rows, None]
        fake_inside[:] |= inside.any(axis=0)
        fake_count[:] += inside.sum(axis=0)
        recalled[rows] = (d <= r_fake[None, :]).any(axis=1)
        covered[rows] = d.min(axis=1) <= r_real[rows]
        return covered[rows]  # scikit-learn wants one value per row back; the sums are above

    for _ in pairwise_distances_chunked(real, fake, reduce_func=reduce, working_memory=BLOCK_BYTES >> 20):
        pass
    return {
        "precision": float(fake_inside.mean()),
        "recall": float(recalled.mean()),
        "density": float(fake_count.sum() / (k * len(fake))),
        "coverage": float(covered.mean()),
    }


def nearest_cosine(u: np.ndarray, ref_rows: np.ndarray) -> np.ndarray:
    """For each row of ``u`` (unit vectors), its largest cosine similarity to the rows
    ``ref_rows`` of ``u``, a row never its own neighbour (``-inf`` when it has none)."""
    ref = u[ref_rows]
    pos = np.full(len(u), -1, np.int64)
    pos[ref_rows] = np.arange(len(ref_rows))
    out = np.full(len(u), -np.inf)
    if not len(ref_rows):
        return out
    for sl in _blocks(len(u), len(ref_rows)):
        sims = u[sl] @ ref.T
        mine = pos[sl]
        own = np.flatnonzero(mine >= 0)
        sims[own, mine[own]] = -np.inf
        out[sl] = sims.max(axis=1)
    return out
