"""Rendering a :class:`~toedit_stats.report.build.Report`: one self-contained HTML file (inline
CSS, figures as inline PNG, no JavaScript, nothing fetched from the network; every text from the
corpora is escaped by Jinja2's autoescape) and the report folder."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from .._io import atomic_dir, atomic_write_bytes, atomic_write_text, dumps, to_csv, visible
from .._provenance import file_sha256


def _pfmt(p: Any, resamples: int = 0) -> str:
    """A p-value cell: at a permutation test's floor, ``≤ 1/(P+1)`` (a bound, not a value)."""
    from ..stats import format_p

    try:
        return format_p(float(p), int(resamples or 0))[2:].replace("= ", "")
    except (TypeError, ValueError):
        return "–"


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if math.isinf(x):  # e.g. a difference over a zero bootstrap spread: no replicate disagreed
            return "∞" if x > 0 else "−∞"
        if not math.isfinite(x):
            return "–"
        if x == 0:
            return "0"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        if abs(x) >= 0.01:
            return f"{x:.4g}"
        return f"{x:.3g}"
    return str(x)


def _segments(ed, limit: int = 4000) -> list[tuple[str, str, str]]:
    """(kind, text, title) pieces of an edited document: plain text, deleted and inserted tokens."""
    text = ed.original
    positions = ed.audits[0].positions or []
    out, cursor = [], 0
    for _, (s, e), old, new, prob in positions:
        out.append(("text", text[cursor:s], ""))
        title = f"p = {prob:.4f}"
        if old:
            out.append(("del", old, title))
        if new:
            out.append(("ins", new, title))
        cursor = e
    out.append(("text", text[cursor:], ""))
    total, clipped = 0, []
    for kind, t, title in out:
        if total + len(t) > limit and kind == "text":
            clipped.append((kind, t[: max(0, limit - total)] + " […]", title))
            break
        clipped.append((kind, t, title))
        total += len(t)
    return clipped


def figure_pngs(report) -> dict[str, bytes]:
    from ..plotting import figure_png

    if report._pngs is None:
        report._pngs = {name: figure_png(fig) for name, fig in report.figures().items()}
    return report._pngs


HTML_TABLE_ROWS = 60  # longer tables (per document, top n-grams) are in tables/*.csv only


def _env():
    import jinja2
    import markupsafe

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("toedit_stats.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        # control and bidirectional-override characters from the corpora are shown as visible
        # escapes (\x1b, \u202e), never emitted raw; autoescape then escapes the HTML
        finalize=lambda v: visible(v) if isinstance(v, str) and not isinstance(v, markupsafe.Markup) else v,
    )
    env.filters["fmt"] = _fmt
    env.filters["pfmt"] = _pfmt
    return env


def _differences_rows(report, top: int = 10) -> dict[str, list[dict[str, Any]]]:
    """The ranked differences per contrast, the first ``top`` rows (all in the CSV)."""
    frame = report.differences()
    if not len(frame):
        return {}
    return {
        c: frame[frame["contrast"] == c].head(top).to_dict("records")
        for c in dict.fromkeys(frame["contrast"])
    }


def render_html(report) -> str:
    pngs = figure_pngs(report)
    figures = {k: base64.b64encode(v).decode("ascii") for k, v in pngs.items()}
    examples = sorted(
        (e for e in report.edited_docs if e.audits[0].positions), key=lambda e: -len(e.audits[0].positions)
    )[:3]
    sections = []
    for name, result in report.results.items():
        tables = {}
        for tname, frame in result.extra_tables().items():
            if len(frame) <= HTML_TABLE_ROWS:
                tables[tname] = {"columns": list(frame.columns), "rows": frame.to_dict("records")}
        sections.append(
            {
                "name": name,
                "title": result.title,
                "describe": result.describe(),
                "figures": [
                    (f"{name}_{f}", figures[f"{name}_{f}"])
                    for f in result.figure_names()
                    if f"{name}_{f}" in figures
                ],
                "tables": tables,
            }
        )
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            r=report,
            effects=report.effects(),
            verdict=report.verdict(),
            differences=_differences_rows(report),
            length_fair=report.length_fair().to_dict("records"),
            figures=figures,
            names=[c["name"] for c in report.corpora],
            sections=sections,
            examples=[(e.doc.id, e.audit, _segments(e)) for e in examples],
            human_like=report.human_like() if report.scores is not None else None,
            glossary=glossary(report),
        )
    )


def glossary(report) -> list[dict[str, Any]]:
    """Per analyzer, each metric once (name, label, kind, unit, direction, value for identical
    corpora) and the analyzer module's documentation, which defines them."""
    import inspect
    import sys

    out = []
    for name, result in report.results.items():
        seen: dict[str, Any] = {}
        for m in result.metrics():
            seen.setdefault(m.name, m)
        module = type(result).__module__
        out.append(
            {
                "analyzer": name,
                "title": result.title,
                "module": module,
                "doc": inspect.getdoc(sys.modules.get(module)) or "",
                "metrics": list(seen.values()),
            }
        )
    return out


def render_summary(report) -> str:
    """The compact notebook view: verdict paragraph and headline table, styles scoped to it."""
    return (
        _env()
        .get_template("summary.html.j2")
        .render(r=report, verdict=report.verdict(), names=[c["name"] for c in report.corpora])
    )


def save_report(report, directory: Path, *, overwrite: bool = False) -> Path:
    from ..corpus import write_records

    inputs = [p for c in report.corpora for p in (c["source"] if isinstance(c["source"], list) else [])]
    with atomic_dir(directory, overwrite=overwrite, inputs=inputs) as tmp:
        atomic_write_text(tmp / "report.html", render_html(report))
        atomic_write_text(tmp / "metrics.json", dumps(report.to_dict()) + "\n")
        for name, frame in report.tables().items():
            atomic_write_text(tmp / "tables" / f"{name}.csv", to_csv(frame))
        for name, png in figure_pngs(report).items():
            atomic_write_bytes(tmp / "figures" / f"{name}.png", png)
        if report.scores is not None:
            report.scores.to_parquet(tmp / "scores.parquet", index=False)
        if report.edited_records:
            write_records(report.edited_records, tmp / "edited.jsonl")
            manifest = {
                **report.edit_manifest,
                "output": "edited.jsonl",
                "output_sha256": file_sha256(tmp / "edited.jsonl"),
            }
            atomic_write_text(tmp / "edited.jsonl.manifest.json", dumps(manifest) + "\n")
    return directory
