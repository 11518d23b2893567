"""Scoring as an executor's work: :class:`ScoreWorker` scores batches of documents with one model
per process, and :func:`score_missing` fills a score cache with the texts it lacks, on any
:class:`~toedit_stats.execution.Executor` (the report and the sweep score on Ray this way, then
compute everything else from the cache)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..corpus import Document
from ..execution import Executor, Worker
from .cache import CachedLM
from .config import LMConfig

__all__ = ["ScoreWorker", "model_worker_config", "score_missing"]


def model_worker_config(model: Any) -> Any:
    """What a worker in another process loads for ``model``: an :class:`LMConfig` as is, a name as
    an ``LMConfig``; a loaded backend cannot travel (``None``)."""
    if isinstance(model, LMConfig):
        return model
    if isinstance(model, str):
        return LMConfig(model=model)
    return None


class ModelWorker(Worker):
    """A worker with one language model per process: ``loaded`` (a model already loaded in this
    process, used as is when the worker runs here) or else its own, loaded from ``model``."""

    local_hooks = ("loaded", "on_tokens")

    def __init__(self, model: Any, *, loaded: Any = None, on_tokens: Callable[[int], None] | None = None):
        self.model = model_worker_config(model)
        self.loaded = loaded if loaded is not None else (None if self.model is not None else model)
        self.on_tokens = on_tokens
        self.lm: Any = None

    def portable(self) -> str | None:
        if self.model is None:
            return "the model must be a name or an LMConfig (each worker loads its own), not a loaded object"
        return None

    def setup(self) -> None:
        self.lm = self.loaded if self.loaded is not None else self.model.load()

    def _score(self, docs: Sequence[Document], top_k: int = 0) -> list[Any]:
        kw = {"on_tokens": self.on_tokens} if self.on_tokens is not None else {}
        return list(self.lm.score(docs, top_k=top_k, buffer_docs=max(1, len(docs)), **kw))


class ScoreWorker(ModelWorker):
    """Scores a batch of documents: one :class:`~toedit_stats.lm.base.TokenScores` each, in order."""

    def __init__(self, model: Any, top_k: int = 0, **kw: Any):
        super().__init__(model, **kw)
        self.top_k = top_k

    def __call__(self, batch: Sequence[Document]) -> list[Any]:
        return self._score(batch, self.top_k)


def score_missing(
    cache: CachedLM, docs: Iterable[Document], top_k: int, executor: Executor, model: Any, batch: int = 256
) -> int:
    """Score with ``executor`` (each worker loading ``model``) the texts of ``docs`` that the score
    cache ``cache`` lacks with ``top_k`` candidates, each text once, and put their scores into it.
    Returns how many were scored."""
    seen, todo = set(), []
    for d in docs:
        if d.text and d.text not in seen and not cache.cached(d.text, top_k):
            seen.add(d.text)
            todo.append(Document(d.id, d.text))
    if todo:
        worker = ScoreWorker(model, top_k, loaded=cache.inner)
        for d, sc in zip(todo, executor.map(worker, todo, batch=batch)):
            cache.add(d.text, sc, top_k)  # scored by the model, wherever it ran
    return len(todo)
