"""The one cache helper: arrays by (namespace, key), on disk or in memory.

Used by the score cache (:class:`~toedit_stats.lm.cache.CachedLM`: token scores by model
fingerprint and text hash) and the embedding cache (:class:`~toedit_stats.embed.cache.CachedEmbedder`).
On disk each entry is one ``.npz`` file ``<directory>/<namespace>/<key[:2]>/<key>.npz``, written
atomically; a cache that cannot be read or written only costs speed.

>>> store = ArrayStore()               # in memory
>>> store.put("ns", text_key("hi"), {"v": np.arange(3)})
>>> store.get("ns", text_key("hi"))["v"].tolist()
[0, 1, 2]
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path

import numpy as np

__all__ = ["ArrayStore", "namespace", "text_key"]


def text_key(text: str) -> str:
    """sha256 of the text's UTF-8 bytes (lone surrogates kept as they are)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def namespace(fingerprint: str) -> str:
    """A short folder name for everything computed by one model (its fingerprint's hash)."""
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:16]


class ArrayStore:
    """Arrays by (namespace, key): on disk under ``directory``, or in memory when it is ``None``."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else None
        self._memory: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    def _path(self, ns: str, key: str) -> Path:
        assert self.directory is not None
        return self.directory / ns / key[:2] / f"{key}.npz"

    def get(self, ns: str, key: str) -> dict[str, np.ndarray] | None:
        if self.directory is None:
            return self._memory.get((ns, key))
        try:
            with np.load(self._path(ns, key)) as z:
                return {name: z[name] for name in z.files}
        except (OSError, ValueError, KeyError, EOFError):
            return None

    def put(self, ns: str, key: str, arrays: dict[str, np.ndarray]) -> None:
        if self.directory is None:
            self._memory[(ns, key)] = arrays
            return
        from ._io import atomic_write_bytes

        buf = io.BytesIO()
        np.savez(buf, **arrays)
        with contextlib.suppress(OSError):  # a read-only or full cache only costs speed
            atomic_write_bytes(self._path(ns, key), buf.getvalue())
