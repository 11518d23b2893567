"""Embedding cache keyed by (embedder fingerprint, text hash), on disk (:mod:`toedit_stats._cache`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._cache import ArrayStore, namespace, text_key

__all__ = ["CachedEmbedder"]


class CachedEmbedder:
    """Wraps an embedder with a cache keyed by (fingerprint, sha256 of the text): on disk, or in
    this object only with ``memory=True`` (the sweep embeds each unchanged text once)."""

    def __init__(self, inner: Any, directory: str | Path | None = None, *, memory: bool = False):
        from ..lm.models import cache_dir

        self.inner = inner
        self.name = inner.name
        self.store = ArrayStore(None if memory else (directory or cache_dir() / "embeddings"))
        self.directory = self.store.directory

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        ns = namespace(self.inner.fingerprint)
        keys = [text_key(t) for t in texts]
        out: list[np.ndarray | None] = []
        for k in keys:
            z = self.store.get(ns, k)
            out.append(z["v"] if z is not None and "v" in z else None)
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            vecs = self.inner.embed([texts[i] for i in missing])
            for i, v in zip(missing, vecs):
                out[i] = v
                self.store.put(ns, keys[i], {"v": np.asarray(v)})
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return np.stack(out).astype(np.float32)
