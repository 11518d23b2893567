"""Per-document scores without the LM columns on OUTFOX (4,000 documents): the word columns, the
near-duplicate clusters and the DSIR features, each timed alone, in words per second (one core).
Then, with ``--lm``, the LM columns on the bundled sample: ``score(model=...)`` against the
backend's bare ``score()`` over the same documents, interleaved (the LM columns are one pass of
the backend plus numpy reductions: the ratio should be about 1).

Usage: python benchmarks/bench_scores.py [path/to/outfox-essays/texts.jsonl] [--lm]
"""

from __future__ import annotations

import sys
import time

from toedit_stats import read_corpus
from toedit_stats.scores import _clusters, word_columns
from toedit_stats.selection import dsir_features
from toedit_stats.tokenize import count_words


def lm_columns(repeats: int = 3) -> None:
    import torch

    from toedit_stats.lm.hf import TransformersLM
    from toedit_stats.scores import score

    torch.set_num_threads(1)
    lm = TransformersLM("smollm2-135m", device="cpu", dtype="float32").load()
    corpus = read_corpus("examples/synthetic.jsonl")
    docs = list(corpus)
    tokens = sum(lm.count_tokens([d.text for d in docs]))
    bare, cols = [], []
    for _ in range(repeats):  # interleaved: the machine's load hits both alike
        t = time.perf_counter()
        for _s in lm.score(docs):
            pass
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        score(corpus, model=lm)
        cols.append(time.perf_counter() - t)
    b, c = min(bare), min(cols)
    print(f"bundled sample, {len(docs)} documents, {tokens:,} tokens, one thread, best of {repeats}:")
    print(f"  backend score(): {b:.1f} s, {tokens / b:,.0f} tokens/s")
    print(f"  score(model=...) (all columns): {c:.1f} s, {tokens / c:,.0f} tokens/s; ratio {c / b:.2f}")


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--lm"]
    if "--lm" in sys.argv:
        lm_columns()
        return
    path = args[0] if args else "../shared/data/outfox-essays/texts.jsonl"
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
