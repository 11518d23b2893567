"""The executor contract and the in-process executor."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from ..errors import ConfigError

__all__ = ["Executor", "LocalExecutor", "Worker", "batched"]


class Worker:
    """A unit of work that an executor runs: :meth:`setup` once per process (e.g. load a model),
    then ``worker(batch)`` per batch, returning that batch's output.

    A worker must pickle (by value, with cloudpickle) to run on another process: it holds
    settings (a model's configuration, not a loaded model, when it may travel). Attributes named
    in ``local_hooks`` (e.g. a progress callback into this process's bar) are left behind when it
    travels: they are ``None`` in a worker that runs elsewhere.
    """

    local_hooks: tuple[str, ...] = ()

    def setup(self) -> None:
        """Prepare this process (load the model); called once before the first batch."""

    def __call__(self, batch: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def portable(self) -> str | None:
        """Why this worker cannot run in another process (``None``: it can)."""
        return None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in self.local_hooks:
            state[name] = None
        return state


class Executor:
    """Runs a :class:`Worker` over batches. Outputs come back in batch order, each batch's
    exactly once, whatever the order the workers finish in."""

    name: str = "executor"

    def map_batches(self, worker: Worker, batches: Iterable[Any]) -> Iterator[Any]:
        """``worker(batch)`` for each of ``batches`` (read lazily), yielded in batch order."""
        raise NotImplementedError

    def map(
        self,
        worker: Worker,
        items: Sequence[Any],
        *,
        batch: int = 16,
        progress: Callable[[int], None] | None = None,
    ) -> list[Any]:
        """``worker`` over ``items`` in batches of ``batch``; the worker returns one output per
        item of its batch. The outputs in input order; ``progress(n)`` after each batch of ``n``."""
        out: list[Any] = []
        for got in self.map_batches(worker, batched(items, batch)):
            out.extend(got)
            if progress is not None:
                progress(len(got))
        if len(out) != len(items):
            raise RuntimeError(f"the {self.name} executor returned {len(out)} outputs for {len(items)} items")
        return out

    def manifest(self) -> dict[str, Any]:
        """What a manifest or report records about where the work ran."""
        return {"name": self.name}

    @property
    def distributed(self) -> bool:
        """Whether workers run in other processes (they then load their own model)."""
        return False

    def here(self, make: Callable[[], Any]) -> Any:
        """``make()`` when this executor's workers run in this process (they then share what it
        makes, e.g. a loaded model), else ``None`` (each worker makes its own)."""
        return None if self.distributed else make()

    def require_one_process(self, what: str) -> None:
        """Refuse a job that must hold all its data in one process (``what`` says which and why)."""
        if self.distributed:
            raise ConfigError(f"{what} runs in one process: use --engine local")


class LocalExecutor(Executor):
    """This process: the worker is set up once and called on each batch in order."""

    name = "local"

    def map_batches(self, worker: Worker, batches: Iterable[Any]) -> Iterator[Any]:
        ready = False
        for b in batches:
            if not ready:
                worker.setup()
                ready = True
            yield worker(b)


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last may be shorter)."""
    if size < 1:
        raise ConfigError(f"batch size must be >= 1, got {size}")
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
