"""Shared plotting helpers: the matplotlib backend, corpus colours, literal labels, PNG bytes.

Each analyzer draws its own figures in its own module (``Result.figures()``); this module knows
no analyzer. matplotlib and seaborn are imported lazily; nothing is shown or saved here.
"""

from __future__ import annotations

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


def detached(fig: Any) -> Any:
    """``fig``, no longer held by pyplot: a notebook shows a figure a cell returns once (its
    value), not a second time as an open pyplot figure, and many figures do not pile up open."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None and fig is not None and hasattr(fig, "number"):
        plt.close(fig)
    return fig


def _lit(text: str) -> str:
    """``text`` as literal matplotlib text: every ``$`` escaped, so that corpus names, ids and
    n-grams are never parsed as mathtext (an unbalanced ``$…$`` would fail at draw time), and
    control characters are shown as visible escapes."""
    from ._io import visible

    return visible(str(text), newlines=True).replace("$", r"\$")


def styles(names: list[str]) -> dict[str, str]:
    """A line style per corpus: the edited corpus dashed, so that it never hides the synthetic
    line it usually lies on (they differ by well under 1% of tokens)."""
    return {n: "--" if n == "edited" else "-" for n in names}


def colors(names: list[str]) -> dict[str, str]:
    """A stable colour per corpus name (human/synthetic/edited keep theirs)."""
    import itertools

    taken = {PALETTE[n] for n in names if n in PALETTE}
    pool = itertools.cycle([c for c in (*PALETTE.values(), *_FALLBACK) if c not in taken])
    return {n: PALETTE[n] if n in PALETTE else next(pool) for n in names}


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
