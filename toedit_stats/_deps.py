"""Lazy imports of optional heavy dependencies, with an actionable error."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

from .errors import MissingDependencyError

# module -> extra that provides it
_EXTRAS = {
    "torch": "lm",
    "transformers": "lm",
    "gguf": "lm",
    "accelerate": "lm",
    "sentence_transformers": "embed",
    "mauve": "embed",
    "vllm": "vllm",
    "ray": "ray",
    "datasets": "hf",
}


def require(module: str, *, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra.

    >>> require("json").__name__
    'json'
    """
    try:
        with warnings.catch_warnings():
            # in a Jupyter kernel without ipywidgets, importing transformers or
            # sentence-transformers imports tqdm.auto, which warns once: noise, not news
            warnings.filterwarnings("ignore", message="IProgress not found")
            return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRAS.get(top)
        what = feature or module
        hint = (
            f"install it with `pip install 'toedit-stats[{extra}]'`"
            if extra
            else f"install it with `pip install {top}`"
        )
        raise MissingDependencyError(f"{what} requires `{top}`; {hint}") from exc
