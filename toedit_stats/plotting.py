"""Figures for the analyzers' results. matplotlib and seaborn are imported here only, lazily.

Every function returns ``{name: matplotlib.figure.Figure}``; nothing is shown or saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

PALETTE = {"human": "#1f77b4", "synthetic": "#d62728", "edited": "#2ca02c"}
_FALLBACK = ["#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#aec7e8"]


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        import os

        if not os.environ.get("DISPLAY"):
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _lit(text: str) -> str:
    """``text`` as literal matplotlib text: every ``$`` escaped, so that corpus names, ids and
    n-grams are never parsed as mathtext (an unbalanced ``$…$`` would fail at draw time), and
    control characters are shown as visible escapes."""
    from ._io import visible

    return visible(str(text), newlines=True).replace("$", r"\$")


def colors(names: list[str]) -> dict[str, str]:
    """A stable colour per corpus name (human/synthetic/edited keep theirs)."""
    import itertools

    taken = {PALETTE[n] for n in names if n in PALETTE}
    pool = itertools.cycle([c for c in (*PALETTE.values(), *_FALLBACK) if c not in taken])
    return {n: PALETTE[n] if n in PALETTE else next(pool) for n in names}


def ngram_figures(result, top_k: int = 40) -> dict[str, Any]:
    import pandas as pd
    import seaborn as sns

    plt = _plt()
    names = [c.name for c in result.corpora]
    col = colors(names)
    figs: dict[str, Any] = {}

    ns = list(result.ns)
    fig, axes = plt.subplots(1, len(ns), figsize=(4 * len(ns), 3.6), squeeze=False)
    for ax, n in zip(axes[0], ns):
        for c in result.corpora:
            rc = c.rank_counts.get(n)
            if rc is None or rc.size == 0:
                continue
            total = next(s.total for s in c.by_n if s.n == n)
            ax.loglog(np.arange(1, rc.size + 1), rc / total, label=_lit(c.name), color=col[c.name], lw=1.4)
        ax.set_title(f"{n}-grams")
        ax.set_xlabel("rank")
        ax.set_ylabel("relative frequency")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Rank–frequency (top 10,000 ranks)")
    fig.tight_layout()
    figs["rank_frequency"] = fig

    rows = []
    for c in result.corpora:
        for s in c.by_n:
            for key, label in (
                ("top1pct_mass", "top 1%"),
                ("top100_mass", "top 100"),
                ("top1000_mass", "top 1,000"),
            ):
                rows.append(
                    {"corpus": _lit(c.name), "n": f"n={s.n}", "which": label, "mass": getattr(s, key)}
                )
    df = pd.DataFrame(rows)
    g = sns.catplot(
        data=df,
        x="which",
        y="mass",
        hue="corpus",
        col="n",
        kind="bar",
        palette={_lit(k): v for k, v in col.items()},
        height=3.2,
        aspect=0.9,
    )
    g.set_titles("{col_name}")
    g.set_axis_labels("", "share of occurrences")
    g.figure.suptitle("Mass on the most frequent n-grams", y=1.03)
    figs["top_mass"] = g.figure

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for c in result.corpora:
        m = np.sort(c.hashed.mass)[::-1]
        ax.semilogy(
            np.arange(1, m.size + 1),
            np.where(m > 0, m, np.nan),
            label=_lit(c.name),
            color=col[c.name],
            lw=1.4,
        )
    ax.set_xlabel("bucket (sorted by mass)")
    ax.set_ylabel("share of uni+bigram occurrences")
    ax.set_title(f"DSIR hashed features: {result.corpora[0].hashed.buckets:,} buckets, sorted")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs["hashed_buckets"] = fig

    if 2 in ns:
        k = min(top_k, max((len(c.top.get(2, [])) for c in result.corpora), default=0))
        fig, axes = plt.subplots(
            1, len(result.corpora), figsize=(4.2 * len(result.corpora), 0.2 * k + 1.4), squeeze=False
        )
        for ax, c in zip(axes[0], result.corpora):
            items = c.top.get(2, [])[:k]
            total = next(s.total for s in c.by_n if s.n == 2)
            labels = [_lit(t) for t, _ in items][::-1]
            vals = [v / total for _, v in items][::-1]
            ax.barh(labels, vals, color=col[c.name])
            ax.set_title(f"{_lit(c.name)}: top {len(items)} bigrams", fontsize=10)
            ax.tick_params(axis="y", labelsize=7)
            ax.set_xlabel("share of bigrams")
        fig.tight_layout()
        figs["top_bigrams"] = fig
    return figs


def save_figures(figs: dict[str, Any], directory: str | Path, prefix: str = "") -> list[Path]:
    """Save each figure as PNG (atomically) and close it."""
    from ._io import atomic_write_bytes

    return [
        atomic_write_bytes(Path(directory) / f"{prefix}{name}.png", figure_png(fig, dpi=110))
        for name, fig in figs.items()
    ]


def token_figures(result) -> dict[str, Any]:
    plt = _plt()
    names = [c.name for c in result.corpora]
    col = colors(names)
    figs: dict[str, Any] = {}

    fig, ax = plt.subplots(figsize=(7, 4))
    centers = (np.arange(100) + 0.5) / 100
    for c in result.corpora:
        ax.step(
            centers,
            c.prob_hist100,
            where="mid",
            color=col[c.name],
            lw=1.5,
            label=f"{_lit(c.name)} ({c.tokens:,} tokens)",
        )
        for q, ls in ((0.25, ":"), (0.5, "--"), (0.75, ":")):
            ax.axvline(c.prob_quantile(q), color=col[c.name], ls=ls, lw=1, alpha=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("probability of the actual token")
    ax.set_ylabel("share of tokens (100 bins)")
    ax.set_title("Token probabilities (dashed: median, dotted: p25/p75)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs["prob_u_shape"] = fig

    fig, ax = plt.subplots(figsize=(7, 4))
    all_ppl = (
        np.concatenate([c.ppl for c in result.corpora if c.ppl.size]) if result.corpora else np.array([])
    )
    if all_ppl.size:
        bins = np.geomspace(max(all_ppl.min(), 1e-3), all_ppl.max() * 1.0001, 40)
        for c in result.corpora:
            ax.hist(
                c.ppl,
                bins=bins,
                histtype="step",
                lw=1.6,
                color=col[c.name],
                label=f"{_lit(c.name)} (n={c.ppl.size})",
            )
        ax.set_xscale("log")
    ax.set_xlabel("per-document perplexity")
    ax.set_ylabel("documents")
    ax.set_title("Per-document perplexity")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs["perplexity_hist"] = fig

    from .analyzers.tokens import RANK_BUCKETS

    fig, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.6))
    left = np.zeros(len(names))
    shades = plt.cm.viridis(np.linspace(0.1, 0.9, len(RANK_BUCKETS)))
    for j, bucket in enumerate(RANK_BUCKETS):
        vals = np.array([c.ranks[j] / c.tokens if c.tokens else 0 for c in result.corpora])
        ax.barh([_lit(n) for n in names], vals, left=left, color=shades[j], label=f"rank {bucket}")
        left += vals
    ax.set_xlabel("share of tokens")
    ax.set_title("GLTR rank buckets")
    ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    fig.tight_layout()
    figs["rank_buckets"] = fig
    return figs


def embedding_figures(result) -> dict[str, Any]:
    plt = _plt()
    proj = result.projection
    names = [c["name"] for c in result.corpora]
    col = colors(names)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    xy, labels = proj.get("xy"), proj.get("labels")
    if xy is not None and len(xy):
        for name in names:
            m = labels == name
            ax.scatter(
                xy[m, 0],
                xy[m, 1],
                s=12,
                alpha=0.65,
                color=col[name],
                label=f"{_lit(name)} (n={int(m.sum())})",
                edgecolors="none",
            )
    ax.set_title(
        f"{_lit(result.embedder['name'])} embeddings, {proj.get('method', 'pca').upper()} of all corpora"
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, markerscale=1.5)
    fig.tight_layout()
    return {"embedding_map": fig}


def edit_figures(edited_docs) -> dict[str, Any]:
    plt = _plt()
    changed = np.array([e.audit.changed + e.audit.deleted for e in edited_docs])
    share = np.array([e.audit.selected / e.audit.tokens if e.audit.tokens else 0 for e in edited_docs])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].hist(
        changed, bins=np.arange(changed.max() + 2) - 0.5 if changed.size else 10, color=PALETTE["edited"]
    )
    axes[0].set_xlabel("tokens changed or deleted per document")
    axes[0].set_ylabel("documents")
    axes[1].hist(100 * share, bins=20, color=PALETTE["synthetic"])
    axes[1].set_xlabel("% of tokens selected (p ≥ threshold) per document")
    axes[1].set_ylabel("documents")
    fig.suptitle("Edit audit per document")
    fig.tight_layout()
    return {"per_document": fig}


def figure_png(fig, dpi: int = 100) -> bytes:
    """PNG bytes of a figure (closes it)."""
    import io

    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
