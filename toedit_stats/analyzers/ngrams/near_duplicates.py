"""Word hashes, shingles and MinHash LSH near-duplicates."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from . import counting
from .counting import mix_windows


def shingle_hashes(h: np.ndarray, lengths: np.ndarray, k: int = 5) -> list[np.ndarray]:
    """Per document, 32-bit hashes of its word ``k``-shingles, from stable word hashes ``h``
    (documents concatenated, ``lengths`` words each). A document shorter than ``k`` words is
    one shingle of all its words."""
    return list(iter_shingle_hashes(np.asarray(h, np.uint64), None, lengths, k))


def document_runs(lengths: np.ndarray, words: int) -> Iterator[tuple[int, int, int, int]]:
    """``(d0, d1, w0, w1)``: consecutive runs of documents ``d0..d1-1`` of about ``words``
    words in all (at least one document each), and their word span ``w0:w1``."""
    ends = np.cumsum(lengths)
    starts = ends - lengths
    d0 = 0
    while d0 < len(lengths):
        d1 = max(d0 + 1, int(np.searchsorted(ends, starts[d0] + words, side="right")))
        yield d0, d1, int(starts[d0]), int(ends[d1 - 1])
        d0 = d1


def iter_shingle_hashes(
    word_hash: np.ndarray, codes: np.ndarray | None, lengths: np.ndarray, k: int = 5
) -> Iterator[np.ndarray]:
    """:func:`shingle_hashes` one document at a time, computed for runs of documents of about
    :data:`~toedit_stats.analyzers.ngrams.counting._BLOCK` words: the word hashes are ``word_hash[codes]`` (or ``word_hash`` itself when
    ``codes`` is ``None``), never materialised for the whole corpus."""
    lengths = np.asarray(lengths, np.int64)
    mask32 = np.uint64(0xFFFFFFFF)
    for d0, d1, w0, w1 in document_runs(lengths, counting._BLOCK):
        h = word_hash[w0:w1] if codes is None else word_hash[codes[w0:w1]]
        keys = mix_windows(h, k) & mask32
        s0 = 0
        for ln in lengths[d0:d1].tolist():
            if ln >= k:
                yield keys[s0 : s0 + ln - k + 1]
            elif ln > 0:
                yield mix_windows(h[s0 : s0 + ln], ln) & mask32
            else:
                yield np.zeros(1, np.uint64)
            s0 += ln


def near_duplicate_rate(
    shingles: Iterable[np.ndarray], *, threshold: float = 0.8, num_perm: int = 128, seed: int = 0
) -> float:
    """Share of documents with a MinHash-LSH neighbour at estimated Jaccard ≥ ``threshold``.

    ``shingles`` holds (or yields) each document's 32-bit shingle hashes (see
    :func:`shingle_hashes`); they feed ``datasketch.MinHash.update_batch`` through an identity
    hash function.
    """
    docs = 0

    def counted():
        nonlocal docs
        for hv in shingles:
            docs += 1
            yield hv

    dup: set[int] = set()
    for pair in near_duplicate_pairs(counted(), threshold=threshold, num_perm=num_perm, seed=seed):
        dup.update(pair)
    return len(dup) / docs if docs >= 2 else 0.0


def near_duplicate_pairs(
    shingles: Iterable[np.ndarray], *, threshold: float = 0.8, num_perm: int = 128, seed: int = 0
) -> Iterator[tuple[int, int]]:
    """``(i, j)`` with ``j < i`` for every document pair that ``datasketch.MinHashLSH`` finds at
    estimated Jaccard ≥ ``threshold`` (the near-duplicate rate and the per-document clusters of
    :mod:`toedit_stats.scores` both come from here)."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH
    from datasketch import minhash as _mh

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    template = MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity)
    # datasketch's own CPU update on the numpy hash values directly (the same signature as
    # update_batch, without its Python call per shingle); any other datasketch: update_batch
    update = _signature_update(template, _mh)
    try:
        for i, hv in enumerate(shingles):
            m = template.copy()
            if update is not None and hv.size:
                m.hashvalues = update(m.hashvalues, hv)
            else:
                m.update_batch(hv.tolist())
            lm = LeanMinHash(m)
            for j in lsh.query(lm):
                yield i, j
            lsh.insert(i, lm, check_duplication=False)
    finally:
        # MinHashLSH refers to itself (a bound method kept as an attribute): without this its
        # tables wait for the cyclic garbage collector
        lsh.__dict__.clear()


def _signature_update(template: Any, mh: Any):
    """``(hashvalues, shingle hashes) -> hashvalues``: MinHash's CPU update of datasketch 2.x
    (schemes ``affine32``/``affine64``/``legacy``) in numpy, or ``None`` when this datasketch
    does not have those internals."""
    a, b = template.permutations
    scheme = getattr(template, "scheme", None)
    try:
        if scheme == mh._SCHEME_LEGACY:
            prime, max_hash = np.uint64(mh._mersenne_prime), np.uint64(mh._max_hash)
            return lambda base, hv: np.minimum(
                base, ((hv.astype(np.uint64)[:, None] * a + b) % prime & max_hash).min(0)
            )
        width, dtype, fmix = mh._SCHEME_WIDTHS[scheme], mh._SCHEME_DTYPES[scheme], mh._fmix
    except (AttributeError, KeyError):
        return None

    def update(base, hv):
        with np.errstate(over="ignore"):
            phv = fmix(hv.astype(dtype).reshape(-1, 1), width) * a + b
        return np.minimum(base, phv.min(axis=0))

    return update


def _identity(x: int) -> int:
    return x
