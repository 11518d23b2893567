"""The report's verdict: per analyzer, its headline metrics for every corpus, whether the edited
corpus moved toward or away from the human one, and a paragraph that claims nothing the numbers
do not show. Everything comes from the results' ``metrics()`` and ``findings()``; no analyzer is
named here."""

from __future__ import annotations

import math
from typing import Any


def _f(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def moved(before: float, after: float, better: str, noise: float = 0.0) -> str:
    """``toward human``, ``away from human``, ``unchanged`` (within tolerance or noise) or ``n/a``.

    >>> moved(0.5, 0.4, "lower"), moved(0.5, 0.4, "higher"), moved(0.5, 0.5002, "lower")
    ('toward human', 'away from human', 'unchanged')
    """
    if not (math.isfinite(before) and math.isfinite(after)):
        return "n/a"
    if better == "higher":
        before, after = -before, -after
    delta = after - before
    tol = max(noise, 1e-9, 1e-3 * abs(before))
    if abs(delta) <= tol:
        return "unchanged"
    return "toward human" if delta < 0 else "away from human"


def _rows(metrics, s: str | None, e: str | None) -> list[dict[str, Any]]:
    """Headline metrics grouped into one row per metric name, values by corpus."""
    rows: dict[str, dict[str, Any]] = {}
    for m in metrics:
        if not m.headline:
            continue
        row = rows.get(m.name)
        if row is None:
            kind = "distance to human" if m.kind == "distance" else m.kind
            label = m.label + (f" ({m.unit})" if m.unit and m.unit not in ("share",) else "")
            row = rows[m.name] = {
                "name": label,
                "key": m.name,
                "kind": kind,
                "values": {},
                "better": m.better,
                "note": m.note,
                "noise": m.noise or 0.0,
            }
        row["values"][m.corpus] = m.value
    out = list(rows.values())
    for row in out:
        if row["kind"] == "distance to human" and s in row["values"] and e in row["values"]:
            row["moved"] = moved(
                _f(row["values"][s]), _f(row["values"][e]), row["better"] or "lower", row["noise"]
            )
        row.pop("noise")
    return out


def build_verdict(report) -> dict[str, Any]:
    s, e = report.names["synthetic"], report.names["edited"]
    names = [c["name"] for c in report.corpora]
    has_e = e in names
    families = []
    sentences: list[str] = []
    for name, result in report.results.items():
        families.append(
            {
                "name": result.title,
                "analyzer": name,
                "metrics": _rows(result.metrics(), s, e if has_e else None),
            }
        )
        sentences.extend(result.findings(corpus=s))

    if report.edit:
        ed = report.edit
        pct = 100 * ed["changed"] / ed["tokens"] if ed["tokens"] else 0.0
        dpct = 100 * ed["deleted"] / ed["tokens"] if ed["tokens"] else 0.0
        sentences.append(
            f"Editing (p = {ed['config']['p']}, k = {ed['config']['k']}, β = {ed['config']['beta']}, "
            f"{ed['config']['strategy']}) selected {ed['selected']} of {ed['tokens']} tokens and changed "
            f"{ed['changed']} ({pct:.2f}%)"
            + (f" and deleted {ed['deleted']} ({dpct:.2f}%)" if ed["deleted"] else "")
            + f" in {ed['documents_changed']} of {ed['documents']} documents."
        )
    if has_e:
        moves = [(f["name"], m["name"], m["moved"]) for f in families for m in f["metrics"] if "moved" in m]
        toward = [x for x in moves if x[2] == "toward human"]
        away = [x for x in moves if x[2] == "away from human"]
        same = [x for x in moves if x[2] == "unchanged"]
        if moves:
            sentences.append(
                f"Against the human corpus, the edited corpus is closer than the synthetic one on {len(toward)} of "
                f"{len(moves)} distance measures, further on {len(away)}, and unchanged (within tolerance or "
                f"noise) on {len(same)}."
                + (" Closer on: " + "; ".join(m for _, m, _ in toward) + "." if toward else "")
                + (" Further on: " + "; ".join(m for _, m, _ in away) + "." if away else "")
            )
            if (
                report.edit
                and report.edit["tokens"]
                and report.edit["changed"] / report.edit["tokens"] < 0.01
            ):
                sentences.append(
                    "Because under 1% of tokens changed, small movements are expected; differences this small "
                    "can be within sampling noise, and only the tests above speak to significance."
                )
    return {"families": families, "summary": " ".join(x for x in sentences if x)}
