"""The edit effect and the intervals of one report, from the analyzers' bootstrap replicates.

For every distance-to-reference metric, ``Δ = d(human, edited) − d(human, synthetic)`` with a
seeded 95% bootstrap interval: a synthetic document and its edited version share their weights
(paired), human documents are resampled independently (:class:`toedit_stats.stats.BootstrapWeights`).
The interval is the *basic* (pivotal) bootstrap interval ``[2Δ − q97.5, 2Δ − q2.5]``, which
removes the resampling bias of plug-in divergences to first order. The edit moved the corpus
"toward human" or "away from human" only when the interval excludes 0; otherwise there is "no
detectable change". ``mde`` is the smallest change this sample could detect: ``2.8 × SE(Δ)``
(a two-sided 5% test with 80% power). Metrics the analyzers cannot resample cheaply keep their
noise rule (MAUVE: twice its seed-to-seed spread) or have no interval, and say so.

Tests of human vs synthetic form one family, corrected with Holm's method; the paired
before/after tests of the edit form another.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..stats import BootstrapWeights, holm, interval
from .build import SELECTED, UNIFORM

__all__ = ["compute_effects"]


def _basic(point: float, reps: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    lo, hi = interval(reps, level)
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(point)):
        return (math.nan, math.nan)
    return (2 * point - hi, 2 * point - lo)


def _direction(delta_low: float, delta_high: float, better: str) -> str:
    closer_if_negative = better == "lower"
    if delta_high < 0:
        return "toward human" if closer_if_negative else "away from human"
    if delta_low > 0:
        return "away from human" if closer_if_negative else "toward human"
    return "no detectable change"


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
        "intervals": intervals,
        "effects": effects,
        "selection": selection,
        "tests": tests,
        "paired": paired,
    }


def _contrast(report, reps: dict, replicates: int, base: str, variant: str) -> list[dict[str, Any]]:
    """``Δ = d(reference, variant) − d(reference, base)`` per headline distance metric, with its
    paired basic-bootstrap interval and verdict. Rows name the two corpora ``synthetic``/``edited``
    for the edit and ``uniform``/``selected`` for the selection."""
    keys = ("synthetic", "edited") if variant != SELECTED else (UNIFORM, SELECTED)
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
            }
            kb, ke = (name, metric, base), (name, metric, variant)
            if kb in reps and ke in reps and math.isfinite(delta):
                d = reps[ke] - reps[kb]
                lo, hi = _basic(delta, d)
                se = float(np.nanstd(d))
                row.update(low=lo, high=hi, se=se, mde=2.8 * se, method=f"paired bootstrap, B = {replicates}")
                verdict = _direction(lo, hi, m.better or "lower") if math.isfinite(lo) else "n/a"
            elif m.noise and math.isfinite(delta):
                row.update(method="seed spread (not resampled: too costly)")
                verdict = (
                    "within seed spread"
                    if abs(delta) <= m.noise
                    else (
                        "toward human"
                        if (delta < 0) == ((m.better or "lower") == "lower")
                        else "away from human"
                    )
                    + " (beyond twice the seed spread)"
                )
            else:
                row.update(method="not resampled")
                verdict = "no interval"
            row["verdict"] = verdict
            rows.append(row)
    return rows


def headline_tests(results: dict[str, Any], h: str, s: str) -> list[dict[str, Any]]:
    """One row per finite headline test p-value of ``h`` (reference) vs ``s`` across the
    analyzers' results (the report's family and each group's)."""
    return [
        {"analyzer": name, "metric": m.name, "label": m.label, "pvalue": float(m.value)}
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
