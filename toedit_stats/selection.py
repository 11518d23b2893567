"""DSIR importance resampling (Xie et al. 2023, p-lambda/dsir, package ``data-selection``): pick the
documents of a raw corpus that look like a target corpus under hashed n-gram features.

Features: every lower-cased WordPunct unigram and bigram (bigram = the two words joined by a
space) hashed by ``int(sha256(utf8).hexdigest(), 16) % 10000`` — the n-gram analyzer's DSIR
buckets and ``data_selection.hashed_ngram_dsir.get_ngram_counts`` (tested equal). Each corpus is a
bag of buckets with probabilities ``p = counts / total``; a document's **log importance weight**
is ``sum_b count_b(doc) * (log(p_target[b] + 1e-8) - log(p_raw[b] + 1e-8))`` (DSIR's
``log_diff``, 1e-8 as in the package). Selection draws ``n`` documents without replacement with
probability proportional to the weights by Gumbel top-k: the ``n`` largest ``log w + Gumbel``
noise, from a seeded generator (the package uses numpy's global one).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from .analyzers.ngrams import N_BUCKETS, dsir_bucket
from .tokenize import WORD_PATTERN

__all__ = ["dsir_features", "dsir_log_diff", "dsir_log_weights", "gumbel_top_k"]


def dsir_features(texts: Sequence[str], buckets: int = N_BUCKETS):
    """Sparse ``(documents, buckets)`` counts of hashed unigrams and bigrams (scipy CSR); each
    distinct n-gram is hashed once."""
    from scipy.sparse import csr_matrix

    memo: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        words = WORD_PATTERN.findall(text.lower())
        grams = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        for g in grams:
            b = memo.get(g)
            if b is None:
                b = memo[g] = dsir_bucket(g, buckets)
            cols.append(b)
        rows.extend([i] * len(grams))
    data = np.ones(len(cols), np.float64)
    return csr_matrix((data, (rows, cols)), shape=(len(texts), buckets))


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
