"""Length-fair comparison: a pair that differs only in length reads "mostly length"; a real
difference of style remains after matching; identical corpora show nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toedit_stats import Corpus
from toedit_stats.corpus import Document
from toedit_stats.report.lengthfair import length_fair, length_fair_answer, length_matched
from toedit_stats.scores import score


@pytest.fixture(scope="module")
def outfox(outfox_path):
    return [json.loads(line) for line in outfox_path.read_text().splitlines()]


def _scores(a, b, embedder=None):
    return score(
        [Corpus.from_documents(b, name="synthetic")],
        reference=Corpus.from_documents(a, name="human"),
        model="fake",
        embedder=embedder or "tfidf",
    )


def test_matching_gives_the_same_length_histogram():
    rng = np.random.default_rng(0)
    la, lb = rng.integers(50, 800, 300), rng.integers(20, 400, 200)
    ra, rb = length_matched(la, [f"a{i}" for i in range(300)], lb, [f"b{i}" for i in range(200)], seed=3)
    assert len(ra) == len(rb) > 50
    bins = lambda x: np.sort(np.floor(np.log(x) / 0.1))  # noqa: E731
    assert (bins(la[ra]) == bins(lb[rb])).all()
    again = length_matched(la, [f"a{i}" for i in range(300)], lb, [f"b{i}" for i in range(200)], seed=3)
    assert all((x == y).all() for x, y in zip((ra, rb), again))


def test_truncated_human_documents_read_as_mostly_length(outfox):
    human = [r for r in outfox if r["label"] == "human"]
    rng = np.random.default_rng(0)

    def cut(text):
        words = text.split(" ")
        return " ".join(words[: max(5, int(len(words) * rng.uniform(0.3, 0.7)))])

    a = [Document(r["id"], r["text"]) for r in human[:150]]
    b = [Document("t" + r["id"], cut(r["text"])) for r in human[150:300]]
    table = length_fair(_scores(a, b), "human", "synthetic")
    differ = table[table["verdict"] != "no difference"]
    assert len(differ) >= 2  # the diversity ratios move with length
    assert (differ["verdict"] == "mostly length").all(), table[["statistic", "verdict"]]
    line = length_fair_answer(table, "human", "synthetic")
    assert "0 of" in line and "mostly length" in line


def test_a_difference_of_style_remains_after_matching(outfox):
    human = [Document(r["id"], r["text"]) for r in outfox if r["label"] == "human"][:150]
    chatgpt = [Document(r["id"], r["text"]) for r in outfox if r.get("source") == "chatgpt"][:150]
    table = length_fair(_scores(human, chatgpt), "human", "synthetic")
    assert (table["verdict"] == "remains after matching length").any(), table[["statistic", "verdict"]]
    assert "remain" in length_fair_answer(table, "human", "synthetic")


def test_identical_corpora_show_nothing(outfox):
    docs = [Document(r["id"], r["text"]) for r in outfox if r["label"] == "human"][:60]
    scores = _scores(docs, docs)
    vectors = np.random.default_rng(1).normal(size=(60, 5))
    ids = [d.id for d in docs]
    table = length_fair(
        scores,
        "human",
        "synthetic",
        embeddings={"human": vectors, "synthetic": vectors},
        embedding_ids={"human": ids, "synthetic": ids},
    )
    per_doc = table[table["column"] != ""]
    assert len(per_doc) >= 4 and (per_doc["effect_all"].abs() < 1e-12).all()
    assert len(table) == len(per_doc) + 2  # the embedding tests: a classifier is never exactly at 0.5
    assert (table["verdict"] == "no difference").all()
    assert table["docs_matched"].iloc[0] == 60
    assert length_fair_answer(table, "human", "synthetic") is None
