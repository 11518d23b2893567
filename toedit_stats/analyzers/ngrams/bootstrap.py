"""Per-document bigram counts behind the bootstrap and the permutation tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import counting
from .counting import _Counter, _runs, _Tokenized
from .near_duplicates import document_runs
from .records import N_BUCKETS


def _contributions(
    toks: list[_Tokenized], counter: _Counter, bigram_keys: Sequence[np.ndarray]
) -> dict[str, Any]:
    """Per corpus: document ids and sparse per-document counts of bigrams (columns: the union of
    every corpus's distinct bigram keys, ``bigram_keys``, from the counting) and of DSIR hashed
    buckets (uni+bigrams), for the bootstrap. Built for runs of documents of about
    :data:`~toedit_stats.analyzers.ngrams.counting._DOC_BLOCK` words and stacked (:class:`CountRows`), so the temporaries are one run's."""
    uniq = np.zeros(0, np.uint64)
    for k in bigram_keys:
        uniq = _union_sorted(uniq, np.asarray(k, np.uint64))
    n_cols = max(1, uniq.size)
    # the DSIR bucket of every word id and of every distinct bigram, once
    word_bucket = (
        counter.buckets(1, np.arange(counter.V, dtype=np.uint64))
        if len(counter.vocab)
        else np.zeros(0, np.int16)
    )
    bigram_bucket = counter.buckets(2, uniq) if uniq.size else np.zeros(0, np.int16)

    def blocks(tc: _Tokenized):
        """Per run of documents: (rows, codes, word rows, bigram rows, bigram columns)."""
        for d0, d1, w0, w1 in document_runs(tc.lengths, counting._DOC_BLOCK):
            codes = tc.codes[w0:w1]
            doc = np.repeat(np.arange(d1 - d0, dtype=np.int32), tc.lengths[d0:d1])
            same = doc[:-1] == doc[1:]  # the bigram at each position stays in its document
            bdoc = doc[:-1][same]
            cols = np.searchsorted(uniq, counter.window_keys(codes, 2)[same]).astype(np.int32)
            del same
            yield d1 - d0, codes, doc, bdoc, cols

    out = {}
    for tc in toks:
        # two passes, one matrix each: the first is stacked before the second's blocks exist
        parts = [
            _compact(_sparse_counts(bdoc, cols, (rows, n_cols), np.uint32), n_cols)
            for rows, _, _, bdoc, cols in blocks(tc)
        ]
        bigrams = _stack_rows(parts, n_cols)
        for rows, codes, doc, bdoc, cols in blocks(tc):
            # unigram and bigram bucket counts built apart and added
            shape = (rows, N_BUCKETS)
            buckets = _sparse_counts(doc, word_bucket[codes], shape, np.uint32)
            if cols.size:
                buckets = buckets + _sparse_counts(bdoc, bigram_bucket[cols], shape, np.uint32)
            parts.append(_compact(buckets, N_BUCKETS))
            del buckets
        out[tc.name] = {"ids": list(tc.ids), "bigrams": bigrams, "buckets": _stack_rows(parts, N_BUCKETS)}
    return out


def _top_indices(counts: np.ndarray, r: int) -> np.ndarray:
    """``np.argsort(-counts, kind="stable")[:r]`` — the ``r`` largest counts by decreasing count,
    ties in index order — without sorting them all: the ``r``-th largest value from a partition,
    the indices above it, and the first of those equal to it."""
    d = counts.size
    if d <= r:
        return np.argsort(-counts, kind="stable")
    t = np.partition(counts, d - r)[d - r]
    greater = np.flatnonzero(counts > t)
    need = r - greater.size
    ties = []
    for b0 in range(0, d, counting._BLOCK):
        if need <= 0:
            break
        idx = np.flatnonzero(counts[b0 : b0 + counting._BLOCK] == t)[:need] + b0
        ties.append(idx)
        need -= idx.size
    cand = np.concatenate([greater, *ties])
    return cand[np.argsort(-counts[cand], kind="stable")]


def _union_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted union of two sorted arrays of distinct values (``np.union1d`` without its
    concatenation and sort): ``b``'s values missing from ``a``, inserted in place."""
    if a.size == 0:
        return b
    if b.size == 0:
        return a
    pos = np.minimum(np.searchsorted(a, b), a.size - 1)
    new = b[a[pos] != b]
    del pos
    return np.insert(a, np.searchsorted(a, new), new)


@dataclass(frozen=True)
class CountRows:
    """Per-document sparse counts, compactly: CSR arrays with uint16 column indices where the
    columns fit (the DSIR buckets) and uint16 counts where the counts fit; :meth:`tocsr` gives
    the ``scipy.sparse.csr_matrix``."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.data.size)

    def tocsr(self):
        from scipy.sparse import csr_matrix

        return csr_matrix((self.data, self.indices.astype(np.int32), self.indptr), shape=self.shape)


def _compact(m, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A CSR block as (row lengths, column indices, counts, rows), in the narrowest types."""
    col_type = np.uint16 if n_cols <= 2**16 else np.int32
    data_type = np.uint16 if not m.nnz or m.data.max() < 2**16 else np.uint32
    return np.diff(m.indptr), m.indices.astype(col_type), m.data.astype(data_type), m.shape[0]


def _stack_rows(parts: list, n_cols: int) -> CountRows:
    """Row blocks from :func:`_compact` stacked as one :class:`CountRows`, consuming ``parts``
    (each kind of array is concatenated in turn and its pieces released)."""
    n_rows = sum(p[3] for p in parts)
    lengths = [p[0] for p in parts]
    indices = [p[1] for p in parts]
    data = [p[2] for p in parts]
    parts.clear()
    indptr = np.zeros(n_rows + 1, np.int64)
    if n_rows:
        np.cumsum(np.concatenate(lengths), out=indptr[1:])
    del lengths
    indices = np.concatenate(indices) if indices else np.zeros(0, np.int32)
    data = np.concatenate(data) if data else np.zeros(0, np.uint16)
    if indptr[-1] < 2**31:
        indptr = indptr.astype(np.int32)
    return CountRows(indptr, indices, data, (n_rows, n_cols))


def _sparse_counts(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], dtype=np.float64):
    """``csr_matrix((ones, (rows, cols)), shape)`` with duplicates summed — built from the
    distinct (row, column) pairs and their counts (one sort of a 64-bit key), without the
    per-occurrence COO arrays; data of ``dtype``."""
    from scipy.sparse import csr_matrix

    n_rows, n_cols = shape
    if rows.size == 0:
        return csr_matrix(shape, dtype=dtype)
    key = rows.astype(np.uint64) * np.uint64(n_cols) + cols.astype(np.uint64)
    key.sort()
    distinct, counts = _runs(key)
    counts = counts.astype(dtype)
    row = distinct // np.uint64(n_cols)
    indptr = np.searchsorted(row, np.arange(n_rows + 1, dtype=np.uint64)).astype(np.int64)
    col = (distinct - row * np.uint64(n_cols)).astype(np.int32 if n_cols < 2**31 else np.int64)
    return csr_matrix((counts, col, indptr), shape=shape)
