"""Document length and lexical statistics per corpus, with a test of document lengths.

Words are the tokens of :mod:`toedit_stats.tokenize` that contain a letter or digit (punctuation
runs are not words here). Per corpus:

``chars_*``, ``words_*``
    characters and words per document: mean and the quantiles p5, p25, p50, p75, p95
    (``numpy.percentile``, linear interpolation).
``ttr``
    type-token ratio on **equal-size samples** (mean segmental TTR): the corpus's lower-cased
    words, documents concatenated in canonical order, are cut into consecutive non-overlapping
    segments of ``w`` words, and the ratio distinct/words is averaged over segments. ``w`` is the
    same for every corpus, ``min(segment, smallest corpus's word count)``, because a raw TTR falls
    with corpus size and is not comparable across corpora of different sizes.
``mean_word_length``
    mean characters per word.
``sentence_words_mean``, ``sentence_words_p50``
    words per sentence, sentences split after ``.``, ``!``, ``?`` (one or more) followed by
    whitespace or the end, or at blank lines; a rough splitter, the same for every corpus.

Between the reference and each other corpus: the two-sample Kolmogorov–Smirnov test
(``scipy.stats.ks_2samp``) on words per document: ``words_ks_stat`` (0 for identical corpora,
1 for non-overlapping lengths) and its p-value.

>>> from toedit_stats import Corpus
>>> a = Corpus.from_documents(["One two. Three!"])
>>> b = Corpus.from_documents(["Four five six seven eight."])
>>> r = LengthAnalyzer().analyze([a, b])
>>> r.corpora[0].words.tolist(), r.corpora[0].sentence_words.tolist(), r.pairs[0].ks_stat
([3.0], [2.0, 1.0], 1.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..corpus import Corpus
from ..options import option
from ..plotting import _lit, _plt, colors, styles
from ..tokenize import words as _words  # analyze() keeps a list named words
from .base import Analyzer, Metric, Result, prepare_corpora

__all__ = ["LengthAnalyzer", "LengthResult", "mean_segmental_ttr"]

QUANTILES = (5, 25, 50, 75, 95)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def mean_segmental_ttr(words: Sequence[str] | np.ndarray, segment: int) -> float:
    """Mean over consecutive non-overlapping ``segment``-word pieces of distinct/words (a shorter
    last piece is dropped); ``nan`` with fewer than ``segment`` words. ``words`` are strings or
    integer word ids (what :class:`LengthAnalyzer` keeps: 4 bytes a word).

    >>> round(mean_segmental_ttr(["a", "b", "a", "a", "c", "d"], 3), 4)  # (2/3 + 3/3) / 2
    0.8333
    >>> round(mean_segmental_ttr(np.array([0, 1, 0, 0, 2, 3]), 3), 4)
    0.8333
    """
    if segment < 1 or len(words) < segment:
        return math.nan
    k = len(words) // segment
    if isinstance(words, np.ndarray):
        ids = words[: k * segment]
    else:
        vocab: dict[str, int] = {}
        ids = np.fromiter((vocab.setdefault(w, len(vocab)) for w in words[: k * segment]), np.int64)
    pieces = ids.reshape(k, segment)
    distinct = np.empty(k, np.int64)
    step = max(1, (16 << 20) // (8 * segment))  # a few MB of sorted rows at a time
    for start in range(0, k, step):
        rows = np.sort(pieces[start : start + step], axis=1)
        distinct[start : start + step] = 1 + (rows[:, 1:] != rows[:, :-1]).sum(axis=1)
    return float(np.mean(distinct / segment))


@dataclass(frozen=True)
class LengthStats:
    """One corpus: per-document character and word counts, sentence lengths, and lexical stats."""

    name: str
    chars: np.ndarray = field(repr=False)
    words: np.ndarray = field(repr=False)
    sentence_words: np.ndarray = field(repr=False)
    ttr: float
    ttr_segment: int
    mean_word_length: float
    ids: list[str] = field(default_factory=list, repr=False)  # document ids, in the order of chars/words

    @property
    def documents(self) -> int:
        return int(self.words.size)

    def to_dict(self) -> dict[str, Any]:
        def summary(a: np.ndarray) -> dict[str, float]:
            if not a.size:
                return {"mean": math.nan, **{f"p{q}": math.nan for q in QUANTILES}}
            qs = np.percentile(a, QUANTILES)
            return {"mean": float(a.mean()), **{f"p{q}": float(v) for q, v in zip(QUANTILES, qs)}}

        return {
            "name": self.name,
            "documents": self.documents,
            "chars": summary(self.chars),
            "words": summary(self.words),
            "sentence_words": summary(self.sentence_words),
            "ttr": self.ttr,
            "ttr_segment": self.ttr_segment,
            "mean_word_length": self.mean_word_length,
        }


@dataclass(frozen=True)
class LengthPair:
    a: str
    b: str
    ks_stat: float
    ks_pvalue: float


@dataclass(frozen=True, repr=False)
class LengthResult(Result):
    """Result of :class:`LengthAnalyzer` (the contract of :class:`~toedit_stats.analyzers.base.Result`)."""

    analyzer: ClassVar[str] = "lengths"
    interval_metrics: ClassVar[frozenset[str]] = frozenset({"words_mean", "chars_mean", "words_p50"})
    title: ClassVar[str] = "Document length and lexical statistics"

    corpora: list[LengthStats]
    pairs: list[LengthPair]
    config: dict[str, Any] = field(default_factory=dict)

    def corpus_names(self) -> list[str]:
        return [c.name for c in self.corpora]

    def describe(self) -> str:
        seg = self.corpora[0].ttr_segment if self.corpora else 0
        return f"Words per document, sentence lengths, and type-token ratio on equal {seg:,}-word segments."

    def to_dict(self) -> dict[str, Any]:
        return {
            "corpora": [c.to_dict() for c in self.corpora],
            "pairs": [vars(p) for p in self.pairs],
            "config": self.config,
        }

    def metrics(self) -> list[Metric]:
        out: list[Metric] = []
        for c in self.corpora:
            d = c.to_dict()

            def m(name, label, value, unit="", head=False, c=c):
                return Metric(
                    "lengths",
                    name,
                    label,
                    "per corpus",
                    c.name,
                    value,
                    unit=unit,
                    n=c.documents,
                    headline=head,
                )

            for what, unit in (("chars", "characters"), ("words", "words")):
                for stat, v in d[what].items():
                    label = f"{what} per document, {'median' if stat == 'p50' else stat}"
                    out.append(m(f"{what}_{stat}", label, v, unit, what == "words" and stat == "p50"))
            out.append(
                m(
                    "sentence_words_mean",
                    "words per sentence, mean",
                    d["sentence_words"]["mean"],
                    "words",
                    True,
                )
            )
            out.append(
                m("sentence_words_p50", "words per sentence, median", d["sentence_words"]["p50"], "words")
            )
            out.append(m("ttr", f"type-token ratio ({c.ttr_segment:,}-word segments)", c.ttr, "", True))
            out.append(m("mean_word_length", "mean word length", c.mean_word_length, "characters"))
        n = {c.name: c.documents for c in self.corpora}
        for p in self.pairs:
            out.append(
                Metric(
                    "lengths",
                    "words_ks_stat",
                    "KS statistic, words per document",
                    "distance",
                    p.b,
                    p.ks_stat,
                    reference=p.a,
                    n=min(n[p.a], n[p.b]),
                    better="lower",
                    identical=0.0,
                    headline=True,
                )
            )
            out.append(
                Metric(
                    "lengths",
                    "words_ks_pvalue",
                    "KS p-value, words per document",
                    "test",
                    p.b,
                    p.ks_pvalue,
                    reference=p.a,
                    n=min(n[p.a], n[p.b]),
                    headline=True,
                )
            )
        return out

    def bootstrap(self, weights: Any) -> dict[tuple[str, str], np.ndarray]:
        """Replicates of words per document (median, mean), characters per document (mean) and
        the KS statistic of words per document."""
        from ..stats import weighted_ks, weighted_quantile

        out: dict[tuple[str, str], np.ndarray] = {}
        ws = {}
        for c in self.corpora:
            if len(c.ids) != c.documents:
                return {}
            w = ws[c.name] = weights(c.name, c.ids)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[("words_mean", c.name)] = (w @ c.words) / w.sum(1)
                out[("chars_mean", c.name)] = (w @ c.chars) / w.sum(1)
            out[("words_p50", c.name)] = weighted_quantile(c.words, w, 0.5)
        ref = self.corpora[0]
        for c in self.corpora[1:]:
            out[("words_ks_stat", c.name)] = weighted_ks(ref.words, ws[ref.name], c.words, ws[c.name])
        return out

    def swap_replicates(
        self, base: str, variant: str, ids: Sequence[str], masks: np.ndarray
    ) -> dict[tuple[str, str], np.ndarray]:
        """The KS statistic of words per document of ``base`` and ``variant`` against the reference
        with document ``d`` swapped for its namesake wherever ``masks[j, ids.index(d)]`` (the paired
        permutation test of an edit; see :meth:`NgramResult.swap_replicates`)."""
        from ..stats import swap_weights, weighted_ks

        by = {c.name: c for c in self.corpora}
        if base not in by or variant not in by or any(len(c.ids) != c.documents for c in self.corpora):
            return {}
        ref, b, v = self.corpora[0], by[base], by[variant]
        wb, xb, wv, xv = swap_weights(b.ids, v.ids, ids, masks)
        P = wb.shape[0]
        both = np.concatenate([b.words, v.words])
        wr = np.ones((P, ref.documents))
        return {
            ("words_ks_stat", base): weighted_ks(ref.words, wr, both, np.concatenate([wb, xb], axis=1)),
            ("words_ks_stat", variant): weighted_ks(ref.words, wr, both, np.concatenate([xv, wv], axis=1)),
        }

    def findings(self, corpus: str | None = None, adjusted: dict[str, float] | None = None) -> list[str]:
        if not self.pairs:
            return []
        p = next((x for x in self.pairs if x.b == corpus), self.pairs[0])
        per = {c.name: c.to_dict() for c in self.corpora}
        a, b = per[p.a]["words"]["p50"], per[p.b]["words"]["p50"]
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(p.ks_pvalue)):
            return []
        from ..stats import ks_detectable

        p_adj = (adjusted or {}).get("words_ks_pvalue")
        holm = f", Holm-adjusted {p_adj:.2g}" if p_adj is not None else ""
        if (p_adj if p_adj is not None else p.ks_pvalue) < 0.05:
            return [
                f"Document lengths: median {b:,.0f} words in {p.b} vs {a:,.0f} in {p.a}; the KS test finds a "
                f"significant difference in the length distributions (p = {p.ks_pvalue:.2g}{holm})."
            ]
        n_a, n_b = per[p.a]["documents"], per[p.b]["documents"]
        return [
            f"Document lengths of {p.b} and {p.a} are not distinguishable at this sample size (median "
            f"{b:,.0f} vs {a:,.0f} words; KS p = {p.ks_pvalue:.2g}{holm}; with {n_b} and {n_a} documents the KS "
            f"test detects differences of D ≥ {ks_detectable(n_a, n_b):.2f})."
        ]

    def extra_tables(self) -> dict[str, Any]:
        import pandas as pd

        rows = []
        for c in self.corpora:
            d = c.to_dict()
            row = {"corpus": c.name, "documents": c.documents}
            for what in ("chars", "words", "sentence_words"):
                row.update({f"{what}_{k}": v for k, v in d[what].items()})
            row.update(ttr=c.ttr, ttr_segment=c.ttr_segment, mean_word_length=c.mean_word_length)
            rows.append(row)
        return {"lengths": pd.DataFrame(rows)}

    def _figure_makers(self) -> dict[str, Any]:
        return {"words_per_document": self._fig_words}

    def _fig_words(self, ax=None):
        plt = _plt()
        col = colors(self.corpus_names())
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        for c in self.corpora:
            x = np.sort(c.words)
            if x.size:
                ax.step(
                    x,
                    np.arange(1, x.size + 1) / x.size,
                    where="post",
                    color=col[c.name],
                    ls=styles(self.corpus_names())[c.name],
                    lw=1.6,
                    label=f"{_lit(c.name)} (n={x.size})",
                )
        ax.set_xlabel("words per document")
        ax.set_ylabel("share of documents (ECDF)")
        ax.set_title("Document lengths")
        ax.legend(fontsize=8)
        ax.figure.tight_layout()
        return ax.figure


def _read_lengths(corpus: Corpus) -> dict[str, Any]:
    """One pass over ``corpus``: characters, words and sentence lengths per document, and every
    word as an int32 id (the segmental TTR needs only which words repeat; 4 bytes a word, in
    blocks, instead of a Python string each). Each sentence is tokenised once and a document's
    words are its sentences' words (the splitter cuts only at whitespace, never inside a word)."""
    vocab: dict[str, int] = {}
    blocks: list[np.ndarray] = []
    buf: list[int] = []
    chars: list[int] = []
    words: list[int] = []
    sentences: list[int] = []
    ids: list[str] = []
    letters = 0
    for d in corpus:
        ids.append(d.id)
        chars.append(len(d.text))
        count = 0
        for piece in _SENTENCE_END.split(d.text):
            w = _words(piece)
            if w:
                sentences.append(len(w))
                count += len(w)
                letters += sum(map(len, w))
                buf.extend([vocab.setdefault(x, len(vocab)) for x in w])
        words.append(count)
        if len(buf) >= 1 << 16:
            blocks.append(np.array(buf, np.int32))
            buf.clear()
    blocks.append(np.array(buf, np.int32))
    return {
        "chars": np.asarray(chars, np.float64),
        "words": np.asarray(words, np.float64),
        "sentences": np.asarray(sentences, np.float64),
        "flat": np.concatenate(blocks),
        "letters": letters,
        "ids": ids,
    }


@dataclass(kw_only=True)
class LengthAnalyzer(Analyzer):
    """Length and lexical statistics of each corpus, and a KS test of document lengths against
    the reference (see the module docstring). Needs no model."""

    name: ClassVar[str] = "lengths"
    title: ClassVar[str] = "Document length and lexical statistics"

    segment: int = option(
        1000, min=1, help="Words per segment for the type-token ratio (cut to the smallest corpus)."
    )

    def analyze(self, corpora: Sequence[Corpus] | Corpus, reference: int = 0) -> LengthResult:
        from ..stats import ks_2samp

        prepared, _ = prepare_corpora(corpora, reference, self.max_docs, self.seed)
        raw = [_read_lengths(c) for c in prepared]
        smallest = min((len(r["flat"]) for r in raw), default=0)
        segment = max(1, min(self.segment, smallest))
        stats = []
        for c, r in zip(prepared, raw):
            flat = r["flat"]
            stats.append(
                LengthStats(
                    c.name,
                    r["chars"],
                    r["words"],
                    r["sentences"],
                    mean_segmental_ttr(flat, segment),
                    segment,
                    r["letters"] / len(flat) if len(flat) else math.nan,
                    r["ids"],
                )
            )
        pairs = []
        for s in stats[1:]:
            a, b = stats[0].words, s.words
            if a.size and b.size:
                ks = ks_2samp(a, b)
                pairs.append(LengthPair(stats[0].name, s.name, float(ks.statistic), float(ks.pvalue)))
            else:
                pairs.append(LengthPair(stats[0].name, s.name, math.nan, math.nan))
        return LengthResult(
            stats, pairs, {"segment": self.segment, "max_docs": self.max_docs, "seed": self.seed}
        )
