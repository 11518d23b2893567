"""The blocked kernel statistics equal the dense computations they replaced (to 1e-10), with
blocks small enough that every function visits several."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist, pdist, squareform

from toedit_stats import kernels
from toedit_stats.kernels import (
    nearest_cosine,
    pair_quantiles,
    permutation_labels,
    permutation_mmd2,
    prdc,
    weighted_mmd2,
)


@pytest.fixture(autouse=True)
def tiny_blocks(monkeypatch):
    monkeypatch.setattr(kernels, "BLOCK_BYTES", 8 * 8 * 3)  # three rows of eight columns


def _dense_perm_mmd2(x, n, labels, bands):
    d2 = squareform(pdist(x, "sqeuclidean"))
    m = len(x) - n
    out = []
    for s in bands:
        k = np.exp(-d2 / (2 * s * s))
        np.fill_diagonal(k, 0.0)
        kz = k @ labels
        sxx = (labels * kz).sum(0)
        sxy = (labels * k.sum(1)[:, None]).sum(0) - sxx
        syy = k.sum() - sxx - 2 * sxy
        out.append(sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m))
    return np.array(out)


def _dense_weighted(a, b, wa, wb, sigma):
    def k(x, y):
        return np.exp(-cdist(x, y, "sqeuclidean") / (2 * sigma**2))

    kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    np.fill_diagonal(kaa, 0.0)
    np.fill_diagonal(kbb, 0.0)
    sa, sb = wa.sum(1), wb.sum(1)
    xx = ((wa @ kaa) * wa).sum(1) / (sa**2 - (wa * wa).sum(1))
    yy = ((wb @ kbb) * wb).sum(1) / (sb**2 - (wb * wb).sum(1))
    xy = ((wa @ kab) * wb).sum(1) / (sa * sb)
    return xx + yy - 2 * xy


def _dense_prdc(real, fake, k):
    from sklearn.metrics import pairwise_distances

    drr, dff, drf = pairwise_distances(real), pairwise_distances(fake), pairwise_distances(real, fake)
    r_real = np.partition(drr, k, axis=1)[:, k]
    r_fake = np.partition(dff, k, axis=1)[:, k]
    inside = drf <= r_real[:, None]
    return {
        "precision": float(inside.any(axis=0).mean()),
        "recall": float((drf <= r_fake[None, :]).any(axis=1).mean()),
        "density": float(inside.sum() / (k * len(fake))),
        "coverage": float((drf.min(axis=1) <= r_real).mean()),
    }


points = st.tuples(st.integers(2, 9), st.integers(2, 9), st.integers(1, 4), st.integers(0, 2**16))


@settings(max_examples=40, deadline=None)
@given(points, st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_pair_quantiles_equal_numpy(shape, qs):
    n, m, d, seed = shape
    x = np.random.default_rng(seed).normal(size=(n + m, d)).round(1)  # rounded: ties too
    for sqrt in (True, False):
        dense = pdist(x, "sqeuclidean")
        dense = np.sqrt(dense) if sqrt else dense
        assert np.allclose(
            pair_quantiles(x, qs, sqrt=sqrt, bins=7), np.quantile(dense, qs), atol=1e-10, rtol=0
        )


@settings(max_examples=30, deadline=None)
@given(points, st.integers(1, 30))
def test_permutation_mmd2_equals_dense(shape, perms):
    n, m, d, seed = shape
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(size=(n, d)), rng.normal(0.5, size=(m, d))])
    labels = permutation_labels(n, m, perms, seed)
    bands = [0.3, 1.0, 2.5]
    assert np.allclose(
        permutation_mmd2(x, n, labels, bands), _dense_perm_mmd2(x, n, labels, bands), atol=1e-10, rtol=0
    )


@settings(max_examples=30, deadline=None)
@given(points, st.integers(1, 6))
def test_weighted_mmd2_equals_dense(shape, reps):
    n, m, d, seed = shape
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, d)), rng.normal(0.3, size=(m, d))
    wa = rng.multinomial(n, np.full(n, 1 / n), size=reps).astype(float) + 1
    wb = rng.multinomial(m, np.full(m, 1 / m), size=reps).astype(float)
    wb[:, 0] += 2  # never all weight on one document (the unbiased denominator would be 0)
    ours = weighted_mmd2(a, b, wa, wb, 0.8)
    ref = _dense_weighted(a, b, wa, wb, 0.8)
    assert np.allclose(ours, ref, atol=1e-10, rtol=0, equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(st.integers(6, 14), st.integers(6, 14), st.integers(1, 4), st.integers(0, 2**16))
def test_prdc_equals_dense(n, m, d, seed):
    rng = np.random.default_rng(seed)
    real, fake = rng.normal(size=(n, d)), rng.normal(0.4, size=(m, d))
    assert prdc(real, fake, 5) == _dense_prdc(real, fake, 5)


def test_nearest_cosine_equals_dense():
    rng = np.random.default_rng(3)
    u = rng.normal(size=(23, 5))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    ref_rows = np.flatnonzero(rng.random(23) < 0.5)
    sims = u @ u[ref_rows].T
    sims[ref_rows, np.arange(len(ref_rows))] = -np.inf
    assert np.allclose(nearest_cosine(u, ref_rows), sims.max(axis=1), atol=1e-12)


def test_identical_points_give_zero_spread():
    x = np.ones((5, 3))
    assert pair_quantiles(x, [0.1, 0.5, 0.9]).tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(pair_quantiles(x[:1], [0.5])).all()


def test_duplicate_points_are_at_exactly_zero():
    x = np.array(
        [[0.1, 0.6], [0.1, 0.3], [0.5, 1.8], [-0.8, 0.3], [0.5, -1.6], [0.2, -0.7], [1.3, 0.2], [0.1, 0.3]]
    )
    assert pair_quantiles(x, [0.0]).tolist() == [0.0]  # rows 1 and 7 coincide (hypothesis found it)
    big = np.full((3, 4), 1e4)
    big[2] += 1e-3
    assert np.allclose(
        pair_quantiles(big, [0.0, 1.0]), np.quantile(pdist(big), [0.0, 1.0]), atol=1e-12, rtol=0
    )


@settings(max_examples=30, deadline=None)
@given(points, st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=5))
def test_pair_quantile_table_equals_numpy(shape, wanted):
    """Distances and squared distances mixed, in several blocks and in one (the partition path)."""
    n, m, d, seed = shape
    x = np.random.default_rng(seed).normal(size=(n + m, d)).round(1)
    sq = pdist(x, "sqeuclidean")
    ref = [np.quantile(np.sqrt(sq) if root else sq, q) for q, root in wanted]
    assert np.allclose(kernels.pair_quantile_table(x, wanted, bins=5), ref, atol=1e-10, rtol=0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "BLOCK_BYTES", 64 << 20)
        assert np.allclose(kernels.pair_quantile_table(x, wanted), ref, atol=1e-10, rtol=0)
