r"""DSIR importance resampling (Xie et al. 2023, p-lambda/dsir, package ``data-selection``): pick the
documents of a raw corpus that look like a target corpus under hashed n-gram features.

Features: every lower-cased WordPunct unigram and bigram (bigram = the two words joined by a
space) hashed by ``int(sha256(utf8).hexdigest(), 16) % 10000`` —
``data_selection.hashed_ngram_dsir.get_ngram_counts``, tested equal on any text: words are split by
NLTK's own pattern on the ``regex`` engine NLTK uses (:data:`DSIR_WORDS`), whose ``\w`` also covers
combining marks, zero-width joiners and connector punctuation and splits "co²" as "co", "²"
(the analyzers' ``re`` pattern, :mod:`toedit_stats.tokenize`, differs on those characters only). Each corpus is a
bag of buckets with probabilities ``p = counts / total``; a document's **log importance weight**
is ``sum_b count_b(doc) * (log(p_target[b] + 1e-8) - log(p_raw[b] + 1e-8))`` (DSIR's
``log_diff``, 1e-8 as in the package). Selection draws ``n`` documents without replacement with
probability proportional to the weights by Gumbel top-k: the ``n`` largest ``log w + Gumbel``
noise, from a seeded generator (the package uses numpy's global one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from .analyzers.ngrams import N_BUCKETS, dsir_bucket

__all__ = ["DSIR_WORDS", "dsir_features", "dsir_log_diff", "dsir_log_weights", "gumbel_top_k"]


def _dsir_words():
    import regex

    return regex.compile(r"\w+|[^\w\s]+")  # nltk.WordPunctTokenizer's pattern, on its engine


DSIR_WORDS = _dsir_words()


def dsir_features(texts: Sequence[str], buckets: int = N_BUCKETS):
    """Sparse ``(documents, buckets)`` counts of hashed unigrams and bigrams (scipy CSR). Words
    are coded once with numpy; each distinct word and each distinct bigram is hashed once."""
    from scipy.sparse import csr_matrix

    from .tokenize import encode_texts

    vocab, codes, lengths = encode_texts(texts, DSIR_WORDS.findall)  # streaming: ids, not strings
    codes = codes.astype(np.int64)  # the bigram keys below are products of ids
    n_docs = len(texts)
    if not lengths.sum():
        return csr_matrix((n_docs, buckets), dtype=np.float64)
    doc = np.repeat(np.arange(n_docs), lengths)
    uni = np.fromiter((dsir_bucket(w, buckets) for w in vocab), np.int64, len(vocab))[codes]
    # bigrams within a document: a position and the next one in the same document
    same = doc[:-1] == doc[1:]
    pair = codes[:-1][same] * len(vocab) + codes[1:][same]
    distinct, inverse = np.unique(pair, return_inverse=True)
    V = len(vocab)
    raw = [w.encode("utf-8") + b" " for w in vocab], [w.encode("utf-8") for w in vocab]
    sha = hashlib.sha256
    bi = np.fromiter(  # sha256 of "a b" (DSIR's bigram string), from bytes encoded once per word
        (
            int.from_bytes(sha(raw[0][k // V] + raw[1][k % V]).digest(), "big") % buckets
            for k in distinct.tolist()
        ),
        np.int64,
        len(distinct),
    )[inverse]
    rows = np.concatenate([doc, doc[:-1][same]])
    cols = np.concatenate([uni, bi])
    m = csr_matrix((np.ones(rows.size, np.float64), (rows, cols)), shape=(n_docs, buckets))
    m.sum_duplicates()
    return m


def dsir_log_diff(raw, target) -> np.ndarray:
    """DSIR's per-bucket ``log(p_target + 1e-8) - log(p_raw + 1e-8)`` from the feature rows of the
    raw pool and of the target corpus."""
    raw_counts = np.asarray(raw.sum(axis=0), np.float64).ravel()
    target_counts = np.asarray(target.sum(axis=0), np.float64).ravel()
    p_raw = raw_counts / raw_counts.sum() if raw_counts.sum() else raw_counts
    p_target = target_counts / target_counts.sum() if target_counts.sum() else target_counts
    return np.log(p_target + 1e-8) - np.log(p_raw + 1e-8)


def dsir_log_weights(raw, target) -> np.ndarray:
    """Log importance weights of the rows of ``raw`` (features of the documents to weigh) under the
    bag-of-buckets models fitted on ``raw`` and ``target`` (features of the target corpus)."""
    return np.asarray(raw @ dsir_log_diff(raw, target)).ravel()


def gumbel_top_k(log_weights: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` items drawn without replacement with probability proportional to
    ``exp(log_weights)`` (Gumbel top-k), sorted; seeded."""
    n = min(int(n), len(log_weights))
    noisy = np.asarray(log_weights, np.float64) + np.random.default_rng(seed).gumbel(size=len(log_weights))
    return np.sort(np.argpartition(-noisy, n - 1)[:n]) if n > 0 else np.zeros(0, np.int64)
