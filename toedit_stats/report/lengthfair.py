"""Length-fair comparison: does a difference between the synthetic and the human corpus remain
when both sides have the same document lengths, or is it mostly a difference of length?

Perplexity, the share of tokens at p ≥ 0.99, curvature and within-document diversity all move
with document length, and so do the embedding tests; when the two corpora differ in length, a
plain comparison mixes the two.

**Matching** (:func:`length_matched`): coarsened exact matching on document length (LM tokens
when the report scored them, else words): documents are binned by ``log(length)`` in bins of
width :data:`BIN_WIDTH` (0.1: lengths within about ±5% share a bin), and in each bin the same
number of documents is kept from both sides — those whose seeded hash of the id is smallest.
The two matched samples then have the same length histogram; nothing is reweighted, and
documents of lengths only one side has are left out (how many are kept is in the table).

**Statistics**: per document (the report's per-document scores) ``perplexity``,
``share_ge_0.99``, ``curvature``, ``distinct_1``, ``distinct_2`` and ``top_bigram_share``: the
effect is Cliff's δ, ``P(b > a) − P(b < a)`` (= 2·AUC − 1; 0 for identical samples), the test the
two-sided Mann–Whitney U; on the embeddings, the classifier two-sample test (effect 2·AUC − 1, its
held-out one-sided p-value) and the aggregated MMD test (effect the MMD² at the median
bandwidth). Each statistic on all documents and on the matched ones; Holm's correction over the
all-documents rows and, separately, over the matched rows.

**Verdict** per row: ``no difference`` (all documents: Holm-adjusted p ≥ 0.05); ``remains after
matching length`` (matched: Holm-adjusted p < 0.05); ``mostly length`` (not detectable on the
matched sample and its effect at most half the all-documents one); else ``undetermined`` (not
detectable on the matched sample, whose effect did not shrink: too few matched documents to say).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..stats import holm, id_order

__all__ = ["BIN_WIDTH", "STATISTICS", "length_fair", "length_fair_answer", "length_matched"]

BIN_WIDTH = 0.1
ALPHA = 0.05
STATISTICS = {
    "perplexity": "perplexity",
    "share_ge_0.99": "share of tokens at p ≥ 0.99",
    "curvature": "probability curvature",
    "distinct_1": "distinct words / words",
    "distinct_2": "distinct bigrams / bigrams",
    "top_bigram_share": "share of the most repeated bigram",
}


def length_matched(
    len_a: Sequence[float], ids_a: Sequence[str], len_b: Sequence[float], ids_b: Sequence[str], seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``a`` and of ``b`` with the same length histogram (module docstring): per bin of
    ``log(length)`` (width :data:`BIN_WIDTH`), the ``min(count_a, count_b)`` documents of each
    side with the smallest seeded id hash. Lengths below 1 share the lowest bin.

    >>> a, b = length_matched([10, 10, 100], ["x", "y", "z"], [10, 300], ["u", "v"])
    >>> len(a), len(b)
    (1, 1)
    """
    out = []
    bins = []
    for lengths in (len_a, len_b):
        x = np.log(np.maximum(np.asarray(lengths, np.float64), 1.0))
        bins.append(np.floor(x / BIN_WIDTH).astype(np.int64))

    def hash_rank(ids):  # each document's place in the seeded id-hash order
        rank = np.empty(len(ids), np.int64)
        rank[id_order(list(ids), seed)] = np.arange(len(ids))
        return rank

    rank_a, rank_b = hash_rank(ids_a), hash_rank(ids_b)
    keep_a, keep_b = [], []
    for b in np.intersect1d(bins[0], bins[1]):
        ra, rb = np.flatnonzero(bins[0] == b), np.flatnonzero(bins[1] == b)
        k = min(len(ra), len(rb))
        keep_a.append(ra[np.argsort(rank_a[ra], kind="stable")[:k]])
        keep_b.append(rb[np.argsort(rank_b[rb], kind="stable")[:k]])
    for keep in (keep_a, keep_b):
        out.append(np.sort(np.concatenate(keep)) if keep else np.empty(0, np.int64))
    return out[0], out[1]


def _cliff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Cliff's δ of ``b`` over ``a`` and the two-sided Mann–Whitney p-value."""
    from scipy.stats import mannwhitneyu

    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    res = mannwhitneyu(b, a, alternative="two-sided")
    return float(2 * res.statistic / (len(a) * len(b)) - 1), float(res.pvalue)


def _embedding_tests(xa: np.ndarray, xb: np.ndarray, seed: int) -> dict[str, tuple[float, float]]:
    from ..analyzers.embeddings import c2st_test, mmd2_test
    from ..stats import mmd_agg_test

    if min(len(xa), len(xb)) < 4:
        return {}
    auc, p = c2st_test(xa, xb, seed=seed)
    mmd = mmd2_test(xa, xb, permutations=1, seed=seed)[0]
    agg = mmd_agg_test(xa, xb, seed=seed)["pvalue"]
    return {
        "embedding classifier (2·AUC − 1)": (2 * auc - 1, p),
        "embedding MMD² (aggregated test)": (mmd, agg),
    }


def _verdict(row: dict[str, Any]) -> str:
    if not (row["holm_all"] < ALPHA):
        return "no difference"
    if row["holm_matched"] < ALPHA:
        return "remains after matching length"
    e_all, e_m = row["effect_all"], row["effect_matched"]
    if math.isfinite(e_m) and abs(e_m) <= 0.5 * abs(e_all):
        return "mostly length"
    return "undetermined"


def length_fair(
    scores: Any,
    human: str,
    synthetic: str,
    *,
    embeddings: dict[str, np.ndarray] | None = None,
    embedding_ids: dict[str, Sequence[str]] | None = None,
    seed: int = 0,
    max_embedded: int = 2000,
) -> Any:
    """The length-fair table (a pandas DataFrame; module docstring) of ``synthetic`` against
    ``human`` from the per-document ``scores`` frame (columns ``corpus``, ``id``, ``tokens`` or
    ``words``, and the statistics); with ``embeddings`` (name → vectors, rows in the order of
    ``embedding_ids``) also the embedding tests, on at most ``max_embedded`` documents a side."""
    import pandas as pd

    fa = scores[scores["corpus"] == human].reset_index(drop=True)
    fb = scores[scores["corpus"] == synthetic].reset_index(drop=True)
    length = "tokens" if "tokens" in scores and scores["tokens"].notna().all() else "words"
    ra, rb = length_matched(fa[length], fa["id"].astype(str), fb[length], fb["id"].astype(str), seed)
    rows: list[dict[str, Any]] = []
    common = {"length": length, "docs_all": min(len(fa), len(fb)), "docs_matched": len(ra)}
    med = (
        float(np.median(fa[length])) if len(fa) else math.nan,
        float(np.median(fb[length])) if len(fb) else math.nan,
    )
    for col, label in STATISTICS.items():
        if col not in scores:
            continue
        a, b = fa[col].to_numpy(np.float64), fb[col].to_numpy(np.float64)
        if not (np.isfinite(a).sum() >= 2 and np.isfinite(b).sum() >= 2):
            continue
        e_all, p_all = _cliff(a, b)
        e_m, p_m = _cliff(a[ra], b[rb])
        rows.append(
            {
                "statistic": label,
                "column": col,
                "effect": "Cliff's δ",
                "effect_all": e_all,
                "pvalue_all": p_all,
                "effect_matched": e_m,
                "pvalue_matched": p_m,
                **common,
            }
        )
    if embeddings and embedding_ids and human in embeddings and synthetic in embeddings:
        pos = [{str(i): k for k, i in enumerate(embedding_ids[n])} for n in (human, synthetic)]
        ids_a, ids_b = fa["id"].astype(str), fb["id"].astype(str)
        if all(i in pos[0] for i in ids_a) and all(i in pos[1] for i in ids_b):
            xa = np.asarray(embeddings[human], np.float64)[[pos[0][i] for i in ids_a]]
            xb = np.asarray(embeddings[synthetic], np.float64)[[pos[1][i] for i in ids_b]]

            from ..analyzers.embeddings import equal_size_rows

            def capped(rows_a, rows_b):  # the embedding analyzer's equal-size rule, on these rows
                n = min(len(rows_a), len(rows_b), max_embedded)
                pick_a = equal_size_rows([ids_a[r] for r in rows_a], n, seed)
                pick_b = equal_size_rows([ids_b[r] for r in rows_b], n, seed)
                return xa[np.asarray(rows_a)[pick_a]], xb[np.asarray(rows_b)[pick_b]]

            every = _embedding_tests(*capped(np.arange(len(fa)), np.arange(len(fb))), seed)
            matched = _embedding_tests(*capped(ra, rb), seed)
            for name, (e_all, p_all) in every.items():
                e_m, p_m = matched.get(name, (math.nan, math.nan))
                rows.append(
                    {
                        "statistic": name,
                        "column": "",
                        "effect": name.split(" (")[1].rstrip(")"),
                        "effect_all": e_all,
                        "pvalue_all": p_all,
                        "effect_matched": e_m,
                        "pvalue_matched": p_m,
                        **common,
                    }
                )
    for key in ("all", "matched"):
        for r, adj in zip(rows, holm([r[f"pvalue_{key}"] for r in rows])):
            r[f"holm_{key}"] = adj
    for r in rows:
        r["verdict"] = _verdict(r)
        r[f"median_{length}_{human}"], r[f"median_{length}_{synthetic}"] = med
    return pd.DataFrame(rows)


def length_fair_answer(table: Any, human: str, synthetic: str) -> str | None:
    """The headline's one line on length, or ``None`` when no statistic differs on all documents.

    >>> import pandas as pd
    >>> t = pd.DataFrame([{"statistic": "perplexity", "verdict": "mostly length", "docs_matched": 80,
    ...     "docs_all": 100, "length": "words", "median_words_h": 300.0, "median_words_s": 120.0}])
    >>> length_fair_answer(t, "h", "s")
    'median 120 vs 300 words; on 80 length-matched documents a side, 0 of 1 differences remain, 1 mostly length (perplexity)'
    """
    if table is None or not len(table):
        return None
    differ = table[table["verdict"] != "no difference"]
    if not len(differ):
        return None
    r0 = table.iloc[0]
    length = r0["length"]
    remains = differ[differ["verdict"] == "remains after matching length"]
    mostly = differ[differ["verdict"] == "mostly length"]
    unsure = differ[differ["verdict"] == "undetermined"]
    text = (
        f"median {r0[f'median_{length}_{synthetic}']:,.0f} vs {r0[f'median_{length}_{human}']:,.0f} {length}; "
        f"on {int(r0['docs_matched'])} length-matched documents a side, {len(remains)} of {len(differ)} "
        f"differences remain"
    )
    if len(mostly):
        text += f", {len(mostly)} mostly length ({', '.join(mostly['statistic'])})"
    if len(unsure):
        text += f", {len(unsure)} undetermined (too few matched documents)"
    return text
