"""Analyzers and language-model backends by name.

Entries are lazy ``"module:Class"`` strings (as lm-evaluation-harness registers its model
backends), so listing names imports nothing heavy. Third-party packages add entries through the
entry-point groups ``toedit_stats.analyzers`` and ``toedit_stats.backends``::

    [project.entry-points."toedit_stats.analyzers"]
    readability = "my_pkg.readability:ReadabilityAnalyzer"

An analyzer class follows :class:`toedit_stats.analyzers.base.Analyzer`; the report, its
verdict, tables, ``metrics.json`` and the command line (one subcommand per analyzer) pick it up
from here with no other change.

>>> analyzer_names()[:5]
['ngrams', 'tokens', 'embed', 'lengths', 'mixture']
>>> get_analyzer("lengths").__name__
'LengthAnalyzer'
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ConfigError

__all__ = ["ANALYZERS", "BACKENDS", "analyzer_names", "backend_names", "get_analyzer", "get_backend"]

# name -> "module:Class" (the order is the report's order)
ANALYZERS: dict[str, str] = {
    "ngrams": "toedit_stats.analyzers.ngrams:NgramAnalyzer",
    "tokens": "toedit_stats.analyzers.tokens:TokenAnalyzer",
    "embed": "toedit_stats.analyzers.embeddings:EmbeddingAnalyzer",
    "lengths": "toedit_stats.analyzers.lengths:LengthAnalyzer",
    "mixture": "toedit_stats.analyzers.mixture:MixtureAnalyzer",
}

BACKENDS: dict[str, str] = {
    "transformers": "toedit_stats.lm.hf:TransformersLM",
    "vllm": "toedit_stats.lm.vllm:VLLMModel",
}

_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for group, table in (("toedit_stats.analyzers", ANALYZERS), ("toedit_stats.backends", BACKENDS)):
        for ep in entry_points(group=group):
            table.setdefault(ep.name, ep.value)


def _resolve(table: dict[str, str], name: str, what: str) -> Any:
    _load_plugins()
    target = table.get(name)
    if target is None:
        raise ConfigError(f"{what} must be one of {', '.join(table)}, got {name!r}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def analyzer_names() -> list[str]:
    _load_plugins()
    return list(ANALYZERS)


def backend_names() -> list[str]:
    _load_plugins()
    return list(BACKENDS)


def get_analyzer(name: str) -> Any:
    """The analyzer class registered as ``name``."""
    return _resolve(ANALYZERS, name, "analyzer")


def get_backend(name: str) -> Any:
    """The language-model backend class registered as ``name``."""
    return _resolve(BACKENDS, name, "backend")
