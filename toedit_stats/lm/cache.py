"""A cache of :class:`TokenScores` keyed by (model fingerprint, text hash): on disk or in memory.

``CachedLM(lm)`` behaves like ``lm``; documents whose scores are cached are not scored again
(repeated ``tokens`` runs reuse the disk cache; the report keeps one in memory, so the editor's
scoring pass also serves the token analyzer, and texts the edit left unchanged are not scored
again). Entries hold the top-k candidates they were scored with; a request for fewer is served
by slicing (top-k arrays are sorted by probability), a request for more rescores. Files live in
``<cache>/scores/<fingerprint hash>/<text hash>.npz`` (``$TOEDIT_STATS_CACHE`` or the user cache
directory), written atomically (:mod:`toedit_stats._cache`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from .._cache import ArrayStore, namespace, text_key
from ..corpus import Document
from .base import TokenScores, document_buffers
from .models import cache_dir

__all__ = ["CachedLM"]

_FIELDS = ("token_ids", "offsets", "logprobs", "ranks", "topk_ids", "topk_logprobs")


class CachedLM:
    """Wrap a language model with a score cache. ``hits``/``misses`` count documents.

    ``directory=None`` uses the user cache directory; ``memory=True`` keeps entries in this
    object only (nothing written)."""

    def __init__(self, inner: Any, directory: str | os.PathLike | None = None, *, memory: bool = False):
        self.inner = inner
        self.store = ArrayStore(None if memory else (directory or cache_dir() / "scores"))
        self.directory = self.store.directory
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str) -> Any:  # name, backend, info(), load(), vocab_size of the inner model
        return getattr(self.inner, name)

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def token_text(self, token_ids: Sequence[int]) -> list[str]:
        return self.inner.token_text(token_ids)

    def _load(self, ns: str, text: str, doc_id: str, top_k: int) -> TokenScores | None:
        z = self.store.get(ns, text_key(text))
        if z is None or any(f not in z for f in _FIELDS) or z["topk_ids"].shape[1] < top_k:
            return None
        return TokenScores(
            doc_id,
            z["token_ids"],
            z["offsets"],
            z["logprobs"],
            z["ranks"],
            z.get("entropy"),
            z["topk_ids"][:, :top_k],
            z["topk_logprobs"][:, :top_k],
        )

    def _store(self, ns: str, text: str, s: TokenScores) -> None:
        arrays = {f: getattr(s, f) for f in _FIELDS}
        if s.entropy is not None:
            arrays["entropy"] = s.entropy
        self.store.put(ns, text_key(text), arrays)

    def put(self, text: str, scores: TokenScores) -> None:
        """Store scores computed elsewhere (e.g. by Ray actors with the same model) for ``text``."""
        self._store(namespace(self.inner.fingerprint), text, scores)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def score(
        self,
        docs: Iterable[Document | str],
        *,
        top_k: int = 0,
        buffer_docs: int = 256,
        on_tokens: Callable[[int], None] | None = None,
    ) -> Iterator[TokenScores]:
        ns = namespace(self.inner.fingerprint)
        for buf in document_buffers(docs, buffer_docs):
            found = [self._load(ns, d.text, d.id, top_k) for d in buf]
            missing = [i for i, f in enumerate(found) if f is None]
            self.hits += len(buf) - len(missing)
            self.misses += len(missing)
            if on_tokens is not None:
                on_tokens(sum(len(f) for f in found if f is not None))
            if missing:
                scored = self.inner.score([buf[i] for i in missing], top_k=top_k, on_tokens=on_tokens)
                for i, s in zip(missing, scored):
                    self._store(ns, buf[i].text, s)
                    found[i] = s
            yield from found
