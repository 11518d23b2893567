"""Editing jobs: chunked, atomic, resumable and shardable output of :func:`edit`.

Layout while a job runs, for ``-o OUT.jsonl``::

    OUT.jsonl.parts/manifest.json      configuration fingerprint and completed chunks
    OUT.jsonl.parts/chunk-00000.jsonl  each written to a temp name, then renamed

A chunk is ``chunk_docs`` consecutive documents of the (shard of the) input. ``resume=True``
skips the chunks the manifest lists as complete and refuses a manifest whose configuration
differs. When every chunk is done the chunks are joined into ``OUT`` (in the format its name
implies: ``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``, ``.parquet``) through a temp file and a rename,
``OUT.manifest.json`` is written beside it, and the parts folder is removed. A run killed at any
moment and resumed produces exactly the output of an uninterrupted run.

**Sharding.** ``shard=(i, n)`` edits the documents whose position in the input is ``i mod n``,
so ``n`` processes (or a Slurm array) cover the input exactly once; every shard writes its own
output, and the outputs together hold each document once (concatenate them; the per-document
seeding makes the edits identical to an unsharded run's).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write_text, dumps
from .._provenance import file_facts, package_versions
from .._version import __version__
from ..corpus import Corpus, output_format, write_records
from ..errors import ConfigError
from .toedit import EditConfig, EditedDocument, edit

__all__ = ["EditJobResult", "run_edit_job"]


@dataclass(frozen=True)
class EditJobResult:
    output: Path
    manifest: dict[str, Any]
    totals: dict[str, Any]


def _fingerprint(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _shard_docs(corpus: Corpus, shard: tuple[int, int]) -> Iterator:
    i, n = shard
    for pos, doc in enumerate(corpus):
        if pos % n == i:
            yield doc


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
) -> EditJobResult:
    """Edit ``corpus`` into ``output`` (see the module docstring); returns the manifest and totals."""
    from ..lm import load_lm

    out = Path(output)
    fmt = output_format(out)
    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"--shard must be I/N with 0 <= I < N, got {i}/{n}")
    if chunk_docs < 1:
        raise ConfigError("chunk_docs must be positive")
    if out.exists() and not overwrite and not resume:
        raise ConfigError(f"{out} exists; remove it or pass --overwrite")
    parts = out.with_name(out.name + ".parts")
    # Read the input once before any work: bad input fails here, leaving nothing behind, and the
    # count gives the progress bar its total (reading is fast next to scoring).
    total_docs = sum(1 for _ in corpus)
    lm = load_lm(model)
    info = lm.info() if hasattr(lm, "info") else {"fingerprint": lm.fingerprint}
    job_config = {
        "edit": config.to_dict(),
        # where the weights were read from (GGUF or cache) and the device do not change the output
        "model": {
            k: v
            for k, v in info.items()
            if k in ("backend", "name", "fingerprint", "context", "prefix_token")
        },
        "inputs": [file_facts(f) for f in corpus.files],
        "reader": {
            "text_field": corpus.text_field,
            "id_field": corpus.id_field,
            "where": list(corpus.where),
            "limit": corpus.limit,
            "sample": corpus.sample,
            "seed": corpus.seed,
        },
        "shard": [i, n],
        "chunk_docs": chunk_docs,
        "audit_positions": audit_positions,
        "toedit_stats": __version__,
    }
    fp = _fingerprint(job_config)
    manifest_path = parts / "manifest.json"
    done: list[dict[str, Any]] = []
    if parts.exists():
        if not resume:
            raise ConfigError(f"a partial run exists at {parts}; pass --resume to continue it or delete it")
        try:
            old = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if old is None:
            shutil.rmtree(parts)
        elif old.get("fingerprint") != fp:
            raise ConfigError(
                f"{parts} was made with a different configuration (fingerprint {old.get('fingerprint')} "
                f"!= {fp}); delete it or rerun with the same options"
            )
        else:
            done = [c for c in old["chunks"] if (parts / c["file"]).is_file()]
    parts.mkdir(parents=True, exist_ok=True)

    manifest = {
        "fingerprint": fp,
        "config": job_config,
        "versions": package_versions(),
        "chunks": done,
        "complete": False,
    }
    atomic_write_text(manifest_path, dumps(manifest) + "\n")
    skip = len(done) * chunk_docs

    docs = _shard_docs(corpus, shard)
    to_edit = (d for k, d in enumerate(docs) if k >= skip)
    edited = edit(to_edit, lm, config, audit_positions=audit_positions, buffer_docs=min(chunk_docs, 64))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        mine = len(range(i, total_docs, n))
        bar = tqdm(desc="editing", unit="doc", total=max(0, mine - skip))
        started, tokens_seen, edits = time.perf_counter(), 0, 0
    chunk: list[EditedDocument] = []
    index = len(done)
    for ed in edited:
        chunk.append(ed)
        if bar is not None:
            tokens_seen += ed.audit.tokens
            edits += ed.audit.changed + ed.audit.deleted
            rate = tokens_seen / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix({"tokens/s": f"{rate:.0f}", "edits": edits}, refresh=False)
            bar.update(1)
        if len(chunk) == chunk_docs:
            done.append(_write_chunk(parts, index, chunk, corpus.text_field))
            index += 1
            chunk = []
            manifest["chunks"] = done
            atomic_write_text(manifest_path, dumps(manifest) + "\n")
    if bar is not None:
        bar.close()
    if chunk:
        done.append(_write_chunk(parts, index, chunk, corpus.text_field))
        manifest["chunks"] = done
        atomic_write_text(manifest_path, dumps(manifest) + "\n")

    totals = {"documents": 0, "tokens": 0, "selected": 0, "changed": 0, "deleted": 0, "skipped_unsafe": 0}
    gens: list[dict[str, int]] = []
    for c in done:
        for key in totals:
            totals[key] += c["totals"][key]
        for g, gt in enumerate(c["generations"]):
            if g >= len(gens):
                gens.append(dict.fromkeys(gt, 0))
            for key, v in gt.items():
                gens[g][key] += v
    totals["generations"] = gens

    def records():
        for c in done:
            with open(parts / c["file"], encoding="utf-8") as fh:
                for line in fh:
                    yield json.loads(line)

    write_records(records(), out, fmt=fmt)
    manifest.update(complete=True, totals=totals, output=str(out))
    atomic_write_text(out.with_name(out.name + ".manifest.json"), dumps(manifest) + "\n")
    shutil.rmtree(parts, ignore_errors=True)
    return EditJobResult(out, manifest, totals)


def _write_chunk(parts: Path, index: int, chunk: list[EditedDocument], text_field: str) -> dict[str, Any]:
    name = f"chunk-{index:05d}.jsonl"
    lines = [json.dumps(ed.record(text_field), ensure_ascii=False) for ed in chunk]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    from .._io import atomic_write_bytes

    atomic_write_bytes(parts / name, data)
    totals = {
        "documents": len(chunk),
        "tokens": 0,
        "selected": 0,
        "changed": 0,
        "deleted": 0,
        "skipped_unsafe": 0,
    }
    n_gen = len(chunk[0].audits)
    gens = [
        {"tokens": 0, "selected": 0, "changed": 0, "deleted": 0, "skipped_unsafe": 0} for _ in range(n_gen)
    ]
    for ed in chunk:
        a = ed.audit
        for key in ("tokens", "selected", "changed", "deleted", "skipped_unsafe"):
            totals[key] += getattr(a, key)
        for g, ga in enumerate(ed.audits):
            for key in gens[g]:
                gens[g][key] += getattr(ga, key)
    return {
        "index": index,
        "file": name,
        "documents": len(chunk),
        "first_id": chunk[0].doc.id,
        "last_id": chunk[-1].doc.id,
        "sha256": hashlib.sha256(data).hexdigest(),
        "totals": totals,
        "generations": gens,
    }
