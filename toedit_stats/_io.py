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
    return json.dumps(finite(obj), indent=indent, ensure_ascii=False, allow_nan=False, default=json_default)


def finite(obj: Any) -> Any:
    """``obj`` with NaN and infinite floats (at any depth) as None, so that its JSON is valid."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
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
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:  # e.g. ENOSPC from a write: name the file being written
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish_with_manifest(path: str | os.PathLike, write: Any, manifest: Any) -> Path:
    """Write an output and its ``PATH.manifest.json`` so that they appear together: ``write(tmp)``
    writes the output to a temp name, ``manifest(tmp)`` returns the manifest (e.g. with the
    output's hash), which is written first; the output is renamed into place last. After a kill
    or a full disk there is either both or no output (a manifest whose output is missing is a
    run that did not finish: a rerun replaces it)."""
    path = Path(path)
    manifest_path = path.with_name(path.name + ".manifest.json")
    wrote = False
    try:
        with atomic_file(path) as tmp:
            write(tmp)
            atomic_write_text(manifest_path, dumps(manifest(tmp)) + "\n")
            wrote = True
    except BaseException:
        if wrote:  # the output never appeared: neither does its manifest
            manifest_path.unlink(missing_ok=True)
        raise
    return path


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
    """The one way a result folder is written: checked first (see :func:`check_output_location`:
    writable, not an input and holding none, empty unless ``overwrite``, and then only a folder
    toedit-stats wrote), built under a temporary name inside the same parent, and renamed into
    place only when the ``with`` body finished. An existing folder of ours is replaced in one
    rename (``replace=True``, for folders that are wholly ours, like a report), or each new file
    is renamed into it and other files stay (``replace=False``; a file we did not write is never
    replaced). The folder gets a marker (:data:`MARKER`) listing the files toedit-stats wrote,
    which is what a later ``overwrite`` checks. On any error nothing is left behind.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, atomic_dir(Path(d) / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    """
    import shutil

    directory = Path(directory)
    check_output_location(directory, directory=True, overwrite=overwrite, inputs=inputs, replace=replace)
    directory.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(directory)
    tmp = temp_dir(directory)
    try:
        yield tmp
        written = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        if directory.exists() and not replace:
            old = read_marker(directory) or {}
            ours = set(old.get("files") or ())
            clash = [f for f in written if (directory / f).exists() and f not in ours]
            if clash:  # checked before anything moves
                raise ConfigError(
                    f"{directory / clash[0]} exists and was not written by toedit-stats; "
                    "move it or choose another -o"
                )
            for rel in written:
                dst = directory / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / rel, dst)
            write_marker(directory, "output", sorted(ours | set(written)))
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            write_marker(tmp, "output", written)
            if directory.exists():
                # checked again just before the swap: only a folder we wrote is ever moved aside
                check_replaceable(directory)
                old = temp_dir(directory, "old")
                os.replace(directory, old / "x")
                os.replace(tmp, directory)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


#: the file every folder toedit-stats writes carries: which tool wrote it and which files are its
MARKER = ".toedit-stats.json"


def write_marker(directory: Path, kind: str, files: Sequence[str] | None = None) -> None:
    """Mark ``directory`` as written by toedit-stats (``files``: the relative paths it wrote;
    ``None`` for a work folder whose every file is the tool's, like ``OUTPUT.parts``)."""
    from ._version import __version__

    body = {"tool": "toedit-stats", "version": __version__, "kind": kind, "files": files}
    atomic_write_text(Path(directory) / MARKER, json.dumps(body, indent=1) + "\n")


def make_work_dir(path: str | os.PathLike) -> Path:
    """Create a work folder (``OUTPUT.parts``) that appears with its marker in one rename, so that
    every such folder, even one a kill left behind, is recognisably toedit-stats's own."""
    path = Path(path)
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(path)
    write_marker(tmp, "parts", None)
    try:
        os.replace(tmp, path)
    except OSError:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        if not path.is_dir():
            raise
    return path


@contextlib.contextmanager
def work_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on the work folder ``path`` (``OUTPUT.parts``) for the ``with``
    body; a second process that asks for it is refused at once with one line (two resumes of
    one report must not write one folder). The lock goes with the process, even on SIGKILL."""
    import fcntl

    lock = Path(path) / ".lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(
                f"{path} is in use by another toedit-stats run; wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)


def read_marker(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The marker of a folder toedit-stats wrote, or ``None`` (no marker, or not ours)."""
    directory = Path(directory)
    try:
        body = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("tool") == "toedit-stats":
        return body
    if directory.name.endswith(".parts"):  # a work folder of an earlier version: its manifest marks it
        try:
            manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(manifest, dict) and "fingerprint" in manifest:
            return {"tool": "toedit-stats", "kind": "parts", "files": None}
    return None


def foreign_files(directory: Path) -> list[Path]:
    """Files in a marked ``directory`` that toedit-stats did not write (everything, unmarked)."""
    marker = read_marker(directory)
    if marker is None:
        return sorted(p for p in directory.rglob("*") if not p.is_dir())
    if marker.get("files") is None:  # a work folder: all of it is ours
        return []
    ours = set(marker["files"]) | {MARKER}
    return sorted(
        p for p in directory.rglob("*") if not p.is_dir() and p.relative_to(directory).as_posix() not in ours
    )


def check_replaceable(directory: Path) -> None:
    """Refuse (one :class:`ConfigError`) to replace or delete an existing, non-empty folder unless
    toedit-stats wrote it and everything in it."""
    if not directory.is_dir() or not any(directory.iterdir()):
        return
    if read_marker(directory) is None:
        raise ConfigError(
            f"{directory} is not empty and was not written by toedit-stats (it has no {MARKER}); "
            "--overwrite only replaces a folder toedit-stats wrote: choose a new or empty folder"
        )
    extra = foreign_files(directory)
    if extra:
        more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
        raise ConfigError(
            f"{directory} holds files toedit-stats did not write ({extra[0].relative_to(directory)}"
            f"{more}); move them out or choose another -o"
        )


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
    replace: bool = True,
) -> Path:
    """Check, before any work, that ``path`` can be written; raise one clean :class:`ConfigError`.

    Refuses (paths resolved, symlinks followed): an output that is one of ``inputs``, lies inside
    an input folder, or (a folder) contains an input; a folder output that is the current
    folder, holds it, or is a mount point; a file output that exists and is not a regular file
    (a device, a FIFO); a path below a file; a folder that cannot be created or written
    (probed by creating and removing a file in the nearest existing folder, so read-only
    filesystems are caught too); less free space than ``need_bytes``; with ``overwrite=False``,
    an existing file, or (``directory=True``) an existing non-empty folder. With
    ``overwrite=True`` an existing non-empty folder that would be replaced (``replace=True``)
    must carry toedit-stats's marker (:data:`MARKER`) and hold nothing else; one written into
    (``replace=False``) keeps its other files, and a file of ours would never replace one of
    theirs (:func:`atomic_dir` checks that before anything moves).
    """
    path = Path(path)
    resolved = path.resolve()
    if directory:
        cwd = Path.cwd().resolve()
        if cwd.is_relative_to(resolved):
            raise ConfigError(f"{path} is the current folder or holds it; choose a new folder for the output")
        if resolved.is_dir() and os.path.ismount(resolved):
            raise ConfigError(f"{path} is a mount point; choose a new folder for the output")
    for inp in inputs:
        src = Path(inp).resolve()
        if resolved == src or (src.is_dir() and resolved.is_relative_to(src)):
            raise ConfigError(
                f"{path}: the output would overwrite the input {inp}; choose an output outside the input"
            )
        if directory and src.is_relative_to(resolved):
            raise ConfigError(
                f"{path}: the output folder holds the input {inp}; choose a new folder for the output"
            )
    if path.exists():
        if directory and not path.is_dir():
            raise ConfigError(f"{path} exists and is a file; -o needs a folder")
        if not directory and path.is_dir():
            raise ConfigError(f"{path} is a folder; -o needs a file name")
        if not directory and not path.is_file():
            raise ConfigError(
                f"{path} exists and is not a regular file (a device, pipe or socket); -o needs a file name"
            )
        if not overwrite and (not directory or any(path.iterdir())):
            what = "exists and is not empty" if directory else "exists"
            raise ConfigError(
                f"{path} {what}; choose another output or pass --overwrite (overwrite=True in Python)"
            )
        if directory and overwrite and replace:
            check_replaceable(path)
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
