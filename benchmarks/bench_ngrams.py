"""N-gram counting throughput on outfox-essays (all 4,000 documents) against `diversity` and
scikit-learn's CountVectorizer, with peak traced memory.

Then, at 16,000 documents (the corpus four times: as read, each document's words reversed, and
two seeded shuffles of each document's words — the same words and lengths, new n-grams, no
near-duplicates across copies), where the time goes in ``analyze_ngrams`` (tokenising, counting,
near-duplicate detection, compression in 1 and in all threads) and its peak traced memory per
word (goal: <= 25 bytes per word on the exact path).

Usage: python benchmarks/bench_ngrams.py [path/to/outfox-essays/texts.jsonl] [--only-16k]
`diversity` needs `spacy` and `openai` importable (benchmark-only dependencies).
"""

from __future__ import annotations

import sys
import time
import tracemalloc

from toedit_stats import read_corpus
from toedit_stats.analyzers.ngrams import (
    _Counter,
    _tokenize_all,
    analyze_ngrams,
    compression_ratio,
    near_duplicate_rate,
    shingle_hashes,
)
from toedit_stats.corpus import MemoryCorpus

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
    return [counter.count(toks[0], n, positions=False)[:2] for n in NS]


def sixteen_k(texts: list[str]) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(0)
    out = list(texts) + [" ".join(t.split()[::-1]) for t in texts]
    for _ in range(2):
        out += [" ".join(rng.permutation(t.split())) for t in texts]
    return out


def at_16k(texts: list[str]) -> None:
    big = sixteen_k(texts)
    corpus = MemoryCorpus(big, name="x")

    def step(fn):
        t0 = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t0

    (toks, vocab), t_tok = step(lambda: _tokenize_all([corpus]))
    tc = toks[0]
    words = int(tc.codes.size)
    counter = _Counter(vocab)
    _, t_count = step(lambda: [counter.count(tc, n, positions=False) for n in NS])
    sh, t_sh = step(lambda: shingle_hashes(counter.word_hashes[tc.codes], tc.lengths))
    _, t_nd = step(lambda: near_duplicate_rate(sh))

    def compress(threads):
        try:
            return compression_ratio(tc.texts, threads=threads)
        except TypeError:  # an older toedit-stats (benchmarking a previous commit): one thread
            return compression_ratio(tc.texts)

    _, t_c1 = step(lambda: compress(1))
    _, t_cn = step(lambda: compress(None))
    _, t_all = step(lambda: analyze_ngrams([corpus], equal_size=False))
    tracemalloc.start()
    analyze_ngrams([MemoryCorpus(big, name="x")], equal_size=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    text_bytes = sum(len(t) for t in big)
    print(f"\n16k documents: {len(big):,} documents, {words:,} words, {text_bytes / 2**20:.0f} MiB of text")
    print(f"  analyze_ngrams (exact, all metrics)   {t_all:7.2f} s")
    for name, dt in (
        ("tokenise + vocabulary", t_tok),
        ("count n = 1..4", t_count),
        ("shingle hashes", t_sh),
        ("near-duplicates (MinHash + LSH)", t_nd),
        ("compression, 1 thread", t_c1),
        ("compression, all threads", t_cn),
    ):
        print(f"  {name:<38} {dt:7.2f} s  {100 * dt / t_all:5.1f}% of analyze_ngrams")
    print(
        f"  peak traced memory of analyze_ngrams: {peak / 2**20:.0f} MiB = {peak / words:.1f} bytes per word "
        f"(the texts alone, as Python strings: {text_bytes / words:.1f} bytes per word)"
    )


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = args[0] if args else "../shared/data/outfox-essays/texts.jsonl"
    if "--only-16k" in sys.argv:
        at_16k([d.text for d in read_corpus(path)])
        return
    texts = [d.text for d in read_corpus(path)]
    toks, vocab = _tokenize_all([read_corpus(path)])
    counter = _Counter(vocab)
    counter.count(toks[0], 2)  # warm-up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for n in NS:
            _, counts, _, _ = counter.count(toks[0], n, positions=False)
            total += int(counts.sum())
        best = min(best, time.perf_counter() - t0)
    print(f"corpus: {len(texts)} documents, {toks[0].codes.size:,} words, {total:,} n-grams (n=1..4)")
    print(f"counting step only, one thread: {best:.3f} s = {total / best / 1e6:.1f} M n-grams/s per core")
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
    at_16k(texts)


if __name__ == "__main__":
    main()
