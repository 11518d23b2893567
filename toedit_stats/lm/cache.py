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

import numpy as np

from .._cache import ArrayStore, namespace, text_key
from ..corpus import Document
from .base import TokenScores, document_buffers, variant_scorer
from .models import cache_dir

__all__ = ["CachedLM"]

_FIELDS = ("token_ids", "offsets", "logprobs", "ranks", "topk_ids", "topk_logprobs")


class CachedLM:
    """Wrap a language model with a score cache. ``hits``/``misses`` count documents.

    ``directory=None`` uses the user cache directory; ``memory=True`` keeps entries in this
    object only (nothing written). ``topk_floor=p`` keeps top-k candidates only at positions
    whose token probability is ``>= p`` (the only ones an editor with threshold ``p`` or above
    reads; the editor sweep sets its smallest p): the other rows come back as id 0 with log
    probability ``-inf``."""

    def __init__(
        self,
        inner: Any,
        directory: str | os.PathLike | None = None,
        *,
        memory: bool = False,
        topk_floor: float | None = None,
    ):
        self.inner = inner
        self.topk_floor = topk_floor
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

    @property
    def edit_buffer_docs(self) -> int:
        return getattr(self.inner, "edit_buffer_docs", 64)

    def _load(self, ns: str, text: str, doc_id: str, top_k: int) -> TokenScores | None:
        z = self.store.get(ns, text_key(text))
        if z is None or any(f not in z for f in _FIELDS) or z["topk_ids"].shape[1] < top_k:
            return None
        out = self._entry(z, doc_id, top_k)
        observe = getattr(self.inner, "observe", None)
        if observe is not None and self.directory is not None:  # read from disk: maybe another process's
            observe(text, out)
        return out

    def _entry(self, z: dict[str, Any], doc_id: str, top_k: int) -> TokenScores:
        tki, tkl = z["topk_ids"][:, :top_k], z["topk_logprobs"][:, :top_k]
        if "topk_rows" in z:  # stored at selectable positions only (``topk_floor``)
            rows = z["topk_rows"]
            T = z["token_ids"].size
            tki = np.zeros((T, tki.shape[1]), np.int64)
            tkl = np.full((T, tki.shape[1]), -np.inf, np.float32)
            tki[rows] = z["topk_ids"][:, :top_k]
            tkl[rows] = z["topk_logprobs"][:, :top_k]
        return TokenScores(
            doc_id,
            z["token_ids"],
            z["offsets"],
            z["logprobs"],
            z["ranks"],
            z.get("entropy"),
            tki,
            tkl,
            z.get("logprob_var"),  # absent in entries written before it existed: no curvature
        )

    def _store(self, ns: str, text: str, s: TokenScores) -> None:
        arrays = {f: getattr(s, f) for f in _FIELDS}
        if s.entropy is not None:
            arrays["entropy"] = s.entropy
        if s.logprob_var is not None:
            arrays["logprob_var"] = s.logprob_var
        if self.topk_floor is not None and s.topk_ids.shape[1]:
            # the editor's own test (probability >= p, in float64), so no selectable row is dropped
            rows = np.flatnonzero(np.exp(s.logprobs.astype(np.float64)) >= self.topk_floor)
            arrays.update(topk_rows=rows, topk_ids=s.topk_ids[rows], topk_logprobs=s.topk_logprobs[rows])
        self.store.put(ns, text_key(text), arrays)

    def nbytes(self) -> int:
        """Bytes held by an in-memory cache's arrays (0 on disk)."""
        return sum(a.nbytes for entry in self.store._memory.values() for a in entry.values())

    def cached(self, text: str, top_k: int = 0) -> bool:
        """Whether scores of ``text`` with at least ``top_k`` candidates are in the cache."""
        return self._load(namespace(self.inner.fingerprint), text, "", top_k) is not None

    def put(self, text: str, scores: TokenScores) -> None:
        """Store scores computed elsewhere (e.g. by Ray actors with the same model) for ``text``."""
        self._store(namespace(self.inner.fingerprint), text, scores)
        observe = getattr(self.inner, "observe", None)
        if observe is not None:  # scored in another process: the fake model learns its pieces
            observe(text, scores)

    def add(self, text: str, scores: TokenScores, top_k: int = 0) -> bool:
        """Scores a worker computed (here or in another process) for ``text`` with ``top_k``
        candidates: stored, and counted as a miss (the model scored it), unless the cache already
        has them (a worker in this process scored through the cache). Returns whether stored."""
        if self.cached(text, top_k):
            return False
        self.put(text, scores)
        self.misses += 1
        return True

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

    def score_variants(
        self,
        docs: Iterable[Document | str],
        variants: Callable[[Document, TokenScores], Sequence[str]],
        *,
        top_k: int = 0,
        variant_top_k: int = 0,
        buffer_docs: int = 256,
        on_tokens: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[TokenScores, list[TokenScores]]]:
        """The inner model's ``score_variants`` with every document and variant text cached.

        ``variants`` is called once per document, with the cached scores when the document is
        cached (so derived texts equal what an editor reading the cache produces). Variant texts
        already cached are not scored again. A cached document with two or more variants to
        score goes through the inner model's ``score_variants`` once more (one pass for the
        document, then only suffixes: cheaper than two variants in full); a single one is scored
        on its own. ``hits``/``misses`` count documents and variant texts.
        """
        ns = namespace(self.inner.fingerprint)
        kw = {} if on_tokens is None else {"on_tokens": on_tokens}
        for buf in document_buffers(docs, buffer_docs):
            yield from self._variants_buffer(ns, buf, variants, top_k, variant_top_k, kw, on_tokens)

    def _variants_buffer(self, ns, buf, variants, top_k, variant_top_k, kw, on_tokens):
        out: list[tuple[TokenScores, list[TokenScores]]] = []
        found = [self._load(ns, d.text, d.id, top_k) for d in buf]
        texts: list[list[str] | None] = [None] * len(buf)
        todo: list[list[str]] = [[] for _ in buf]  # variant texts not in the cache

        def derive(i: int, scores: TokenScores) -> list[str]:
            if texts[i] is None:
                texts[i] = list(variants(buf[i], scores))
                todo[i] = [  # the document's own text is stored with the document
                    t
                    for t in dict.fromkeys(texts[i])
                    if t != buf[i].text and self._load(ns, t, buf[i].id, variant_top_k) is None
                ]
            return todo[i]

        for i, f in enumerate(found):
            if f is not None:
                self.hits += 1
                if on_tokens is not None:
                    on_tokens(len(f))
                derive(i, f)
        again = [i for i, f in enumerate(found) if f is None or len(todo[i]) >= 2]
        if again:
            index = {id(buf[i]): i for i in again}

            def fn(doc: Document, scores: TokenScores) -> list[str]:
                i = index[id(doc)]
                return derive(i, scores if found[i] is None else found[i])

            inner = variant_scorer(self.inner)(
                [buf[i] for i in again], fn, top_k=top_k, variant_top_k=variant_top_k, **kw
            )
            for i, (s, vs) in zip(again, inner):
                if found[i] is None:
                    self.misses += 1
                    self._store(ns, buf[i].text, s)
                    found[i] = s
                for t, v in zip(todo[i], vs):
                    self.misses += 1
                    self._store(ns, t, v)
        for i in range(len(buf)):
            if i not in again and todo[i]:  # one variant to score: in full
                (v,) = self.inner.score([Document(buf[i].id, todo[i][0])], top_k=variant_top_k, **kw)
                self.misses += 1
                self._store(ns, todo[i][0], v)
        for i, f in enumerate(found):
            unique = list(dict.fromkeys(texts[i]))
            self.hits += len(unique) - len(todo[i])
            got = {t: self._load(ns, t, buf[i].id, variant_top_k) for t in unique}
            out.append((f, [got[t] for t in texts[i]]))
        return out
