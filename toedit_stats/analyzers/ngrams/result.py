"""NgramResult: the n-gram analyzer's result, its metrics, tables, figures and resampling."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from ..._threads import worker_threads
from ...errors import ConfigError
from ...plotting import _lit, _plt, colors, styles
from ..base import Metric, Result
from .divergence import _entropy_rows, _js_from_entropies
from .records import _HEADLINE_STATS, _STAT_LABELS, N_BUCKETS, CorpusNgrams, NgramPair, _clean, _gram

# the homogenisation metrics (analyzer.homogenisation): label, reference
_HOMOGENISATION = {
    "self_bleu": ("Self-BLEU (each document against all others, BLEU-4)", "Zhu et al. 2018 (Texygen)"),
    "self_repetition": (
        "self-repetition (4-grams shared with other documents, log)",
        "Shaib et al. 2024",
    ),
}


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
    interval_metrics: ClassVar[frozenset[str]] = frozenset({"self_bleu", "self_repetition"})

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
    # per corpus: self-BLEU and self-repetition on equal-size document samples (analyzer.homogenisation)
    diversity: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

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
        if self.diversity:
            out["homogenisation"] = {
                name: {k: v for k, v in d.items() if k in ("documents", "self_bleu", "self_repetition")}
                for name, d in self.diversity.items()
            }
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
        out.extend(self._homogenisation_metrics(ref))
        return out

    def _homogenisation_metrics(self, ref: str) -> list[Metric]:
        out = []
        div = self.diversity
        for name, d in div.items():
            for key, (label, cite) in _HOMOGENISATION.items():
                out.append(
                    Metric(
                        "ngrams",
                        key,
                        f"{label}, {d['documents']} documents",
                        "per corpus",
                        name,
                        d[key],
                        n=d["documents"],
                        headline=key == "self_bleu",
                        note=f"{cite}; higher = more homogeneous; equal-size samples",
                    )
                )
                if name != ref and ref in div:
                    out.append(
                        Metric(
                            "ngrams",
                            key + "_gap",
                            f"|{label.split(' (')[0]} − reference's|",
                            "distance",
                            name,
                            abs(d[key] - div[ref][key]),
                            reference=ref,
                            n=d["documents"],
                            better="lower",
                            identical=0.0,
                            headline=True,
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
        out: dict[tuple[str, str], np.ndarray] = {}
        div = self.diversity
        reps = {}
        for name, d in div.items():  # the per-document scores' weighted means (references fixed)
            w = weights(name, d["ids"])
            with np.errstate(invalid="ignore", divide="ignore"):
                for key in _HOMOGENISATION:
                    reps[(key, name)] = out[(key, name)] = (w @ d["per_doc"][key]) / w.sum(1)
        ref = next(iter(div), None)
        for name in list(div)[1:]:
            for key in _HOMOGENISATION:
                out[(key + "_gap", name)] = np.abs(reps[(key, name)] - reps[(key, ref)])
        if not self.contrib or 2 not in self.ns:
            return out
        names = list(self.contrib)
        terms = {n: [(n, weights(n, self.contrib[n]["ids"]))] for n in names}
        return {**out, **self._replicates(names, terms, chunk)}

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
            1, max(1, len(shown)), figsize=(5.2 * max(1, len(shown)), 0.26 * k + 1.6), squeeze=False
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
            a.tick_params(axis="y", labelsize=9)  # readable when the page scales the figure down
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
            1, len(self.corpora), figsize=(4.2 * len(self.corpora), 0.26 * k + 1.4), squeeze=False
        )
        for a, c in zip(axes[0], self.corpora):
            items = c.top.get(2, [])[:k]
            total = next(s.total for s in c.by_n if s.n == 2)
            a.barh([_lit(t) for t, _ in items][::-1], [v / total for _, v in items][::-1], color=col[c.name])
            a.set_title(f"{_lit(c.name)}: top {len(items)} bigrams", fontsize=10)
            a.tick_params(axis="y", labelsize=9)  # readable when the page scales the figure down
            a.set_xlabel("share of bigrams")
        fig.tight_layout()
        return fig


def replace_top_k(res: NgramResult, top: int) -> NgramResult:
    return replace(res, top_k=top)
