"""An on-disk cache of :class:`TokenScores`, keyed by (model fingerprint, top-k, text hash).

``CachedLM(lm)`` behaves like ``lm``; documents whose scores are cached are not scored again (the
report and repeated ``tokens`` runs reuse them). Files live in ``<cache>/scores/<fingerprint
hash>/<text hash>.npz`` (``$TOEDIT_STATS_CACHE`` or the user cache directory), written atomically.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..corpus import Document
from .base import TokenScores, document_buffers
from .models import cache_dir

__all__ = ["CachedLM"]

_FIELDS = ("token_ids", "offsets", "logprobs", "ranks", "topk_ids", "topk_logprobs")


class CachedLM:
    """Wrap a language model with the on-disk score cache. ``hits``/``misses`` count documents."""

    def __init__(self, inner: Any, directory: str | os.PathLike | None = None):
        self.inner = inner
        self.directory = Path(directory) if directory else cache_dir() / "scores"
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str) -> Any:  # name, backend, info(), load(), ... of the inner model
        return getattr(self.inner, name)

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def token_text(self, token_ids: Sequence[int]) -> list[str]:
        return self.inner.token_text(token_ids)

    def _path(self, text: str, top_k: int) -> Path:
        fp = hashlib.sha256(f"{self.inner.fingerprint}|k={top_k}".encode()).hexdigest()[:16]
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return self.directory / fp / key[:2] / f"{key}.npz"

    def _load(self, path: Path, doc_id: str) -> TokenScores | None:
        try:
            with np.load(path) as z:
                arrays = {f: z[f] for f in _FIELDS}
                entropy = z["entropy"] if "entropy" in z.files else None
        except (OSError, ValueError, KeyError):
            return None
        return TokenScores(
            doc_id,
            arrays["token_ids"],
            arrays["offsets"],
            arrays["logprobs"],
            arrays["ranks"],
            entropy,
            arrays["topk_ids"],
            arrays["topk_logprobs"],
        )

    def _store(self, path: Path, s: TokenScores) -> None:
        arrays = {f: getattr(s, f) for f in _FIELDS}
        if s.entropy is not None:
            arrays["entropy"] = s.entropy
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, path)
        except OSError:  # a read-only cache only costs speed
            pass

    def score(
        self, docs: Iterable[Document | str], *, top_k: int = 0, buffer_docs: int = 256
    ) -> Iterator[TokenScores]:
        for buf in document_buffers(docs, buffer_docs):
            paths = [self._path(d.text, top_k) for d in buf]
            found = [self._load(p, d.id) for p, d in zip(paths, buf)]
            missing = [i for i, f in enumerate(found) if f is None]
            self.hits += len(buf) - len(missing)
            self.misses += len(missing)
            if missing:
                for i, s in zip(missing, self.inner.score([buf[i] for i in missing], top_k=top_k)):
                    self._store(paths[i], s)
                    found[i] = s
            yield from found
