"""toedit-stats: audit synthetic text against human text, and edit it with ToEdit.

The public API is imported lazily so that ``import toedit_stats`` stays fast and pulls in
neither torch, transformers, matplotlib nor vllm.

>>> import toedit_stats as ts
>>> human = ts.read_corpus("examples/human.jsonl")          # doctest: +SKIP
>>> ts.summarize(human).documents                             # doctest: +SKIP
90
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__ as __version__
from .errors import ConfigError as ConfigError
from .errors import InputError as InputError
from .errors import MissingDependencyError as MissingDependencyError
from .errors import ToeditError as ToeditError

# public name -> module that defines it
_LAZY = {
    "Corpus": "corpus",
    "Document": "corpus",
    "ReadStats": "corpus",
    "read_corpus": "corpus",
    "write_records": "corpus",
    "CorpusSummary": "summary",
    "summarize": "summary",
    "word_tokenize": "tokenize",
    "analyze_ngrams": "analyzers.ngrams",
    "analyze_ngrams_sketch": "analyzers.ngrams",
    "analyze_tokens": "analyzers.tokens",
    "analyze_embeddings": "analyzers.embeddings",
    "Analyzer": "analyzers.base",
    "Metric": "analyzers.base",
    "Result": "analyzers.base",
    "NgramAnalyzer": "analyzers.ngrams",
    "TokenAnalyzer": "analyzers.tokens",
    "EmbeddingAnalyzer": "analyzers.embeddings",
    "LengthAnalyzer": "analyzers.lengths",
    "LMConfig": "lm.config",
    "get_analyzer": "registry",
    "get_backend": "registry",
    "analyzer_names": "registry",
    "sample_documents": "corpus",
    "load_lm": "lm",
    "TokenScores": "lm.base",
    "load_embedder": "embed",
    "EditConfig": "editing",
    "edit": "editing",
    "run_edit_job": "editing",
    "compare": "report",
    "Report": "report",
    "sweep": "report.sweep",
    "add_sweep": "report.sweep",
    "LocalExecutor": "execution",
    "RayExecutor": "execution",
    "check_analyzer": "testing",
}

__all__ = sorted(
    [
        "ConfigError",
        "InputError",
        "MissingDependencyError",
        "ToeditError",
        "__version__",
        *_LAZY,
    ]
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'toedit_stats' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
