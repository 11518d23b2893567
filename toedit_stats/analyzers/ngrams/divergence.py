"""Concentration metrics and divergences of n-gram counts (entropy, JS, coverage)."""

from __future__ import annotations

import math

import numpy as np

from . import counting
from .records import NgramStats


def _entropy_rows(c: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of counts, normalised per row."""
    from scipy.special import entr

    tot = c.sum(1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = c / tot[:, None].astype(c.dtype)
        return entr(p).sum(1, dtype=np.float64)


def _js_from_entropies(p: np.ndarray, q: np.ndarray, hp: np.ndarray, hq: np.ndarray) -> np.ndarray:
    """JS divergence in bits per row: H(m) - (H(p) + H(q)) / 2 with m the mean of the normalised
    rows (equals :func:`toedit_stats.stats.js_bits_rows`)."""
    from scipy.special import entr

    tp = p.sum(1, dtype=np.float64)[:, None].astype(p.dtype)
    tq = q.sum(1, dtype=np.float64)[:, None].astype(q.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = (p / tp + q / tq) * np.float32(0.5)
        hm = entr(m).sum(1, dtype=np.float64)
    return np.maximum(hm - (hp + hq) / 2, 0.0) / math.log(2)


def ngram_metrics(counts: np.ndarray, n: int = 1) -> NgramStats:
    """Concentration metrics of one frequency vector (counts of distinct n-grams, any order).

    Everything is computed from the counts of counts (how many n-grams occur once, twice, ...),
    exactly, in memory of the order of the largest count rather than of the number of n-grams.

    >>> ngram_metrics(np.array([2, 2, 2, 2])).gini
    0.0
    """
    c = np.asarray(counts)
    if c.size and c.min() <= 0:
        c = c[c > 0]
    total = int(c.sum(dtype=np.int64)) if c.size else 0
    d = int(c.size)
    if total == 0:
        return NgramStats(n, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None)
    top_count = int(c.max())
    if top_count <= max(1 << 24, 4 * d):  # counted in blocks: bincount widens its input to int64
        freq = np.zeros(top_count + 1, np.int64)
        for b0 in range(0, d, counting._BLOCK):
            freq += np.bincount(c[b0 : b0 + counting._BLOCK], minlength=top_count + 1)
        vals = np.flatnonzero(freq)
        mult = freq[vals]
    else:  # a few huge counts: the distinct values by sorting
        vals, mult = np.unique(c, return_counts=True)
    vals = vals.astype(np.float64)
    mult = mult.astype(np.float64)
    p = vals / total
    entropy = float(-(mult * p * np.log2(p)).sum())
    norm = entropy / math.log2(d) if d > 1 else 0.0
    # descending: cumulative n-grams and mass by group of equal counts
    vd, md = vals[::-1], mult[::-1]
    items = np.cumsum(md)
    mass = np.cumsum(md * vd)

    def top(k: int) -> float:
        k = min(k, d)
        g = int(np.searchsorted(items, k))  # the group holding the k-th largest
        before_items = items[g - 1] if g else 0.0
        before_mass = mass[g - 1] if g else 0.0
        return float((before_mass + (k - before_items) * vd[g]) / total)

    # Gini over the ascending counts: sum_i (2i - d - 1) x_i / (d sum x), by group of equal values
    a = np.concatenate([[0.0], np.cumsum(mult)[:-1]])  # n-grams before each group (ascending)
    gini = float((vals * mult * (2 * a + mult - d)).sum() / (d * total))
    slope: float | None = None
    if d >= 2:
        r = min(d, 10_000)
        g = int(np.searchsorted(items, r))
        desc = np.repeat(vd[: g + 1], np.minimum(md[: g + 1], r).astype(np.int64))[:r]
        slope = float(np.polyfit(np.log(np.arange(1, r + 1)), np.log(desc), 1)[0])
    return NgramStats(
        n=n,
        total=total,
        distinct=d,
        distinct_ratio=d / total,
        entropy_bits=entropy,
        normalized_entropy=norm,
        top1pct_mass=top(max(1, math.ceil(0.01 * d))),
        top100_mass=top(100),
        top1000_mass=top(1000),
        gini=max(0.0, gini),
        zipf_slope=slope,
    )


def js_divergence_bits(keys_a, counts_a, keys_b, counts_b) -> float:
    """Jensen–Shannon divergence (base 2) of two sparse distributions given as sorted keys + counts."""
    from scipy.spatial.distance import jensenshannon

    union = np.union1d(keys_a, keys_b)
    p = np.zeros(union.size)
    q = np.zeros(union.size)
    p[np.searchsorted(union, keys_a)] = counts_a
    q[np.searchsorted(union, keys_b)] = counts_b
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    # scipy returns the JS *distance* (square root of the divergence)
    return float(jensenshannon(p, q, base=2) ** 2)


def pair_stats(keys_a, counts_a, keys_b, counts_b) -> tuple[float, float]:
    """(Jensen–Shannon divergence in bits, coverage) of two sparse distributions given as
    sorted distinct keys + counts, in blocks of ``keys_a`` (memory: one flag per key of ``b``
    beyond a block's temporaries). JS = ½ Σ_shared [p log(p/m) + q log(q/m)] + ½ log 2 · (the
    mass of ``a`` absent from ``b`` + that of ``b`` absent from ``a``), in nats, over log 2 (the
    terms of :func:`js_divergence_bits`: exactly 0 for identical and 1 for disjoint supports).
    Coverage: the share of ``b``'s n-gram occurrences whose n-gram occurs in ``a``."""
    from scipy.special import rel_entr

    ka, kb = np.asarray(keys_a), np.asarray(keys_b)
    ca, cb = np.asarray(counts_a), np.asarray(counts_b)
    ta, tb = int(ca.sum(dtype=np.int64)), int(cb.sum(dtype=np.int64))
    if tb == 0:
        return float("nan"), float("nan")
    shared_b = np.zeros(kb.size, bool)
    inner = 0.0
    only_a = 0
    for b0 in range(0, ka.size, counting._BLOCK):
        blk = ka[b0 : b0 + counting._BLOCK]
        cblk = ca[b0 : b0 + counting._BLOCK]
        if kb.size == 0:
            only_a += int(cblk.sum(dtype=np.int64))
            continue
        pos = np.minimum(np.searchsorted(kb, blk), kb.size - 1)
        hit = kb[pos] == blk
        jb = pos[hit]
        shared_b[jb] = True
        only_a += int(cblk[~hit].sum(dtype=np.int64))
        if ta:
            pa = cblk[hit] / ta
            pb = cb[jb] / tb
            m = (pa + pb) * 0.5
            inner += float(rel_entr(pa, m).sum() + rel_entr(pb, m).sum())
    coverage = float(cb[shared_b].sum(dtype=np.int64) / tb)
    if ta == 0:
        return float("nan"), coverage
    only_b = tb - int(cb[shared_b].sum(dtype=np.int64))
    js = 0.5 * inner + 0.5 * math.log(2) * (only_a / ta + only_b / tb)
    return max(0.0, js / math.log(2)), coverage
