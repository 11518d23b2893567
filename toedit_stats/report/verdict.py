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


def _fmt_p(p: float, resamples: int) -> str:
    """A p-value; at the floor of a resampling test (``1 / (resamples + 1)``) it is a bound."""
    if not math.isfinite(p):
        return "–"
    if resamples and p <= 1.0 / (resamples + 1) + 1e-15:
        return f"≤ {1.0 / (resamples + 1):.2g}"
    return f"{p:.2g}"


def _fmt_num(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _rows(name: str, metrics, effects: dict[str, Any], s: str | None, e: str | None) -> list[dict[str, Any]]:
    """Headline metrics grouped into one row per metric name: values (and intervals) by corpus,
    and for distances the edit effect with its interval."""
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
                "intervals": {},
                "better": m.better,
                "note": m.note,
            }
        row["values"][m.corpus] = m.value
        # the report's bootstrap interval, else the analyzer's own (e.g. the Vendi score's jackknife)
        iv = effects["intervals"].get((name, m.name, m.corpus)) or m.interval
        if iv is not None and all(math.isfinite(x) for x in iv):
            row["intervals"][m.corpus] = [iv[0], iv[1]]
    by_metric = {r["metric"]: r for r in effects["effects"] if r["analyzer"] == name}
    out = list(rows.values())
    for row in out:
        eff = by_metric.get(row["key"])
        if row["kind"] == "distance to human" and eff is not None and e is not None:
            row["moved"] = eff["verdict"]
            if math.isfinite(eff["low"]):
                row["effect"] = (
                    f"Δ = {_fmt_num(eff['delta'])}, 95% CI [{_fmt_num(eff['low'])}, {_fmt_num(eff['high'])}]"
                    + (f", Holm p = {_fmt_p(eff['holm'], effects['replicates'])}" if "holm" in eff else "")
                )
            elif eff["verdict"] == "no interval":
                row["effect"] = f"Δ = {_fmt_num(eff['delta'])} (not resampled)"
            else:
                row["effect"] = f"Δ = {_fmt_num(eff['delta'])} ({eff.get('method', '')})"
    return out


def build_verdict(report) -> dict[str, Any]:
    s, e = report.names["synthetic"], report.names["edited"]
    names = [c["name"] for c in report.corpora]
    has_e = e in names
    effects = report.effects()
    tests = effects["tests"]
    adjusted: dict[str, dict[str, float]] = {}
    for r in tests["rows"]:
        adjusted.setdefault(r["analyzer"], {})[r["metric"]] = r["holm"]
    families = []
    sentences: list[str] = []
    for name, result in report.results.items():
        families.append(
            {
                "name": result.title,
                "analyzer": name,
                "metrics": _rows(name, result.metrics(), effects, s, e if has_e else None),
            }
        )
        sentences.extend(result.findings(corpus=s, adjusted=adjusted.get(name, {})))
    if tests["count"]:
        rejecting = [r for r in tests["rows"] if r["rejects"]]
        sentences.append(
            f"{tests['count']} tests of {tests['family']} were made ("
            + "; ".join(f"{r['label']}" for r in tests["rows"])
            + f"); after Holm's correction for their number, {len(rejecting)} reject at the 5% level."
        )

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
        applied = sum(ed["damage"].values())
        if applied:
            labels = {
                "number": "in numbers",
                "inside_word": "inside a word",
                "name": "in names",
                "punctuation": "on punctuation",
                "word": "whole words",
            }
            parts = "; ".join(f"{ed['damage'][k]} {label}" for k, label in labels.items())
            protect = ed["config"].get("protect")
            sentences.append(
                f"By kind, the {applied} applied edits were: {parts}"
                + (f" ({ed['protected']} positions protected: {protect})." if protect else ".")
            )
    if has_e and effects["effects"]:
        sentences.append(_effects_sentence(effects))
    paired = effects["paired"]["tests"]
    if paired:
        rej = [r for r in paired if r["rejects"]]
        sentences.append(
            f"Per document, before vs after editing: {len(paired)} paired Wilcoxon signed-rank tests, "
            + "; ".join(f"{r['label']} p = {r['pvalue']:.3g} ({r['note']})" for r in paired)
            + f"; {len(rej)} reject at 5% after Holm's correction."
        )
    return {
        "headline": headline(report),
        "families": families,
        "summary": " ".join(x for x in sentences if x),
    }


def _iv(lo: float, hi: float) -> str:
    return f" [{_fmt_num(lo)}, {_fmt_num(hi)}]" if math.isfinite(lo) and math.isfinite(hi) else ""


def headline(report) -> list[dict[str, str]]:
    """Three or four short answers, each resting on a test or an interval of the report, worded
    only as far as its family-wise test goes: are the corpora different, how, did the edit move
    the synthetic corpus toward human, and (with the mixture analyzer) how synthetic the edited
    corpus still looks."""
    effects = report.effects()
    h, s, e = report.names["human"], report.names["synthetic"], report.names["edited"]
    out = []
    tests = effects["tests"]
    if tests["count"]:
        rej = [r for r in tests["rows"] if r["rejects"]]
        if rej:
            best = min(rej, key=lambda r: r["holm"])
            answer = (
                f"yes — {len(rej)} of {tests['count']} tests reject after Holm's correction "
                f"(strongest: {best['label']}, Holm-adjusted p = {_fmt_p(best['holm'], 0)})"
            )
        else:
            answer = (
                f"no detectable difference — none of {tests['count']} tests rejects after Holm's correction"
            )
        out.append({"question": f"Are {s} and {h} different?", "answer": answer})
    diffs = report.differences()
    if len(diffs):
        sh = diffs[(diffs["contrast"] == "synthetic vs human") & diffs["supported"]]
        # the answer names what each corpus is (per-corpus values side by side) before distances
        per = sh[sh["kind"] == "per corpus"]
        sh = per if len(per) else sh
        if len(sh):
            parts = []
            for _, r in sh.head(3).iterrows():
                ref = r.get(h) if r["kind"] == "per corpus" else r.get("identical")
                what = h if r["kind"] == "per corpus" else "identical corpora"
                parts.append(
                    f"{r['label']}: {_fmt_num(r[s])} vs {_fmt_num(ref)} ({what}), "
                    f"Δ = {_fmt_num(r['difference'])}{_iv(r['low'], r['high'])}"
                )
            n = int((diffs["contrast"] == "synthetic vs human").sum())
            k = int(((diffs["contrast"] == "synthetic vs human") & diffs["supported"]).sum())
            answer = (
                "; ".join(parts)
                + f" ({k} of {n} statistics differ after Holm's correction; the ranked table lists all)"
            )
        else:
            answer = (
                "no single statistic differs detectably after Holm's correction (the ranked table lists all)"
            )
        out.append({"question": "How?", "answer": answer})
    from .lengthfair import length_fair_answer

    line = length_fair_answer(report.length_fair(), h, s)
    if line is not None:
        out.append({"question": "Is it only length?", "answer": line})
    rows = effects.get("effects") or []
    if report.edit and rows:
        ed = report.edit
        pct = 100 * ed["changed"] / ed["tokens"] if ed["tokens"] else 0.0
        tested = [r for r in rows if math.isfinite(r.get("pvalue", math.nan))]
        toward = sum(r["verdict"] == "toward human" for r in tested)
        away = sum(r["verdict"] == "away from human" for r in tested)
        answer = (
            f"it changed {pct:.2f}% of the tokens; of {len(tested)} distances to {h}, {toward} moved "
            f"detectably toward it, {away} away, {len(tested) - toward - away} show no detectable change "
            "(Holm's correction over them)"
        )
        out.append({"question": "Did editing move it toward human?", "answer": answer})
    mix = report.results.get("mixture")
    if mix is not None:
        est = {x.corpus: x for x in mix.estimates}
        target = est.get(e)
        if target is not None and math.isfinite(target.alpha):
            out.append(
                {
                    "question": f"How synthetic does {e} look?",
                    "answer": f"synthetic share α = {_fmt_num(target.alpha)}{_iv(target.low, target.high)} on "
                    f"{target.documents} documents, where held-out {h} reads 0 and held-out {s} reads 1 "
                    "(word occurrence, Liang et al. 2024)",
                }
            )
    return out


def _effects_sentence(effects: dict[str, Any]) -> str:
    """The edit's effects in words: how many distances were tested and how, the calls Holm's
    correction leaves, and what the sample could have detected. Nothing is called that the
    family-wise test does not support."""
    rows = effects["effects"]
    tested = [r for r in rows if math.isfinite(r.get("pvalue", math.nan))]
    toward = [r for r in tested if r["verdict"] == "toward human"]
    away = [r for r in tested if r["verdict"] == "away from human"]
    none = [r for r in tested if r["verdict"] == "no detectable change"]
    swapped = sum("permutation" in r.get("method", "") for r in tested)
    n = next((r["n"] for r in rows if r.get("n")), None)
    text = (
        f"Against the human corpus, the edit's effect on {len(tested)} of {len(rows)} distance measures was "
        f"tested as one family ({swapped} by a paired permutation test that swaps documents with their edited "
        f"versions, {len(tested) - swapped} by the paired bootstrap, B = {effects['replicates']}; Holm's "
        f"correction for the {len(tested)})"
        + (f", on {n} documents per corpus (plug-in distances depend on the sample size)" if n else "")
        + f": the edited corpus is detectably closer on {len(toward)}, detectably further on {len(away)}, "
        f"and shows no detectable change on {len(none)}."
    )

    def sized(r: dict[str, Any]) -> str:  # a detectable change can still be a tiny one: say how big
        return f"{r['label']} (Δ = {_fmt_num(r['delta'])}, {_pct(r['delta'], r['synthetic'])})"

    if toward:
        text += " Closer on: " + "; ".join(sized(r) for r in toward) + "."
    if away:
        text += " Further on: " + "; ".join(sized(r) for r in away) + "."
    with_se = [r for r in none if r["se"] > 0]
    if with_se:
        mdes = "; ".join(
            f"{r['label']} {_fmt_num(r['mde'])} ({_pct(r['mde'], r['synthetic'])})" for r in with_se[:4]
        )
        text += (
            f" Smallest changes this sample could have detected (2.8 × SE): {mdes}"
            + (f"; and {len(with_se) - 4} more in the edit-effects table" if len(with_se) > 4 else "")
            + "."
        )
    flat = [r for r in none if r["se"] == 0]
    if flat:
        text += (
            " Identical in every replicate (a statistic the edit did not move): "
            + "; ".join(r["label"] for r in flat)
            + "."
        )
    without = [r for r in rows if r not in tested]
    if without:
        text += " Not tested: " + "; ".join(f"{r['label']} ({r['verdict']})" for r in without) + "."
    return text


def _pct(x: float, base: float) -> str:
    if not (math.isfinite(x) and math.isfinite(base)) or base == 0:
        return "–"
    return f"{100 * x / abs(base):.1f}% of its value"
