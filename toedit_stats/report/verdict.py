"""The report's verdict: per family, human↔synthetic against human↔edited, and a paragraph that
claims nothing the numbers do not show."""

from __future__ import annotations

import math
from typing import Any


def _f(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and x is not None and math.isfinite(float(x)) else math.nan


def _moved(before: float, after: float, better: str, noise: float = 0.0) -> str:
    """``toward human``, ``away from human``, ``unchanged`` (within noise) or ``n/a``."""
    if not (math.isfinite(before) and math.isfinite(after)):
        return "n/a"
    if better == "higher":
        before, after = -before, -after
    delta = after - before
    tol = max(noise, 1e-9, 1e-3 * abs(before))
    if abs(delta) <= tol:
        return "unchanged"
    return "toward human" if delta < 0 else "away from human"


def _metric(name, kind, values, better=None, noise=0.0, s=None, e=None, note=None):
    m = {"name": name, "kind": kind, "values": values, "better": better, "note": note}
    if kind == "distance to human" and s in values and e in values:
        m["moved"] = _moved(_f(values[s]), _f(values[e]), better or "lower", noise)
    return m


def build_verdict(report) -> dict[str, Any]:
    h, s, e = report.names["human"], report.names["synthetic"], report.names["edited"]
    names = [c["name"] for c in report.corpora]
    has_e = e in names
    families = []
    sentences: list[str] = []

    tok = report.tokens
    if tok is not None:
        per = {c.name: c.to_dict() for c in tok.corpora}
        pairs = {p.b: p for p in tok.pairs}
        metrics = [
            _metric(
                "share of tokens with p >= 0.99", "per corpus", {n: per[n]["share_ge"]["0.99"] for n in per}
            ),
            _metric("median per-document perplexity", "per corpus", {n: per[n]["ppl"]["p50"] for n in per}),
            _metric("mean entropy (nats)", "per corpus", {n: per[n]["mean_entropy_nats"] for n in per}),
            _metric(
                "KS statistic, per-document perplexity",
                "distance to human",
                {n: p.ppl_ks_stat for n, p in pairs.items()},
                "lower",
                s=s,
                e=e,
            ),
            _metric("KS p-value", "test", {n: p.ppl_ks_pvalue for n, p in pairs.items()}),
            _metric(
                "Wasserstein, log-perplexity (nats)",
                "distance to human",
                {n: p.log_ppl_wasserstein for n, p in pairs.items()},
                "lower",
                s=s,
                e=e,
            ),
            _metric(
                "JS divergence, 100-bin token probabilities (bits)",
                "distance to human",
                {n: p.prob_hist_js_bits for n, p in pairs.items()},
                "lower",
                s=s,
                e=e,
            ),
        ]
        families.append({"name": "token probabilities and perplexity", "metrics": metrics})
        if h in per and s in per:
            ph, ps = per[h]["ppl"]["p50"], per[s]["ppl"]["p50"]
            more = "more" if ps < ph else "less"
            ks = pairs.get(s)
            sig = "significant" if ks and ks.ppl_ks_pvalue < 0.05 else "not significant"
            sentences.append(
                f"Under the prior model the {s} corpus is {more} predictable than the {h} one: median "
                f"per-document perplexity {ps:.2f} vs {ph:.2f}, and {100 * per[s]['share_ge']['0.99']:.1f}% vs "
                f"{100 * per[h]['share_ge']['0.99']:.1f}% of tokens get p ≥ 0.99. The difference in per-document "
                f"perplexity is {sig} at the 5% level (KS p = {ks.ppl_ks_pvalue:.2g})."
                if ks
                else ""
            )
            if ps >= ph:
                sentences.append(
                    f"Note that this {s} corpus is not over-concentrated in the way the paper describes; "
                    "editing over-confident tokens is not expected to help it."
                )

    ng = report.ngrams
    if ng is not None:
        src = ng.equal_size or ng
        label = "equal token budgets" if ng.equal_size is not None else "full corpora"
        per = {c.name: c for c in src.corpora}
        js2 = {p.b: p.js_divergence_bits for p in src.pairs if p.n == 2}
        cov2 = {p.b: p.coverage for p in src.pairs if p.n == 2}
        hashed = {p["b"]: p["js_divergence_bits"] for p in src.hashed_pairs}

        def by_n(c, n, key):
            return next((getattr(x, key) for x in c.by_n if x.n == n), math.nan)

        metrics = [
            _metric(
                "distinct bigrams / bigrams",
                "per corpus",
                {n: by_n(c, 2, "distinct_ratio") for n, c in per.items()},
            ),
            _metric(
                "mass on the top 100 bigrams",
                "per corpus",
                {n: by_n(c, 2, "top100_mass") for n, c in per.items()},
            ),
            _metric(
                "hashed features: mass in the top 1% of buckets",
                "per corpus",
                {n: c.hashed.top1pct_mass for n, c in per.items()},
            ),
            _metric("gzip compression ratio", "per corpus", {n: c.compression_ratio for n, c in per.items()}),
            _metric("JS divergence, bigrams (bits)", "distance to human", js2, "lower", s=s, e=e),
            _metric("bigram coverage by human", "distance to human", cov2, "higher", s=s, e=e),
            _metric(
                "JS divergence, hashed uni+bigram buckets (bits)",
                "distance to human",
                hashed,
                "lower",
                s=s,
                e=e,
            ),
        ]
        families.append({"name": f"n-gram concentration ({label})", "metrics": metrics})

    em = report.embed
    if em is not None:
        pairs = {p.b: p for p in em.pairs}
        noise = max((p.mauve_std for p in em.pairs if math.isfinite(p.mauve_std)), default=0.0)
        metrics = [
            _metric(
                "MAUVE (mean over seeds)",
                "distance to human",
                {n: p.mauve_mean for n, p in pairs.items()},
                "higher",
                noise=2 * noise,
                s=s,
                e=e,
                note=f"seed-to-seed std up to {noise:.3f}",
            ),
            _metric(
                "Fréchet distance",
                "distance to human",
                {n: p.frechet for n, p in pairs.items()},
                "lower",
                s=s,
                e=e,
            ),
            _metric("MMD²", "distance to human", {n: p.mmd2 for n, p in pairs.items()}, "lower", s=s, e=e),
            _metric("MMD permutation p-value", "test", {n: p.mmd_pvalue for n, p in pairs.items()}),
            _metric(
                "classifier AUC distance from 0.5",
                "distance to human",
                {n: abs(p.c2st_auc - 0.5) for n, p in pairs.items()},
                "lower",
                s=s,
                e=e,
            ),
            _metric(
                "mean pairwise cosine",
                "per corpus",
                {c["name"]: c["mean_pairwise_cosine"] for c in em.corpora},
            ),
        ]
        families.append({"name": "embedding distribution", "metrics": metrics})
        if s in pairs:
            ps = pairs[s]
            sig = "distinguishable" if ps.mmd_pvalue < 0.05 else "not distinguishable"
            sentences.append(
                f"In embedding space ({em.embedder['name']}) the {h} and {s} samples are {sig} by the MMD test "
                f"(p = {ps.mmd_pvalue:.3g}, n = {ps.n} each); a linear classifier separates them with AUC "
                f"{ps.c2st_auc:.2f} and MAUVE is {ps.mauve_mean:.3f}."
                + (
                    f" (MAUVE quantises the samples into about n/10 = {max(2, ps.n // 10)} clusters, so with "
                    f"{ps.n} documents it has little resolution; prefer the MMD test and the classifier here.)"
                    if ps.n < 200
                    else ""
                )
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
    if has_e:
        moved = [(f["name"], m["name"], m["moved"]) for f in families for m in f["metrics"] if "moved" in m]
        toward = [x for x in moved if x[2] == "toward human"]
        away = [x for x in moved if x[2] == "away from human"]
        same = [x for x in moved if x[2] == "unchanged"]
        if moved:
            sentences.append(
                f"Against the human corpus, the edited corpus is closer than the synthetic one on {len(toward)} of "
                f"{len(moved)} distance measures, further on {len(away)}, and unchanged (within tolerance or "
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
