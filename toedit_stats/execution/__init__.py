"""Where work runs: a :class:`Worker` (set up once per process, called on batches) mapped over
batches by an :class:`Executor` — :class:`LocalExecutor` (this process) or :class:`RayExecutor`
(a Ray Data actor pool, one generic actor that carries any worker).

A step never learns which executor runs it: the edit job, the token and embedding analyzers, the
n-gram sketch, the sweep and the report take ``executor=`` and hand their worker to it. This
package imports no domain module; workers live with their domain (``editing.job.EditChunkWorker``,
``analyzers.tokens.TokenStatsWorker``, ``analyzers.ngram_sketch.SketchWorker``,
``embed.EmbedWorker``, ``lm.ScoreWorker``).

Adding an executor (e.g. Slurm, Dask) is one class here: :meth:`Executor.map_batches` and
:meth:`Executor.manifest`; nothing else changes.
"""

from __future__ import annotations

from ..errors import ConfigError
from .base import Executor, LocalExecutor, Worker, batched
from .config import ExecutionOptions
from .ray import RayExecutor

__all__ = [
    "ExecutionOptions",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "Worker",
    "batched",
    "resolve_executor",
]


def resolve_executor(executor: Executor | str | None) -> Executor:
    """An executor from ``executor`` (``None`` or ``"local"``: this process; ``"ray"``: a local
    Ray cluster with one actor; an :class:`Executor` as is)."""
    if executor is None or executor == "local":
        return LocalExecutor()
    if executor == "ray":
        return RayExecutor()
    if isinstance(executor, Executor):
        return executor
    raise ConfigError(f"executor must be 'local', 'ray' or an Executor, got {executor!r}")
