"""Where the model work runs, as options declared once (:class:`ExecutionOptions`): every command
that runs a model, an embedder or the n-gram sketch gets the same ``--engine`` and ``--ray-*``
flags from it, and TOML job files the same keys."""

from __future__ import annotations

import dataclasses

from ..errors import ConfigError
from ..options import check_fields, option
from .base import Executor, LocalExecutor
from .ray import RayExecutor

__all__ = ["ExecutionOptions"]


@dataclasses.dataclass(frozen=True)
class ExecutionOptions:
    """``engine`` local (this process) or ray (a Ray Data actor pool, extra ``ray``), and the
    pool: a cluster to join, how many workers, GPUs per worker."""

    engine: str = option(
        "local",
        choices=("local", "ray"),
        help="Where the model work runs: here, or on a Ray Data actor pool (extra `ray`); "
        "the statistics are computed here either way.",
    )
    ray_address: str | None = option(
        None, kind="str", help="With --engine ray: a cluster to join ('auto'); default a local one."
    )
    ray_actors: int = option(1, min=1, help="With --engine ray: workers, each with its own model.")
    ray_gpus: float = option(0.0, min=0, help="With --engine ray: GPUs per worker.")

    def __post_init__(self):
        check_fields(self)
        if self.engine == "local" and (self.ray_address or self.ray_actors != 1 or self.ray_gpus):
            raise ConfigError("--ray-address, --ray-actors and --ray-gpus need --engine ray")

    def executor(self) -> Executor:
        if self.engine == "ray":
            return RayExecutor(address=self.ray_address, actors=self.ray_actors, num_gpus=self.ray_gpus)
        return LocalExecutor()
