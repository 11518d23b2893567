"""Language-model backends behind one protocol (:class:`LanguageModel`).

``load_lm("smollm2-135m", backend="transformers")`` returns an unloaded backend; it loads on
first use. ``backend="vllm"`` needs the ``vllm`` extra and a GPU.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import LanguageModel, TokenScores, normalize_offsets, plan_windows
from .models import DEFAULT_MODEL, resolve_model

__all__ = [
    "DEFAULT_MODEL",
    "LanguageModel",
    "TokenScores",
    "load_lm",
    "normalize_offsets",
    "plan_windows",
    "resolve_model",
]


def load_lm(model: str | LanguageModel = DEFAULT_MODEL, *, backend: str = "transformers", **kwargs: Any):
    """A language model backend by name; an object that already is one is returned as is."""
    if not isinstance(model, str):
        return model
    if model == "fake":  # deterministic stand-in for plumbing tests, see lm/fake.py
        from .fake import FakeLM

        return FakeLM()
    if backend == "transformers":
        from .hf import TransformersLM

        return TransformersLM(model, **kwargs)
    if backend == "vllm":
        from .vllm import VLLMModel

        return VLLMModel(model, **kwargs)
    raise ConfigError(f"backend must be transformers or vllm, got {backend!r}")
