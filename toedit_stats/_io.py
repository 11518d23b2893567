"""Atomic output helpers: nothing half-written ever appears at a final path."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError


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


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """The one way a file is written: ``with atomic_file(p) as tmp:`` write ``tmp`` (a temporary
    name next to ``p``, normal permissions); it is renamed to ``p`` when the body finished, and
    removed on any error, so nothing half-written ever appears at ``p``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_file(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_file(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(
    directory: str | os.PathLike,
    *,
    overwrite: bool = False,
    inputs: Sequence[Any] = (),
    replace: bool = True,
) -> Iterator[Path]:
    """The one way a result folder is written: checked first (writable, not an input, empty
    unless ``overwrite``), built under a temporary name inside the same parent, and renamed
    into place only when the ``with`` body finished. An existing folder is replaced in one
    rename (``replace=True``, for folders that are wholly ours, like a report), or each new file
    is renamed into it and other files stay (``replace=False``). On any error nothing is left
    behind.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, atomic_dir(Path(d) / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    """
    import shutil

    directory = Path(directory)
    check_output_location(directory, directory=True, overwrite=overwrite, inputs=inputs)
    directory.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(directory)
    tmp = temp_dir(directory)
    try:
        yield tmp
        if directory.exists() and not replace:
            for src in sorted(p for p in tmp.rglob("*") if p.is_file()):
                dst = directory / src.relative_to(tmp)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
            shutil.rmtree(tmp, ignore_errors=True)
        elif directory.exists():
            old = temp_dir(directory, "old")
            os.replace(directory, old / "x")
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------------
# permissions, temp names and output locations


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def normal_mode(path: str | os.PathLike, *, directory: bool = False) -> None:
    """Give a file made by ``mkstemp`` (0600) or a folder made by ``mkdtemp`` (0700) the mode
    a plain ``open``/``mkdir`` would have given it under the current umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def temp_file(path: Path) -> Path:
    """A new empty temp file beside ``path`` (``.NAME.XXXXXXXX.tmp``), with normal permissions."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    normal_mode(tmp)
    return Path(tmp)


def temp_dir(path: Path, tag: str = "") -> Path:
    """A new empty temp folder beside ``path`` (``.NAME.[TAG.]XXXXXXXX``), with normal permissions."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{tag + '.' if tag else ''}", dir=path.parent))
    normal_mode(tmp, directory=True)
    return tmp


def stale_temps(path: Path) -> list[Path]:
    """Temp files and folders that :func:`temp_file`/:func:`temp_dir` made for ``path`` and a
    killed process left behind."""
    parent = path.parent
    if not parent.is_dir():
        return []
    prefix = f".{path.name}."
    return [
        p
        for p in parent.iterdir()
        if p.name.startswith(prefix) and _TEMP_REST.fullmatch(p.name[len(prefix) :])
    ]


# what mkstemp/mkdtemp append after ".NAME.": 8 random characters, then ".tmp" for files made
# by temp_file; folders made by temp_dir may carry a tag first ("old.", "trash.")
_TEMP_REST = re.compile(r"(?:[a-z]+\.)?[a-z0-9_]{8}(?:\.tmp)?")


def remove_stale_temps(path: Path) -> int:
    import shutil

    n = 0
    for p in stale_temps(path):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        n += 1
    return n


def check_output_location(
    path: str | os.PathLike,
    *,
    directory: bool = False,
    need_bytes: int = 0,
    inputs: Sequence[str | os.PathLike] = (),
    overwrite: bool = True,
) -> Path:
    """Check, before any work, that ``path`` can be written; raise one clean :class:`ConfigError`.

    Refuses: an output that is one of ``inputs`` or lies inside an input folder; a path below a
    file; a folder that cannot be created or written (probed by creating and removing a file in
    the nearest existing folder, so read-only filesystems are caught too); less free space than
    ``need_bytes``; with ``overwrite=False``, an existing file, or (``directory=True``) an
    existing non-empty folder.
    """
    path = Path(path)
    resolved = path.resolve()
    for inp in inputs:
        src = Path(inp).resolve()
        if resolved == src or (src.is_dir() and src in resolved.parents):
            raise ConfigError(
                f"{path}: the output would overwrite the input {inp}; choose an output outside the input"
            )
    if path.exists():
        if directory and not path.is_dir():
            raise ConfigError(f"{path} exists and is a file; -o needs a folder")
        if not directory and path.is_dir():
            raise ConfigError(f"{path} is a folder; -o needs a file name")
        if not overwrite and (not directory or any(path.iterdir())):
            what = "exists and is not empty" if directory else "exists"
            raise ConfigError(
                f"{path} {what}; choose another output or pass --overwrite (overwrite=True in Python)"
            )
    existing = resolved.parent if not path.exists() or not directory else resolved
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot create {path}: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".toedit-write-probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"cannot write to {existing} ({exc.strerror or exc}); choose another -o") from None
    if need_bytes:
        check_free_space(existing, need_bytes)
    return path


def check_free_space(path: str | os.PathLike, need_bytes: int) -> None:
    """Raise a clean :class:`ConfigError` when the filesystem that would hold ``path`` has less
    than ``need_bytes`` free (measured at its nearest existing folder)."""
    import shutil

    existing = Path(path).resolve()
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < need_bytes:
        raise ConfigError(
            f"not enough free space at {existing}: {free / 1e6:,.0f} MB free, about "
            f"{need_bytes / 1e6:,.0f} MB needed; free some space or choose another -o"
        )


# ---------------------------------------------------------------------------------------------
# text that goes to terminals, spreadsheets and HTML

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional formatting characters
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_char(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with control and bidirectional-override characters written as visible escapes
    (``\\x1b``, ``\\u202e``); with ``newlines=True`` also newlines and tabs (for one-line output)."""
    out = _UNSAFE.sub(_escape_char, text)
    if newlines:
        out = out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return out


def json_safe_text(text: str) -> str:
    """JSON text with C1 controls and bidirectional characters as ``\\uXXXX`` escapes (the same
    JSON value; ``json.dumps`` already escapes C0 controls)."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: Any) -> Any:
    """A copy of a pandas frame whose text cells that a spreadsheet would run as a formula (they
    start with ``= + - @``, tab or carriage return) get a leading ``'`` (OWASP's CSV-injection
    rule). Numbers are untouched."""
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
            )
    return out


def to_csv(frame: Any) -> str:
    """CSV text of a pandas frame, spreadsheet-safe (see :func:`spreadsheet_safe`)."""
    return spreadsheet_safe(frame).to_csv(index=False)
