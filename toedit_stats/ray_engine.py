"""The Ray Data engine (``--engine ray``): the same edit job on a Ray cluster, with the same output.

``edit --engine ray`` is the local edit job (:func:`toedit_stats.editing.job.run_edit_job`:
the same read-once plan of input chunks, parts folder, manifest with the configuration
fingerprint, ``--resume``, ``--shard`` and final join) with the chunks edited by a Ray Data actor
pool: the driver reads and validates the corpus with our readers (the same field options, filters
and one-line ``file:line`` errors), puts each chunk still to do into Ray's object store (the
driver's own memory holds one chunk at a time and a reference per chunk; the object store spills
to disk), and ``map_batches`` hands one chunk at a time to an actor that holds one language model
(:class:`~toedit_stats.options.LMConfig`), edits it with :func:`toedit_stats.editing.edit` and
**writes the chunk file itself** into ``OUTPUT.parts/`` (a shared file system for a multi-node
cluster), atomically, followed by its completion marker ``chunk-NNNNN.jsonl.done`` (the chunk's
manifest entry: input range, input hash, file hash, totals). The driver records each finished
chunk in the manifest as it arrives. A killed driver is resumed with ``--resume``: chunks listed
in the manifest or with an intact marker are kept, every other chunk is redone. A worker that
dies mid-job costs its chunk, not the job: Ray Data's actor pools restart the actor and retry
its task (at-least-once; a chunk written twice is written with the same bytes).

Editing is seeded per document, so the edited texts are the local engine's whatever the batching,
the number of actors or the order they finish in. With the fake model the output file is
byte-identical; with a real model the texts and counts are, and the audit's ``expected_changed``
(a float sum) can differ in its 6th decimal, because actors run torch with one thread and the
thread count changes float rounding.

:func:`ray_score` scores documents on an actor pool for ``tokens --engine ray`` and
:func:`ray_embed` embeds them for ``embed --engine ray`` (each actor holds one model; the
statistics are then computed on the driver from those scores or vectors, so they equal the local
engine's); ``report --engine ray`` uses both to fill the report's caches.
:func:`ray_sketch` sketches runs of documents for ``ngrams --sketch --engine ray`` (merged on the
driver, see :mod:`toedit_stats.analyzers.ngram_sketch`). Not yet on Ray: ``target_change_rate``
(it needs a corpus-wide pass first) and the sweep.

Ray's core (C++) prints one notice per job on stderr that restartable actors were given
constructor arguments (ray-project/ray#53727); it is kept, since the restarts are what make a lost
worker cost only its chunk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from ._deps import require
from .errors import ConfigError

__all__ = [
    "PrefilledEmbedder",
    "RayOptions",
    "edit_chunks",
    "prefill_scores",
    "ray_edit",
    "ray_embed",
    "ray_score",
]


@dataclasses.dataclass(frozen=True)
class RayOptions:
    """Where and how a job runs on Ray: the model each actor loads (an
    :class:`~toedit_stats.options.LMConfig`; ``None`` for jobs without one, such as
    ``ngrams --sketch``), the cluster (``address``: ``None`` starts a local one, ``"auto"`` joins a
    running one), and the workers (``actors``, each with ``num_cpus`` and ``num_gpus``)."""

    lm: Any = None
    address: str | None = None
    actors: int = 1
    num_cpus: float = 1.0
    num_gpus: float = 0.0

    def __post_init__(self):
        from .options import LMConfig

        if self.lm is not None and not isinstance(self.lm, LMConfig):
            raise ConfigError("the ray engine needs the model as an LMConfig (each actor loads its own)")
        if self.actors < 1:
            raise ConfigError(f"actors must be >= 1, got {self.actors}")

    def pool(self) -> dict[str, Any]:
        """The cluster and worker settings as keyword arguments of :func:`ray_score` and
        :func:`ray_embed`."""
        return {
            "address": self.address,
            "actors": self.actors,
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
        }

    def manifest(self) -> dict[str, Any]:
        return {"name": "ray", "address": self.address, "actors": self.actors, "num_gpus": self.num_gpus}


class _ChunkActor:
    """One language model per actor; ``__call__`` edits one chunk and writes its file and marker."""

    spec: tuple[dict[str, Any], dict[str, Any], bool, str, str]  # set on the subclass the job makes

    def __init__(self):
        # the settings ride on the class, not as constructor arguments: Ray keeps constructor
        # arguments in its object store and warns that restarts depend on them
        from .editing import EditConfig
        from .editing.job import check_k
        from .options import LMConfig

        lm, config, self.audit_positions, parts, self.text_field = self.spec
        self.parts = Path(parts)
        self.config = EditConfig(**config)
        self.error = None
        try:
            self.lm = LMConfig(**lm).load()
            check_k(self.lm, self.config)
        except ConfigError as exc:  # reported by the first call, as a clean error on the driver
            self.error = str(exc)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import ray

        from ._faults import checkpoint
        from .corpus import Document
        from .editing import edit
        from .editing.job import _write_chunk, write_marker

        out: dict[str, list[Any]] = {"chunk": [], "entry": [], "model": [], "error": []}
        for c, span, ref in zip(batch["chunk"], batch["span"], batch["docs"]):
            out["chunk"].append(int(c))
            if self.error is not None:
                out["entry"].append("")
                out["model"].append("")
                out["error"].append(self.error)
                continue
            docs = [Document(*d) for d in ray.get(ref)]
            edited = list(
                edit(docs, self.lm, self.config, audit_positions=self.audit_positions, buffer_docs=64)
            )
            checkpoint("ray-chunk-edited")  # a worker killed here: Ray restarts it and retries
            span = json.loads(span)
            entry = _write_chunk(self.parts, int(c), span, edited, self.text_field)
            write_marker(self.parts, entry)
            out["entry"].append(json.dumps(entry))
            out["model"].append(json.dumps(self.lm.info()))
            out["error"].append("")
        return out


def edit_chunks(
    docs: Any,
    plan: list[dict[str, Any]],
    chunk_docs: int,
    todo: list[int],
    parts: Path,
    *,
    text_field: str,
    config: Any,
    audit_positions: bool,
    options: RayOptions,
):
    """Edit the chunks ``todo`` of ``plan`` (the edit job's input ranges over the stream of
    documents ``docs``) on a Ray actor pool; yields ``(chunk, manifest entry, model info)`` as
    chunks finish (any order). The actors write the chunk files and markers into ``parts``."""
    ray = require("ray", feature="--engine ray")
    require("ray.data", feature="--engine ray")
    if not todo:
        return
    with _quiet_ray():
        _init(ray, options.address)
        check_resources(
            ray, options.address, min(options.actors, len(todo)), options.num_cpus, options.num_gpus
        )
        want = set(todo)
        items, current = [], []
        for pos, d in enumerate(docs):
            c = pos // chunk_docs  # the edit job's chunks are fixed input ranges
            if c not in want:
                continue
            current.append([d.id, d.text, d.metadata, d.source])
            if pos == plan[c]["last"]:
                span = {k: plan[c][k] for k in ("first", "last", "documents", "input_sha256")}
                # into the object store: the driver keeps a reference, not the documents
                items.append({"chunk": c, "span": json.dumps(span), "docs": ray.put(current)})
                current = []
        actor = type(
            "ChunkActor",
            (_ChunkActor,),
            {
                "spec": (
                    dataclasses.asdict(options.lm),
                    dataclasses.asdict(config),
                    audit_positions,
                    str(parts),
                    text_field,
                )
            },
        )
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        for row in ds.map_batches(
            actor,
            batch_size=1,
            batch_format="numpy",
            concurrency=min(options.actors, len(items)),
            num_cpus=options.num_cpus,
            num_gpus=options.num_gpus or None,
        ).iter_rows():
            if row["error"]:
                raise ConfigError(str(row["error"]))
            yield int(row["chunk"]), json.loads(row["entry"]), json.loads(row["model"])


def ray_edit(
    corpus: Any,
    output: str | Path,
    *,
    lm: Any,
    config: Any,
    address: str | None = None,
    actors: int = 1,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    chunk_docs: int = 16,
    audit_positions: bool = False,
    overwrite: bool = False,
    resume: bool = False,
    shard: tuple[int, int] = (0, 1),
) -> dict[str, Any]:
    """Edit ``corpus`` into ``output`` on Ray (see the module docstring); returns the manifest.

    ``lm`` is an :class:`~toedit_stats.options.LMConfig` (each actor loads its own model); the
    other arguments are :class:`RayOptions` and the edit job's (``chunk_docs`` documents per
    chunk: the unit of work, of retries and of resume)."""
    from .editing.job import run_edit_job

    options = RayOptions(lm, address=address, actors=actors, num_cpus=num_cpus, num_gpus=num_gpus)
    return run_edit_job(
        corpus,
        output,
        model=lm,
        config=config,
        shard=shard,
        resume=resume,
        audit_positions=audit_positions,
        chunk_docs=chunk_docs,
        overwrite=overwrite,
        engine=options,
    ).manifest


class _ScoreActor:
    """One language model per actor; ``__call__`` scores one batch of documents."""

    spec: tuple[dict[str, Any], int]

    def __init__(self):
        from .options import LMConfig

        lm, self.top_k = self.spec
        self.lm = LMConfig(**lm).load()

    def _scores(self, batch: dict[str, Any]) -> Any:
        """The batch's documents scored by this actor's model, in batch order."""
        from .corpus import Document

        docs = [Document(str(i), str(t)) for i, t in zip(batch["id"], batch["text"])]
        return self.lm.score(docs, top_k=self.top_k, buffer_docs=len(docs))

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import pickle

        return {"position": batch["position"], "scores": [pickle.dumps(s) for s in self._scores(batch)]}


def _score_on_ray(
    docs: list[Any], lm: Any, actor: type, top_k: int, pool: dict[str, Any], per_batch: bool = False
) -> list[dict[str, Any]]:
    """``docs`` through ``map_batches`` on a pool of ``actor`` (a :class:`_ScoreActor` kind), each
    actor loading the ``LMConfig`` ``lm``; its output rows in position order (see :func:`_map_on_ray`)."""
    from .options import LMConfig

    if not isinstance(lm, LMConfig):
        raise ConfigError("the ray engine needs the model as an LMConfig (each actor loads its own)")
    if not docs:
        return []
    items = [{"position": i, "id": d.id, "text": d.text} for i, d in enumerate(docs)]
    spec = type(actor.__name__.lstrip("_"), (actor,), {"spec": (dataclasses.asdict(lm), top_k)})
    rows, _ = _map_on_ray(items, spec, **pool, per_batch=per_batch)
    return rows


def ray_score(
    docs: list[Any],
    lm: Any,
    *,
    top_k: int = 0,
    address: str | None = None,
    actors: int = 1,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    batch_docs: int = 16,
) -> list[Any]:
    """:class:`~toedit_stats.lm.base.TokenScores` of ``docs`` (in their order), scored by a Ray
    Data actor pool, each actor with its own model from the ``LMConfig`` ``lm``."""
    import pickle

    pool = dict(address=address, actors=actors, num_cpus=num_cpus, num_gpus=num_gpus, batch_docs=batch_docs)
    rows = _score_on_ray(docs, lm, _ScoreActor, top_k, pool)
    return [pickle.loads(r["scores"]) for r in rows]


class _StatsActor(_ScoreActor):
    """One language model per actor; ``__call__`` scores one batch of documents and returns its
    :class:`~toedit_stats.analyzers.tokens.TokenStats` (one row per batch: no scores leave the actor)."""

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import pickle

        from .analyzers.tokens import TokenStats

        acc = TokenStats("block")
        for sc in self._scores(batch):
            acc.add(sc)
        return {
            "position": [int(batch["position"][0])],
            "positions": [pickle.dumps([int(p) for p in batch["position"]])],
            "stats": [pickle.dumps(acc)],
        }


def ray_token_stats(
    docs: list[Any],
    lm: Any,
    name: str,
    *,
    address: str | None = None,
    actors: int = 1,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    batch_docs: int = 16,
) -> Any:
    """The :class:`~toedit_stats.analyzers.tokens.TokenStats` of ``docs`` (a corpus called
    ``name``), merged with ``+`` from one accumulator per Ray Data batch: each actor scores its
    batch with its own model (``lm``, an ``LMConfig``) and only the batch's statistics reach the
    driver. Per-document fields come out in the order of ``docs``; counts equal a local run
    exactly, float sums up to their summation order."""
    import pickle

    from .analyzers.tokens import TokenStats

    pool = dict(address=address, actors=actors, num_cpus=num_cpus, num_gpus=num_gpus, batch_docs=batch_docs)
    rows = _score_on_ray(docs, lm, _StatsActor, 0, pool, per_batch=True)
    total = TokenStats(name)
    order: list[int] = []
    for r in rows:
        total = total + pickle.loads(r["stats"])
        order += pickle.loads(r["positions"])
    if order != list(range(len(docs))):  # batches not in input order: put the documents back
        total = total.reordered(sorted(range(len(order)), key=order.__getitem__))
    total.name = name
    return total


class _EmbedActor:
    """One embedder per actor; ``__call__`` embeds one batch of texts."""

    spec: tuple[str, int]

    def __init__(self):
        from .embed import load_embedder

        name, seed = self.spec
        self.embedder = load_embedder(name, seed=seed)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        vectors = np.asarray(self.embedder.embed([str(t) for t in batch["text"]]), np.float32)
        info = json.dumps(
            {
                "name": self.embedder.name,
                "fingerprint": self.embedder.fingerprint,
                "dim": int(vectors.shape[1]),
            }
        )
        return {"position": batch["position"], "vector": vectors, "info": [info] * len(vectors)}


class PrefilledEmbedder:
    """An embedder whose vectors were computed elsewhere (by Ray actors): ``embed`` returns them
    for the texts it was given, and refuses any other text."""

    def __init__(self, info: dict[str, Any], texts: list[str], vectors: Any):
        import numpy as np

        from ._cache import text_key

        self.name, self.fingerprint, self.dim = info["name"], info["fingerprint"], int(info["dim"])
        self._vectors = {text_key(t): np.asarray(v, np.float32) for t, v in zip(texts, vectors)}

    def embed(self, texts: Any) -> Any:
        import numpy as np

        from ._cache import text_key

        try:
            rows = [self._vectors[text_key(t)] for t in texts]
        except KeyError:
            raise RuntimeError("a text was not embedded on Ray (the sampling changed?)") from None
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)


def ray_embed(
    texts: list[str],
    embedder: str,
    *,
    seed: int = 0,
    address: str | None = None,
    actors: int = 1,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    batch_docs: int = 64,
) -> PrefilledEmbedder:
    """``texts`` embedded by a Ray Data actor pool (each actor loads the embedder ``embedder`` by
    name), as an embedder that serves those vectors to the embedding analyzer."""
    if not isinstance(embedder, str) or embedder == "tfidf":
        raise ConfigError(
            "--engine ray embeds with a named neural embedder; tfidf is fitted on the corpora at hand: "
            "use --engine local"
        )
    unique = list(dict.fromkeys(texts))
    if not unique:
        return PrefilledEmbedder({"name": embedder, "fingerprint": "", "dim": 0}, [], [])
    items = [{"position": i, "text": t} for i, t in enumerate(unique)]
    actor = type("EmbedActor", (_EmbedActor,), {"spec": (embedder, seed)})
    rows, _ = _map_on_ray(items, actor, address, actors, num_cpus, num_gpus, batch_docs)
    return PrefilledEmbedder(json.loads(rows[0]["info"]), unique, [r["vector"] for r in rows])


def _sketch_run(batch: dict[str, Any], params: dict[str, Any], chunk_docs: int) -> dict[str, Any]:
    """A Ray task: the n-gram sketch of each run of documents in the batch (pickled)."""
    import ray
    from ray import cloudpickle

    from .analyzers.ngram_sketch import _Sketch

    out = []
    for ref in batch["docs"]:
        sketch = _Sketch(**params)
        sketch.add(ray.get(ref), chunk_docs)
        out.append(cloudpickle.dumps(sketch))
    return {"position": batch["position"], "sketch": out}


def ray_sketch(runs: Any, params: dict[str, Any], chunk_docs: int, options: RayOptions) -> list[Any]:
    """Sketches of the runs of texts ``runs`` (an iterable of lists, each put into the object
    store as it is read), computed by Ray tasks, returned in run order for merging."""
    import functools

    ray = require("ray", feature="--engine ray")
    require("ray.data", feature="--engine ray")
    from ray import cloudpickle

    with _quiet_ray():
        _init(ray, options.address)  # before the first ray.put
        items = [{"position": i, "docs": ray.put(run)} for i, run in enumerate(runs)]
    task = functools.partial(_sketch_run, params=params, chunk_docs=chunk_docs)
    rows, _ = _map_on_ray(items, task, options.address, options.actors, options.num_cpus, 0.0, 1)
    return [cloudpickle.loads(r["sketch"]) for r in rows]


def _map_on_ray(
    items: list[dict[str, Any]],
    actor: type,
    address: str | None,
    actors: int,
    num_cpus: float,
    num_gpus: float,
    batch_docs: int,
    per_batch: bool = False,
) -> tuple[list[dict[str, Any]], str]:
    """``items`` (dicts with a ``position``) through ``map_batches`` on an actor pool of ``actor``
    (or on tasks, for a function), the rows returned in position order (every position exactly
    once, or an error), and Ray's version. With ``per_batch`` each output row stands for one batch
    and lists its input positions (pickled, in ``positions``): every position must occur once
    over all rows. Starts a local cluster or joins ``address``; Ray Data's own logs stay off stderr."""
    ray = require("ray", feature="--engine ray")
    require("ray.data", feature="--engine ray")  # imported first: it configures its own loggers
    if not items:
        return [], ray.__version__
    with _quiet_ray():
        _init(ray, address)
        check_resources(ray, address, actors, num_cpus, num_gpus)
        ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * actors)))
        rows = list(
            ds.map_batches(
                actor,
                batch_size=batch_docs,
                batch_format="numpy",
                concurrency=actors,
                num_cpus=num_cpus,
                num_gpus=num_gpus or None,
            ).iter_rows()
        )
    rows.sort(key=lambda r: int(r["position"]))
    if per_batch:
        import pickle

        covered = sorted(p for r in rows for p in pickle.loads(r["positions"]))
    else:
        covered = [int(r["position"]) for r in rows]
    if covered != list(range(len(items))):
        raise RuntimeError(
            f"the ray job returned {len(rows)} rows for {len(items)} documents: nothing written"
        )
    return rows, ray.__version__


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


def score_missing(lm: Any, docs: Any, top_k: int, options: RayOptions) -> int:
    """Score on Ray (``options``: its ``lm`` is what each actor loads) the texts of ``docs`` that
    the score cache ``lm`` (a :class:`~toedit_stats.lm.cache.CachedLM`) lacks with ``top_k``
    candidates, each text once, and put their scores into it. Returns how many were scored."""
    seen, todo = set(), []
    for d in docs:
        if d.text and d.text not in seen and not lm.cached(d.text, top_k):
            seen.add(d.text)
            todo.append(d)
    if todo:
        for d, sc in zip(todo, ray_score(todo, options.lm, top_k=top_k, **options.pool())):
            lm.put(d.text, sc)
    return len(todo)


def prefill_scores(lm: Any, docs: list[Any], scores: list[Any]) -> Any:
    """``lm`` (a loaded backend) behind an in-memory score cache that already holds ``scores`` of
    ``docs``: an analyzer given it computes its statistics without scoring again."""
    from .lm.cache import CachedLM

    cached = lm if isinstance(lm, CachedLM) else CachedLM(lm, memory=True)
    for d, s in zip(docs, scores):
        cached.put(d.text, s)
    return cached
