"""What a report is made of: its analyzers (:func:`make_analyzers`), its corpora
(:func:`as_corpus`) and the names of the corpora it derives (``selected``, ``uniform``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..analyzers.base import Analyzer
from ..corpus import Corpus, MemoryCorpus, read_corpus
from ..errors import ConfigError

__all__ = ["SELECTED", "UNIFORM", "as_corpus", "default_model", "derived_source", "make_analyzers"]

SELECTED, UNIFORM = "selected", "uniform"


def derived_source(name: str) -> str:
    return {SELECTED: "DSIR-selected here", UNIFORM: "uniform random subset (selection control)"}.get(
        name, "edited here"
    )


def make_analyzers(
    analyzers: Sequence[str | Analyzer] | None = None, options: dict[str, Any] | None = None
) -> list[Analyzer]:
    """Analyzer instances from names or instances (``None``: every registered analyzer).
    ``options`` are analyzer fields by name, given to whichever analyzer declares them (e.g.
    ``embedder``, ``mauve_seeds``, ``n``); one no analyzer declares is an error."""
    from ..options import option_fields
    from ..registry import analyzer_names, get_analyzer

    options = dict(options or {})
    chosen = list(analyzers) if analyzers is not None else analyzer_names()
    out: list[Analyzer] = []
    used: set[str] = set()
    for a in chosen:
        if isinstance(a, Analyzer):
            out.append(a)
            continue
        cls = get_analyzer(a)
        fields = {f.name for f in option_fields(cls)} - {"seed", "max_docs", "progress", "model"}
        mine = {k: v for k, v in options.items() if k in fields}
        used |= set(mine)
        out.append(cls(**mine))
    unknown = set(options) - used
    if unknown:
        raise ConfigError(f"unknown analyzer options {sorted(unknown)} for analyzers {[a.name for a in out]}")
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"each analyzer may run once in a report, got {names}")
    return out


def as_corpus(x: Any, name: str) -> Corpus:
    if isinstance(x, Corpus):
        return x
    if isinstance(x, (str, Path)) or (
        isinstance(x, Sequence) and x and isinstance(x[0], (str, Path)) and Path(str(x[0])).exists()
    ):
        return read_corpus(x, name=name)
    if isinstance(x, Sequence):
        return MemoryCorpus(x, name=name)
    raise ConfigError(f"cannot read a corpus from {type(x).__name__}")


def default_model(a: Analyzer) -> Any:
    f = next((f for f in dataclasses.fields(a) if f.name == "model"), None)
    return f.default if f is not None else None
