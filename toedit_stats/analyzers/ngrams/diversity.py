"""Homogenisation across documents (Shaib et al. 2024, "Standardizing the measurement of text
diversity", arXiv 2403.00553, recommend reporting these next to the compression ratio):

**Self-repetition** (their definition, as the ``diversity`` package computes it): for each
document, its distinct ``n``-grams (n = 4), and for each the number of *other* documents that
contain it; the document's score is ``log(1 + that sum)``, the corpus's the mean over documents.
0 when no 4-gram is shared; it grows with repeated phrasing across documents.

**Self-BLEU** (Zhu et al. 2018, Texygen): each document's BLEU (n = 1..4, uniform weights,
brevity penalty, NLTK's ``sentence_bleu`` with ``SmoothingFunction().method1``) against all other
documents as references, averaged. Computed exactly in linear time: the clipped count of an
n-gram against "every other document" is ``min(count here, largest count in another
document)``, and the largest count elsewhere is the corpus maximum unless this document alone
holds it (then the second largest). Equal to NLTK's ``sentence_bleu`` per document (tested).

Both grow with the number of documents compared, so every corpus is measured on the same number
of documents (a seeded sample by id, :func:`toedit_stats.stats.id_order`, at most
``diversity_docs``). Tokens are the n-gram analyzer's (lower-cased WordPunct).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["self_bleu_scores", "self_repetition_scores"]


def _gram_ids(docs: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(document index, n-gram id) of every n-gram position of every document; ids exact (rows
    of token ids compared as bytes), shared across documents."""
    rows, owners = [], []
    for i, d in enumerate(docs):
        d = np.ascontiguousarray(d, np.int64)
        m = d.size - n + 1
        if m <= 0:
            continue
        rows.append(np.lib.stride_tricks.sliding_window_view(d, n))
        owners.append(np.full(m, i, np.int64))
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    grams = np.ascontiguousarray(np.concatenate(rows))
    keys = grams.view(np.dtype((np.void, 8 * n))).ravel()
    _, ids = np.unique(keys, return_inverse=True)
    return np.concatenate(owners), ids.ravel().astype(np.int64)


def self_repetition_scores(docs: Sequence[np.ndarray], n: int = 4) -> np.ndarray:
    """Per document ``log(1 + Σ_{distinct n-grams g here} #other documents containing g)``
    (Shaib et al.; the corpus score is the mean)."""
    owner, gid = _gram_ids(docs, n)
    out = np.zeros(len(docs))
    if not gid.size:
        return out
    pairs = np.unique(np.stack([owner, gid], 1), axis=0)  # (document, distinct n-gram)
    doc_freq = np.bincount(pairs[:, 1])
    others = doc_freq[pairs[:, 1]] - 1
    return np.log1p(np.bincount(pairs[:, 0], weights=others, minlength=len(docs)))


def _clipped_matches(docs: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Per document: Σ over its n-grams of min(count here, largest count in another document)."""
    owner, gid = _gram_ids(docs, n)
    out = np.zeros(len(docs))
    if not gid.size:
        return out
    pairs, count = np.unique(np.stack([owner, gid], 1), axis=0, return_counts=True)
    g = pairs[:, 1]
    # per n-gram: the largest count, how many documents hold it, and the second largest
    order = np.lexsort((-count, g))
    gs, cs = g[order], count[order]
    first = np.r_[True, gs[1:] != gs[:-1]]
    start = np.flatnonzero(first)
    top = np.zeros(g.max() + 1, np.int64)
    top[gs[start]] = cs[start]
    second = np.zeros_like(top)
    has2 = start + 1 < gs.size
    nxt = start[has2] + 1
    same = gs[nxt] == gs[start[has2]]
    second[gs[start[has2]][same]] = cs[nxt][same]
    holders = np.bincount(g, weights=(count == top[g]), minlength=top.size)
    elsewhere = np.where((count == top[g]) & (holders[g] < 2), second[g], top[g])
    return np.bincount(pairs[:, 0], weights=np.minimum(count, elsewhere), minlength=len(docs))


def self_bleu_scores(docs: Sequence[np.ndarray], max_n: int = 4, epsilon: float = 0.1) -> np.ndarray:
    """Per document: BLEU against all the other documents (module docstring); NLTK's
    ``sentence_bleu(others, doc, weights=(1/max_n,)*max_n, smoothing_function=method1)``."""
    k = len(docs)
    out = np.zeros(k)
    if k < 2:
        return np.full(k, math.nan)
    lens = np.array([len(d) for d in docs], np.int64)
    matches = [_clipped_matches(docs, n) for n in range(1, max_n + 1)]
    # the closest other length (ties: the shorter), as NLTK's closest_ref_length
    srt = np.sort(lens)
    for i in range(k):
        c = lens[i]
        if c == 0 or matches[0][i] == 0:
            continue  # NLTK: 0 without a unigram match
        j = np.searchsorted(srt, c)
        cands = [x for x in srt[max(0, j - 2) : j + 3]]
        cands.remove(c)  # this document's own length, once
        r = min(cands, key=lambda x: (abs(int(x) - int(c)), int(x)))
        bp = 1.0 if c > r else math.exp(1 - r / c)
        logs = 0.0
        for n in range(1, max_n + 1):
            den = max(1, int(c) - n + 1)
            num = matches[n - 1][i]
            logs += math.log((num if num > 0 else epsilon) / den) / max_n
        out[i] = bp * math.exp(logs)
    return out
