from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from toedit_stats.analyzers.tokens import compare_token_stats, token_stats
from toedit_stats.cli import main
from toedit_stats.lm.base import TokenScores


def ts(doc_id, probs, ranks=None, entropy=None):
    p = np.asarray(probs, dtype=np.float64)
    n = p.size
    return TokenScores(
        doc_id,
        np.arange(n),
        np.zeros((n, 2), np.int64),
        np.log(p).astype(np.float32),
        np.asarray(ranks if ranks is not None else np.ones(n), np.int64),
        None if entropy is None else np.asarray(entropy, np.float32),
        np.zeros((n, 0), np.int64),
        np.zeros((n, 0), np.float32),
    )


def test_hand_computed_statistics():
    s = token_stats(
        "x",
        [
            ts("a", [0.05, 0.95, 0.995], ranks=[30, 1, 1], entropy=[1, 2, 3]),
            ts("b", [0.55, 0.0005], ranks=[2, 5000], entropy=[1, 1]),
        ],
    )
    d = s.to_dict()
    assert d["documents"] == 2 and d["tokens"] == 5
    assert d["prob_hist10"] == pytest.approx([0.4, 0, 0, 0, 0, 0.2, 0, 0, 0, 0.4])
    assert sum(d["prob_hist10"]) == pytest.approx(1.0) and sum(d["prob_hist100"]) == pytest.approx(1.0)
    assert d["share_ge"] == pytest.approx({"0.5": 0.6, "0.9": 0.4, "0.99": 0.2, "0.999": 0.0})
    assert d["share_le"] == pytest.approx({"0.01": 0.2, "0.001": 0.2})
    assert d["rank_buckets"] == pytest.approx(
        {"1": 0.4, "2-10": 0.2, "11-100": 0.2, "101-1000": 0, ">1000": 0.2}
    )
    ppl_a = math.exp(-np.mean(np.log([0.05, 0.95, 0.995])))
    ppl_b = math.exp(-np.mean(np.log([0.55, 0.0005])))
    assert d["ppl"]["mean"] == pytest.approx((ppl_a + ppl_b) / 2, rel=1e-6)
    assert d["ppl"]["p50"] == pytest.approx((ppl_a + ppl_b) / 2, rel=1e-6)
    assert d["mean_entropy_nats"] == pytest.approx(8 / 5)
    # median of {0.0005, 0.05, 0.55, 0.95, 0.995} read off the 10,000-bin histogram (log-probs
    # are float32, so values exactly on a bin edge such as 0.5 may fall in the bin below)
    assert d["prob_quantiles"]["p50"] == pytest.approx(0.55, abs=1e-4)


def test_quantiles_match_numpy_within_bin_width():
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 0.3, 20_000)
    p = np.clip(p, 1e-9, 1)
    s = token_stats("x", [ts("a", p)])
    for q in (0.25, 0.5, 0.75):
        assert s.prob_quantile(q) == pytest.approx(np.quantile(p, q), abs=2e-4)


def test_merge_equals_one_shot():
    rng = np.random.default_rng(1)
    docs = []
    for i in range(20):
        n = int(rng.integers(1, 50))
        docs.append(ts(str(i), rng.uniform(0.001, 1, n), rng.integers(1, 3000, n), rng.uniform(0, 5, n)))
    whole = token_stats("x", docs)
    merged = token_stats("x", docs[:7]) + token_stats("x", docs[7:])
    assert merged.to_dict() == whole.to_dict()


def test_pairs_identical_and_different():
    a = token_stats("a", [ts("1", [0.1, 0.5, 0.9]), ts("2", [0.2, 0.3])])
    same = compare_token_stats(a, token_stats("b", [ts("1", [0.1, 0.5, 0.9]), ts("2", [0.2, 0.3])]))
    assert same.prob_hist_js_bits == pytest.approx(0.0, abs=1e-12)
    assert same.log_ppl_wasserstein == pytest.approx(0.0, abs=1e-12) and same.ppl_ks_stat == 0.0
    far = compare_token_stats(a, token_stats("c", [ts("1", [0.999, 0.995]), ts("2", [0.999])]))
    assert far.prob_hist_js_bits == pytest.approx(1.0)  # disjoint histogram bins
    assert far.ppl_ks_stat == 1.0


@pytest.mark.model
def test_cli_tokens_json_on_sample(lm, sample_human, sample_synthetic, tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "tokens",
            str(sample_human),
            str(sample_synthetic),
            "--max-docs",
            "2",
            "--json",
            "-o",
            str(tmp_path / "t"),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert set(d["model"]) >= {"name", "fingerprint"}
    c = d["corpora"][0]
    assert set(c) >= {
        "name",
        "documents",
        "tokens",
        "prob_hist10",
        "share_ge",
        "share_le",
        "prob_quantiles",
        "rank_buckets",
        "ppl",
        "mean_entropy_nats",
    }
    assert set(c["share_ge"]) == {"0.5", "0.9", "0.99", "0.999"} and set(c["share_le"]) == {"0.01", "0.001"}
    assert set(c["rank_buckets"]) == {"1", "2-10", "11-100", "101-1000", ">1000"}
    assert set(c["ppl"]) == {"p5", "p25", "p50", "p75", "p95", "mean"}
    assert set(d["pairs"][0]) >= {
        "a",
        "b",
        "ppl_ks_stat",
        "ppl_ks_pvalue",
        "log_ppl_wasserstein",
        "prob_hist_js_bits",
    }
    assert d["sampling"]["human"]["note"] == "sampled 2 of 40"
    assert c["documents"] == 2
    assert {"tokens.json", "prob_u_shape.png", "perplexity_hist.png", "rank_buckets.png"} <= {
        p.name for p in (tmp_path / "t").iterdir()
    }
