"""Corpus summary: sizes and document-length quantiles (what ``toedit-stats info`` prints)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .corpus import Corpus
from .tokenize import words as _words

__all__ = ["CorpusSummary", "summarize"]


@dataclass(frozen=True)
class CorpusSummary:
    """Size of one corpus.

    ``documents`` yielded; ``characters`` (Unicode code points) and ``words`` (WordPunct tokens
    with a letter or digit, :func:`toedit_stats.tokenize.words`: the length analyzer's words, so
    ``info`` and ``lengths`` count the same) summed over documents; ``length_words`` the
    p5/p50/p95 of words per document (linear interpolation); ``skipped_empty`` and
    ``skipped_bad`` records skipped; ``read`` the reader's full counts.
    """

    name: str
    paths: list[str]
    documents: int
    characters: int
    words: int
    length_words: dict[str, float]
    skipped_empty: int
    skipped_bad: int
    read: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_frame(self):
        import pandas as pd

        row = {k: v for k, v in self.to_dict().items() if k not in ("length_words", "read", "paths")}
        row.update({f"length_words_{k}": v for k, v in self.length_words.items()})
        return pd.DataFrame([row])


def summarize(corpus: Corpus) -> CorpusSummary:
    """Read ``corpus`` once and summarise it."""
    chars = 0
    lengths: list[int] = []
    for doc in corpus:
        chars += len(doc.text)
        lengths.append(len(_words(doc.text)))
    arr = np.asarray(lengths, dtype=np.int64)
    q = np.percentile(arr, [5, 50, 95]) if arr.size else [0.0, 0.0, 0.0]
    stats = corpus.stats
    return CorpusSummary(
        name=corpus.name,
        paths=[str(p) for p in corpus.paths],
        documents=stats.documents,
        characters=chars,
        words=int(arr.sum()),
        length_words={"p5": float(q[0]), "p50": float(q[1]), "p95": float(q[2])},
        skipped_empty=stats.skipped_empty,
        skipped_bad=stats.skipped_bad,
        read=stats.to_dict(),
    )
