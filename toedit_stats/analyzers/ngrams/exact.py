"""The exact analysis of tokenised corpora: counts, pairs, distinctive bigrams, equal-size subsets."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..._threads import worker_threads
from ...stats import id_order
from .bootstrap import _top_indices
from .compression import compression_ratio
from .counting import PARALLEL_WORDS, _Counter, _hashed_buckets, _Tokenized
from .divergence import ngram_metrics, pair_stats
from .near_duplicates import iter_shingle_hashes, near_duplicate_rate
from .records import CorpusNgrams, NgramPair, NgramStats
from .result import NgramResult


def _analyze_tokenized(
    toks: list[_Tokenized],
    counter: _Counter,
    ns: tuple[int, ...],
    top_k: int,
    seed: int,
    distinctive: tuple[int, bool] | None = None,
    bigrams_out: list[np.ndarray] | None = None,
) -> NgramResult:
    """Every corpus one n-gram order at a time: the counts of an order are kept only while its
    statistics and the pairs with the reference are computed (the reference's until the order
    is done), except unigrams and bigrams, which the DSIR buckets and the distinctive bigrams
    use. Corpora are counted in parallel threads while they total under
    :data:`PARALLEL_WORDS` words. ``bigrams_out``, if given, receives each corpus's distinct
    bigram keys (for :func:`_contributions`)."""
    from scipy.spatial.distance import jensenshannon

    orders = sorted(set(ns) | {1, 2})
    stats: list[list[NgramStats]] = [[] for _ in toks]
    top: list[dict[int, list]] = [{} for _ in toks]
    rank_counts: list[dict[int, np.ndarray]] = [{} for _ in toks]
    counted: list[dict[int, tuple[np.ndarray, np.ndarray]]] = [{} for _ in toks]
    occurrences: list[tuple] = [(None, None) for _ in toks]  # bigram keys and starts (hashed keys)
    pair_of: dict[tuple[int, int], tuple[float, float]] = {}
    total_words = sum(int(tc.codes.size) for tc in toks)
    workers = min(len(toks), worker_threads()) if total_words <= PARALLEL_WORDS else 1
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        for n in orders:
            positions = not counter.exact(n)  # hashed keys are decoded from their first occurrence

            def one(ci: int, n: int = n, positions: bool = positions):
                tc = toks[ci]
                keys, counts, all_keys, starts = counter.count(tc, n, positions)
                if n == 2:
                    occurrences[ci] = (all_keys, starts)
                if n in ns:
                    stats[ci].append(ngram_metrics(counts, n))
                    order = _top_indices(counts, max(10_000, top_k))
                    rank_counts[ci][n] = counts[order[:10_000]]
                    tk = order[:top_k]
                    text = counter.decode(tc, n, all_keys, starts, keys[tk])
                    top[ci][n] = list(zip(text, counts[tk].tolist()))
                return keys, counts

            ref = None
            indices = range(len(toks))
            results = pool.map(one, indices) if pool is not None else (one(ci) for ci in indices)
            for ci, (keys, counts) in zip(indices, results):
                if n in (1, 2):
                    counted[ci][n] = (keys, counts)
                if n in ns:
                    if ci == 0:
                        ref = (keys, counts)
                    else:
                        pair_of[(ci, n)] = pair_stats(*ref, keys, counts)
                del keys, counts
            del ref
    finally:
        if pool is not None:
            pool.shutdown()
    corpora: list[CorpusNgrams] = []
    for ci, tc in enumerate(toks):
        corpora.append(
            CorpusNgrams(
                name=tc.name,
                documents=tc.documents,
                tokens=int(tc.codes.size),
                by_n=stats[ci],
                hashed=_hashed_buckets(counter, tc, counted[ci][1], counted[ci][2]),
                compression_ratio=compression_ratio(tc.texts),
                near_duplicate_rate=near_duplicate_rate(
                    iter_shingle_hashes(counter.word_hashes, tc.codes, tc.lengths), seed=seed
                ),
                top=top[ci],
                rank_counts=rank_counts[ci],
            )
        )
    pairs, hashed_pairs = [], []
    ref_corpus = corpora[0]
    for ci, other in enumerate(corpora[1:], start=1):
        for n in ns:
            js, cov = pair_of[(ci, n)]
            pairs.append(NgramPair(ref_corpus.name, other.name, n, js, cov))
        hashed_pairs.append(
            {
                "a": ref_corpus.name,
                "b": other.name,
                "js_divergence_bits": float(
                    jensenshannon(ref_corpus.hashed.mass, other.hashed.mass, base=2) ** 2
                ),
            }
        )
    distinct: dict[str, list[dict[str, Any]]] = {}
    if distinctive is not None:
        min_count, punctuation, min_docs = (*distinctive, 1)[:3]
        for j in range(1, len(toks)):
            distinct[toks[j].name] = distinctive_bigrams(
                counter,
                (toks[0], toks[j]),
                (counted[0][2], counted[j][2]),
                (occurrences[0], occurrences[j]),
                min_count=min_count,
                punctuation=punctuation,
                min_docs=min_docs,
            )
    if bigrams_out is not None:
        bigrams_out.extend(c[2][0] for c in counted)
    return NgramResult(corpora, pairs, hashed_pairs, ns, seed, distinctive=distinct)


def distinctive_bigrams(
    counter: _Counter,
    toks,
    counts,
    occurrences,
    *,
    min_count: int = 5,
    punctuation: bool = False,
    k: int = 20,
    min_docs: int = 1,
) -> list[dict[str, Any]]:
    """The ``k`` bigrams most over- and most under-represented in the second corpus relative to the
    first (the reference): ``log2_ratio = log2((c_b + ½) / (N_b + ½B)) − log2((c_a + ½) / (N_a + ½B))``
    (relative frequencies with add-½ smoothing over the ``B`` bigrams of either corpus), among
    bigrams seen at least ``min_count`` times in the two together and in at least ``min_docs``
    documents of the corpus where they are over-represented (so that one document repeating a
    phrase twenty times is not "distinctive"); bigrams with a word of punctuation only are skipped
    unless ``punctuation``. Rows carry the document counts (``docs_reference``, ``docs``)."""
    (ka, ca), (kb, cb) = counts
    keys = np.union1d(ka, kb)
    a = np.zeros(keys.size, np.float64)
    b = np.zeros(keys.size, np.float64)
    a[np.searchsorted(keys, ka)] = ca
    b[np.searchsorted(keys, kb)] = cb
    na, nb, half = a.sum(), b.sum(), 0.5 * keys.size
    if not (na and nb):
        return []
    lr = np.log2((b + 0.5) / (nb + half)) - np.log2((a + 0.5) / (na + half))
    da, db = (_doc_frequency(counter, t, keys) for t in toks)
    ok = np.flatnonzero(a + b >= min_count)
    over, under = ok[db[ok] >= min_docs], ok[da[ok] >= min_docs]
    rows: list[dict[str, Any]] = []
    for direction, order in (
        ("over", over[np.argsort(-lr[over], kind="stable")]),
        ("under", under[np.argsort(lr[under], kind="stable")]),
    ):
        found = 0
        for i in order[: 50 * k].tolist():
            side = 1 if b[i] > 0 else 0  # decode from a corpus where it occurs
            all_keys, starts = occurrences[side]
            text = counter.decode(toks[side], 2, all_keys, starts, [keys[i]])[0]
            if not punctuation and not all(any(ch.isalnum() for ch in w) for w in text.split(" ")):
                continue
            rows.append(
                {
                    "direction": direction,
                    "ngram": text,
                    "count_reference": int(a[i]),
                    "count": int(b[i]),
                    "docs_reference": int(da[i]),
                    "docs": int(db[i]),
                    "log2_ratio": float(lr[i]),
                }
            )
            found += 1
            if found == k:
                break
    return rows


def _doc_frequency(counter: _Counter, tc: _Tokenized, keys: np.ndarray) -> np.ndarray:
    """For each bigram key of ``keys`` (sorted), the number of documents of ``tc`` containing it."""
    k, starts = counter.keys(tc, 2, positions=True)
    out = np.zeros(keys.size, np.int64)
    if not k.size:
        return out
    doc = np.searchsorted(np.cumsum(tc.lengths), starts, side="right")
    order = np.lexsort((doc, k))
    ks, ds = k[order], doc[order]
    first = np.r_[True, (ks[1:] != ks[:-1]) | (ds[1:] != ds[:-1])]  # one (bigram, document) pair each
    uk, per = np.unique(ks[first], return_counts=True)
    at = np.searchsorted(keys, uk)
    hit = (at < keys.size) & (keys[np.minimum(at, keys.size - 1)] == uk)
    out[at[hit]] = per[hit]
    return out


def _equal_size(toks: list[_Tokenized], seed: int) -> tuple[list[_Tokenized], int]:
    target = min(int(t.codes.size) for t in toks)
    out = []
    for tc in toks:
        if tc.codes.size == target:
            out.append(tc)
            continue
        # documents in the order of a seeded hash of their id: corpora that share ids (a synthetic
        # corpus and its edited version) get the same subset, and the input order does not matter
        perm = np.array(id_order(tc.ids, seed), np.int64)
        cum = np.cumsum(tc.lengths[perm])
        k = max(1, int(np.searchsorted(cum, target, side="right")))
        out.append(tc.subset(np.sort(perm[:k])))
    return out, target
