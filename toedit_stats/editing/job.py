"""Editing jobs: chunked, atomic, resumable and shardable output of :func:`edit`.

Layout while a job runs, for ``-o OUT.jsonl``::

    OUT.jsonl.parts/manifest.json      configuration fingerprint and completed chunks
    OUT.jsonl.parts/chunk-00000.jsonl  each written to a temp name, then renamed

**Chunks are input ranges.** Chunk ``c`` holds the documents at positions
``c * chunk_docs … (c + 1) * chunk_docs - 1`` of the (shard of the) input. Before any editing the
input is read once (bad input fails there, leaving nothing behind) and each chunk's range gets a
content hash (ids, texts and fields). The manifest lists, per completed chunk, its first and last
input position, document count, that input hash and the sha256 of its file. ``resume=True``
keeps exactly the listed chunks whose range, input hash and file hash all still match, and
(re)does every other chunk — missing, deleted by hand, half-written or inconsistent ones — in any
order; a manifest made with another configuration is refused.

**The final join** writes ``OUT`` (in the format its name implies: ``.jsonl``, ``.jsonl.gz``,
``.jsonl.zst``, ``.parquet``) through a temp file and a rename, then ``OUT.manifest.json`` (with
the output's sha256), then renames the parts folder to a hidden trash name and only then deletes
it. After a kill at any moment, ``resume=True`` either redoes the join from intact parts or finds
a complete ``OUT`` whose hash matches its manifest and just cleans up; temp files a killed run
left beside the output or in the parts folder are removed. A run killed at any moment and resumed
produces exactly the output of an uninterrupted run.

**Every record that goes in comes out or is counted.** Documents with an empty text are passed
through unedited (audit all zeros); records skipped as bad (``skip_bad``) are counted in the
totals and the manifest (``input.skipped_bad``, with the first few messages).

**Sharding.** ``shard=(i, n)`` edits the documents whose position in the input is ``i mod n``,
so ``n`` processes (or a Slurm array) cover the input exactly once; every shard writes its own
output, and the outputs together hold each document once (concatenate them; the per-document
seeding makes the edits identical to an unsharded run's).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._faults import checkpoint
from .._io import (
    MARKER,
    atomic_write_bytes,
    atomic_write_text,
    check_free_space,
    check_output_location,
    dumps,
    make_work_dir,
    publish_with_manifest,
    remove_stale_temps,
)
from .._provenance import file_facts, file_sha256, package_versions
from .._version import __version__
from ..corpus import Corpus, Document, json_line, output_format, write_records
from ..errors import ConfigError
from ..execution import Executor, resolve_executor
from ..lm.config import LMConfig, load_lm
from ..lm.worker import ModelWorker, model_worker_config
from ..progress import TokenProgress
from .toedit import DAMAGE_CLASSES, EditConfig, EditedDocument, edit, resolve_target

__all__ = [
    "EditChunkWorker",
    "EditJobResult",
    "EditWorker",
    "check_edit_output",
    "run_edit_job",
    "write_marker",
]

_COUNTS = ("tokens", "selected", "changed", "deleted", "skipped_unsafe", "expected_changed", "protected")


@dataclass(frozen=True)
class EditJobResult:
    output: Path
    manifest: dict[str, Any]
    totals: dict[str, Any]


def _fingerprint(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _shard_docs(corpus: Corpus, shard: tuple[int, int]) -> Iterator[Document]:
    i, n = shard
    for pos, doc in enumerate(corpus):
        if pos % n == i:
            yield doc


def _doc_bytes(doc: Document) -> bytes:
    payload = [doc.id, doc.text, doc.metadata]
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode(
        "utf-8", "surrogatepass"
    )


def _scan(corpus: Corpus, shard: tuple[int, int], chunk_docs: int) -> tuple[list[dict[str, Any]], int, int]:
    """One pass over the input: per chunk ``{first, last, documents, characters, input_sha256}``
    (``characters`` only for the progress estimate), the number
    of empty texts and the bytes of the shard's documents (for the free-space estimate)."""
    chunks: list[dict[str, Any]] = []
    h = None
    empty = size = 0
    for pos, doc in enumerate(_shard_docs(corpus, shard)):
        if pos % chunk_docs == 0:
            if h is not None:
                chunks[-1]["input_sha256"] = h.hexdigest()
            h = hashlib.sha256()
            chunks.append({"first": pos, "last": pos, "documents": 0, "characters": 0})
        data = _doc_bytes(doc)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
        chunks[-1]["last"] = pos
        chunks[-1]["documents"] += 1
        chunks[-1]["characters"] += len(doc.text)
        empty += not doc.text
        size += len(data)
    if h is not None:
        chunks[-1]["input_sha256"] = h.hexdigest()
    return chunks, empty, size


def _chunk_name(index: int) -> str:
    return f"chunk-{index:05d}.jsonl"


def _valid_chunks(parts: Path, old: dict[str, Any], plan: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The chunks that still match the plan and whose files are intact: those the old manifest
    lists, and those with a completion marker (written by the chunk's writer right after the
    chunk: the Ray engine's workers, whose driver may have died before recording them)."""
    entries = list(old.get("chunks", []))
    listed = {e.get("index") for e in entries if isinstance(e, dict)}
    for marker in sorted(parts.glob("chunk-*.jsonl.done")):
        try:
            entry = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict) and entry.get("index") not in listed:
            entries.append(entry)
    valid: dict[int, dict[str, Any]] = {}
    for entry in entries:
        try:
            c = int(entry["index"])
            want = plan[c] if 0 <= c < len(plan) else None
            if want is None or any(
                entry.get(key) != want[key] for key in ("first", "last", "documents", "input_sha256")
            ):
                continue
            f = parts / _chunk_name(c)
            if entry.get("file") == f.name and f.is_file() and file_sha256(f) == entry.get("sha256"):
                valid[c] = entry
        except (KeyError, TypeError, ValueError):
            continue
    return valid


def write_marker(parts: Path, entry: dict[str, Any]) -> None:
    """The completion marker of a chunk already written: ``<chunk file>.done`` holding its manifest
    entry (a resumed job keeps the chunk if the entry matches the plan and the file's hash)."""
    atomic_write_text(parts / (entry["file"] + ".done"), dumps(entry) + "\n")


def _clean_parts(parts: Path, keep: dict[int, dict[str, Any]]) -> None:
    """Remove everything in ``parts`` but the manifest and the files of ``keep``."""
    names = (
        {"manifest.json", MARKER} | {_chunk_name(c) for c in keep} | {_chunk_name(c) + ".done" for c in keep}
    )
    for p in parts.iterdir():
        if p.name in names:
            continue
        if p.is_dir():
            _remove_tree(p)
        else:
            p.unlink()


def _remove_tree(path: Path, crash_point: str | None = None) -> None:
    for i, p in enumerate(sorted(path.iterdir())):
        if p.is_dir():
            _remove_tree(p)
        else:
            p.unlink()
        if i == 0 and crash_point:
            checkpoint(crash_point)
    path.rmdir()


def _finish_cleanup(out: Path, parts: Path) -> None:
    """Remove the parts folder (renamed to a hidden trash name first, so that no resume ever
    sees a half-deleted parts folder) and any temp files a killed run left."""
    from .._io import temp_dir

    if parts.exists():
        trash = temp_dir(parts, "trash")
        os.replace(parts, trash)
        checkpoint("parts-renamed")
        _remove_tree(trash, crash_point="parts-removing")
    _remove_job_temps(out, parts)


def _remove_job_temps(out: Path, parts: Path) -> None:
    """Temp files and trash folders a killed run left beside the output and its manifest."""
    for p in (out, parts, _final_manifest(out)):
        remove_stale_temps(p)


def _final_manifest(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def _completed(out: Path, fp: str) -> dict[str, Any] | None:
    """The final manifest of a complete run with this fingerprint whose output is intact."""
    path = _final_manifest(out)
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict) or not m.get("complete") or m.get("fingerprint") != fp:
        return None
    if not out.is_file() or file_sha256(out) != m.get("output_sha256"):
        return None
    return m


def config_differences(old: Any, new: dict[str, Any], limit: int = 6) -> list[str]:
    """``"edit.p: 0.99 -> 0.9"`` for every leaf that differs between two job configurations (the
    settings a refused resume names)."""

    def leaves(x: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(x, dict):
            out: dict[str, Any] = {}
            for k, v in x.items():
                out.update(leaves(v, f"{prefix}.{k}" if prefix else str(k)))
            return out
        return {prefix: x}

    if not isinstance(old, dict):
        return []
    a, b = leaves(old), leaves(json.loads(json.dumps(new)))
    diffs = [
        f"{k}: {a.get(k, '(none)')!r} -> {b.get(k, '(none)')!r}"
        for k in sorted(a.keys() | b.keys())
        if a.get(k) != b.get(k)
    ]
    return diffs[:limit] + ([f"… {len(diffs) - limit} more"] if len(diffs) > limit else [])


def _check_resume_settings(parts: Path, config: dict[str, Any]) -> None:
    """Refuse a resume whose settings (all but the model, which is known only once loaded)
    differ from those of the run that left ``parts``."""
    try:
        old = json.loads((parts / "manifest.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # nothing to compare yet: the full check runs after the model loads
    if not isinstance(old, dict):
        return
    changed = config_differences(
        {k: v for k, v in old.items() if k != "model"}, {k: v for k, v in config.items() if k != "model"}
    )
    if changed:
        raise ConfigError(
            f"{parts} was made with a different configuration (these settings differ: "
            + "; ".join(changed)
            + "); rerun with the same options, or delete it (or pass --overwrite) to start over"
        )


def edit_job_config(
    corpus: Corpus,
    model_info: dict[str, Any] | None,
    config: EditConfig,
    *,
    shard: tuple[int, int],
    chunk_docs: int | None,
    audit_positions: bool,
    engine: str = "local",
) -> dict[str, Any]:
    """The configuration section of every edit manifest (the job's and the report's): what
    decides the output, and so what the resume fingerprint covers."""
    info = model_info or {}
    return {
        "edit": config.to_dict(),
        # where the weights were read from (GGUF or cache) and the device do not change the output
        "model": {
            k: v
            for k, v in info.items()
            if k in ("backend", "name", "fingerprint", "context", "prefix_token")
        },
        "inputs": [file_facts(f) for f in getattr(corpus, "files", [])],
        "reader": {
            "text_field": corpus.text_field,
            "id_field": corpus.id_field,
            "where": list(corpus.where),
            "limit": corpus.limit,
            "sample": corpus.sample,
            "seed": corpus.seed,
        },
        "shard": list(shard),
        "chunk_docs": chunk_docs,
        "audit_positions": audit_positions,
        "engine": engine,  # workers elsewhere may round floats differently: no resume across engines
        "toedit_stats": __version__,
    }


def edit_totals(edited: Sequence[EditedDocument]) -> dict[str, Any]:
    """Totals over edited documents: documents, the audit counts summed, per-generation counts
    and how many documents changed."""
    totals: dict[str, Any] = {"documents": len(edited), **dict.fromkeys(_COUNTS, 0)}
    gens: list[dict[str, int]] = []
    for ed in edited:
        for key in _COUNTS:
            totals[key] += getattr(ed.audit, key)
        for g, ga in enumerate(ed.audits):
            if g >= len(gens):
                gens.append(dict.fromkeys(_COUNTS, 0))
            for key in _COUNTS:
                gens[g][key] += getattr(ga, key)
    totals["documents_changed"] = sum(1 for e in edited if e.doc.text != e.original)
    totals["damage"] = {c: sum(e.audit.damage.get(c, 0) for e in edited) for c in DAMAGE_CLASSES}
    totals["generations"] = gens
    return totals


def check_k(lm: Any, config: EditConfig) -> None:
    """``k`` cannot exceed the model's vocabulary (checked before anything is written)."""
    vocab = getattr(lm, "vocab_size", None)
    if config.revises and vocab is not None and config.k > vocab:
        raise ConfigError(
            f"k = {config.k} is larger than the model's vocabulary ({vocab:,} tokens); choose k <= {vocab}"
        )


def check_edit_output(
    output: str | os.PathLike, inputs: list[Path], *, resume: bool = False, overwrite: bool = False
) -> None:
    """Where an edit job writes, checked before anything is read, loaded or written: a known
    output format, not an input (with or without ``resume``), creatable and writable, and no
    leftover parts folder unless ``resume``."""
    out = Path(output)
    output_format(out)
    parts = out.with_name(out.name + ".parts")
    check_output_location(out, inputs=inputs, overwrite=True)
    check_output_location(parts, directory=True, inputs=inputs, overwrite=True)
    if parts.exists() and not resume:
        raise ConfigError(f"a partial run exists at {parts}; pass --resume to continue it or delete it")
    if out.exists() and not overwrite and not resume:
        raise ConfigError(f"{out} exists; choose another -o or pass --overwrite")


def run_edit_job(
    corpus: Corpus,
    output: str | os.PathLike,
    *,
    model: Any,
    config: EditConfig,
    shard: tuple[int, int] = (0, 1),
    resume: bool = False,
    audit_positions: bool = False,
    chunk_docs: int = 256,
    progress: bool = False,
    overwrite: bool = False,
    executor: Executor | str | None = None,
) -> EditJobResult:
    """Edit ``corpus`` into ``output`` (see the module docstring); returns the manifest and totals.

    The chunks are edited by :class:`EditChunkWorker` on ``executor`` (default: this process;
    see :mod:`toedit_stats.execution`). ``model`` is a name, an ``LMConfig`` or (in this process
    only) a loaded backend; a worker in another process loads its own from the name or config."""
    executor = resolve_executor(executor)
    out = Path(output)
    fmt = output_format(out)
    parts = out.with_name(out.name + ".parts")
    corpus, plan, empty_docs, read_stats = _read_plan(corpus, out, shard, chunk_docs, resume, overwrite)
    inputs = list(corpus.paths)
    job = {
        "shard": tuple(shard),
        "chunk_docs": chunk_docs,
        "audit_positions": audit_positions,
        "engine": executor.name,
    }
    if resume:  # a resume with other settings is refused before any model is loaded
        before_load = edit_job_config(corpus, None, config, **job)
        _check_resume_settings(parts, before_load)
    lm, model_info = _job_model(model, config, executor)
    job_config = edit_job_config(corpus, model_info, config, **job)
    fp = _fingerprint(job_config)
    if resume:
        done_before = _completed(out, fp)
        if done_before is not None:  # killed after the join: only the cleanup was left
            _finish_cleanup(out, parts)
            return EditJobResult(out, done_before, done_before["totals"])
    if out.exists() and not overwrite and not (resume and parts.exists()):
        raise ConfigError(f"{out} exists; choose another -o or pass --overwrite")

    done, old = _open_parts(parts, fp, job_config, plan)
    if config.target_change_rate is not None:
        # p for this shard from an extra scoring pass (a resumed job reuses the p it chose)
        p_chosen = old.get("p_chosen") if old.get("fingerprint") == fp else None
        if p_chosen is None:
            docs = [d for d in _shard_docs(corpus, shard) if d.text]
            p_chosen = resolve_target(docs, lm, config).p
        config = replace(config, p=p_chosen)
    manifest = {
        "fingerprint": fp,
        "config": job_config,
        "versions": package_versions(),
        "chunks": [done[c] for c in sorted(done)],
        "complete": False,
        "engine": executor.manifest(),
    }
    if config.target_change_rate is not None:
        manifest["p_chosen"] = config.p
    manifest_path = parts / "manifest.json"
    atomic_write_text(manifest_path, dumps(manifest) + "\n")

    worker = EditChunkWorker(model, config, audit_positions, parts, corpus.text_field, None, loaded=lm)
    todo = [c for c in range(len(plan)) if c not in done]
    chunks = _chunks(corpus, shard, plan, todo, chunk_docs)
    _edit_chunks(executor, worker, chunks, plan, todo, done, manifest, manifest_path, progress)
    if any(c not in done for c in range(len(plan))):  # the input changed between the two passes
        raise ConfigError(f"{inputs[0]}: the input changed while it was being edited; rerun the job")
    totals = _job_totals([done[c] for c in range(len(plan))], empty_docs, read_stats)
    _publish(out, parts, fmt, manifest, [done[c] for c in range(len(plan))], totals, read_stats)
    return EditJobResult(out, manifest, totals)


def _read_plan(
    corpus: Corpus, out: Path, shard: tuple[int, int], chunk_docs: int, resume: bool, overwrite: bool
):
    """The job's arguments checked, then the input read once before any work: bad input fails
    here, leaving nothing behind, and each chunk's input range gets the hash a resumed run checks.
    Returns the corpus (empty texts kept: they pass through unedited), the chunk plan, the empty
    documents and the reader's statistics."""
    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"--shard must be I/N with 0 <= I < N, got {i}/{n}")
    if chunk_docs < 1:
        raise ConfigError("chunk_docs must be positive")
    check_edit_output(out, list(corpus.paths), resume=resume, overwrite=overwrite)
    corpus = copy.copy(corpus)
    corpus.keep_empty = True
    plan, empty_docs, shard_bytes = _scan(corpus, shard, chunk_docs)
    read_stats = corpus.stats.to_dict()
    read_stats["bad_examples"] = list(corpus.stats.bad_examples)
    check_free_space(out, 2 * shard_bytes)  # parts and the final output each hold about the shard's bytes
    return corpus, plan, empty_docs, read_stats


def _edit_chunks(executor, worker, chunks, plan, todo, done, manifest, manifest_path, progress) -> None:
    """The chunks ``todo`` edited by ``executor``'s workers; each finished chunk recorded in the
    manifest as it arrives (in input order), with progress in tokens (live here, per chunk from
    workers elsewhere)."""
    bar = TokenProgress(
        chars_total=sum(plan[c]["characters"] for c in todo),
        documents=sum(plan[c]["documents"] for c in todo),
        desc="editing",
        enabled=progress,
    )
    if progress:
        worker.on_tokens, worker.on_document = bar.on_tokens, bar.document_done
    for c, entry, info in executor.map_batches(worker, chunks):
        manifest.setdefault("model", info)
        done[c] = entry
        checkpoint("chunk-written")
        manifest["chunks"] = [done[k] for k in sorted(done)]
        atomic_write_text(manifest_path, dumps(manifest) + "\n")
        checkpoint("manifest-updated")
        t = entry["totals"]
        bar.batch_done(
            chars=plan[c]["characters"],
            documents=entry["documents"],
            tokens=t["tokens"],
            edits=t["changed"] + t["deleted"],
        )
    bar.close()


def _job_model(model: Any, config: EditConfig, executor: Executor) -> tuple[Any, dict[str, Any]]:
    """The model this process edits with (``None`` when the executor's workers load their own)
    and what stands for it in the fingerprint: a loaded model's ``info()``, or, for workers that
    load their own, the settings that decide the scores."""
    lm = executor.here(lambda: load_lm(model.load() if isinstance(model, LMConfig) else model))
    if lm is not None:  # the workers share this process's model: it stands for itself
        check_k(lm, config)
        return lm, lm.info()
    cfg = model_worker_config(model)
    if cfg is None:
        raise ConfigError("the ray engine needs the model as an LMConfig (each actor loads its own)")
    if config.target_change_rate is not None:
        raise ConfigError("target_change_rate needs a pass over the whole corpus: not yet with --engine ray")
    fingerprint = ":".join(str(getattr(cfg, k)) for k in ("backend", "model", "dtype"))
    return None, {"backend": cfg.backend, "name": cfg.model, "fingerprint": fingerprint}


def _open_parts(
    parts: Path, fp: str, job_config: dict[str, Any], plan: list[dict[str, Any]]
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """The parts folder, made or reopened: the chunks a previous run of the same job finished
    (kept by the manifest or their completion markers) and its manifest; a folder made with other
    settings is refused, naming them."""
    done: dict[int, dict[str, Any]] = {}
    old: dict[str, Any] = {}
    if parts.exists():
        try:
            old = json.loads((parts / "manifest.json").read_text(encoding="utf-8"))
            if not isinstance(old, dict):
                raise ValueError
        except (OSError, ValueError):
            old = {"fingerprint": fp, "chunks": []}  # killed before the first manifest: start over
        if old.get("fingerprint") != fp:
            changed = config_differences(old.get("config"), job_config)
            what = (
                "these settings differ: " + "; ".join(changed)
                if changed
                else f"fingerprint {old.get('fingerprint')} != {fp}"
            )
            raise ConfigError(
                f"{parts} was made with a different configuration ({what}); rerun with the same options, "
                "or delete it (or pass --overwrite) to start over"
            )
        done = _valid_chunks(parts, old, plan)
        _clean_parts(parts, done)
    out = parts.with_name(parts.name[: -len(".parts")])
    _remove_job_temps(out, parts)
    make_work_dir(parts)
    return done, old


def _chunks(
    corpus: Corpus, shard: tuple[int, int], plan: list[dict[str, Any]], todo: list[int], chunk_docs: int
):
    """The chunks ``todo`` as ``(index, input range, documents)``, read in one pass in input order."""
    want = set(todo)
    current: list[Document] = []
    for pos, d in enumerate(_shard_docs(corpus, shard)):
        c = pos // chunk_docs  # the chunks are fixed input ranges
        if c not in want:
            continue
        current.append(d)
        if pos == plan[c]["last"]:
            yield c, {k: plan[c][k] for k in ("first", "last", "documents", "input_sha256")}, current
            current = []


class EditChunkWorker(ModelWorker):
    """Edits one chunk ``(index, input range, documents)`` with :func:`~toedit_stats.editing.edit`
    and writes its file and completion marker into ``parts`` (atomically: a chunk retried after a
    lost worker is written with the same bytes); returns ``(index, manifest entry, model info)``."""

    local_hooks = ("loaded", "on_tokens", "on_document")

    def __init__(self, model, config, audit_positions, parts, text_field, buffer_docs, *, loaded=None):
        super().__init__(model, loaded=loaded)
        self.config, self.audit_positions, self.parts = config, audit_positions, Path(parts)
        self.text_field, self.buffer_docs = text_field, buffer_docs
        self.on_document: Any = None

    def setup(self) -> None:
        super().setup()
        check_k(self.lm, self.config)

    def __call__(self, batch: tuple[int, dict[str, Any], list[Document]]):
        c, span, docs = batch
        edited = []
        for ed in edit(
            docs,
            self.lm,
            self.config,
            audit_positions=self.audit_positions,
            buffer_docs=self.buffer_docs,
            on_tokens=self.on_tokens,
        ):
            edited.append(ed)
            if self.on_document is not None:
                self.on_document(
                    chars=len(ed.original),
                    tokens=sum(a.tokens for a in ed.audits),
                    edits=sum(a.changed + a.deleted for a in ed.audits),
                )
        checkpoint("ray-chunk-edited")  # a worker killed here: Ray restarts it and retries
        entry = _write_chunk(self.parts, c, span, edited, self.text_field)
        write_marker(self.parts, entry)
        return c, entry, self.lm.info()


class EditWorker(ModelWorker):
    r"""Edits a batch of documents in memory (the report's editing): the :class:`EditedDocument`\ s,
    each with its original's scores and, with ``score_edited``, its edited text's scores (from the
    first changed token on, in the same pass), so that a driver's score cache gets both. A document
    edited here passes the ``report-edit-document`` checkpoint."""

    local_hooks = ("loaded", "on_tokens", "on_document")

    def __init__(self, model, config, *, score_edited: bool = False, loaded=None):
        super().__init__(model, loaded=loaded)
        self.config, self.score_edited = config, score_edited
        self.on_document: Any = None

    def setup(self) -> None:
        super().setup()
        check_k(self.lm, self.config)

    def __call__(self, batch: list[Document]) -> list[EditedDocument]:
        out = []
        for ed in edit(
            batch,
            self.lm,
            self.config,
            audit_positions=True,
            buffer_docs=max(1, len(batch)),
            on_tokens=self.on_tokens,
            score_edited=self.score_edited,
        ):
            out.append(ed)
            checkpoint("report-edit-document")  # the kill tests stop here, at a chosen document
            if self.on_document is not None:
                self.on_document(
                    chars=len(ed.original),
                    tokens=sum(a.tokens for a in ed.audits),
                    edits=sum(a.changed + a.deleted for a in ed.audits),
                )
        return out


def _job_totals(chunks: list[dict[str, Any]], empty_docs: int, read_stats: dict[str, Any]) -> dict[str, Any]:
    """The job's totals from its chunks' manifest entries."""
    totals: dict[str, Any] = {"documents": 0, **dict.fromkeys(_COUNTS, 0)}
    gens: list[dict[str, int]] = []
    for c in chunks:
        for key in totals:
            totals[key] += c["totals"][key]
        for g, gt in enumerate(c["generations"]):
            if g >= len(gens):
                gens.append(dict.fromkeys(gt, 0))
            for key, v in gt.items():
                gens[g][key] += v
    totals["damage"] = {k: sum(c["totals"]["damage"][k] for c in chunks) for k in DAMAGE_CLASSES}
    totals["generations"] = gens
    totals["empty_passed_through"] = empty_docs
    totals["skipped_bad"] = read_stats["skipped_bad"]
    return totals


def _publish(out, parts, fmt, manifest, chunks, totals, read_stats) -> None:
    """The output joined from the chunk files and its final manifest, published together (the
    manifest first, the output renamed into place last: both appear, or neither); then the parts
    folder goes."""

    def records():
        for k, c in enumerate(chunks):
            with open(parts / c["file"], encoding="utf-8") as fh:
                for line in fh:
                    yield json.loads(line)
            if k == 0:
                checkpoint("output-writing")  # the temp output exists, half-written

    def final_manifest(tmp: Path) -> dict[str, Any]:
        checkpoint("output-written")
        manifest.update(
            complete=True, totals=totals, input=read_stats, output=str(out), output_sha256=file_sha256(tmp)
        )
        return manifest

    publish_with_manifest(out, lambda tmp: write_records(records(), tmp, fmt=fmt), final_manifest)
    checkpoint("final-manifest-written")
    _finish_cleanup(out, parts)


def _write_chunk(
    parts: Path, index: int, span: dict[str, Any], chunk: list[EditedDocument], text_field: str
) -> dict[str, Any]:
    name = _chunk_name(index)
    lines = [json_line(ed.record(text_field)) for ed in chunk]
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    atomic_write_bytes(parts / name, data)
    totals = edit_totals(chunk)
    gens = totals.pop("generations")
    del totals["documents_changed"]  # the chunk's manifest entry keeps its established keys
    return {
        "index": index,
        "file": name,
        **{k: span[k] for k in ("first", "last", "documents", "input_sha256")},
        "first_id": chunk[0].doc.id,
        "last_id": chunk[-1].doc.id,
        "sha256": hashlib.sha256(data).hexdigest(),
        "totals": totals,
        "generations": gens,
    }
