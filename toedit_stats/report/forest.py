"""The report's headline figure: a forest plot of the edit effect on every distance metric."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..plotting import PALETTE, _lit, _plt


def forest_plot(report) -> Any:
    """Δ = d(human, edited) − d(human, synthetic) per distance metric, as a share of
    d(human, synthetic), with its 95% interval; oriented so that left is always toward human
    (for "higher is closer" metrics the sign is flipped). Metrics without an interval are drawn
    as open points."""
    plt = _plt()
    rows = report.effects()["effects"]
    fig, ax = plt.subplots(figsize=(10, 0.42 * max(len(rows), 1) + 1.8))
    ys = np.arange(len(rows))[::-1]
    for y, r in zip(ys, rows):
        scale = abs(r["synthetic"]) if r["synthetic"] and math.isfinite(r["synthetic"]) else 1.0
        sign = 1.0 if r["better"] == "lower" else -1.0
        d = sign * r["delta"] / scale * 100
        lo, hi = (sign * r["low"] / scale * 100, sign * r["high"] / scale * 100)
        lo, hi = min(lo, hi), max(lo, hi)
        verdict = r["verdict"]
        color = (
            PALETTE["edited"]
            if verdict.startswith("toward")
            else PALETTE["synthetic"]
            if verdict.startswith("away")
            else "#555555"
        )
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [y, y], color=color, lw=2)
            ax.plot([d], [y], "o", color=color)
        elif math.isfinite(d):
            ax.plot([d], [y], "o", mfc="white", color=color)
    ax.axvline(0, color="#222", lw=1)
    ax.set_yticks(ys)
    ax.set_yticklabels([_lit(f"{r['analyzer']}: {r['label']}") for r in rows], fontsize=8)
    ax.set_xlabel(
        "← toward human     change of the distance to human, % of its synthetic value     away from human →"
    )
    xmin, xmax = ax.get_xlim()
    span = max(abs(xmin), abs(xmax), 1e-9)
    ax.set_xlim(-span, span)
    ax.axvspan(-span, 0, color=PALETTE["edited"], alpha=0.06)
    ax.set_title(
        "Edit effect: Δ = d(human, edited) − d(human, synthetic), with 95% intervals (paired permutation where\n"
        f"documents can be swapped, else paired bootstrap; B = {report.effects()['replicates']}); coloured only when "
        "the Holm-corrected test of the family rejects; open points: no interval",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
