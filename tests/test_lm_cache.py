from __future__ import annotations

import numpy as np

from toedit_stats.corpus import Document
from toedit_stats.lm.cache import CachedLM
from toedit_stats.lm.fake import FakeLM


class CountingLM(FakeLM):
    def __init__(self):
        super().__init__()
        self.scored = 0

    def score(self, docs, **kw):
        docs = list(docs)
        self.scored += len(docs)
        return super().score(docs, **kw)


def test_cache_hits_and_equal_scores(tmp_path):
    inner = CountingLM()
    lm = CachedLM(inner, tmp_path)
    docs = [Document(f"d{i}", f"some text number {i} with words") for i in range(5)]
    first = list(lm.score(docs, top_k=3))
    assert inner.scored == 5 and lm.misses == 5
    again = list(lm.score([Document("x", docs[2].text), *docs], top_k=3))
    assert inner.scored == 5 and lm.hits == 6  # nothing scored twice
    assert again[0].doc_id == "x"
    for a, b in zip(first, again[1:]):
        for f in ("token_ids", "offsets", "logprobs", "ranks", "topk_ids", "topk_logprobs", "entropy"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    list(lm.score(docs[:1], top_k=5))  # another k is another key
    assert inner.scored == 6


def test_cli_score_cache(tmp_path, sample_human, monkeypatch):
    import json

    from click.testing import CliRunner

    from toedit_stats.cli import main

    monkeypatch.setenv("TOEDIT_STATS_CACHE", str(tmp_path / "cache"))
    args = [
        "tokens",
        str(sample_human),
        "--model",
        "fake",
        "--score-cache",
        "--max-docs",
        "5",
        "--json",
        "--quiet",
    ]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    files = list((tmp_path / "cache" / "scores").rglob("*.npz"))
    assert len(files) == 5
    second = CliRunner().invoke(main, args)
    assert json.loads(second.stdout)["corpora"] == json.loads(first.stdout)["corpora"]
