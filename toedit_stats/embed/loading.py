"""Embedders by name (the table in :mod:`toedit_stats.embed`)."""

from __future__ import annotations

from typing import Any

from .cache import CachedEmbedder
from .lm import LMEmbedder
from .st import SentenceTransformerEmbedder
from .tfidf import TfidfEmbedder

__all__ = ["load_embedder"]


def load_embedder(name: str = "minilm", *, seed: int = 0, cache: bool = False, **kwargs: Any):
    """An embedder by name (see the module docstring)."""
    if not isinstance(name, str):
        return name
    if name == "tfidf":
        emb = TfidfEmbedder(seed=seed, **kwargs)
    elif name == "lm" or name.startswith("lm:"):
        emb = LMEmbedder(name[3:] if name.startswith("lm:") else kwargs.get("model", "smollm2-135m"))
    else:
        emb = SentenceTransformerEmbedder(name, **kwargs)
    return CachedEmbedder(emb) if cache else emb
