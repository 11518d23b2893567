"""The Ray executor: batches mapped by a Ray Data actor pool (``--engine ray``).

The driver reads the batches lazily and puts each into Ray's object store as it is read (it holds
a reference per batch, not the batch; the object store spills to disk); ``map_batches`` hands one
batch at a time to an actor. There is one actor class for every job: it carries the worker
(pickled by value) and sets it up once in its process (loads its model). Outputs come back to the
driver in batch order (a reorder buffer holds only those that finished early), and every batch
must come back exactly once, or the job fails without a partial result. A worker that dies costs
its batch, not the job: Ray Data restarts the actor and retries its task (at-least-once; the
domain's workers write their outputs atomically, so a batch written twice is written with the same
bytes).

The worker rides on the actor's class, not as a constructor argument: Ray keeps constructor
arguments in its object store and warns that restarts depend on them. Ray's core still prints one
notice per job that restartable actors were given arguments (ray-project/ray#53727); it is kept,
since the restarts are what make a lost worker cost only its batch. Each actor runs with
``num_cpus`` CPUs (Ray sets ``OMP_NUM_THREADS`` to match: replicas sharing a machine do not
oversubscribe it) and ``num_gpus`` GPUs.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
from collections.abc import Iterable, Iterator
from typing import Any

from .._deps import require
from ..errors import ConfigError
from .base import Executor, Worker

__all__ = ["RayExecutor", "check_resources"]


class _Actor:
    """The one actor class: sets up the worker it carries, then runs it on one batch per call."""

    payload: bytes  # the pickled worker, set on the subclass each job makes

    def __init__(self):
        from ray import cloudpickle

        self.worker = cloudpickle.loads(self.payload)
        self.error = ""
        try:
            self.worker.setup()
        except ConfigError as exc:  # reported by the first call, as a clean error on the driver
            self.error = str(exc)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import ray

        out: dict[str, list[Any]] = {"position": [], "output": [], "error": []}
        for pos, ref in zip(batch["position"], batch["batch"]):
            out["position"].append(int(pos))
            if self.error:
                out["output"].append(b"")
                out["error"].append(self.error)
                continue
            result = self.worker(ray.get(ref))
            out["output"].append(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
            out["error"].append("")
        return out


class RayExecutor(Executor):
    """A Ray Data actor pool: ``actors`` workers, each with ``num_cpus`` CPUs and ``num_gpus`` GPUs,
    on the cluster at ``address`` (``None``: start a local one; ``"auto"``: join a running one)."""

    name = "ray"

    def __init__(
        self, address: str | None = None, actors: int = 1, num_cpus: float = 1.0, num_gpus: float = 0.0
    ):
        if actors < 1:
            raise ConfigError(f"actors must be >= 1, got {actors}")
        if num_cpus <= 0 or num_gpus < 0:
            raise ConfigError(f"an actor needs num_cpus > 0 and num_gpus >= 0, got {num_cpus}, {num_gpus}")
        self.address, self.actors, self.num_cpus, self.num_gpus = address, actors, num_cpus, num_gpus

    def __repr__(self) -> str:
        return (
            f"RayExecutor(address={self.address!r}, actors={self.actors}, "
            f"num_cpus={self.num_cpus:g}, num_gpus={self.num_gpus:g})"
        )

    @property
    def distributed(self) -> bool:
        return True

    def manifest(self) -> dict[str, Any]:
        return {"name": "ray", "address": self.address, "actors": self.actors, "num_gpus": self.num_gpus}

    def map_batches(self, worker: Worker, batches: Iterable[Any]) -> Iterator[Any]:
        why = worker.portable()
        if why:
            raise ConfigError(f"the ray engine cannot run this job: {why}")
        ray = require("ray", feature="--engine ray")
        require("ray.data", feature="--engine ray")  # imported first: it configures its own loggers
        from ray import cloudpickle

        with _quiet_ray():
            _init(ray, self.address)  # before the first ray.put
            # into the object store as read: the driver keeps a reference, not the batch
            items = [{"position": i, "batch": ray.put(b)} for i, b in enumerate(batches)]
            if not items:
                return
            actors = min(self.actors, len(items))
            check_resources(ray, self.address, actors, self.num_cpus, self.num_gpus)
            actor = type("Worker" + type(worker).__name__, (_Actor,), {"payload": cloudpickle.dumps(worker)})
            ds = ray.data.from_items(items, override_num_blocks=len(items))
            rows = ds.map_batches(
                actor,
                batch_size=1,
                batch_format="numpy",
                concurrency=actors,
                num_cpus=self.num_cpus,
                num_gpus=self.num_gpus or None,
            ).iter_rows()
            early: dict[int, Any] = {}
            nxt = 0
            for row in rows:
                if row["error"]:
                    raise ConfigError(str(row["error"]))
                pos = int(row["position"])
                if pos < nxt or pos in early:
                    raise RuntimeError(f"the ray job returned batch {pos} twice: nothing kept")
                early[pos] = pickle.loads(row["output"])
                while nxt in early:
                    yield early.pop(nxt)
                    nxt += 1
        if nxt != len(items):
            raise RuntimeError(f"the ray job returned {nxt} of {len(items)} batches: nothing kept")


@contextlib.contextmanager
def _quiet_ray():
    """Ray Data logs each dataset's start and end on the driver's stderr: library code stays
    quiet (ERROR and above only, while the job runs)."""
    quiet = [logging.getLogger(n) for n in ("ray", "ray.data")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, lv in zip(quiet, levels):
            lg.setLevel(lv)


def check_resources(ray: Any, address: str | None, actors: int, num_cpus: float, num_gpus: float) -> None:
    """Refuse, before anything is submitted, an actor pool the cluster cannot hold: Ray would
    wait for the resources forever (e.g. ``--ray-gpus 1`` on a cluster without a GPU)."""
    total = ray.cluster_resources()
    cpus, gpus = float(total.get("CPU", 0)), float(total.get("GPU", 0))
    where = f"the Ray cluster at {address}" if address else "the local Ray cluster"
    has = f"{where} has {cpus:g} CPUs and {gpus:g} GPUs"
    if num_gpus and actors * num_gpus > gpus:
        raise ConfigError(
            f"{actors} actor(s) with --ray-gpus {num_gpus:g} need {actors * num_gpus:g} GPUs, but {has}; "
            "use fewer actors, --ray-gpus 0, or a cluster with GPUs"
        )
    if actors * num_cpus > cpus:
        raise ConfigError(
            f"{actors} actor(s) with {num_cpus:g} CPU each need {actors * num_cpus:g} CPUs, but {has}; "
            "use fewer --ray-actors or a larger cluster"
        )


def _init(ray: Any, address: str | None) -> None:
    """Start a local cluster (``address=None``) or join ``address``, once per process."""
    if not ray.is_initialized():
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            ignore_reinit_error=True,
        )
    ray.data.DataContext.get_current().enable_progress_bars = False
