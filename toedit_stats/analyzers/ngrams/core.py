"""Counting, divergences, compression, near-duplicates and the result type of the exact n-gram
analyzer (see :mod:`toedit_stats.analyzers.ngrams`)."""

from __future__ import annotations

import gzip
import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from ..._threads import worker_threads
from ...corpus import Corpus
from ...errors import ConfigError
from ...plotting import _lit, _plt, colors, styles
from ...stats import id_order
from ...tokenize import WORD_PATTERN
from ..base import Metric, Result

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


@dataclass(frozen=True, repr=False)
class NgramResult(Result):
    """Result of :class:`NgramAnalyzer` / :func:`analyze_ngrams`: per-corpus statistics, pairs,
    and the equal-size rerun (the contract of :class:`~toedit_stats.analyzers.base.Result`).

    ``metrics()`` covers both samples; metric names of the equal-size sample end in ``_eq``,
    and the verdict's headline metrics come from it (equal token budgets), or from the full
    corpora when there is only one corpus or ``equal_size=False``.
    """

    analyzer: ClassVar[str] = "ngrams"
    title: ClassVar[str] = "N-gram concentration"

    corpora: list[CorpusNgrams]
    pairs: list[NgramPair]
    hashed_pairs: list[dict[str, Any]]
    ns: tuple[int, ...]
    seed: int
    equal_size: NgramResult | None = None
    tokens_per_corpus: int | None = None  # set on the equal-size result
    sketch: dict[str, Any] | None = None  # set by the bounded-memory mode: estimators and bounds
    top_k: int = 40
    # other corpus -> its most over- and under-represented bigrams vs the reference (full corpora)
    distinctive: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # per-document bigram and hashed-bucket counts of the headline sample, for the bootstrap
    contrib: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # per non-reference corpus: the label-permutation p-value of the headline bigram JS divergence
    js_pvalues: dict[str, float] = field(default_factory=dict)
    js_permutations: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "corpora": [c.to_dict() for c in self.corpora],
            "pairs": [_clean(vars(p)) for p in self.pairs],
            "hashed_pairs": self.hashed_pairs,
            "config": {"n": list(self.ns), "seed": self.seed, "buckets": N_BUCKETS},
        }
        if self.tokens_per_corpus is not None:
            out["tokens_per_corpus"] = self.tokens_per_corpus
            out["note"] = (
                "equal-size: each corpus cut to a seeded random subset of documents with at most "
                "tokens_per_corpus tokens"
            )
        if self.equal_size is not None:
            out["equal_size"] = self.equal_size.to_dict()
        if self.distinctive:
            out["distinctive_bigrams"] = self.distinctive
        if self.js_pvalues:
            out["js_permutation_pvalues"] = self.js_pvalues
        if self.sketch is not None:
            out["sketch"] = self.sketch
        return out

    def corpus_names(self) -> list[str]:
        return [c.name for c in self.corpora]

    def describe(self) -> str:
        if self.sketch is not None:
            return "Bounded-memory sketches (HyperLogLog++ distinct counts, Misra–Gries heavy hitters)."
        if self.equal_size is not None:
            return (
                f"Word n-grams (n = {', '.join(map(str, self.ns))}); headline numbers on equal token budgets "
                f"({self.equal_size.tokens_per_corpus:,} tokens per corpus, seeded document subsets)."
            )
        return f"Word n-grams (n = {', '.join(map(str, self.ns))}) over the full corpora."

    def metrics(self) -> list[Metric]:
        out: list[Metric] = []
        samples = [("", self, self.equal_size is None)]
        if self.equal_size is not None:
            samples.append(("_eq", self.equal_size, True))
        for suffix, res, headline in samples:
            out.extend(res._sample_metrics(suffix, headline))
        suffix = "_eq" if self.equal_size is not None else ""
        where = " (equal token budgets)" if suffix else ""
        docs = {c.name: c.documents for c in (self.equal_size or self).corpora}
        ref = self.corpora[0].name if self.corpora else ""
        for b, pv in self.js_pvalues.items():
            out.append(
                Metric(
                    "ngrams",
                    "js_divergence_n2_pvalue" + suffix,
                    f"permutation p-value, JS divergence of bigrams{where} (documents relabelled)",
                    "test",
                    b,
                    pv,
                    reference=ref,
                    n=min(docs.get(ref, 0), docs.get(b, 0)),
                    headline=True,
                    resamples=self.js_permutations,
                )
            )
        return out

    def js_permutation_pvalues(self, permutations: int, seed: int) -> dict[str, float]:
        """Per non-reference corpus, the p-value of the headline bigram JS divergence to the
        reference under ``permutations`` seeded relabellings of the two corpora's documents
        (one-sided: a larger divergence than chance); ``(1 + #{JS* >= JS}) / (1 + P)``."""
        from ...stats import label_permutations, permutation_pvalue

        if not self.contrib or 2 not in self.ns or permutations < 1:
            return {}
        names = list(self.contrib)
        ref = names[0]
        out = {}
        for b in names[1:]:
            na, nb = len(self.contrib[ref]["ids"]), len(self.contrib[b]["ids"])
            if not (na and nb):
                continue
            in_b = label_permutations(na, nb, permutations + 1, seed).astype(np.float64)
            in_b[0] = np.r_[np.zeros(na), np.ones(nb)]  # row 0: the observed labels
            terms = {
                ref: [(ref, 1 - in_b[:, :na]), (b, 1 - in_b[:, na:])],
                b: [(ref, in_b[:, :na]), (b, in_b[:, na:])],
            }
            suffix = "_eq" if self.equal_size is not None else ""
            js = self._replicates([ref, b], terms, 25, want="js")[("js_divergence_n2" + suffix, b)]
            out[b] = permutation_pvalue(float(js[0]), js[1:], two_sided=False)
        return out

    def _sample_metrics(self, suffix: str, headline: bool) -> list[Metric]:
        where = " (equal token budgets)" if suffix else ""
        out: list[Metric] = []
        for c in self.corpora:
            m = lambda name, label, value, unit="", head=False, note=None, c=c: Metric(  # noqa: E731
                "ngrams",
                name + suffix,
                label + where,
                "per corpus",
                c.name,
                value,
                unit=unit,
                n=c.documents,
                headline=headline and head,
                note=note,
            )
            out.append(m("tokens", "word tokens", c.tokens, "tokens"))
            for st in c.by_n:
                for key, (label, unit) in _STAT_LABELS.items():
                    out.append(
                        m(
                            f"{key}_n{st.n}",
                            label.format(g=_gram(st.n)),
                            getattr(st, key),
                            unit,
                            (key, st.n) in _HEADLINE_STATS,
                        )
                    )
            out.append(
                m("hashed_entropy_bits", "hashed uni+bigram buckets: entropy", c.hashed.entropy_bits, "bits")
            )
            out.append(
                m(
                    "hashed_top1pct_mass",
                    "hashed features: mass in the top 1% of buckets",
                    c.hashed.top1pct_mass,
                    "share",
                    True,
                )
            )
            out.append(m("compression_ratio", "gzip compression ratio", c.compression_ratio, "", True))
            out.append(m("near_duplicate_rate", "near-duplicate documents", c.near_duplicate_rate, "share"))
        docs = {c.name: c.documents for c in self.corpora}
        for p in self.pairs:
            d = lambda name, label, value, better, identical, unit="", head=False, p=p: Metric(  # noqa: E731
                "ngrams",
                name + suffix,
                label + where,
                "distance",
                p.b,
                value,
                reference=p.a,
                unit=unit,
                n=min(docs[p.a], docs[p.b]),
                better=better,
                identical=identical,
                headline=headline and head,
            )
            out.append(
                d(
                    f"js_divergence_n{p.n}",
                    f"JS divergence, {_gram(p.n)}",
                    p.js_divergence_bits,
                    "lower",
                    0.0,
                    "bits",
                    p.n == 2,
                )
            )
            out.append(
                d(
                    f"coverage_n{p.n}",
                    f"{_gram(p.n).rstrip('s')} coverage by the reference",
                    p.coverage,
                    "higher",
                    1.0,
                    "share",
                    p.n == 2,
                )
            )
        for h in self.hashed_pairs:
            out.append(
                Metric(
                    "ngrams",
                    "hashed_js_divergence" + suffix,
                    "JS divergence, hashed uni+bigram buckets" + where,
                    "distance",
                    h["b"],
                    h["js_divergence_bits"],
                    reference=h["a"],
                    unit="bits",
                    n=min(docs.get(h["a"], 0), docs.get(h["b"], 0)),
                    better="lower",
                    identical=0.0,
                    headline=headline,
                )
            )
        return out

    def bootstrap(self, weights: Any, chunk: int = 25) -> dict[tuple[str, str], np.ndarray]:
        """Replicates of the headline metrics (bigrams and hashed buckets, on the headline sample)
        from per-document sparse counts: distinct bigrams / bigrams, mass on the top 100 bigrams,
        mass in the top 1% of buckets, and against the reference the bigram JS divergence, bigram
        coverage and hashed-bucket JS divergence. Compression ratio and near-duplicates are not
        resampled. Replicates are processed in chunks, in two threads (numpy releases the GIL)."""
        if not self.contrib or 2 not in self.ns:
            return {}
        names = list(self.contrib)
        terms = {n: [(n, weights(n, self.contrib[n]["ids"]))] for n in names}
        return self._replicates(names, terms, chunk)

    def swap_replicates(
        self, base: str, variant: str, ids: Sequence[str], masks: np.ndarray, chunk: int = 25
    ) -> dict[tuple[str, str], np.ndarray]:
        """The distances of ``base`` and ``variant`` to the reference recomputed with document ``i`` of one
        swapped for its namesake (same id) in the other wherever ``masks[j, ids.index(i)]`` is true
        (rows: permutations; the human reference stays fixed): the paired permutation test of
        the edit's effect, exact under the null that a document and its edited version are
        exchangeable. Documents without a namesake on the other side never move."""
        if not self.contrib or 2 not in self.ns or base not in self.contrib or variant not in self.contrib:
            return {}
        from ...stats import swap_weights

        ref = next(iter(self.contrib))
        wb, xb, wv, xv = swap_weights(self.contrib[base]["ids"], self.contrib[variant]["ids"], ids, masks)
        P = wb.shape[0]
        terms = {
            ref: [(ref, np.ones((P, len(self.contrib[ref]["ids"]))))],
            base: [(base, wb), (variant, xb)],
            variant: [(variant, wv), (base, xv)],
        }
        return self._replicates([ref, base, variant], terms, chunk, want="distances")

    def _replicates(
        self,
        names: list[str],
        terms: dict[str, list[tuple[str, np.ndarray]]],
        chunk: int,
        want: str = "all",
    ) -> dict[tuple[str, str], np.ndarray]:
        """The headline metrics of each corpus in ``names`` (the first is the reference) when its
        counts are ``Σ documents of source × weights`` over its ``terms``: ``want="all"``, only
        the distances to the reference (``"distances"``: the per-corpus masses are skipped), or
        only the bigram JS divergence (``"js"``: no hashed buckets either)."""
        from concurrent.futures import ThreadPoolExecutor

        suffix = "_eq" if self.equal_size is not None else ""
        kinds = ("bigrams",) if want == "js" else ("bigrams", "buckets")
        sources = {src for n in names for src, _ in terms[n]}
        mats = {n: [self.contrib[n][m].tocsr().T.tocsr().astype(np.float64) for m in kinds] for n in sources}
        B = next(iter(terms.values()))[0][1].shape[0]

        def weighted(n: str, lo: int, k: int) -> np.ndarray:
            out = None
            for src, ws in terms[n]:
                part = (mats[src][k] @ ws[lo : lo + chunk].T.astype(np.float32)).T
                out = part if out is None else out + part
            return np.ascontiguousarray(out)

        def one(lo: int) -> dict[tuple[str, str], np.ndarray]:
            res: dict[tuple[str, str], np.ndarray] = {}
            counts, hashed, ent, hent = {}, {}, {}, {}
            for n in names:
                counts[n] = c = weighted(n, lo, 0)
                ent[n] = _entropy_rows(c)
                if want == "js":
                    continue
                hashed[n] = h = weighted(n, lo, 1)
                hent[n] = _entropy_rows(h)
                if want == "distances":
                    continue
                tot = c.sum(1, dtype=np.float64)
                k = min(100, c.shape[1])
                with np.errstate(invalid="ignore", divide="ignore"):
                    res[("distinct_ratio_n2" + suffix, n)] = np.count_nonzero(c, axis=1) / tot
                    top = np.partition(c, c.shape[1] - k, axis=1)[:, c.shape[1] - k :]
                    res[("top100_mass_n2" + suffix, n)] = top.sum(1, dtype=np.float64) / tot
                    top_h = np.partition(h, N_BUCKETS - N_BUCKETS // 100, axis=1)[
                        :, N_BUCKETS - N_BUCKETS // 100 :
                    ]
                    res[("hashed_top1pct_mass" + suffix, n)] = top_h.sum(1, dtype=np.float64) / h.sum(
                        1, dtype=np.float64
                    )
            ref = names[0]
            for n in names[1:]:
                res[("js_divergence_n2" + suffix, n)] = _js_from_entropies(
                    counts[ref], counts[n], ent[ref], ent[n]
                )
                if want == "js":
                    continue
                res[("hashed_js_divergence" + suffix, n)] = _js_from_entropies(
                    hashed[ref], hashed[n], hent[ref], hent[n]
                )
                with np.errstate(invalid="ignore", divide="ignore"):
                    covered = np.where(counts[ref] > 0, counts[n], 0).sum(1, dtype=np.float64)
                    res[("coverage_n2" + suffix, n)] = covered / counts[n].sum(1, dtype=np.float64)
            return res

        with ThreadPoolExecutor(max(1, min(2, worker_threads()))) as pool:
            parts = list(pool.map(one, range(0, B, chunk)))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def extra_tables(self) -> dict[str, Any]:
        import pandas as pd

        tops = [
            {"corpus": c.name, "n": n, "rank": i + 1, "ngram": t, "count": k}
            for c in self.corpora
            for n, items in c.top.items()
            for i, (t, k) in enumerate(items)
        ]
        return {
            "ngrams": self.wide_frame(),
            "ngram_pairs": self.pairs_frame(),
            "top_ngrams": pd.DataFrame(tops),
            "distinctive_bigrams": pd.DataFrame(
                [
                    {"corpus": c, "reference": self.corpora[0].name, **r}
                    for c, rows in self.distinctive.items()
                    for r in rows
                ]
            ),
        }

    def wide_frame(self):
        """One row per corpus × n; ``sample`` is ``full`` or ``equal_size``."""
        import pandas as pd

        rows = []
        for label, res in (("full", self), ("equal_size", self.equal_size)):
            if res is None:
                continue
            for c in res.corpora:
                for s in c.by_n:
                    row = {"sample": label, "corpus": c.name, "documents": c.documents, "tokens": c.tokens}
                    row.update(vars(s))
                    row.update(
                        hashed_entropy_bits=c.hashed.entropy_bits,
                        hashed_top1pct_mass=c.hashed.top1pct_mass,
                        compression_ratio=c.compression_ratio,
                        near_duplicate_rate=c.near_duplicate_rate,
                    )
                    rows.append(row)
        return pd.DataFrame(rows)

    def pairs_frame(self):
        """One row per (reference, other) × n, with the hashed-bucket JS divergence."""
        import pandas as pd

        rows = []
        for label, res in (("full", self), ("equal_size", self.equal_size)):
            if res is None:
                continue
            hashed = {(h["a"], h["b"]): h["js_divergence_bits"] for h in res.hashed_pairs}
            for p in res.pairs:
                rows.append({"sample": label, **vars(p), "hashed_js_divergence_bits": hashed[(p.a, p.b)]})
        return pd.DataFrame(rows)

    # -- figures --------------------------------------------------------------------------------
    def _figure_makers(self) -> dict[str, Any]:
        makers = {
            "rank_frequency": self._fig_rank_frequency,
            "hashed_buckets": self._fig_hashed_buckets,
            "top_mass": self._fig_top_mass,
        }
        if 2 in self.ns:
            makers["top_bigrams"] = self._fig_top_bigrams
        if self.distinctive:
            makers["distinctive_bigrams"] = self._fig_distinctive
        return makers

    def _fig_distinctive(self, ax=None):
        plt = _plt()
        if ax is not None:
            raise ConfigError("distinctive_bigrams draws one panel per corpus; call it without ax")
        ref = self.corpora[0].name
        shown = {c: rows for c, rows in self.distinctive.items() if rows}
        k = max((len(r) for r in shown.values()), default=1)
        fig, axes = plt.subplots(
            1, max(1, len(shown)), figsize=(5.2 * max(1, len(shown)), 0.18 * k + 1.6), squeeze=False
        )
        for a, (name, rows) in zip(axes[0], shown.items()):
            over = [r for r in rows if r["direction"] == "over"][:15]
            under = [r for r in rows if r["direction"] == "under"][:15]
            items = over + under[::-1]
            a.barh(
                [_lit(r["ngram"]) for r in items][::-1],
                [r["log2_ratio"] for r in items][::-1],
                color=["#d62728" if r["log2_ratio"] > 0 else "#1f77b4" for r in items][::-1],
            )
            a.axvline(0, color="#555", lw=0.8)
            a.tick_params(axis="y", labelsize=7)
            a.set_xlabel(f"log2 frequency ratio, {_lit(name)} / {_lit(ref)}")
            a.set_title(f"bigrams over- (right) and under-represented (left) in {_lit(name)}", fontsize=9)
        fig.tight_layout()
        return fig

    def _fig_rank_frequency(self, ax=None):
        plt = _plt()
        col = colors(self.corpus_names())
        ns = list(self.ns)
        if ax is not None and len(ns) > 1:
            raise ConfigError("rank_frequency draws one panel per n; call it without ax or with one n")
        if ax is None:
            fig, axes = plt.subplots(1, len(ns), figsize=(4 * len(ns), 3.6), squeeze=False)
            axes = list(axes[0])
        else:
            fig, axes = ax.figure, [ax]
        for a, n in zip(axes, ns):
            for c in self.corpora:
                rc = c.rank_counts.get(n)
                if rc is None or rc.size == 0:
                    continue
                total = next(s.total for s in c.by_n if s.n == n)
                a.loglog(
                    np.arange(1, rc.size + 1),
                    rc / total,
                    label=_lit(c.name),
                    color=col[c.name],
                    ls=styles(self.corpus_names())[c.name],
                    lw=1.4,
                )
            a.set_title(f"{n}-grams")
            a.set_xlabel("rank")
            a.set_ylabel("relative frequency")
        axes[0].legend(fontsize=8)
        fig.suptitle("Rank–frequency (top 10,000 ranks)")
        fig.tight_layout()
        return fig

    def _fig_top_mass(self, ax=None):
        import pandas as pd
        import seaborn as sns

        if ax is not None:
            raise ConfigError("top_mass draws one panel per n; call it without ax")
        _plt()
        col = colors(self.corpus_names())
        rows = []
        for c in self.corpora:
            for s in c.by_n:
                for key, label in (
                    ("top1pct_mass", "top 1%"),
                    ("top100_mass", "top 100"),
                    ("top1000_mass", "top 1,000"),
                ):
                    rows.append(
                        {"corpus": _lit(c.name), "n": f"n={s.n}", "which": label, "mass": getattr(s, key)}
                    )
        g = sns.catplot(
            data=pd.DataFrame(rows),
            x="which",
            y="mass",
            hue="corpus",
            col="n",
            kind="bar",
            palette={_lit(k): v for k, v in col.items()},
            height=3.2,
            aspect=0.9,
        )
        g.set_titles("{col_name}")
        g.set_axis_labels("", "share of occurrences")
        g.figure.suptitle("Mass on the most frequent n-grams", y=1.03)
        return g.figure

    def _fig_hashed_buckets(self, ax=None):
        plt = _plt()
        col = colors(self.corpus_names())
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.5, 3.8))
        fig = ax.figure
        for c in self.corpora:
            m = np.sort(c.hashed.mass)[::-1]
            ax.semilogy(
                np.arange(1, m.size + 1),
                np.where(m > 0, m, np.nan),
                label=_lit(c.name),
                color=col[c.name],
                ls=styles(self.corpus_names())[c.name],
                lw=1.4,
            )
        ax.set_xlabel("bucket (sorted by mass)")
        ax.set_ylabel("share of uni+bigram occurrences")
        ax.set_title(f"DSIR hashed features: {N_BUCKETS:,} buckets, sorted")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    def _fig_top_bigrams(self, ax=None):
        plt = _plt()
        if ax is not None:
            raise ConfigError("top_bigrams draws one panel per corpus; call it without ax")
        col = colors(self.corpus_names())
        k = min(self.top_k, max((len(c.top.get(2, [])) for c in self.corpora), default=0))
        fig, axes = plt.subplots(
            1, len(self.corpora), figsize=(4.2 * len(self.corpora), 0.2 * k + 1.4), squeeze=False
        )
        for a, c in zip(axes[0], self.corpora):
            items = c.top.get(2, [])[:k]
            total = next(s.total for s in c.by_n if s.n == 2)
            a.barh([_lit(t) for t, _ in items][::-1], [v / total for _, v in items][::-1], color=col[c.name])
            a.set_title(f"{_lit(c.name)}: top {len(items)} bigrams", fontsize=10)
            a.tick_params(axis="y", labelsize=7)
            a.set_xlabel("share of bigrams")
        fig.tight_layout()
        return fig


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
        for b0 in range(0, d, _BLOCK):
            freq += np.bincount(c[b0 : b0 + _BLOCK], minlength=top_count + 1)
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
    for b0 in range(0, ka.size, _BLOCK):
        blk = ka[b0 : b0 + _BLOCK]
        cblk = ca[b0 : b0 + _BLOCK]
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


TOKENIZE_CHUNK = 1 << 18  # words tokenised and encoded at a time


def _tokenize_all(corpora: Sequence[Corpus]):
    """Tokenise every corpus and give words ids from one shared vocabulary (in order of first
    occurrence), streaming: about 260,000 words at a time are held as Python strings, encoded
    by Arrow's hash-based ``dictionary_encode`` (about twice as fast as ``pandas.factorize``), and
    their chunk dictionary merged into the shared one; the corpus keeps only int32 ids (4 bytes a
    word) and the texts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    findall = WORD_PATTERN.findall
    ids_of: dict[str, int] = {}
    vocab: list[str] = []
    dtype = np.int32

    def encode(words: list[str]) -> np.ndarray:
        if not words:
            return np.zeros(0, dtype)
        encoded = pc.dictionary_encode(pa.array(words, type=pa.large_string()))
        local = encoded.indices.to_numpy(zero_copy_only=False)
        mapping = np.empty(len(encoded.dictionary), dtype)
        for j, w in enumerate(encoded.dictionary.to_pylist()):
            i = ids_of.get(w)
            if i is None:
                i = ids_of[w] = len(vocab)
                vocab.append(w)
            mapping[j] = i
        return mapping[local]

    out = []
    for corpus in corpora:
        lengths: list[int] = []
        texts: list[str] = []
        ids: list[str] = []
        parts: list[np.ndarray] = []
        pending: list[str] = []
        for doc in corpus:
            toks = findall(doc.text.lower())
            pending.extend(toks)
            lengths.append(len(toks))
            texts.append(doc.text)
            ids.append(doc.id)
            if len(pending) >= TOKENIZE_CHUNK:
                parts.append(encode(pending))
                pending = []
        parts.append(encode(pending))
        codes = np.concatenate(parts) if len(parts) > 1 else parts[0]
        out.append(_Tokenized(corpus.name, codes, np.asarray(lengths, np.int64), texts, ids))
    return out, np.asarray(vocab, dtype=object)


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


COMPRESS_CHUNK = 8 << 20  # bytes of the joined text per independently gzipped chunk


def compression_ratio(texts: Iterable[str], *, threads: int | None = None) -> float:
    """Original size / gzip size of the UTF-8 documents joined by spaces (see module docstring),
    gzipped in chunks of :data:`COMPRESS_CHUNK` bytes, in ``threads`` threads (zlib releases the
    GIL; default: :func:`~toedit_stats._threads.worker_threads`); streamed (:class:`ChunkedGzip`),
    so memory holds a few chunks, never the joined corpus."""
    gz = ChunkedGzip(threads)
    for text in texts:
        gz.add(text)
    return gz.ratio()


class ChunkedGzip:
    """The gzip ratio of a stream of documents joined by spaces, in independent gzip streams of
    :data:`COMPRESS_CHUNK` bytes of the joined text: each complete chunk is compressed (level 9)
    in a pool of ``threads`` threads, at most two chunks per thread in flight. The exact mode and
    the sketch (which sees the documents one at a time) both use it: the same chunks, the same
    compressed size."""

    def __init__(self, threads: int | None = None):
        self.threads = threads or worker_threads()
        self.raw = 0
        self.out = 0
        self._buf = bytearray()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Any] = []
        self._docs = 0

    def add(self, text: str) -> None:
        if self._docs:
            self._buf += b" "
        self._docs += 1
        self._buf += text.encode("utf-8")
        while len(self._buf) >= COMPRESS_CHUNK:
            chunk = bytes(self._buf[:COMPRESS_CHUNK])
            del self._buf[:COMPRESS_CHUNK]
            self._submit(chunk)

    def _submit(self, chunk: bytes) -> None:
        self.raw += len(chunk)
        if self.threads <= 1:
            self.out += _gzip_size(chunk)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads)
        self._pending.append(self._pool.submit(_gzip_size, chunk))
        while len(self._pending) > 2 * self.threads:
            self.out += self._pending.pop(0).result()

    def ratio(self) -> float:
        """The ratio so far (0.0 for no text); the stream stays usable."""
        if self._buf:
            self._submit(bytes(self._buf))
            self._buf = bytearray()
        self.out += sum(f.result() for f in self._pending)
        self._pending = []
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        return self.raw / self.out if self.out else 0.0


def _gzip_size(chunk: bytes) -> int:
    return len(gzip.compress(chunk, compresslevel=9, mtime=0))


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
    :data:`_BLOCK` words: the word hashes are ``word_hash[codes]`` (or ``word_hash`` itself when
    ``codes`` is ``None``), never materialised for the whole corpus."""
    lengths = np.asarray(lengths, np.int64)
    mask32 = np.uint64(0xFFFFFFFF)
    for d0, d1, w0, w1 in document_runs(lengths, _BLOCK):
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


# ---------------------------------------------------------------------------------------------
# the analysis


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
        min_count, punctuation = distinctive
        for j in range(1, len(toks)):
            distinct[toks[j].name] = distinctive_bigrams(
                counter,
                (toks[0], toks[j]),
                (counted[0][2], counted[j][2]),
                (occurrences[0], occurrences[j]),
                min_count=min_count,
                punctuation=punctuation,
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
) -> list[dict[str, Any]]:
    """The ``k`` bigrams most over- and most under-represented in the second corpus relative to the
    first (the reference): ``log2_ratio = log2((c_b + ½) / (N_b + ½B)) − log2((c_a + ½) / (N_a + ½B))``
    (relative frequencies with add-½ smoothing over the ``B`` bigrams of either corpus), among
    bigrams seen at least ``min_count`` times in the two together; bigrams with a word of
    punctuation only are skipped unless ``punctuation``."""
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
    ok = np.flatnonzero(a + b >= min_count)
    rows: list[dict[str, Any]] = []
    for direction, order in (
        ("over", ok[np.argsort(-lr[ok], kind="stable")]),
        ("under", ok[np.argsort(lr[ok], kind="stable")]),
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
                    "log2_ratio": float(lr[i]),
                }
            )
            found += 1
            if found == k:
                break
    return rows


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


def _contributions(
    toks: list[_Tokenized], counter: _Counter, bigram_keys: Sequence[np.ndarray]
) -> dict[str, Any]:
    """Per corpus: document ids and sparse per-document counts of bigrams (columns: the union of
    every corpus's distinct bigram keys, ``bigram_keys``, from the counting) and of DSIR hashed
    buckets (uni+bigrams), for the bootstrap. Built for runs of documents of about
    :data:`_DOC_BLOCK` words and stacked (:class:`CountRows`), so the temporaries are one run's."""
    uniq = np.zeros(0, np.uint64)
    for k in bigram_keys:
        uniq = _union_sorted(uniq, np.asarray(k, np.uint64))
    n_cols = max(1, uniq.size)
    # the DSIR bucket of every word id and of every distinct bigram, once
    word_bucket = (
        counter.buckets(1, np.arange(counter.V, dtype=np.uint64))
        if len(counter.vocab)
        else np.zeros(0, np.int16)
    )
    bigram_bucket = counter.buckets(2, uniq) if uniq.size else np.zeros(0, np.int16)

    def blocks(tc: _Tokenized):
        """Per run of documents: (rows, codes, word rows, bigram rows, bigram columns)."""
        for d0, d1, w0, w1 in document_runs(tc.lengths, _DOC_BLOCK):
            codes = tc.codes[w0:w1]
            doc = np.repeat(np.arange(d1 - d0, dtype=np.int32), tc.lengths[d0:d1])
            same = doc[:-1] == doc[1:]  # the bigram at each position stays in its document
            bdoc = doc[:-1][same]
            cols = np.searchsorted(uniq, counter.window_keys(codes, 2)[same]).astype(np.int32)
            del same
            yield d1 - d0, codes, doc, bdoc, cols

    out = {}
    for tc in toks:
        # two passes, one matrix each: the first is stacked before the second's blocks exist
        parts = [
            _compact(_sparse_counts(bdoc, cols, (rows, n_cols), np.uint32), n_cols)
            for rows, _, _, bdoc, cols in blocks(tc)
        ]
        bigrams = _stack_rows(parts, n_cols)
        for rows, codes, doc, bdoc, cols in blocks(tc):
            # unigram and bigram bucket counts built apart and added
            shape = (rows, N_BUCKETS)
            buckets = _sparse_counts(doc, word_bucket[codes], shape, np.uint32)
            if cols.size:
                buckets = buckets + _sparse_counts(bdoc, bigram_bucket[cols], shape, np.uint32)
            parts.append(_compact(buckets, N_BUCKETS))
            del buckets
        out[tc.name] = {"ids": list(tc.ids), "bigrams": bigrams, "buckets": _stack_rows(parts, N_BUCKETS)}
    return out


def _top_indices(counts: np.ndarray, r: int) -> np.ndarray:
    """``np.argsort(-counts, kind="stable")[:r]`` — the ``r`` largest counts by decreasing count,
    ties in index order — without sorting them all: the ``r``-th largest value from a partition,
    the indices above it, and the first of those equal to it."""
    d = counts.size
    if d <= r:
        return np.argsort(-counts, kind="stable")
    t = np.partition(counts, d - r)[d - r]
    greater = np.flatnonzero(counts > t)
    need = r - greater.size
    ties = []
    for b0 in range(0, d, _BLOCK):
        if need <= 0:
            break
        idx = np.flatnonzero(counts[b0 : b0 + _BLOCK] == t)[:need] + b0
        ties.append(idx)
        need -= idx.size
    cand = np.concatenate([greater, *ties])
    return cand[np.argsort(-counts[cand], kind="stable")]


def _union_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted union of two sorted arrays of distinct values (``np.union1d`` without its
    concatenation and sort): ``b``'s values missing from ``a``, inserted in place."""
    if a.size == 0:
        return b
    if b.size == 0:
        return a
    pos = np.minimum(np.searchsorted(a, b), a.size - 1)
    new = b[a[pos] != b]
    del pos
    return np.insert(a, np.searchsorted(a, new), new)


@dataclass(frozen=True)
class CountRows:
    """Per-document sparse counts, compactly: CSR arrays with uint16 column indices where the
    columns fit (the DSIR buckets) and uint16 counts where the counts fit; :meth:`tocsr` gives
    the ``scipy.sparse.csr_matrix``."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.data.size)

    def tocsr(self):
        from scipy.sparse import csr_matrix

        return csr_matrix((self.data, self.indices.astype(np.int32), self.indptr), shape=self.shape)


def _compact(m, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A CSR block as (row lengths, column indices, counts, rows), in the narrowest types."""
    col_type = np.uint16 if n_cols <= 2**16 else np.int32
    data_type = np.uint16 if not m.nnz or m.data.max() < 2**16 else np.uint32
    return np.diff(m.indptr), m.indices.astype(col_type), m.data.astype(data_type), m.shape[0]


def _stack_rows(parts: list, n_cols: int) -> CountRows:
    """Row blocks from :func:`_compact` stacked as one :class:`CountRows`, consuming ``parts``
    (each kind of array is concatenated in turn and its pieces released)."""
    n_rows = sum(p[3] for p in parts)
    lengths = [p[0] for p in parts]
    indices = [p[1] for p in parts]
    data = [p[2] for p in parts]
    parts.clear()
    indptr = np.zeros(n_rows + 1, np.int64)
    if n_rows:
        np.cumsum(np.concatenate(lengths), out=indptr[1:])
    del lengths
    indices = np.concatenate(indices) if indices else np.zeros(0, np.int32)
    data = np.concatenate(data) if data else np.zeros(0, np.uint16)
    if indptr[-1] < 2**31:
        indptr = indptr.astype(np.int32)
    return CountRows(indptr, indices, data, (n_rows, n_cols))


def _sparse_counts(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], dtype=np.float64):
    """``csr_matrix((ones, (rows, cols)), shape)`` with duplicates summed — built from the
    distinct (row, column) pairs and their counts (one sort of a 64-bit key), without the
    per-occurrence COO arrays; data of ``dtype``."""
    from scipy.sparse import csr_matrix

    n_rows, n_cols = shape
    if rows.size == 0:
        return csr_matrix(shape, dtype=dtype)
    key = rows.astype(np.uint64) * np.uint64(n_cols) + cols.astype(np.uint64)
    key.sort()
    distinct, counts = _runs(key)
    counts = counts.astype(dtype)
    row = distinct // np.uint64(n_cols)
    indptr = np.searchsorted(row, np.arange(n_rows + 1, dtype=np.uint64)).astype(np.int64)
    col = (distinct - row * np.uint64(n_cols)).astype(np.int32 if n_cols < 2**31 else np.int64)
    return csr_matrix((counts, col, indptr), shape=shape)


def replace_top_k(res: NgramResult, top: int) -> NgramResult:
    return replace(res, top_k=top)
