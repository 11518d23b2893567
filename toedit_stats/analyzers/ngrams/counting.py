"""Exact counting: one vocabulary for all corpora, n-gram keys, sorted runs, DSIR buckets."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ...corpus import Corpus
from ...errors import ConfigError
from ...tokenize import WORD_PATTERN
from .records import _MIX, N_BUCKETS, HashedBuckets


def dsir_bucket(text: str, buckets: int = N_BUCKETS) -> int:
    """DSIR's ``hash_buckets``: ``int(sha256(text).hexdigest(), 16) % buckets``."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big") % buckets


# ---------------------------------------------------------------------------------------------
# tokenised corpora


@dataclass
class _Tokenized:
    name: str
    codes: np.ndarray  # int32 word ids into the shared vocabulary, documents concatenated
    lengths: np.ndarray  # words per document
    texts: list[str]  # kept for compression and shingles (exact mode holds the corpus anyway)
    ids: list[str] = field(default_factory=list)  # document ids (equal-size selection, bootstrap)

    @property
    def documents(self) -> int:
        return int(self.lengths.size)

    def subset(self, docs: np.ndarray) -> _Tokenized:
        starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        parts = [self.codes[starts[i] : starts[i] + self.lengths[i]] for i in docs]
        codes = np.concatenate(parts) if parts else np.zeros(0, self.codes.dtype)
        return _Tokenized(
            self.name, codes, self.lengths[docs], [self.texts[i] for i in docs], [self.ids[i] for i in docs]
        )


def _tokenize_all(corpora: Sequence[Corpus]):
    """Tokenise every corpus and give words ids from one shared vocabulary (in order of first
    occurrence), streaming through :func:`~toedit_stats.tokenize.encode_texts`: about 260,000
    words at a time are held as Python strings; the corpus keeps only int32 ids (4 bytes a word)
    and the texts."""
    from ...tokenize import WordEncoder, encode_texts

    enc = WordEncoder()
    out = []
    for corpus in corpora:
        docs = list(corpus)
        texts = [d.text for d in docs]
        _, codes, lengths = encode_texts(texts, WORD_PATTERN.findall, enc)
        out.append(_Tokenized(corpus.name, codes, lengths, texts, [d.id for d in docs]))
    return out, np.asarray(enc.vocab, dtype=object)


_BLOCK = 1 << 20  # elements per block of the blocked array passes
_DOC_BLOCK = 1 << 18  # words per run of documents for the bootstrap's per-document counts
_HASH_BLOCK = 1 << 16  # new n-grams hashed into DSIR buckets at a time
PARALLEL_WORDS = 4_000_000  # corpora are counted in parallel threads up to this many words in all


def _runs(s: np.ndarray, valid: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and run lengths of the sorted ``s[:valid]`` (default: all of it). ``s``
    is consumed: a first pass counts the runs, a second writes their starts into the counts
    array and compacts the distinct values into the front of ``s`` block by block (each block's
    values move to positions before it), and the starts become run lengths in place; so the
    only new large array is the int32 (int64 above 2**31 words) counts. Keys come back as
    uint64."""
    if valid is None:
        valid = s.size
    if valid == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)

    def flags(b0: int) -> np.ndarray:
        blk = s[b0 : min(valid, b0 + _BLOCK)]
        flag = np.empty(blk.size, bool)
        flag[0] = b0 == 0 or blk[0] != s[b0 - 1]
        np.not_equal(blk[1:], blk[:-1], out=flag[1:])
        return flag

    blocks = range(0, valid, _BLOCK)
    w = sum(int(np.count_nonzero(flags(b0))) for b0 in blocks)
    counts = np.empty(w, np.int32 if valid < 2**31 else np.int64)
    at = 0
    for b0 in blocks:  # s[at:] is only written after block b0 was read (at <= b0)
        pos = np.flatnonzero(flags(b0))
        counts[at : at + pos.size] = pos + b0
        s[at : at + pos.size] = s[b0 + pos]
        at += pos.size
    last = valid - int(counts[-1])
    for b0 in range(0, w - 1, _BLOCK):  # counts[i] = start[i + 1] - start[i], block by block
        b1 = min(w - 1, b0 + _BLOCK)
        counts[b0:b1] = counts[b0 + 1 : b1 + 1] - counts[b0:b1]
    counts[-1] = last
    if s.dtype == np.uint64 and s.flags.owndata:
        s.resize(w, refcheck=False)  # give the tail back
        keys = s
    else:
        keys = s[:w].astype(np.uint64)
    return keys, counts


class _Counter:
    """Exact n-gram counting over a shared vocabulary of size ``V``."""

    def __init__(self, vocab: np.ndarray):
        self.vocab = vocab
        self.V = max(1, len(vocab))
        self.word_hashes = word_hashes(vocab) if len(vocab) else np.zeros(0, np.uint64)
        self._bucket_memo: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def buckets(self, n: int, keys: np.ndarray) -> np.ndarray:
        """DSIR bucket (int16) of each unigram id (n = 1) or bigram key (n = 2), memoised (one
        sha256 per distinct n-gram for the whole analysis; the memo is a sorted key array with
        int16 buckets, searched in one vectorised pass, and new n-grams are hashed
        :data:`_HASH_BLOCK` at a time)."""
        keys = np.asarray(keys, np.uint64)
        mk, mv = self._bucket_memo.get(n, (np.zeros(0, np.uint64), np.zeros(0, np.int16)))
        pos = np.searchsorted(mk, keys)
        known = pos < mk.size
        known[known] = mk[pos[known]] == keys[known]
        if not known.all():
            new = keys[~known] if known.any() else keys
            del known, pos
            # the callers pass sorted distinct keys (from the counting); anything else is sorted here
            if new.size > 1 and not (new[1:] > new[:-1]).all():
                new = np.unique(new)
            vals = np.empty(new.size, np.int16)
            sha, frm = hashlib.sha256, int.from_bytes
            for b0 in range(0, new.size, _HASH_BLOCK):
                ks = new[b0 : b0 + _HASH_BLOCK].astype(np.int64)
                if n == 1:
                    strings = self.vocab[ks].tolist()
                elif self.exact(2):
                    strings = [
                        f"{a} {b}"
                        for a, b in zip(self.vocab[ks // self.V].tolist(), self.vocab[ks % self.V].tolist())
                    ]
                else:  # pragma: no cover - vocabularies above 2**31 words
                    raise ConfigError("vocabulary too large for exact bigram decoding; use --sketch")
                vals[b0 : b0 + ks.size] = np.fromiter(
                    (frm(sha(st.encode("utf-8")).digest(), "big") % N_BUCKETS for st in strings),
                    np.int16,
                    len(strings),
                )
            if mk.size:
                at = np.searchsorted(mk, new)
                mk, mv = np.insert(mk, at, new), np.insert(mv, at, vals)
                del at
            else:
                mk, mv = new, vals  # may be ``keys`` itself: the memo never modifies it
            del new, vals
            self._bucket_memo[n] = (mk, mv)
            pos = np.searchsorted(mk, keys)
        return mv[pos] if keys.size else np.zeros(0, np.int16)

    def exact(self, n: int) -> bool:
        return n * math.log2(self.V) < 63.9

    def keys(self, tc: _Tokenized, n: int, positions: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Keys of every n-gram that does not cross a document boundary, and their start
        positions (``None`` unless ``positions``)."""
        codes = tc.codes
        N = codes.size
        if n > N:
            return np.zeros(0, np.uint64), (np.zeros(0, np.int64) if positions else None)
        if n == 1:
            return codes.astype(np.uint64), (np.arange(N) if positions else None)
        # remaining words in the document from each position (int32 halves this temporary)
        ends = np.cumsum(tc.lengths)
        idx = np.int32 if N < 2**31 else np.int64
        remaining = np.repeat(ends.astype(idx), tc.lengths)
        remaining -= np.arange(N, dtype=idx)
        m = N - n + 1
        valid = remaining[:m] >= n
        del remaining
        k = self.window_keys(codes, n)
        if not positions:
            return k[valid], None
        starts = np.flatnonzero(valid)
        return k[valid], starts

    def key_type(self, n: int) -> type:
        """uint32 for exact keys that fit, else uint64."""
        return np.uint32 if self.exact(n) and self.V**n < 2**32 else np.uint64

    def window_keys(self, codes: np.ndarray, n: int) -> np.ndarray:
        """The key of every window of ``n`` consecutive word ids of ``codes`` (documents are not
        looked at): exact keys are the base-``V`` numbers of the ids (:meth:`key_type`), others
        a 64-bit mix (:func:`mix_windows`)."""
        if not self.exact(n):
            return mix_windows(codes.astype(np.uint64), n)
        m = codes.size - n + 1
        dtype = self.key_type(n)
        if m <= 0:
            return np.zeros(0, dtype)
        k = codes[:m].astype(dtype)
        V = dtype(self.V)
        for j in range(1, n):
            k *= V
            k += codes[j : m + j].astype(dtype)
        return k

    def count(
        self, tc: _Tokenized, n: int, positions: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(sorted distinct keys, their counts, all keys, start positions); without
        ``positions`` the last two are ``None`` and the counting runs in about 9 bytes per word
        beyond the result (:meth:`_count_lean`)."""
        if n == 1:
            counts = np.bincount(tc.codes, minlength=self.V)
            nz = np.flatnonzero(counts)
            k, starts = self.keys(tc, 1) if positions else (None, None)
            return nz.astype(np.uint64), counts[nz], k, starts
        if not positions:
            keys, counts = self._count_lean(tc, n)
            return keys, counts, None, None
        k, starts = self.keys(tc, n, positions)
        s = np.sort(k)
        if s.size == 0:
            return s.astype(np.uint64), np.zeros(0, np.int64), k, starts
        keys, counts = _runs(s)
        return keys, counts, k, starts

    def _count_lean(self, tc: _Tokenized, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct n-gram keys and counts with one key array as the only large buffer: keys
        written block by block (:meth:`window_keys`), windows that cross a document boundary set to the key
        type's maximum (which no valid key takes) and sorted to the end, then the distinct keys
        compacted into the front of the same buffer."""
        codes = tc.codes
        N = codes.size
        m = N - n + 1
        if m <= 0:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        dtype = self.key_type(n)
        top = np.iinfo(dtype).max
        k = np.empty(m, dtype)
        for b0 in range(0, m, _BLOCK):
            b1 = min(m, b0 + _BLOCK)
            kb = k[b0:b1]
            kb[:] = self.window_keys(codes[b0 : b1 + n - 1], n)
            if not self.exact(n):  # the sentinel stays free: a hash equal to it moves one down
                kb[kb == top] = top - 1
        # a window starting at one of a document's last n - 1 words crosses its end
        ends = np.cumsum(tc.lengths)
        invalid = 0
        for o in range(1, n):
            at = ends[(tc.lengths >= o) & (ends - o < m)] - o
            k[at] = top
            invalid += at.size
        k.sort()
        valid = m - invalid
        if valid == 0:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        return _runs(k, valid)

    def decode(self, tc: _Tokenized, n: int, all_keys, starts, top_keys) -> list[str]:
        """Text of each key in ``top_keys``: exact keys are base-``V`` numbers of their word ids,
        decoded arithmetically; hashed keys (vocabularies too large for exact keys) are looked up
        in one vectorised pass over ``all_keys`` (their first occurrence)."""
        top = np.asarray(top_keys, np.uint64)
        if top.size == 0:
            return []
        if n == 1 or self.exact(n):
            V = np.uint64(self.V)
            digits = np.empty((top.size, n), np.int64)
            k = top.copy()
            for j in range(n - 1, -1, -1):
                digits[:, j] = (k % V).astype(np.int64)
                k //= V
        else:
            all_keys = np.asarray(all_keys, np.uint64)
            hit = np.flatnonzero(np.isin(all_keys, top))
            found, first = np.unique(all_keys[hit], return_index=True)
            at = np.asarray(starts)[hit[first[np.searchsorted(found, top)]]]
            digits = tc.codes[at[:, None] + np.arange(n)]
        words = self.vocab[digits]
        return [" ".join(row) for row in words.tolist()]


def _hashed_buckets(counter: _Counter, tc: _Tokenized, uni, bi) -> HashedBuckets:
    """DSIR featurisation from exact unigram and bigram counts (sha256 once per distinct n-gram)."""
    mass = np.zeros(N_BUCKETS, dtype=np.float64)
    ukeys, ucounts = uni
    if ukeys.size:
        mass += np.bincount(counter.buckets(1, ukeys), weights=ucounts, minlength=N_BUCKETS)
    bkeys, bcounts = bi
    if bkeys.size:
        mass += np.bincount(counter.buckets(2, bkeys), weights=bcounts, minlength=N_BUCKETS)
    total = mass.sum()
    if total > 0:
        mass /= total
    nz = mass[mass > 0]
    entropy = float(-(nz * np.log2(nz)).sum())
    top = float(np.sort(mass)[::-1][: N_BUCKETS // 100].sum())
    return HashedBuckets(N_BUCKETS, entropy, top, mass)


def mix_windows(h: np.ndarray, n: int) -> np.ndarray:
    """64-bit hash of every window of ``n`` consecutive values of ``h`` (uint64), vectorised."""
    m = h.size - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64)
    k = h[:m].copy()
    for j in range(1, n):
        k = (k ^ (k >> np.uint64(29))) * _MIX + h[j : m + j]
    return k


def word_hashes(words: np.ndarray) -> np.ndarray:
    """Stable 64-bit hashes of word strings (pandas' SipHash with its fixed key)."""
    import pandas as pd

    return pd.util.hash_array(np.asarray(words, dtype=object), categorize=True)
