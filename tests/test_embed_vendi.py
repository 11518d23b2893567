"""The Vendi score (issue 32): hand cases, the vendi-score package, equal-size samples and the
bootstrap replicates."""

from __future__ import annotations

import numpy as np
import pytest

from toedit_stats.analyzers.embeddings import vendi_score


def test_vendi_hand_cases():
    assert vendi_score(np.eye(7)) == pytest.approx(7.0)  # orthogonal: all distinct
    assert vendi_score(np.ones((5, 3))) == pytest.approx(1.0)  # identical: one document
    two = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert vendi_score(two) == pytest.approx(2.0)  # two distinct documents, each twice
    assert np.isnan(vendi_score(np.zeros((0, 3))))


def test_vendi_equals_the_reference_package_and_weights_are_duplicates():
    vendi = pytest.importorskip("vendi_score.vendi")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 16)) + rng.normal(size=16)
    assert vendi_score(x) == pytest.approx(vendi.score_X(x), rel=1e-10)
    assert vendi_score(x) == pytest.approx(vendi.score_dual(x), rel=1e-10)
    w = rng.poisson(1.0, (3, 60)).astype(float)
    got = vendi_score(x, w)
    for row, g in zip(w, got):  # an integer weight is that many copies of the document
        assert g == pytest.approx(vendi.score_X(np.repeat(x, row.astype(int), axis=0)), rel=1e-9)


def test_vendi_jackknife_interval_is_calibrated_on_simulated_corpora():
    """The delete-a-group jackknife interval holds the expected Vendi score of independent
    samples from one population at least 90% of the time (measured 99%, SE about 1.3x the true
    spread: conservative), and is a point for identical documents."""
    from toedit_stats.analyzers.embeddings import vendi_interval

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(40, 64)) * 2

    def sample(n):
        return centers[rng.integers(0, 40, n)] + rng.normal(size=(n, 64))

    expected = np.mean([vendi_score(sample(150)) for _ in range(150)])
    ids = [str(i) for i in range(150)]
    hits = [lo <= expected <= hi for lo, hi in (vendi_interval(sample(150), ids, seed=s) for s in range(40))]
    assert np.mean(hits) >= 0.9
    lo, hi = vendi_interval(np.ones((30, 4)), [str(i) for i in range(30)])
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)


@pytest.mark.parametrize(("n", "d"), [(60, 5), (60, 40), (30, 64)])
def test_vendi_interval_equals_recomputing_each_deleted_score(n, d):
    """The jackknife's deleted scores from one Xᵀ X minus each group's part equal
    vendi_score on the remaining rows (and the Gram path where rows are fewer than dimensions)."""
    import math

    from scipy.stats import norm

    from toedit_stats.analyzers.embeddings import vendi_interval, vendi_score
    from toedit_stats.stats import id_order

    x = np.random.default_rng(n + d).normal(size=(n, d))
    ids = [f"doc{i}" for i in range(n)]
    group = np.empty(n, np.int64)
    group[id_order(ids, 3)] = np.arange(n) % 20
    loo = np.array([vendi_score(x[group != k]) for k in range(20)])
    se = math.sqrt(19 / 20 * float(((loo - loo.mean()) ** 2).sum()))
    z = float(norm.ppf(0.975))
    v = vendi_score(x)
    assert np.allclose(vendi_interval(x, ids, seed=3), (v - z * se, v + z * se), rtol=1e-10, atol=0)
