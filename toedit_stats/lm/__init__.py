"""Language-model backends behind one protocol (:class:`LanguageModel`).

``load_lm("smollm2-135m", backend="transformers")`` returns an unloaded backend; it loads on
first use. ``backend="vllm"`` needs the ``vllm`` extra and a GPU.
"""

from __future__ import annotations

from .base import LanguageModel, TokenScores, normalize_offsets, plan_windows
from .config import LMConfig, load_lm
from .models import DEFAULT_MODEL, resolve_model

__all__ = [
    "DEFAULT_MODEL",
    "LMConfig",
    "LanguageModel",
    "TokenScores",
    "load_lm",
    "normalize_offsets",
    "plan_windows",
    "resolve_model",
]
