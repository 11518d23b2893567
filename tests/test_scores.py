"""Per-document audit scores and DSIR selection."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from click.testing import CliRunner

from toedit_stats import read_corpus, write_records
from toedit_stats.cli import main
from toedit_stats.corpus import MemoryCorpus
from toedit_stats.scores import score, word_columns
from toedit_stats.selection import dsir_features, dsir_log_weights, gumbel_top_k

COLUMNS = [
    "corpus",
    "id",
    "position",
    "words",
    "characters",
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "top_bigram_share",
    "gzip_ratio",
    "near_dup_cluster",
    "tokens",
    "perplexity",
    "mean_logprob",
    "share_ge_0.99",
    "share_ge_0.9",
    "share_le_0.01",
    "rank_1",
    "rank_2_10",
    "rank_11_100",
    "rank_101_1000",
    "rank_gt_1000",
    "mean_entropy",
    "curvature",
    "dsir_log_weight",
    "p_synthetic",
    "nearest_reference",
]


@pytest.fixture(scope="module")
def pair(sample_human, sample_synthetic):
    return (
        MemoryCorpus(list(read_corpus(sample_human, limit=15)), name="human"),
        MemoryCorpus(list(read_corpus(sample_synthetic, limit=15)), name="synthetic"),
    )


def test_word_columns_by_hand():
    c = word_columns("A b a b c.")  # words: a b a b c .
    assert c["words"] == 6 and c["characters"] == 10
    assert c["distinct_1"] == 4 / 6 and c["distinct_2"] == 4 / 5 and c["distinct_3"] == 4 / 4
    assert c["top_bigram_share"] == 2 / 5
    empty = word_columns("")
    assert empty["words"] == 0 and math.isnan(empty["distinct_1"]) and math.isnan(empty["gzip_ratio"])


def test_dsir_equals_the_data_selection_package(tmp_path, sample_human, sample_synthetic):
    pytest.importorskip("nltk")
    hd = pytest.importorskip("data_selection.hashed_ngram_dsir")
    raw = [d.text for d in read_corpus(sample_synthetic, limit=20)]
    target = [d.text for d in read_corpus(sample_human, limit=20)]
    ours = dsir_features(raw).toarray()
    for i in range(5):
        assert (ours[i] == hd.get_ngram_counts(raw[i], n=2, num_buckets=10000)).all()
    write_records([{"text": t} for t in raw], tmp_path / "raw.jsonl")
    write_records([{"text": t} for t in target], tmp_path / "target.jsonl")
    dsir = hd.HashedNgramDSIR(
        [str(tmp_path / "raw.jsonl")],
        [str(tmp_path / "target.jsonl")],
        str(tmp_path / "cache"),
        num_proc=1,
        min_example_length=0,
    )
    dsir.fit_importance_estimator(num_tokens_to_fit="all")
    dsir.compute_importance_weights()
    theirs = np.concatenate(
        [
            np.load(p)
            for p in sorted(
                (tmp_path / "cache" / "log_importance_weights").glob("*.npy"), key=lambda p: int(p.stem)
            )
        ]
    )
    mine = dsir_log_weights(dsir_features(raw), dsir_features(target))
    assert np.allclose(mine, theirs, rtol=1e-9, atol=1e-6)


def test_gumbel_top_k_is_seeded_and_follows_the_weights():
    w = np.log(np.r_[np.full(10, 100.0), np.full(90, 1.0)])
    a, b, c = gumbel_top_k(w, 10, seed=1), gumbel_top_k(w, 10, seed=1), gumbel_top_k(w, 10, seed=2)
    assert (a == b).all() and not (a == c).all()
    hits = np.mean([np.isin(gumbel_top_k(w, 10, seed=s), np.arange(10)).mean() for s in range(200)])
    assert hits > 0.6  # heavy documents are chosen far above their 10% share


def test_scores_schema_perplexity_and_order(pair):
    from toedit_stats.analyzers.tokens import TokenAnalyzer

    h, s = pair
    frame = score([s], reference=h, model="fake", embedder="tfidf")
    assert list(frame.columns) == COLUMNS and len(frame) == 30
    tok = TokenAnalyzer(model="fake", max_docs=None).analyze([h, s])
    by_id = dict(zip(tok.corpora[1].doc_ids, tok.corpora[1].doc_ppl))
    rows = frame[frame["corpus"] == "synthetic"]
    assert np.allclose(rows["perplexity"], [by_id[i] for i in rows["id"]])
    shuffled = MemoryCorpus(random.Random(3).sample(list(s), len(s)), name="synthetic")
    again = score([shuffled], reference=h, model="fake", embedder="tfidf")
    cols = [c for c in COLUMNS if c not in ("position", "p_synthetic", "near_dup_cluster")]
    a = frame[cols].sort_values(["corpus", "id"]).reset_index(drop=True)
    b = again[cols].sort_values(["corpus", "id"]).reset_index(drop=True)
    assert a.equals(b)


def test_near_duplicate_clusters(tmp_path):
    base = "the quick brown fox jumps over the lazy dog near the river bank every single morning"
    c = MemoryCorpus(
        [base, base + " today", "completely different words in this one document here"], name="c"
    )
    frame = score([c], model=None)
    assert frame["near_dup_cluster"].tolist() == [0, 0, -1]


def test_cli_score_and_select(tmp_path, sample_human, sample_synthetic):
    out = tmp_path / "s.parquet"
    r = CliRunner().invoke(
        main,
        [
            "score",
            str(sample_synthetic),
            "--reference",
            str(sample_human),
            "--model",
            "fake",
            "--embedder",
            "tfidf",
            "--limit",
            "10",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    # which column sets load which model, said before the work (issue 30)
    assert "language-model columns: loads fake" in r.output and "loads the embedder tfidf" in r.output
    import pandas as pd

    assert list(pd.read_parquet(out).columns) == COLUMNS
    r = CliRunner().invoke(main, ["score", str(sample_synthetic), "-o", str(tmp_path / "s.csv")])
    assert r.exit_code == 2 and "Parquet" in r.output
    sel = tmp_path / "sel.jsonl"
    r = CliRunner().invoke(
        main, ["select", str(sample_synthetic), "--reference", str(sample_human), "--n", "5", "-o", str(sel)]
    )
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in sel.read_text().splitlines()]
    assert len(lines) == 5 and all("text" in x and "id" in x for x in lines)
    m = json.loads((tmp_path / "sel.jsonl.manifest.json").read_text())
    assert m["n"] == 5 and m["of"] == 40 and m["method"] == "dsir"
    # issue 30: what was read and how it was weighted is recorded, and the make-up is shown
    assert m["weights"] == "per-document" and m["reading"]["where"] == [] and m["reading"]["limit"] is None
    assert (
        m["make_up"]["words"]["pool"]["documents"] == 40
        and m["make_up"]["words"]["selection"]["documents"] == 5
    )
    sel2 = tmp_path / "sel2.jsonl"
    r = CliRunner().invoke(
        main,
        [
            "select",
            str(sample_synthetic),
            "--reference",
            str(sample_human),
            "--n",
            "5",
            "--weights",
            "per-token",
            "--by",
            "label",
            "--limit",
            "30",
            "-o",
            str(sel2),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "words per document: pool vs selection" in r.output and "share by label" in r.output
    m2 = json.loads((tmp_path / "sel2.jsonl.manifest.json").read_text())
    assert m2["weights"] == "per-token" and m2["reading"]["limit"] == 30 and m2["of"] == 30
    assert sum(row["selection"] for row in m2["make_up"]["by"]) == pytest.approx(1.0)


def test_dsir_features_equal_the_package_on_any_text():
    """Issue 31: superscripts, zero-width joiners, combining marks, connector punctuation,
    fractions and other scripts split as NLTK's WordPunctTokenizer splits them (its regex engine),
    so the features equal data-selection's everywhere, not only on plain text."""
    pytest.importorskip("nltk")
    hd = pytest.importorskip("data_selection.hashed_ngram_dsir")
    texts = [
        "co² and H₂O, x\u200dy and e\u0301t\u00e9",
        "a‿b x_y ½ ¼ Ⅻ 東京 ٣٤ Ελληνικά русский",
        "emoji 👍🏽 family 👨\u200d👩\u200d👧 tab\tend",
        "",
    ]
    ours = dsir_features(texts).toarray()
    for i, t in enumerate(texts):
        assert (ours[i] == hd.get_ngram_counts(t, n=2, num_buckets=10000)).all(), t
