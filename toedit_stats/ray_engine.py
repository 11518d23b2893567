"""The Ray Data engine (``--engine ray``): the same edit job on a Ray cluster, with the same output.

So far this covers ``edit`` and the scoring of ``tokens`` (:func:`ray_score` fills the analyzer's
score cache; the statistics are then computed on the driver from those scores); the other
analyzers and the report run locally. The corpus is read by our
own readers on the driver (the same validation, field options, filters and one-line errors as the
local engine), documents flow as Ray Data blocks, and the editing runs in ``map_batches`` with an
actor pool: each actor loads one language model (:class:`~toedit_stats.options.LMConfig`) once and
edits its batches with :func:`toedit_stats.editing.edit`. Editing is seeded per document, so the
edited texts are the local engine's whatever the batching, the number of actors or the order they
finish in; the driver puts the records back in input order and writes them with the local job's
writer (and format), to a temporary name renamed when complete, with a manifest (``engine: ray``).
With the fake model the output file is byte-identical; with a real model the texts and counts
are, and the audit's ``expected_changed`` (a float sum) can differ in its 6th decimal, because
actors run torch with one thread and the thread count changes float rounding. A worker that dies
mid-job costs its batch, not the job (Ray Data's actor pools restart actors and retry their tasks).

Ray's core (C++) prints one notice per job on stderr that restartable actors were given
constructor arguments (ray-project/ray#53727); it is kept, since the restarts are what make a lost
worker cost only its batch. Not yet: sharded output written by the workers, ``--resume`` and
``--shard`` (refused with ``--engine ray``), ``target_change_rate`` (needs a corpus-wide pass), and
a driver whose memory is bounded — it holds the documents and the edited records.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from ._deps import require
from .errors import ConfigError

__all__ = ["prefill_scores", "ray_edit", "ray_score"]


class _EditActor:
    """One language model per actor; ``__call__`` edits one batch of documents."""

    spec: tuple[dict[str, Any], dict[str, Any], bool]  # set on the subclass the job makes

    def __init__(self):
        # the settings ride on the class, not as constructor arguments: Ray keeps constructor
        # arguments in its object store and warns that restarts depend on them
        from .editing import EditConfig
        from .options import LMConfig

        lm, config, audit_positions = self.spec
        self.lm = LMConfig(**lm).load()
        self.config = EditConfig(**config)
        self.audit_positions = audit_positions

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from .corpus import Document
        from .editing import edit

        docs = [
            Document(str(i), str(t), json.loads(m), str(s))
            for i, t, m, s in zip(batch["id"], batch["text"], batch["meta"], batch["source"])
        ]
        out = list(
            edit(docs, self.lm, self.config, audit_positions=self.audit_positions, buffer_docs=len(docs))
        )
        return {
            "position": batch["position"],
            "record": [
                json.dumps(e.record(str(f)), ensure_ascii=False) for e, f in zip(out, batch["text_field"])
            ],
            "audit": [json.dumps(e.audit.to_dict()) for e in out],
            "changed": [e.doc.text != e.original for e in out],
            "model": [json.dumps(self.lm.info())] * len(out),
        }


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
    batch_docs: int = 16,
    audit_positions: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Edit ``corpus`` into ``output`` on Ray (see the module docstring); returns the manifest.

    ``lm`` is an :class:`~toedit_stats.options.LMConfig` (each actor loads its own model);
    ``address`` joins a running cluster (``"auto"``) or, ``None``, starts a local one; ``actors``
    is the size of the actor pool, each with ``num_cpus``/``num_gpus``.
    """
    from ._io import atomic_write_text, dumps
    from ._provenance import file_sha256, package_versions
    from .corpus import output_format, write_records
    from .editing.job import _COUNTS, check_edit_output, edit_job_config
    from .editing.toedit import DAMAGE_CLASSES
    from .options import LMConfig

    if not isinstance(lm, LMConfig):
        raise ConfigError("the ray engine needs the model as an LMConfig (each actor loads its own)")
    if config.target_change_rate is not None:
        raise ConfigError("target_change_rate needs a pass over the whole corpus: not yet with --engine ray")
    if actors < 1 or batch_docs < 1:
        raise ConfigError(f"actors and batch_docs must be >= 1, got {actors} and {batch_docs}")
    out = Path(output)
    fmt = output_format(out)
    check_edit_output(out, list(corpus.paths), overwrite=overwrite)
    t0 = time.perf_counter()
    import copy

    corpus = copy.copy(corpus)
    corpus.keep_empty = True  # empty texts pass through unedited, as with the local engine
    items = [
        {
            "position": i,
            "id": d.id,
            "text": d.text,
            "meta": json.dumps(d.metadata, ensure_ascii=False),
            "source": d.source or "",
            "text_field": corpus.text_field,
        }
        for i, d in enumerate(corpus)  # read and validated here, on the driver: clean errors
    ]
    read_stats = corpus.stats.to_dict()
    actor = type(
        "EditActor",
        (_EditActor,),
        {"spec": (dataclasses.asdict(lm), dataclasses.asdict(config), audit_positions)},
    )
    rows, ray_version = _map_on_ray(items, actor, address, actors, num_cpus, num_gpus, batch_docs)
    write_records((json.loads(r["record"]) for r in rows), out, fmt=fmt)
    audits = [json.loads(r["audit"]) for r in rows]
    totals: dict[str, Any] = {"documents": len(rows), **{k: 0 for k in _COUNTS}}
    for a in audits:
        for k in _COUNTS:
            totals[k] += a.get(k, 0)
    totals["expected_changed"] = round(totals["expected_changed"], 6)
    totals["documents_changed"] = sum(bool(r["changed"]) for r in rows)
    totals["damage"] = {c: sum(a["damage"].get(c, 0) for a in audits) for c in DAMAGE_CLASSES}
    totals["empty_passed_through"] = sum(1 for it in items if not it["text"])
    totals["skipped_bad"] = read_stats["skipped_bad"]
    model_info = json.loads(rows[0]["model"]) if rows else None
    manifest = {
        "engine": {"name": "ray", "address": address, "actors": actors, "batch_docs": batch_docs},
        "config": edit_job_config(
            corpus, model_info, config, shard=(0, 1), chunk_docs=None, audit_positions=audit_positions
        ),
        "versions": {**package_versions(), "ray": ray_version},
        "complete": True,
        "totals": totals,
        "input": read_stats,
        "output": str(out),
        "output_sha256": file_sha256(out),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    atomic_write_text(out.with_name(out.name + ".manifest.json"), dumps(manifest) + "\n")
    return manifest


class _ScoreActor:
    """One language model per actor; ``__call__`` scores one batch of documents."""

    spec: tuple[dict[str, Any], int]

    def __init__(self):
        from .options import LMConfig

        lm, self.top_k = self.spec
        self.lm = LMConfig(**lm).load()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import pickle

        from .corpus import Document

        docs = [Document(str(i), str(t)) for i, t in zip(batch["id"], batch["text"])]
        scores = self.lm.score(docs, top_k=self.top_k, buffer_docs=len(docs))
        return {"position": batch["position"], "scores": [pickle.dumps(s) for s in scores]}


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

    from .options import LMConfig

    if not isinstance(lm, LMConfig):
        raise ConfigError("the ray engine needs the model as an LMConfig (each actor loads its own)")
    if not docs:
        return []
    items = [{"position": i, "id": d.id, "text": d.text} for i, d in enumerate(docs)]
    actor = type("ScoreActor", (_ScoreActor,), {"spec": (dataclasses.asdict(lm), top_k)})
    rows, _ = _map_on_ray(items, actor, address, actors, num_cpus, num_gpus, batch_docs)
    return [pickle.loads(r["scores"]) for r in rows]


def _map_on_ray(
    items: list[dict[str, Any]],
    actor: type,
    address: str | None,
    actors: int,
    num_cpus: float,
    num_gpus: float,
    batch_docs: int,
) -> tuple[list[dict[str, Any]], str]:
    """``items`` (dicts with a ``position``) through ``map_batches`` on an actor pool of ``actor``,
    the rows returned in position order (every position exactly once, or an error), and Ray's
    version. Starts a local cluster or joins ``address``; Ray Data's own logs stay off stderr."""
    import logging

    ray = require("ray", feature="--engine ray")
    require("ray.data", feature="--engine ray")  # imported first: it configures its own loggers
    if not items:
        return [], ray.__version__
    # Ray Data logs each dataset's start and end on the driver's stderr: library code stays quiet
    quiet = [logging.getLogger(n) for n in ("ray", "ray.data")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.ERROR)
    try:
        if not ray.is_initialized():
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                ignore_reinit_error=True,
            )
        ray.data.DataContext.get_current().enable_progress_bars = False
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
    finally:
        for lg, lv in zip(quiet, levels):
            lg.setLevel(lv)
    rows.sort(key=lambda r: int(r["position"]))
    if [int(r["position"]) for r in rows] != list(range(len(items))):
        raise RuntimeError(
            f"the ray job returned {len(rows)} rows for {len(items)} documents: nothing written"
        )
    return rows, ray.__version__


def prefill_scores(lm: Any, docs: list[Any], scores: list[Any]) -> Any:
    """``lm`` (a loaded backend) behind an in-memory score cache that already holds ``scores`` of
    ``docs``: an analyzer given it computes its statistics without scoring again."""
    from .lm.cache import CachedLM

    cached = lm if isinstance(lm, CachedLM) else CachedLM(lm, memory=True)
    for d, s in zip(docs, scores):
        cached.put(d.text, s)
    return cached
