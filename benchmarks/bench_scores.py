"""Per-document scores without the LM columns on OUTFOX (4,000 documents): the word columns, the
near-duplicate clusters and the DSIR features, each timed alone, in words per second (one core).

Usage: python benchmarks/bench_scores.py [path/to/outfox-essays/texts.jsonl]
"""

from __future__ import annotations

import sys
import time

from toedit_stats import read_corpus
from toedit_stats.scores import _clusters, word_columns
from toedit_stats.selection import dsir_features
from toedit_stats.tokenize import count_words


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/outfox-essays/texts.jsonl"
    texts = [d.text for d in read_corpus(path)]
    words = sum(count_words(t) for t in texts)
    print(f"{len(texts)} documents, {words:,} words")
    for name, fn in (
        ("word columns", lambda: [word_columns(t) for t in texts]),
        ("near-duplicate clusters", lambda: _clusters(texts, 0)),
        ("DSIR features", lambda: dsir_features(texts)),
    ):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        print(f"{name}: {dt:.1f} s, {words / dt / 1e6:.2f} M words/s")


if __name__ == "__main__":
    main()
