"""The report's ranked "largest differences": one standardised effect per metric, sorted.

Two contrasts: **synthetic vs human** and **edited vs synthetic**. For every metric with bootstrap
replicates (``Result.bootstrap``, the report's seeded document weights: a synthetic document and
its edited version share theirs, human documents are resampled on their own):

- a per-corpus metric: ``difference = value(b) − value(a)`` (synthetic vs human: only metrics
  whose replicates are valid for the value, ``Result.interval_metrics``, since the two are
  resampled independently; edited vs synthetic: any, paired, the bias cancels);
- a distance to human, for synthetic vs human only: its distance from the value identical
  corpora give (``value − identical``; only for metrics whose replicates are valid for the value
  itself, ``Result.interval_metrics``: plug-in divergences are biased under resampling). How the
  edit moved the distances is the edit-effects table's (its own tests and Holm family), so the
  edited-vs-synthetic contrast here ranks the per-corpus metrics only.

``se`` is the spread of the replicates' difference, the interval the basic bootstrap's
``[2Δ − q97.5, 2Δ − q2.5]``, and ``standardised = difference / se`` (a z-score: how many
standard errors the sample puts between the two) — the sort key, largest first. Each contrast is
one family: a two-sided normal p-value per row, Holm-adjusted over the family, and a row is
``supported`` only when its adjusted p-value is below 0.05; the headline words no other row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..stats import holm

__all__ = ["differences"]

CONTRASTS = ("synthetic vs human", "edited vs synthetic")


def differences(report) -> Any:
    """The ranked table (a pandas DataFrame; module docstring), both contrasts."""
    import pandas as pd
    from scipy.stats import norm

    from .effects import _basic

    h, s, e = report.names["human"], report.names["synthetic"], report.names["edited"]
    names = {c["name"] for c in report.corpora}
    reps = report.effects().get("reps", {})
    rows: list[dict[str, Any]] = []
    for contrast, (a, b) in zip(CONTRASTS, ((h, s), (s, e))):
        if a not in names or b not in names:
            continue
        family = []
        for analyzer, result in report.results.items():
            ms = {(m.name, m.corpus): m for m in result.metrics()}
            for (metric, corpus), m in ms.items():
                if corpus != b or (analyzer, metric, b) not in reps:
                    continue
                rb = np.asarray(reps[(analyzer, metric, b)], np.float64)
                valid = metric in result.interval_metrics or contrast == CONTRASTS[1]
                if m.kind == "per corpus" and valid and (metric, a) in ms and (analyzer, metric, a) in reps:
                    va = float(ms[(metric, a)].value)
                    with np.errstate(invalid="ignore"):  # inf - inf in a replicate: dropped below
                        diff, d = (
                            float(m.value) - va,
                            rb - np.asarray(reps[(analyzer, metric, a)], np.float64),
                        )
                elif m.kind == "distance" and contrast == CONTRASTS[0]:
                    if m.identical is None or metric not in result.interval_metrics:
                        continue
                    va = float(m.identical)
                    diff, d = float(m.value) - va, rb - va
                else:
                    continue
                d = np.asarray(d, np.float64)
                d = d[np.isfinite(d)]
                if not (math.isfinite(diff) and d.size):
                    continue
                se = float(np.std(d))
                z = diff / se if se > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
                lo, hi = _basic(diff, d)
                family.append(
                    {
                        "contrast": contrast,
                        "analyzer": analyzer,
                        "metric": metric,
                        "label": m.label,
                        "kind": m.kind,
                        "better": m.better,
                        "unit": m.unit,
                        a if m.kind == "per corpus" else "identical": va,
                        b: float(m.value),
                        "difference": diff,
                        "low": lo,
                        "high": hi,
                        "se": se,
                        "standardised": z,
                        "pvalue": float(2 * norm.sf(abs(z))) if math.isfinite(z) else 0.0,
                    }
                )
        for r, adj in zip(family, holm([r["pvalue"] for r in family])):
            r["holm"] = adj
            r["supported"] = bool(adj < 0.05)
        family.sort(key=lambda r: -abs(r["standardised"]))
        for rank, r in enumerate(family, 1):
            r["rank"] = rank
        rows += family
    cols = ["contrast", "rank", "analyzer", "metric", "label", "kind", "better", "unit"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    rest = [c for c in frame.columns if c not in cols]
    return frame[[*cols, *rest]]
