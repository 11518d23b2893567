"""Rendering a :class:`~toedit_stats.report.build.Report`: one self-contained HTML file (inline
CSS, figures as inline PNG, no JavaScript, nothing fetched from the network; every text from the
corpora is escaped by Jinja2's autoescape) and the report folder."""

from __future__ import annotations

import base64
import math
import os
import shutil
from pathlib import Path
from typing import Any

from .._io import (
    atomic_write_bytes,
    atomic_write_text,
    check_output_location,
    dumps,
    remove_stale_temps,
    temp_dir,
    to_csv,
    visible,
)
from ..errors import ConfigError


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
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

    cache = getattr(report, "_pngs", None)
    if cache is None:
        cache = {name: figure_png(fig) for name, fig in report.figures().items()}
        report._pngs = cache
    return cache


def render_html(report) -> str:
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
    pngs = figure_pngs(report)
    figures = {k: base64.b64encode(v).decode("ascii") for k, v in pngs.items()}
    verdict = report.verdict()
    examples = sorted(
        (e for e in report.edited_docs if e.audits[0].positions), key=lambda e: -len(e.audits[0].positions)
    )[:3]
    tables = {}
    for name, frame in report.tables().items():
        if name in ("token_documents", "edit_documents", "summary"):
            continue
        tables[name] = {"columns": list(frame.columns), "rows": frame.to_dict("records")}
    template = env.get_template("report.html.j2")
    return template.render(
        r=report,
        verdict=verdict,
        figures=figures,
        names=[c["name"] for c in report.corpora],
        examples=[(e.doc.id, e.audit, _segments(e)) for e in examples],
        tables=tables,
    )


def save_report(report, directory: Path, *, overwrite: bool = False) -> Path:
    directory = Path(directory)
    try:
        check_output_location(directory, directory=True, overwrite=overwrite)
    except ConfigError as exc:  # the Python fix, not the CLI's
        raise ConfigError(str(exc).replace("pass --overwrite", "pass overwrite=True")) from None
    directory.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(directory)
    tmp = temp_dir(directory)
    try:
        atomic_write_text(tmp / "report.html", render_html(report))
        atomic_write_text(tmp / "metrics.json", dumps(report.metrics()) + "\n")
        for name, frame in report.tables().items():
            atomic_write_text(tmp / "tables" / f"{name}.csv", to_csv(frame))
        for name, png in figure_pngs(report).items():
            atomic_write_bytes(tmp / "figures" / f"{name}.png", png)
        if report.edited_records:
            from ..corpus import write_records

            write_records(report.edited_records, tmp / "edited.jsonl")
            manifest = {
                "config": report.edit["config"],
                "totals": {k: v for k, v in report.edit.items() if k != "config"},
                "model": report.provenance.get("model"),
                "versions": report.provenance.get("versions"),
                "inputs": next(
                    (c["files"] for c in report.corpora if c["name"] == report.names["synthetic"]), []
                ),
            }
            atomic_write_text(tmp / "edited.jsonl.manifest.json", dumps(manifest) + "\n")
        if directory.exists():
            old = temp_dir(directory, "old")
            os.replace(directory, old / "x")
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory
