"""Bounded-memory n-gram statistics for corpora that do not fit in memory (``ngrams --sketch``).

Documents are streamed in chunks; nothing proportional to the number of distinct n-grams is kept.

- ``distinct``: HyperLogLog++ (``datasketch.HyperLogLogPlusPlus``, precision ``p``), relative
  standard error ``1.04 / sqrt(2**p)`` (0.81% at the default p = 14).
- top-n-gram counts and ``top100_mass``/``top1000_mass``: a weighted Misra–Gries summary of
  ``capacity`` counters. Every estimated count ``f^`` satisfies ``f - N/(capacity+1) <= f^ <= f``
  (N = total occurrences), so the reported top-k mass is a lower bound and the true value is at
  most ``k * N/(capacity+1) / N = k/(capacity+1)`` above it; the bound is reported.
- ``total``, the DSIR hashed buckets, ``compression_ratio`` (streamed gzip, byte-identical to the
  exact mode) are exact; ``near_duplicate_rate`` streams MinHash signatures (128 × 8 bytes a
  document) through LSH.
- Not available in bounded memory, and reported as ``None``: ``entropy_bits``,
  ``normalized_entropy``, ``gini``, ``zipf_slope``, ``top1pct_mass`` (they need the whole
  frequency table) and the n-gram JS divergence and coverage (which need both tables); the
  hashed-bucket JS divergence is exact.

N-gram keys here are 64-bit hashes of the words' stable ``pandas`` SipHash values, so summaries
from different processes or machines agree.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..corpus import Corpus, MemoryCorpus, sample_documents
from ..errors import ConfigError
from ..tokenize import WORD_PATTERN
from .ngrams import (
    N_BUCKETS,
    CorpusNgrams,
    HashedBuckets,
    NgramResult,
    NgramStats,
    _identity,
    dsir_bucket,
    mix_windows,
    shingle_hashes,
    word_hashes,
)

__all__ = ["MisraGries", "analyze_ngrams_sketch"]


@dataclass
class MisraGries:
    """Weighted Misra–Gries heavy hitters with at most ``capacity`` counters.

    Guarantee: for every key, ``true - total/(capacity+1) <= estimate <= true``.
    """

    capacity: int
    keys: np.ndarray = None  # type: ignore[assignment]
    counts: np.ndarray = None  # type: ignore[assignment]
    total: int = 0

    def __post_init__(self):
        if self.capacity < 1:
            raise ConfigError(f"capacity must be positive, got {self.capacity}")
        self.keys = np.zeros(0, np.uint64)
        self.counts = np.zeros(0, np.int64)

    def update(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add distinct ``keys`` with positive ``counts``."""
        self.total += int(counts.sum())
        allk = np.concatenate([self.keys, keys])
        allc = np.concatenate([self.counts, counts])
        uk, inv = np.unique(allk, return_inverse=True)
        uc = np.bincount(inv, weights=allc).astype(np.int64)
        if uk.size > self.capacity:
            # subtract the (capacity+1)-th largest count from every counter, drop the non-positive
            cut = np.partition(uc, uk.size - self.capacity - 1)[uk.size - self.capacity - 1]
            uc = uc - cut
            keep = uc > 0
            uk, uc = uk[keep], uc[keep]
        self.keys, self.counts = uk, uc

    @property
    def error_bound(self) -> float:
        return self.total / (self.capacity + 1)

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(-self.counts, kind="stable")[:k]
        return self.keys[order], self.counts[order]


def _word_hashes(tokens: list[str]) -> np.ndarray:
    return word_hashes(np.asarray(tokens, dtype=object)) if tokens else np.zeros(0, np.uint64)


def _keys(h: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """Hashed keys of the n-grams that do not cross a document boundary."""
    N = h.size
    if n == 1 or n > N:
        return h if n == 1 else np.zeros(0, np.uint64)
    remaining = np.repeat(np.cumsum(lengths), lengths) - np.arange(N)
    return mix_windows(h, n)[remaining[: N - n + 1] >= n]


def _count(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.unique(keys, return_counts=True)


def _sketch_one(corpus: Corpus, ns, *, capacity, p, chunk_docs, seed, top_k, max_docs):
    from datasketch import HyperLogLogPlusPlus, LeanMinHash, MinHash, MinHashLSH

    identity = lambda x: x  # noqa: E731 - keys are already uniform 64-bit hashes
    hll = {n: HyperLogLogPlusPlus(p=p, hashfunc=identity) for n in ns}
    mg = {n: MisraGries(capacity) for n in ns}
    totals = dict.fromkeys(ns, 0)
    mass = np.zeros(N_BUCKETS)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    raw_bytes = comp_bytes = 0
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    template = MinHash(num_perm=128, seed=seed, hashfunc=_identity)
    dup: set[int] = set()
    names: dict[int, str] = {}  # readable text of heavy-hitter keys
    findall = WORD_PATTERN.findall
    docs = tokens = 0

    def flush(batch: list[list[str]]):
        nonlocal tokens
        flat = [w for toks in batch for w in toks]
        lengths = np.fromiter((len(t) for t in batch), np.int64, len(batch))
        tokens += len(flat)
        h = _word_hashes(flat) if flat else np.zeros(0, np.uint64)
        for n in ns:
            uk, uc = _count(_keys(h, lengths, n))
            totals[n] += int(uc.sum())
            for key in uk.tolist():
                hll[n].update(key)
            mg[n].update(uk, uc)
        # DSIR buckets: sha256 once per distinct uni/bigram string of the chunk
        import pandas as pd

        grams = pd.Series(flat, dtype=object).value_counts()
        bi = pd.Series(
            [f"{a} {b}" for t in batch for a, b in itertools.pairwise(t)], dtype=object
        ).value_counts()
        for series in (grams, bi):
            b = np.fromiter((dsir_bucket(s) for s in series.index), np.int64, series.size)
            np.add.at(mass, b, series.to_numpy(dtype=np.float64))
        # names for the current heavy hitters
        for n in ns:
            want = set(mg[n].top(top_k)[0].tolist()) - names.keys()
            if not want:
                continue
            for toks in batch:
                if len(toks) < n:
                    continue
                kh = _keys(_word_hashes(toks), np.array([len(toks)]), n)
                for i in np.flatnonzero(np.isin(kh, list(want))):
                    key = int(kh[i])
                    if key not in names:
                        names[key] = " ".join(toks[i : i + n])
                        want.discard(key)
                if not want:
                    break

    batch: list[list[str]] = []
    for doc in corpus:
        toks = findall(doc.text.lower())
        data = (" " if docs else "").encode() + doc.text.encode("utf-8")
        raw_bytes += len(data)
        comp_bytes += len(comp.compress(data))
        m = template.copy()
        m.update_batch(shingle_hashes(_word_hashes(toks), np.array([len(toks)]))[0].tolist())
        lm = LeanMinHash(m)
        for j in lsh.query(lm):
            dup.update((docs, j))
        lsh.insert(docs, lm, check_duplication=False)
        docs += 1
        batch.append(toks)
        if len(batch) >= chunk_docs:
            flush(batch)
            batch = []
        if max_docs is not None and docs >= max_docs:
            break
    if batch:
        flush(batch)
    comp_bytes += len(comp.flush())

    stats = []
    top = {}
    for n in ns:
        total = totals[n]
        distinct = min(round(hll[n].count()), total)
        _, counts = mg[n].top(1000)
        cum = np.cumsum(counts)
        t100 = float(cum[min(100, cum.size) - 1] / total) if total and cum.size else 0.0
        t1000 = float(cum[-1] / total) if total and cum.size else 0.0
        stats.append(
            NgramStats(
                n,
                total,
                distinct,
                distinct / total if total else 0.0,
                math.nan,
                math.nan,
                math.nan,
                t100,
                t1000,
                math.nan,
                None,
            )
        )
        tk, tc = mg[n].top(top_k)
        top[n] = [(names.get(int(k), f"#{int(k):016x}"), int(c)) for k, c in zip(tk, tc)]
    total_mass = mass.sum()
    if total_mass:
        mass /= total_mass
    nz = mass[mass > 0]
    hashed = HashedBuckets(
        N_BUCKETS,
        float(-(nz * np.log2(nz)).sum()),
        float(np.sort(mass)[::-1][: N_BUCKETS // 100].sum()),
        mass,
    )
    result = CorpusNgrams(
        name=corpus.name,
        documents=docs,
        tokens=tokens,
        by_n=stats,
        hashed=hashed,
        compression_ratio=raw_bytes / comp_bytes if comp_bytes else 0.0,
        near_duplicate_rate=len(dup) / docs if docs > 1 else 0.0,
        top=top,
        rank_counts={n: mg[n].top(10_000)[1] for n in ns},
    )
    bounds = {
        n: {
            "count_error_bound": mg[n].error_bound,
            "top100_mass_max_error": min(1.0, 100 / (capacity + 1)),
            "top1000_mass_max_error": min(1.0, 1000 / (capacity + 1)),
        }
        for n in ns
    }
    return result, bounds


def analyze_ngrams_sketch(
    corpora: Sequence[Corpus] | Corpus,
    *,
    n: Iterable[int] = (1, 2, 3, 4),
    top: int = 40,
    seed: int = 0,
    capacity: int = 10_000,
    p: int = 14,
    chunk_docs: int = 1_000,
    max_docs: int | None = None,
) -> NgramResult:
    """Bounded-memory variant of :func:`~toedit_stats.analyzers.ngrams.analyze_ngrams`.

    Memory is O(capacity + 2**p + buckets) per corpus and n, plus one chunk of documents and one
    MinHash signature per document. See the module docstring for what is estimated and how well.
    """
    from scipy.spatial.distance import jensenshannon

    if isinstance(corpora, Corpus):
        corpora = [corpora]
    ns = tuple(sorted({int(x) for x in n}))
    if not ns or ns[0] < 1 or ns[-1] > 8:
        raise ConfigError(f"n must be between 1 and 8, got {list(ns)}")
    if not 4 <= p <= 18:
        raise ConfigError(f"HyperLogLog precision p must be in 4..18, got {p}")
    if max_docs is not None:  # the one sampling rule (seeded, order-free); memory bounded by max_docs
        corpora = [MemoryCorpus(sample_documents(iter(c), max_docs, seed)[0], name=c.name) for c in corpora]
    results, bounds = [], {}
    for c in corpora:
        r, b = _sketch_one(
            c, ns, capacity=capacity, p=p, chunk_docs=chunk_docs, seed=seed, top_k=top, max_docs=None
        )
        results.append(r)
        bounds[r.name] = b
    hashed_pairs = [
        {
            "a": results[0].name,
            "b": o.name,
            "js_divergence_bits": float(jensenshannon(results[0].hashed.mass, o.hashed.mass, base=2) ** 2),
        }
        for o in results[1:]
    ]
    sketch = {
        "hll_p": p,
        "distinct_relative_std_error": 1.04 / math.sqrt(2**p),
        "capacity": capacity,
        "bounds": bounds,
    }
    return NgramResult(results, [], hashed_pairs, ns, seed, sketch=sketch)
