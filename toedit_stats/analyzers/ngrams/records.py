"""The result records of the n-gram analyzer: one corpus, one order n, one pair."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

N_BUCKETS = 10_000
_MIX = np.uint64(0x9E3779B97F4A7C15)


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class NgramStats:
    """Concentration metrics of one corpus for one ``n`` (see the module docstring)."""

    n: int
    total: int
    distinct: int
    distinct_ratio: float
    entropy_bits: float
    normalized_entropy: float
    top1pct_mass: float
    top100_mass: float
    top1000_mass: float
    gini: float
    zipf_slope: float | None


@dataclass(frozen=True)
class HashedBuckets:
    """DSIR uni+bigram features hashed into ``buckets`` buckets; ``mass`` sums to 1."""

    buckets: int
    entropy_bits: float
    top1pct_mass: float
    mass: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"buckets": self.buckets, "entropy_bits": self.entropy_bits, "top1pct_mass": self.top1pct_mass}


@dataclass(frozen=True)
class CorpusNgrams:
    """All n-gram statistics of one corpus. ``top`` maps n to the most frequent n-grams
    ``[(text, count), ...]``; ``rank_counts`` maps n to counts sorted descending (top 10,000)."""

    name: str
    documents: int
    tokens: int
    by_n: list[NgramStats]
    hashed: HashedBuckets
    compression_ratio: float
    near_duplicate_rate: float
    top: dict[int, list[tuple[str, int]]] = field(repr=False, default_factory=dict)
    rank_counts: dict[int, np.ndarray] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "documents": self.documents,
            "tokens": self.tokens,
            "by_n": [_clean(vars(s)) for s in self.by_n],
            "hashed": self.hashed.to_dict(),
            "compression_ratio": self.compression_ratio,
            "near_duplicate_rate": self.near_duplicate_rate,
            "top": {str(n): [[t, c] for t, c in items] for n, items in self.top.items()},
        }


@dataclass(frozen=True)
class NgramPair:
    """Reference ``a`` against ``b`` for one ``n``."""

    a: str
    b: str
    n: int
    js_divergence_bits: float
    coverage: float


_STAT_LABELS = {
    "distinct_ratio": ("distinct {g} / {g}", ""),
    "entropy_bits": ("{g} entropy", "bits"),
    "normalized_entropy": ("{g} normalised entropy", ""),
    "top1pct_mass": ("mass on the top 1% of {g}", "share"),
    "top100_mass": ("mass on the top 100 {g}", "share"),
    "top1000_mass": ("mass on the top 1,000 {g}", "share"),
    "gini": ("Gini coefficient of {g} counts", ""),
    "zipf_slope": ("Zipf slope of {g}", ""),
}
_GRAM = {1: "unigrams", 2: "bigrams", 3: "trigrams", 4: "4-grams"}
_HEADLINE_STATS = {("distinct_ratio", 2), ("top100_mass", 2)}


def _gram(n: int) -> str:
    return _GRAM.get(n, f"{n}-grams")


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe: numpy scalars to Python, NaN to None."""
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


# ---------------------------------------------------------------------------------------------
# metrics on a count vector
