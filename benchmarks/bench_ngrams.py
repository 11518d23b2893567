"""N-gram counting throughput on outfox-essays (all 4,000 documents) against `diversity` and
scikit-learn's CountVectorizer, with peak traced memory.

Usage: python benchmarks/bench_ngrams.py [path/to/outfox-essays/texts.jsonl]
`diversity` needs `spacy` and `openai` importable (benchmark-only dependencies).
"""

from __future__ import annotations

import sys
import time
import tracemalloc

from toedit_stats import read_corpus
from toedit_stats.analyzers.ngrams import _Counter, _tokenize_all, analyze_ngrams

NS = (1, 2, 3, 4)


def timed(fn):
    """Wall time of an untraced run, then peak traced memory of a second run (tracemalloc slows
    Python allocations several-fold, so it never overlaps the timing)."""
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, dt, peak / 2**20


def ours_end_to_end(path):
    toks, vocab = _tokenize_all([read_corpus(path)])
    counter = _Counter(vocab)
    return [c[:2] for c in counter.count_many(toks[0], NS)]


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/outfox-essays/texts.jsonl"
    texts = [d.text for d in read_corpus(path)]
    toks, vocab = _tokenize_all([read_corpus(path)])
    counter = _Counter(vocab)
    counter.count(toks[0], 2)  # warm-up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for n in NS:
            _, counts, _, _ = counter.count(toks[0], n)
            total += int(counts.sum())
        best = min(best, time.perf_counter() - t0)
    print(f"corpus: {len(texts)} documents, {toks[0].codes.size:,} words, {total:,} n-grams (n=1..4)")
    print(f"counting step only, one thread: {best:.3f} s = {total / best / 1e6:.1f} M n-grams/s per core")
    dt = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        counter.count_many(toks[0], NS)
        dt = min(dt, time.perf_counter() - t0)
    print(f"counting step, orders in parallel threads: {dt:.3f} s = {total / dt / 1e6:.1f} M n-grams/s")

    rows = []
    _, dt, mem = timed(lambda: ours_end_to_end(path))
    rows.append(("toedit-stats count (read+tokenise+count)", dt, mem))
    _, dt, mem = timed(lambda: analyze_ngrams([read_corpus(path)], equal_size=False))
    rows.append(("toedit-stats analyze_ngrams (all metrics)", dt, mem))

    from sklearn.feature_extraction.text import CountVectorizer

    _, dt, mem = timed(lambda: CountVectorizer(ngram_range=(1, 4)).fit_transform(texts))
    rows.append(("sklearn CountVectorizer(1,4)", dt, mem))
    try:
        from diversity import ngram_diversity_score

        _, dt, mem = timed(lambda: ngram_diversity_score(texts, 4))
        rows.append(("diversity.ngram_diversity_score(4)", dt, mem))
    except ImportError as exc:  # pragma: no cover
        print(f"diversity not importable: {exc}")
    base = rows[0][1]
    print(f"\n{'method':<44} {'seconds':>8} {'x ours':>7} {'M n-grams/s':>12} {'peak MiB':>9}")
    for name, dt, mem in rows:
        print(f"{name:<44} {dt:8.2f} {dt / base:7.1f} {total / dt / 1e6:12.2f} {mem:9.0f}")


if __name__ == "__main__":
    main()
