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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...corpus import Corpus, MemoryCorpus, sample_documents
from ...errors import ConfigError
from ...execution import Executor, Worker, batched, resolve_executor
from ...tokenize import WORD_PATTERN
from .compression import ChunkedGzip
from .counting import dsir_bucket, mix_windows, word_hashes
from .near_duplicates import _identity, shingle_hashes
from .records import N_BUCKETS, CorpusNgrams, HashedBuckets, NgramStats
from .result import NgramResult

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

    def merge(self, other: MisraGries) -> None:
        """Merge another summary of the same capacity (mergeable summaries, Agarwal et al. 2012):
        counters added, then the (capacity+1)-th largest subtracted; the guarantee holds for the
        combined total."""
        total = self.total + other.total
        self.update(other.keys, other.counts)
        self.total = total

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


class _Sketch:
    """The mergeable part of one corpus's sketch over a run of documents: HyperLogLog++ and
    Misra–Gries per n, n-gram totals, DSIR bucket mass, names of heavy hitters, and each document's
    MinHash signature (the near-duplicate LSH and the streamed gzip run where the documents are
    read, in document order, so that they equal the single-process result)."""

    def __init__(self, ns, *, capacity: int, p: int, seed: int, top_k: int):
        from datasketch import HyperLogLogPlusPlus, MinHash

        identity = lambda x: x  # noqa: E731 - keys are already uniform 64-bit hashes
        self.ns, self.top_k = ns, top_k
        self.hll = {n: HyperLogLogPlusPlus(p=p, hashfunc=identity) for n in ns}
        self.mg = {n: MisraGries(capacity) for n in ns}
        self.totals = dict.fromkeys(ns, 0)
        self.mass = np.zeros(N_BUCKETS)
        self.names: dict[int, str] = {}  # readable text of heavy-hitter keys
        self.signatures: list[np.ndarray] = []
        self.docs = self.tokens = 0
        self._template = MinHash(num_perm=128, seed=seed, hashfunc=_identity)
        self.scheme = getattr(self._template, "scheme", None)  # datasketch >= 2.0 names it

    def add(self, texts: Sequence[str], chunk_docs: int) -> None:
        """Add documents (their signatures in order), flushing the counters every ``chunk_docs``."""
        findall = WORD_PATTERN.findall
        batch: list[list[str]] = []
        for text in texts:
            toks = findall(text.lower())
            m = self._template.copy()
            m.update_batch(shingle_hashes(_word_hashes(toks), np.array([len(toks)]))[0].tolist())
            self.signatures.append(np.asarray(m.hashvalues))
            self.docs += 1
            batch.append(toks)
            if len(batch) >= chunk_docs:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)

    def merge(self, other: _Sketch) -> None:
        """Add the sketch of the documents that follow this one's."""
        for n in self.ns:
            self.hll[n].merge(other.hll[n])
            self.mg[n].merge(other.mg[n])
            self.totals[n] += other.totals[n]
        self.mass += other.mass
        for key, name in other.names.items():
            self.names.setdefault(key, name)
        self.signatures.extend(other.signatures)
        self.docs += other.docs
        self.tokens += other.tokens

    def _flush(self, batch: list[list[str]]) -> None:
        import pandas as pd

        flat = [w for toks in batch for w in toks]
        lengths = np.fromiter((len(t) for t in batch), np.int64, len(batch))
        self.tokens += len(flat)
        h = _word_hashes(flat) if flat else np.zeros(0, np.uint64)
        for n in self.ns:
            uk, uc = _count(_keys(h, lengths, n))
            self.totals[n] += int(uc.sum())
            for key in uk.tolist():
                self.hll[n].update(key)
            self.mg[n].update(uk, uc)
        # DSIR buckets: sha256 once per distinct uni/bigram string of the chunk
        grams = pd.Series(flat, dtype=object).value_counts()
        bi = pd.Series(
            [f"{a} {b}" for t in batch for a, b in itertools.pairwise(t)], dtype=object
        ).value_counts()
        for series in (grams, bi):
            b = np.fromiter((dsir_bucket(s) for s in series.index), np.int64, series.size)
            np.add.at(self.mass, b, series.to_numpy(dtype=np.float64))
        # names for the current heavy hitters (a sketch merged later names its own too)
        for n in self.ns:
            want = set(self.mg[n].top(self.top_k)[0].tolist()) - self.names.keys()
            if not want:
                continue
            for toks in batch:
                if len(toks) < n:
                    continue
                kh = _keys(_word_hashes(toks), np.array([len(toks)]), n)
                for i in np.flatnonzero(np.isin(kh, list(want))):
                    key = int(kh[i])
                    if key not in self.names:
                        self.names[key] = " ".join(toks[i : i + n])
                        want.discard(key)
                if not want:
                    break

    def result(self, name: str, compression_ratio: float, seed: int):
        """The corpus's :class:`CorpusNgrams` and error bounds; near-duplicates from the
        signatures, in document order."""
        from datasketch import LeanMinHash, MinHashLSH

        lsh = MinHashLSH(threshold=0.8, num_perm=128)
        dup: set[int] = set()
        for i, hv in enumerate(self.signatures):
            lm = LeanMinHash(seed=seed, hashvalues=hv, **({"scheme": self.scheme} if self.scheme else {}))
            for j in lsh.query(lm):
                dup.update((i, j))
            lsh.insert(i, lm, check_duplication=False)
        stats, top = [], {}
        for n in self.ns:
            total = self.totals[n]
            distinct = min(round(self.hll[n].count()), total)
            _, counts = self.mg[n].top(1000)
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
            tk, tc = self.mg[n].top(self.top_k)
            top[n] = [(self.names.get(int(k), f"#{int(k):016x}"), int(c)) for k, c in zip(tk, tc)]
        mass = self.mass.copy()
        if mass.sum():
            mass /= mass.sum()
        nz = mass[mass > 0]
        hashed = HashedBuckets(
            N_BUCKETS,
            float(-(nz * np.log2(nz)).sum()),
            float(np.sort(mass)[::-1][: N_BUCKETS // 100].sum()),
            mass,
        )
        result = CorpusNgrams(
            name=name,
            documents=self.docs,
            tokens=self.tokens,
            by_n=stats,
            hashed=hashed,
            compression_ratio=compression_ratio,
            near_duplicate_rate=len(dup) / self.docs if self.docs > 1 else 0.0,
            top=top,
            rank_counts={n: self.mg[n].top(10_000)[1] for n in self.ns},
        )
        capacity = next(iter(self.mg.values())).capacity
        bounds = {
            n: {
                "count_error_bound": self.mg[n].error_bound,
                "top100_mass_max_error": min(1.0, 100 / (capacity + 1)),
                "top1000_mass_max_error": min(1.0, 1000 / (capacity + 1)),
            }
            for n in self.ns
        }
        return result, bounds


class SketchWorker(Worker):
    """Sketches one run of texts (a :class:`_Sketch` with ``params``; runs merge in order)."""

    def __init__(self, params: dict[str, Any], chunk_docs: int):
        self.params, self.chunk_docs = params, chunk_docs

    def __call__(self, batch: list[str]) -> _Sketch:
        sketch = _Sketch(**self.params)
        sketch.add(batch, self.chunk_docs)
        return sketch


def _sketch_one(corpus: Corpus, ns, *, capacity, p, chunk_docs, seed, top_k, executor: Executor):
    """One corpus's sketch: runs of ``chunk_docs`` documents sketched by ``executor``'s workers
    and merged here in document order (the gzip ratio streams here, as the runs are read)."""
    gz = ChunkedGzip()

    def texts():
        for doc in corpus:
            gz.add(doc.text)
            yield doc.text

    worker = SketchWorker(dict(ns=ns, capacity=capacity, p=p, seed=seed, top_k=4 * top_k), chunk_docs)
    sketch = _Sketch(ns, capacity=capacity, p=p, seed=seed, top_k=top_k)
    for part in executor.map_batches(worker, batched(texts(), chunk_docs)):
        sketch.merge(part)
    return sketch.result(corpus.name, gz.ratio(), seed)


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
    executor: Executor | str | None = None,
) -> NgramResult:
    """Bounded-memory variant of :func:`~toedit_stats.analyzers.ngrams.analyze_ngrams`.

    Memory is O(capacity + 2**p + buckets) per corpus and n, plus one chunk of documents and one
    MinHash signature per document. See the module docstring for what is estimated and how well.
    Runs of ``chunk_docs`` documents are sketched by ``executor``'s workers (default: this
    process; see :mod:`toedit_stats.execution`) and merged here in order: counts, distinct
    estimates, DSIR buckets, the gzip ratio and near-duplicates do not depend on the executor;
    Misra–Gries counts stay within the stated bound.
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
    executor = resolve_executor(executor)
    for c in corpora:
        r, b = _sketch_one(
            c, ns, capacity=capacity, p=p, chunk_docs=chunk_docs, seed=seed, top_k=top, executor=executor
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
