"""On-disk embedding cache keyed by (embedder fingerprint, text hash)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CachedEmbedder"]


class CachedEmbedder:
    """Wraps an embedder with an on-disk cache keyed by (fingerprint, sha256 of the text)."""

    def __init__(self, inner: Any, directory: str | Path | None = None):
        from ..lm.models import cache_dir

        self.inner = inner
        self.name = inner.name
        self.directory = Path(directory) if directory else cache_dir() / "embeddings"

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        fp = hashlib.sha256(self.inner.fingerprint.encode()).hexdigest()[:16]
        folder = self.directory / fp
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        out: list[np.ndarray | None] = []
        for k in keys:
            path = folder / k[:2] / f"{k}.npy"
            try:
                out.append(np.load(path))
            except (OSError, ValueError):
                out.append(None)
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            vecs = self.inner.embed([texts[i] for i in missing])
            for i, v in zip(missing, vecs):
                out[i] = v
                path = folder / keys[i][:2] / f"{keys[i]}.npy"
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{np.random.randint(1 << 30)}.tmp.npy")
                    np.save(tmp, v)
                    tmp.replace(path)
                except OSError:
                    pass
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return np.stack(out).astype(np.float32)
