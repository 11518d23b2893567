"""Statistics with confidence: weighted metrics against scipy/sklearn, the tests against direct
implementations, the bootstrap's seed and order independence, the no-op edit, calibration and
power on real data."""

from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance
from sklearn.metrics import roc_auc_score

from toedit_stats import compare, write_records
from toedit_stats.editing import EditConfig
from toedit_stats.stats import (
    BootstrapWeights,
    auc_test,
    holm,
    js_bits_rows,
    mmd_agg_test,
    weighted_auc,
    weighted_ks,
    weighted_quantile,
    weighted_wasserstein,
)

FAST = {"lm": "fake", "embedder": "tfidf", "mauve_seeds": 1, "permutations": 100}


@given(
    st.lists(st.integers(0, 20), min_size=1, max_size=25),
    st.lists(st.integers(0, 20), min_size=1, max_size=25),
    st.integers(0, 2**31),
)
@settings(max_examples=60)
def test_weighted_ks_and_wasserstein_equal_scipy_on_repeated_samples(a, b, seed):
    a, b = np.array(a, float), np.array(b, float)
    rng = np.random.default_rng(seed)
    wa, wb = rng.integers(0, 3, a.size), rng.integers(0, 3, b.size)
    wa[0] = wb[0] = 1  # no empty side
    ra, rb = np.repeat(a, wa), np.repeat(b, wb)
    assert math.isclose(
        weighted_ks(a, wa[None].astype(float), b, wb[None].astype(float))[0], ks_2samp(ra, rb).statistic
    )
    assert math.isclose(
        weighted_wasserstein(a, wa[None].astype(float), b, wb[None].astype(float))[0],
        wasserstein_distance(ra, rb),
        abs_tol=1e-9,
    )


def test_weighted_js_auc_quantile_against_references():
    rng = np.random.default_rng(1)
    p, q = rng.integers(0, 6, 50), rng.integers(0, 6, 50)
    assert math.isclose(js_bits_rows(p[None], q[None])[0], jensenshannon(p, q, base=2) ** 2)
    assert js_bits_rows(p[None], p[None])[0] == 0
    assert math.isclose(js_bits_rows(np.array([[1, 0]]), np.array([[0, 1]]))[0], 1.0)  # disjoint: 1 bit
    s = np.round(rng.normal(size=60), 1)  # ties
    y = np.r_[np.zeros(30), np.ones(30)]
    w = rng.poisson(1, (3, 60)).astype(float)
    for row in w:
        assert math.isclose(weighted_auc(s, y, row[None])[0], roc_auc_score(y, s, sample_weight=row))
    x = rng.normal(size=11)
    assert weighted_quantile(x, np.ones((1, 11)), 0.5)[0] == np.median(x)


def test_bootstrap_weights_are_seeded_by_id_order_free_and_paired():
    w = BootstrapWeights(seed=3, replicates=50, groups={"s": "paired", "e": "paired"})
    a = w.weights("s", ["x", "y", "z"])
    assert (w.weights("e", ["z", "x"]) == a[:, [2, 0]]).all()  # paired by id, any order or subset
    assert not (w.weights("h", ["x"]) == a[:, [0]]).all()  # another group is independent
    assert (
        BootstrapWeights(seed=4, replicates=50, groups={"s": "paired"}).weights("s", ["x"]) != a[:, [0]]
    ).any()
    assert abs(w.weights("h", [str(i) for i in range(400)]).mean() - 1) < 0.05  # Poisson(1)


def _slow_mmd_agg(a, b, bands, perms):
    """Direct implementation: loops over permutations and bandwidths."""
    x = np.concatenate([a, b])
    n, m = len(a), len(b)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)

    def stat(idx_a, idx_b, s):
        k = np.exp(-d2 / (2 * s * s))
        kxx = sum(k[i, j] for i in idx_a for j in idx_a if i != j) / (n * (n - 1))
        kyy = sum(k[i, j] for i in idx_b for j in idx_b if i != j) / (m * (m - 1))
        kxy = sum(k[i, j] for i in idx_a for j in idx_b) / (n * m)
        return kxx + kyy - 2 * kxy

    labels = [np.arange(n)] + [p[:n] for p in perms]
    stats = np.array([[stat(la, np.setdiff1d(np.arange(n + m), la), s) for la in labels] for s in bands])
    pv = np.array([[(row >= row[j]).sum() / len(row) for j in range(len(row))] for row in stats])
    minp = pv.min(0)
    return (1 + (minp[1:] <= minp[0]).sum()) / len(labels), pv[:, 0]


def test_mmd_agg_matches_a_direct_implementation():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 3)), rng.normal(0.8, size=(6, 3))
    res = mmd_agg_test(a, b, permutations=40, seed=5)
    g = np.random.default_rng(5)
    perms = [g.permutation(13) for _ in range(40)]
    agg, per = _slow_mmd_agg(a, b, res["bandwidths"], perms)
    assert math.isclose(res["pvalue"], agg) and np.allclose(res["pvalues"], per)


def test_auc_test_matches_a_direct_permutation_loop():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=12) + np.r_[np.zeros(6), np.ones(6)] * 0.8
    labels = np.r_[np.zeros(6), np.ones(6)]
    auc, p = auc_test(scores, labels)
    _, p2 = auc_test(scores, labels, alternative="two-sided")
    assert math.isclose(auc, roc_auc_score(labels, scores))
    dev = abs(auc - 0.5)
    extreme = two = total = 0
    for pos in itertools.combinations(range(12), 6):  # every relabelling, exactly
        lab = np.zeros(12)
        lab[list(pos)] = 1
        total += 1
        a = roc_auc_score(lab, scores)
        extreme += a >= auc - 1e-12
        two += abs(a - 0.5) >= dev - 1e-12
    assert math.isclose(p, extreme / total) and math.isclose(p2, two / total)


def test_holm_by_hand():
    assert np.allclose(holm([0.01, 0.04, 0.03, float("nan")])[:3], [0.03, 0.06, 0.06])
    assert holm([1e-23, 0.5])[0] == 2e-23  # tiny p-values survive (no rounding to 0)
    assert holm([0.5]) == [0.5] and holm([]) == []


# ---------------------------------------------------------------------------------------------
# the report


@pytest.fixture(scope="module")
def small_pair(tmp_path_factory, sample_human, sample_synthetic):
    d = tmp_path_factory.mktemp("pair")
    h = [json.loads(x) for x in sample_human.read_text().splitlines()][:16]
    s = [json.loads(x) for x in sample_synthetic.read_text().splitlines()][:16]
    write_records(h, d / "h.jsonl")
    write_records(s, d / "s.jsonl")
    random.Random(1).shuffle(h)
    random.Random(2).shuffle(s)
    write_records(h, d / "h-shuffled.jsonl")
    write_records(s, d / "s-shuffled.jsonl")
    return d


def test_noop_edit_gives_exactly_zero_intervals(small_pair):
    rep = compare(
        small_pair / "h.jsonl", small_pair / "s.jsonl", editor=EditConfig(p=2.0), bootstrap=200, **FAST
    )
    rows = rep.effects()["effects"]
    assert rows and rep.edit["selected"] == 0
    for r in rows:
        assert r["delta"] == 0
        if not math.isnan(r["low"]):
            assert (r["low"], r["high"]) == (0.0, 0.0), r
            assert r["verdict"] == "no detectable change"
    assert sum(not math.isnan(r["low"]) for r in rows) >= 7


def test_bootstrap_is_seeded_and_order_free(small_pair):
    def effects(h, s, seed):
        rep = compare(small_pair / h, small_pair / s, bootstrap=100, seed=seed, **FAST)
        eff = rep.effects()
        return json.dumps(
            [eff["effects"], sorted((k, v) for k, v in eff["intervals"].items())], default=str, sort_keys=True
        )

    a = effects("h.jsonl", "s.jsonl", 0)
    assert a == effects("h-shuffled.jsonl", "s-shuffled.jsonl", 0)
    assert a != effects("h.jsonl", "s.jsonl", 1)


def test_verdict_never_colours_what_the_interval_does_not_support(small_pair, tmp_path):
    rep = compare(
        small_pair / "h.jsonl", small_pair / "s.jsonl", editor=EditConfig(p=0.5, k=4), bootstrap=200, **FAST
    )
    by = {(r["analyzer"], r["metric"]): r for r in rep.effects()["effects"]}
    coloured = 0
    for fam in rep.verdict()["families"]:
        for m in fam["metrics"]:
            if m.get("moved") in ("toward human", "away from human"):
                coloured += 1
                r = by[(fam["analyzer"], m["key"])]
                assert r["holm"] < 0.05  # the family-wise (Holm) test rejects
    out = rep.save(tmp_path / "rep")
    html = (out / "report.html").read_text()
    assert "95% CI" in html and "Holm" in html and "edit effect forest plot" in html
    assert (out / "figures" / "edit_effects.png").is_file() and (
        out / "tables" / "edit_effects.csv"
    ).is_file()
    m = json.loads((out / "metrics.json").read_text())
    assert m["effects"]["replicates"] == 200 and m["effects"]["edit"] and m["effects"]["tests"]["count"] >= 3
    assert m["effects"]["paired_tests"]
    fig = rep.plot()
    assert hasattr(fig, "savefig")


def test_paired_view_wilcoxon(small_pair):
    from scipy.stats import wilcoxon

    rep = compare(
        small_pair / "h.jsonl",
        small_pair / "s.jsonl",
        editor=EditConfig(p=0.5, k=4),
        bootstrap=0,
        analyzers=["tokens"],
        lm="fake",
    )
    view = rep.effects()["paired"]["views"]["tokens"]
    f = view.frame
    assert len(f) == 16
    d = f["perplexity_after"] - f["perplexity_before"]
    p = next(m.value for m in view.metrics if m.name == "paired_perplexity_wilcoxon_pvalue")
    assert math.isclose(p, wilcoxon(d[d != 0]).pvalue)


def test_the_classifier_and_mmd_tests_lead_the_embedding_verdict(small_pair):
    rep = compare(
        small_pair / "h.jsonl",
        small_pair / "s.jsonl",
        editor=False,
        analyzers=["embed"],
        bootstrap=0,
        embedder="tfidf",
        mauve_seeds=1,
        permutations=200,
    )
    text = rep.verdict()["summary"]
    pair = rep.results["embed"].pairs[0]
    if pair.c2st_pvalue < 0.05 or pair.mmd_agg_pvalue < 0.05:
        assert "distinguishable" in text and "not distinguishable" not in text and "neither" not in text
    assert text.index("classifier test") < text.index("single-bandwidth MMD")


# ---------------------------------------------------------------------------------------------
# calibration and power on real data (embed once, then split)


@pytest.mark.slow
@pytest.mark.model
def test_calibration_and_power_on_real_data(outfox_path, essays_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "calibration.py"
    spec = importlib.util.spec_from_file_location("toedit_calibration", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    shared = outfox_path.parents[1]
    cal = mod.calibration(splits=200, docs=200, permutations=200, shared=shared)
    for name, rate in cal["rejection_rate"].items():
        assert rate <= 0.08, (name, rate)
    pw = mod.power(permutations=200, docs=90, shared=shared)
    for label, r in pw.items():
        assert r["c2st"] < 0.05 and r["mmd_agg"] < 0.05, (label, r)


@pytest.mark.parametrize("shift", [0.0, 0.6])
def test_mmd_agg_test_carries_the_median_test_exactly(shift):
    """One pass for both tests: the median-bandwidth result equals mmd2_test's, and the
    aggregated result is the one without it."""
    from toedit_stats.analyzers.embeddings import mmd2_test

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(40, 5)), rng.normal(shift, size=(35, 5))
    both = mmd_agg_test(a, b, permutations=200, seed=3, median=True)
    alone = mmd_agg_test(a, b, permutations=200, seed=3)
    assert both.pop("median") == mmd2_test(a, b, permutations=200, seed=3)
    assert both == alone
    assert all(math.isnan(v) for v in mmd_agg_test(a[:1], b, median=True)["median"])
