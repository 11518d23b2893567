"""Provenance shared by edit manifests and reports: input files and package versions."""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import Any

from ._version import __version__

_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "matplotlib",
    "datasketch",
    "torch",
    "transformers",
    "sentence-transformers",
    "mauve-text",
    "vllm",
)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_facts(path: str | os.PathLike) -> dict[str, Any]:
    """``{path, bytes, sha256}`` of an input file; ``{path, directory: True}`` for a folder."""
    p = Path(path)
    if not p.is_file():
        return {"path": str(p), "directory": True}
    return {"path": str(p), "bytes": p.stat().st_size, "sha256": file_sha256(p)}


def package_versions() -> dict[str, str]:
    """Versions of toedit-stats, Python and the installed packages that shape its numbers."""
    import importlib.metadata as md

    out = {"toedit-stats": __version__, "python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return out
