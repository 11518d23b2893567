"""Atomic output helpers: nothing half-written ever appears at a final path."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj: Any, indent: int | None = 2) -> str:
    return json.dumps(_finite(obj), indent=indent, ensure_ascii=False, allow_nan=False, default=json_default)


def _finite(obj: Any) -> Any:
    """NaN and infinities become None so that the JSON is valid."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_result_dir(
    directory: str | os.PathLike,
    *,
    json_name: str,
    payload: dict[str, Any],
    frames: dict[str, Any] | None = None,
    figures: dict[str, Any] | None = None,
) -> Path:
    """Write ``json_name``, ``<frame>.csv`` and ``<figure>.png`` into ``directory``.

    A new directory is built under a temporary name and renamed when complete; into an existing
    one, every file is written atomically.
    """
    directory = Path(directory)
    fresh = not directory.exists()
    target = directory
    if fresh:
        directory.parent.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        atomic_write_text(target / json_name, dumps(payload) + "\n")
        for name, frame in (frames or {}).items():
            atomic_write_text(target / f"{name}.csv", frame.to_csv(index=False))
        if figures:
            from .plotting import save_figures

            save_figures(figures, target)
        if fresh:
            os.replace(target, directory)
    except BaseException:
        if fresh:
            import shutil

            shutil.rmtree(target, ignore_errors=True)
        raise
    return directory
