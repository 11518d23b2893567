"""The edit effect and the intervals of one report, from the analyzers' replicates.

For every distance-to-reference metric, ``Δ = d(human, edited) − d(human, synthetic)``.

* **Interval (descriptive).** A seeded 95% bootstrap interval: a synthetic document and its
  edited version share their weights (paired), human documents are resampled independently
  (:class:`toedit_stats.stats.BootstrapWeights`); the *basic* (pivotal) interval
  ``[2Δ − q97.5, 2Δ − q2.5]``. ``mde = 2.8 × SE(Δ)`` is the smallest change this sample could
  detect (a two-sided 5% test with 80% power).
* **Test.** Where the analyzer can recompute a metric with documents swapped
  (``Result.swap_replicates``: the n-gram distances, the KS statistic of lengths, the token
  distances, MMD²), the p-value is the **paired permutation test** that swaps each synthetic
  document with its edited version at random (``P`` = the replicates): exact under the null
  that the edit changes nothing systematic (a document and its edited version exchangeable),
  whatever the sample size or how many documents changed. Its interval inverts the test under a
  shift model, ``[Δ − q97.5(Δ*), Δ − q2.5(Δ*)]`` over the permutations' ``Δ*``, and ``SE`` is
  their spread: the bootstrap of plug-in n-gram distances is too narrow when many documents
  change (measured in ``benchmarks/calibration.py``). Elsewhere the p-value is the bootstrap
  one that matches the basic interval (``2 min(P*(Δ* ≥ 2Δ), P*(Δ* ≤ 2Δ))``, ``+1`` corrections).
* **Family-wise control.** The edit's effects are one family: Holm's method over their
  p-values; "toward human" / "away from human" only where the Holm-adjusted p-value is below
  0.05, otherwise "no detectable change". MAUVE has no document-level interval and is never
  called (its seed spread is shown for information).

An identical edited corpus gives Δ = 0, interval [0, 0] and p = 1 for every metric.

Tests of human vs synthetic form one family, corrected with Holm's method; the paired
before/after tests of the edit form another.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..stats import BootstrapWeights, holm, interval, permutation_pvalue
from .inputs import SELECTED, UNIFORM

__all__ = ["compute_effects"]


def _basic(point: float, reps: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    lo, hi = interval(reps, level)
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(point)):
        return (math.nan, math.nan)
    return (2 * point - hi, 2 * point - lo)


def compute_effects(report, replicates: int) -> dict[str, Any]:
    """Intervals per metric, edit effects per headline distance metric, and the Holm-corrected
    tests."""
    h, s, e = report.names["human"], report.names["synthetic"], report.names["edited"]
    names = [c["name"] for c in report.corpora]
    # a synthetic document, its edited version and its copies in the selected/uniform subsets
    # share their weights (paired); human documents are resampled on their own
    weights = BootstrapWeights(
        seed=report.seed,
        replicates=replicates,
        groups={h: "human", s: "paired", e: "paired", SELECTED: "paired", UNIFORM: "paired"},
    )
    reps: dict[tuple[str, str, str], np.ndarray] = {}
    if replicates > 0:
        for name, result in report.results.items():
            for (metric, corpus), values in result.bootstrap(weights).items():
                reps[(name, metric, corpus)] = np.asarray(values, np.float64)

    intervals: dict[tuple[str, str, str], tuple[float, float]] = {}
    for name, result in report.results.items():
        for m in result.metrics():
            key = (name, m.name, m.corpus)
            if key in reps and m.name in result.interval_metrics:
                intervals[key] = (
                    _basic(float(m.value), reps[key]) if m.kind == "effect" else interval(reps[key])
                )

    effects = _contrast(report, reps, replicates, s, e) if e in names else []
    selection = _contrast(report, reps, replicates, UNIFORM, SELECTED) if SELECTED in names else []
    tests = _test_family(report, h, s)
    paired = _paired_family(report, s, e) if e in names else {"tests": [], "views": {}}
    return {
        "replicates": replicates,
        "seed": report.seed,
        "reps": reps,  # (analyzer, metric, corpus) -> replicates: the ranked differences read them
        "intervals": intervals,
        "effects": effects,
        "selection": selection,
        "tests": tests,
        "paired": paired,
    }


def _contrast(report, reps: dict, replicates: int, base: str, variant: str) -> list[dict[str, Any]]:
    """``Δ = d(reference, variant) − d(reference, base)`` per headline distance metric, with its
    paired basic-bootstrap interval, its p-value (paired permutation test where the analyzer
    supports it, for the edit; bootstrap otherwise) and, after Holm's correction over all rows,
    its verdict. Rows name the two corpora ``synthetic``/``edited`` for the edit and
    ``uniform``/``selected`` for the selection."""
    keys = ("synthetic", "edited") if variant != SELECTED else (UNIFORM, SELECTED)
    swaps = _swap_replicates(report, base, variant, replicates) if variant != SELECTED else {}
    sizes = {c["name"]: c["documents"] for c in report.corpora}
    rows = []
    for name, result in report.results.items():
        by = {(m.name, m.corpus): m for m in result.metrics()}
        for (metric, corpus), m in by.items():
            if m.kind != "distance" or not m.headline or corpus != base or (metric, variant) not in by:
                continue
            before, after = float(m.value), float(by[(metric, variant)].value)
            delta = after - before if math.isfinite(before) and math.isfinite(after) else math.nan
            row = {
                "analyzer": name,
                "metric": metric,
                "label": m.label + (f" ({m.unit})" if m.unit and m.unit != "share" else ""),
                "better": m.better,
                keys[0]: before,
                keys[1]: after,
                "delta": delta,
                "low": math.nan,
                "high": math.nan,
                "se": math.nan,
                "mde": math.nan,
                "pvalue": math.nan,
                "n": sizes.get(base),
                "identical": float(m.identical) if m.identical is not None else math.nan,
                "base_se": math.nan,
            }
            kb, ke = (name, metric, base), (name, metric, variant)
            if kb in reps:
                row["base_se"] = float(np.nanstd(reps[kb]))
            if kb in reps and ke in reps and math.isfinite(delta):
                d = reps[ke] - reps[kb]
                lo, hi = _basic(delta, d)
                se = float(np.nanstd(d))
                row.update(
                    low=lo,
                    high=hi,
                    se=se,
                    mde=2.8 * se,
                    pvalue=_bootstrap_p(delta, d),
                    method=f"paired bootstrap, B = {replicates}",
                )
            sb, se_ = swaps.get((name, metric, base)), swaps.get((name, metric, variant))
            if sb is not None and se_ is not None and math.isfinite(delta):
                # row 0 is the unswapped data: the observed Δ of the statistic the swaps recompute
                null = se_[1:] - sb[1:]
                null = null[np.isfinite(null)]
                # swapping identical documents moves a sum only by rounding: that is 0
                null[np.abs(null) <= 1e-12 * max(1.0, abs(float(sb[0])), abs(float(se_[0])))] = 0.0
                if null.size:
                    lo_q, hi_q = np.quantile(null, [0.025, 0.975])
                    spread = float(np.std(null))
                    row.update(
                        pvalue=permutation_pvalue(float(se_[0] - sb[0]), null),
                        # the test inverted under a shift model: Δ minus the null's central 95%
                        low=delta - float(hi_q),
                        high=delta - float(lo_q),
                        se=spread,
                        mde=2.8 * spread,
                        method=f"paired permutation (swap), P = {null.size}",
                    )
            if not math.isfinite(row["pvalue"]):
                if m.noise is not None and math.isfinite(delta):
                    row["method"] = "seed spread only (no document-level interval): not tested"
                    row["verdict"] = "not tested"
                else:
                    row["method"] = "not resampled"
                    row["verdict"] = "no interval"
            rows.append(row)
    tested = [r for r in rows if math.isfinite(r["pvalue"])]
    for r, adjusted in zip(tested, holm([r["pvalue"] for r in tested])):
        r["holm"] = adjusted
        r["family"] = len(tested)
        r["verdict"] = (
            _direction(r["delta"], r["better"] or "lower") if adjusted < 0.05 else "no detectable change"
        )
    return rows


def _direction(delta: float, better: str) -> str:
    closer = delta < 0 if better == "lower" else delta > 0
    return "toward human" if closer else "away from human"


def _bootstrap_p(delta: float, d: np.ndarray) -> float:
    """The two-sided bootstrap p-value that matches the basic interval: the smallest level at
    which ``[2Δ − q_hi, 2Δ − q_lo]`` would exclude 0 (``+1`` corrections, so never 0)."""
    d = d[np.isfinite(d)]
    if not d.size:
        return math.nan
    if np.all(d == delta):  # a statistic that every replicate leaves where it is
        return 1.0 if delta == 0 else 1.0 / (d.size + 1)
    hi = (1 + np.count_nonzero(d >= 2 * delta)) / (d.size + 1)
    lo = (1 + np.count_nonzero(d <= 2 * delta)) / (d.size + 1)
    return float(min(1.0, 2 * min(hi, lo)))


def _swap_replicates(
    report, base: str, variant: str, permutations: int
) -> dict[tuple[str, str, str], np.ndarray]:
    """``{(analyzer, metric, corpus): Δ-ready replicates}`` of every analyzer that can swap
    documents between ``base`` and ``variant`` (seeded masks over the base corpus's ids)."""
    if permutations <= 0:
        return {}
    docs = getattr(report, "_synthetic_docs", None) or []
    ids = [d.id for d in docs]
    if not ids:
        return {}
    rng = np.random.default_rng([report.seed, 26, len(ids)])
    masks = rng.random((permutations + 1, len(ids))) < 0.5
    masks[0] = False  # row 0: the data as observed
    out: dict[tuple[str, str, str], np.ndarray] = {}
    for name, result in report.results.items():
        swap = getattr(result, "swap_replicates", None)
        if swap is None:
            continue
        for (metric, corpus), values in swap(base, variant, ids, masks).items():
            out[(name, metric, corpus)] = np.asarray(values, np.float64)
    return out


def headline_tests(results: dict[str, Any], h: str, s: str) -> list[dict[str, Any]]:
    """One row per finite headline test p-value of ``h`` (reference) vs ``s`` across the
    analyzers' results (the report's family and each group's)."""
    return [
        {
            "analyzer": name,
            "metric": m.name,
            "label": m.label,
            "pvalue": float(m.value),
            "resamples": m.resamples or 0,
        }
        for name, result in results.items()
        for m in result.metrics()
        if m.kind == "test" and m.headline and m.corpus == s and m.reference == h and math.isfinite(m.value)
    ]


def with_holm(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (each with a ``pvalue``), as one family: Holm-adjusted ``holm`` and ``rejects`` at 5%."""
    for r, a in zip(rows, holm([r["pvalue"] for r in rows])):
        r["holm"] = a
        r["rejects"] = a < 0.05
    return rows


def _test_family(report, h: str, s: str) -> dict[str, Any]:
    """Headline tests of the reference vs ``s`` across analyzers, Holm-corrected as one family."""
    rows = with_holm(headline_tests(report.results, h, s))
    return {"family": f"{h} vs {s}", "count": len(rows), "rows": rows}


def _paired_family(report, s: str, e: str) -> dict[str, Any]:
    views, rows = {}, []
    for name, result in report.results.items():
        view = result.paired(s, e)
        if view is None:
            continue
        views[name] = view
        for m in view.metrics:
            if m.kind == "test" and math.isfinite(m.value):
                rows.append(
                    {
                        "analyzer": name,
                        "metric": m.name,
                        "label": m.label,
                        "pvalue": float(m.value),
                        "note": m.note,
                    }
                )
    return {"tests": with_holm(rows), "views": views}
