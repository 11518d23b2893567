"""Embedding as an executor's work: :class:`EmbedWorker` embeds batches of texts with one embedder
per process, and :func:`embed_texts` embeds a list of texts on any
:class:`~toedit_stats.execution.Executor` into a :class:`PrefilledEmbedder` that serves those
vectors to the embedding analyzer and the per-document scores (each text embedded once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._cache import text_key
from ..execution import Executor, Worker, batched
from .loading import load_embedder
from .tfidf import TfidfEmbedder

__all__ = ["EMBED_BATCH", "EmbedWorker", "PrefilledEmbedder", "embed_count", "embed_texts", "fits_on_corpus"]

EMBED_BATCH = 256  # documents per embedding call: a bar moves every batch (~30 s of MiniLM on 2 CPUs)


def fits_on_corpus(embedder: Any) -> bool:
    """Whether ``embedder`` (a name or an object) is fitted on the texts it embeds (TF-IDF): those
    texts are then embedded together, in one batch."""
    if isinstance(embedder, str):
        return embedder == "tfidf"
    return isinstance(getattr(embedder, "inner", embedder), TfidfEmbedder)


class EmbedWorker(Worker):
    """Embeds a batch of texts: ``(info, float32 vectors)``. ``embedder`` is a name (a worker in
    another process loads its own) or, in this process, a loaded embedder (``loaded``)."""

    local_hooks = ("loaded",)

    def __init__(self, embedder: Any, seed: int = 0, cache: bool = False, *, loaded: Any = None):
        self.name = embedder if isinstance(embedder, str) else None
        self.loaded = loaded if loaded is not None else (None if self.name else embedder)
        self.seed, self.cache = seed, cache
        self.emb: Any = None

    def portable(self) -> str | None:
        return None if self.name else "the embedder must be a name (each worker loads its own)"

    def setup(self) -> None:
        self.emb = self.loaded or load_embedder(self.name, seed=self.seed, cache=self.cache)

    def __call__(self, batch: Sequence[str]) -> tuple[dict[str, Any], np.ndarray]:
        texts = [str(t) for t in batch]
        inner = getattr(self.emb, "inner", self.emb)
        if isinstance(inner, TfidfEmbedder):
            inner.fit(texts)
        vectors = np.asarray(self.emb.embed(texts), np.float32)
        info = {"name": self.emb.name, "fingerprint": self.emb.fingerprint, "dim": int(self.emb.dim)}
        return info, vectors


class PrefilledEmbedder:
    """An embedder whose vectors were computed already (by :func:`embed_texts`): ``embed``
    returns them for the texts it was given, and refuses any other text."""

    def __init__(self, info: dict[str, Any], texts: Sequence[str], vectors: Any):
        self.name, self.fingerprint, self.dim = info["name"], info["fingerprint"], int(info["dim"])
        self._vectors = {text_key(t): np.asarray(v, np.float32) for t, v in zip(texts, vectors)}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        try:
            rows = [self._vectors[text_key(t)] for t in texts]
        except KeyError:
            raise RuntimeError("a text was not embedded beforehand (the sampling changed?)") from None
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)


def embed_count(groups: Sequence[Sequence[str]], embedder: Any) -> int:
    """How many texts :func:`embed_texts` hands the embedder (a progress bar's total)."""
    if fits_on_corpus(embedder):
        return sum(len(g) for g in groups)
    return len({t for g in groups for t in g})


def embed_texts(
    groups: Sequence[Sequence[str]],
    embedder: Any,
    executor: Executor,
    *,
    seed: int = 0,
    cache: bool = False,
    loaded: Any = None,
    batch: int | None = None,  # None: EMBED_BATCH
    progress: Any = None,
) -> PrefilledEmbedder:
    """The texts of ``groups`` (e.g. one list per corpus) embedded by ``executor``'s workers (each
    loading ``embedder`` by name, or using ``loaded`` in this process), each distinct text once: a
    group's texts not seen in an earlier group, in batches of ``batch`` (default
    :data:`EMBED_BATCH`, whatever ``progress`` is: the batches, and so the vectors, never depend on
    whether a bar is shown). An embedder fitted on its corpus (TF-IDF) gets every text, in order,
    in one batch. ``progress(n)`` after each batch of ``n`` texts."""
    joint = fits_on_corpus(loaded if loaded is not None else embedder)
    seen: set[str] = set()
    batches: list[list[str]] = []
    if joint:
        batches = [[t for g in groups for t in g]]
    else:
        for g in groups:
            new = [t for t in dict.fromkeys(g) if t not in seen]
            seen.update(new)
            batches += list(batched(new, batch or EMBED_BATCH))
    batches = [b for b in batches if b]
    worker = EmbedWorker(embedder, seed, cache, loaded=loaded)
    info: dict[str, Any] | None = None
    vectors: list[np.ndarray] = []
    for got_info, got in executor.map_batches(worker, batches):
        info = info or got_info
        vectors.append(got)
        if progress is not None:
            progress(len(got))
    if info is None:  # no texts: describe the embedder without embedding anything
        worker.setup()
        info = {"name": worker.emb.name, "fingerprint": "", "dim": 0}
    texts = [t for b in batches for t in b]
    return PrefilledEmbedder(info, texts, np.concatenate(vectors) if vectors else [])
