"""Corpora: a re-iterable, streaming sequence of :class:`Document`.

Everything in toedit-stats starts here. :func:`read_corpus` accepts the formats in which
pre-training data actually ships and returns a :class:`Corpus` that can be iterated several
times without holding the files in memory:

=====================  ==================================================================
input                  how it is read
=====================  ==================================================================
``x.jsonl``/``.json``  one JSON object per line (``.ndjson`` too)
``x.jsonl.gz``         the same, gzip-compressed (``.json.gz`` too)
``x.jsonl.zst``        the same, zstd-compressed, multi-frame streams allowed
``x.parquet``          one row per document (pyarrow, streamed in record batches)
``x.txt``              one document per file (``txt_mode="file"``), one per line
                       (``"lines"``) or one per blank-line-separated block (``"blank-line"``)
a folder               every readable file below it, recursively, in sorted path order
                       (the Dolma layout: ``documents/*.jsonl.gz``)
a ``save_to_disk``     Hugging Face dataset folder (needs ``datasets``; imported lazily)
=====================  ==================================================================

Bad input raises :class:`~toedit_stats.errors.InputError` naming file and line. With
``skip_bad=True`` bad records are skipped and counted instead, unless more than
``max_bad_fraction`` of the records are bad. Empty-string documents are never an error: they
are skipped and counted in :attr:`ReadStats.skipped_empty`.

Example
-------
>>> corpus = read_corpus("examples/human.jsonl", limit=3)      # doctest: +SKIP
>>> [d.id for d in corpus]                                       # doctest: +SKIP
['essay-00-student', 'essay-01-student', 'essay-02-student']
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import ConfigError, InputError

__all__ = [
    "Corpus",
    "Document",
    "ReadStats",
    "parse_where",
    "read_corpus",
    "reservoir_sample",
    "sample_documents",
    "write_records",
]

Format = Literal["auto", "jsonl", "parquet", "txt", "hf"]
TxtMode = Literal["file", "lines", "blank-line"]
Errors = Literal["strict", "replace"]

_JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
_COMPRESSIONS = (".gz", ".zst")
_CHUNK = 1 << 20
_MAX_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class Document:
    """One document: a stable ``id``, its ``text`` and every other field as ``metadata``.

    ``metadata`` holds the input record minus its text field (the id field included), so that
    writers can reproduce the record with only the text changed. ``source`` is ``"file:line"``.
    """

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None


@dataclass(slots=True)
class ReadStats:
    """Counts from the last complete pass over a corpus.

    Attributes: ``documents`` yielded; ``records`` seen (after ``where`` filtering, bad and
    empty included); ``skipped_empty`` empty-string texts; ``skipped_bad`` bad records
    (``skip_bad=True``); ``replaced_utf8`` records whose invalid UTF-8 (or lone surrogates) was
    replaced (``errors="replace"``), ``replacements`` the U+FFFD characters put in (one per
    invalid byte sequence); ``filtered`` records that did not match ``where``;
    ``nonfinite_null`` numbers in the records that were NaN or infinite (``NaN``, ``Infinity``
    in JSON Lines, which RFC 8259 JSON does not allow; NaN in parquet columns): read as ``null``
    so that every JSON written from the records is valid; ``bad_examples`` the first few
    bad-record messages.
    """

    documents: int = 0
    records: int = 0
    skipped_empty: int = 0
    skipped_bad: int = 0
    replaced_utf8: int = 0
    replacements: int = 0
    filtered: int = 0
    nonfinite_null: int = 0
    sampled_from: int | None = None
    bad_examples: list[str] = field(default_factory=list)
    where_values: dict[str, Counter] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "records": self.records,
            "skipped_empty": self.skipped_empty,
            "skipped_bad": self.skipped_bad,
            "replaced_utf8": self.replaced_utf8,
            "replacements": self.replacements,
            "filtered": self.filtered,
            "nonfinite_null": self.nonfinite_null,
            "sampled_from": self.sampled_from,
        }


def parse_where(where: str | Sequence[str] | Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """Parse ``"k=v"`` filters (a string with comma-separated pairs, a list, or a mapping).

    Values compare as strings; JSON ``null``/``true``/``false`` compare as those words. Keys may
    be dotted to reach nested fields (``metadata.label=human``).

    >>> parse_where("label=human,source=student")
    (('label', 'human'), ('source', 'student'))
    """
    if where is None:
        return ()
    if isinstance(where, Mapping):
        return tuple((str(k), _as_text(v)) for k, v in where.items())
    items = [where] if isinstance(where, str) else list(where)
    out: list[tuple[str, str]] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--where expects KEY=VALUE, got {part!r} (e.g. --where label=human)")
            out.append((key.strip(), value.strip()))
    return tuple(out)


def _as_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lookup(record: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    if dotted in record:
        return True, record[dotted]
    cur: Any = record
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def _matches(record: Mapping[str, Any], where: tuple[tuple[str, str], ...]) -> bool:
    for key, value in where:
        found, got = _lookup(record, key)
        if not found or _as_text(got) != value:
            return False
    return True


def reservoir_sample(items: Iterable[Any], n: int, seed: int = 0) -> tuple[list[Any], int]:
    """A uniform sample of ``n`` items in one pass (Algorithm R), in their original order, and
    the number of items seen. The same seed gives the same sample."""
    rng = np.random.default_rng(seed)
    reservoir: list[tuple[int, Any]] = []
    seen = 0
    for i, item in enumerate(items):
        seen += 1
        if len(reservoir) < n:
            reservoir.append((i, item))
        else:
            j = int(rng.integers(0, i + 1))
            if j < n:
                reservoir[j] = (i, item)
    reservoir.sort(key=lambda t: t[0])
    return [item for _, item in reservoir], seen


def _doc_key(doc: Any) -> tuple[str, str]:
    return (doc.id, doc.text)


#: the metadata field that pairs documents across corpora (a human essay and the synthetic
#: essays written for the same prompt): the sampling rule keeps such pairs together
PAIR_KEY = "pair_id"


def sample_documents(
    docs: Iterable[Any],
    max_docs: int | None,
    seed: int = 0,
    *,
    pair_key: str | None = PAIR_KEY,
    stratify: str | None = None,
) -> tuple[list[Any], int]:
    """The one sampling rule of the analyzers and the report: a seeded uniform sample of at most
    ``max_docs`` documents (``None``: all), in canonical order, and how many there were.

    A document is kept when its seeded hash ``sha256(seed, id, text)`` is among the ``max_docs``
    smallest ("bottom-k" sampling: one pass, bounded memory). The result is sorted by
    ``(id, text)``, so neither the sample nor anything computed from it depends on the order of
    the input: a shuffled file gives the same numbers.

    **Pairs stay paired**: a document whose metadata has ``pair_key`` (default ``pair_id``) is
    ranked first by the seeded hash of that value, so corpora that share pair keys (a human
    essay and the synthetic essays for the same prompt) keep the same pairs: the pairs of the
    smaller sample are a subset of the larger one's. **Strata**: with ``stratify`` (a metadata
    field, e.g. the report's ``group_by``), each value of the field gets a share of
    ``max_docs`` proportional to its size (largest remainders), and at least 2 documents while
    the budget allows, so no group vanishes from a sample.

    >>> from toedit_stats.corpus import Document
    >>> docs = [Document(str(i), f"text {i}") for i in range(10)]
    >>> a, n = sample_documents(docs, 3, seed=1)
    >>> b, _ = sample_documents(reversed(docs), 3, seed=1)
    >>> n, [d.id for d in a] == [d.id for d in b]
    (10, True)
    """
    import hashlib
    import heapq

    if max_docs is None:
        out = list(docs)
        return sorted(out, key=_doc_key), len(out)

    def h64(*parts: str) -> int:
        return int.from_bytes(
            hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).digest()[:8], "big"
        )

    heaps: dict[Any, list[tuple[tuple[int, int], int, Any]]] = {}  # max-heaps via negation
    counts: dict[Any, int] = {}
    seen = 0
    for i, d in enumerate(docs):
        seen += 1
        meta = getattr(d, "metadata", None) or {}
        own = h64(str(seed), d.id, d.text)
        pair = meta.get(pair_key) if pair_key else None
        key = (h64(str(seed), "pair", _as_text(pair)) if pair is not None else own, own)
        group = _as_text(meta.get(stratify)) if stratify else None
        counts[group] = counts.get(group, 0) + 1
        heap = heaps.setdefault(group, [])
        neg = (-key[0], -key[1])
        if len(heap) < max_docs:
            heapq.heappush(heap, (neg, i, d))
        elif neg > heap[0][0]:
            heapq.heapreplace(heap, (neg, i, d))
    quotas = _quotas(counts, max_docs)
    kept = []
    for group, heap in heaps.items():
        best = sorted(heap, key=lambda x: (-x[0][0], -x[0][1]))[: quotas[group]]
        kept.extend(d for _, _, d in best)
    return sorted(kept, key=_doc_key), seen


def _quotas(counts: dict[Any, int], budget: int) -> dict[Any, int]:
    """Documents per stratum: proportional to its size (largest remainders), at least
    ``min(size, 2)`` while the budget allows; one stratum gets ``min(size, budget)``."""
    total = sum(counts.values())
    if total <= budget:
        return dict(counts)
    if len(counts) == 1:
        return {g: min(c, budget) for g, c in counts.items()}
    floor = {g: min(c, 2) for g, c in counts.items()}
    if sum(floor.values()) >= budget:  # too many strata for the budget: the largest first
        out, left = dict.fromkeys(counts, 0), budget
        for g in sorted(counts, key=lambda g: (-counts[g], str(g))):
            out[g] = min(floor[g], left)
            left -= out[g]
        return out
    raw = {g: budget * c / total for g, c in counts.items()}
    out = {g: max(floor[g], min(counts[g], int(raw[g]))) for g in counts}
    order = sorted(counts, key=lambda g: (-(raw[g] - int(raw[g])), str(g)))
    while sum(out.values()) > budget:  # floors pushed it over: take from the largest
        g = max((g for g in out if out[g] > floor[g]), key=lambda g: out[g])
        out[g] -= 1
    k = 0
    while sum(out.values()) < budget and any(out[g] < counts[g] for g in counts):
        g = order[k % len(order)]
        if out[g] < counts[g]:
            out[g] += 1
        k += 1
    return out


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _BadRecord(Exception):
    """A record-level problem; skippable with ``skip_bad``."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


class _BinaryInput(_BadRecord):
    """A file that is not text at all: an error even with ``skip_bad``."""


# --------------------------------------------------------------------------------------------
# raw readers: each yields (line_number, record dict | _BadRecord) for one file


def _zstd_chunks(path: Path) -> Iterator[bytes]:
    import zstandard

    with open(path, "rb") as fh:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        seen_any = False
        while True:
            raw = fh.read(_CHUNK)
            if not raw:
                break
            seen_any = True
            while raw:
                try:
                    out = dobj.decompress(raw)
                except zstandard.ZstdError as exc:
                    raise InputError(f"corrupt zstd stream ({exc})", path=path) from None
                if out:
                    yield out
                raw = b""
                if dobj.eof:  # another frame may follow (multi-frame files)
                    raw = dobj.unused_data
                    dobj = zstandard.ZstdDecompressor().decompressobj()
                    if not raw:
                        nxt = fh.read(_CHUNK)
                        if not nxt:
                            return
                        raw = nxt
        if seen_any and not dobj.eof:
            raise _Truncated("zstd")


class _Truncated(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


#: the longest record (one JSONL line, one .txt document) read, in bytes: a longer one is a bad
#: record, so that one unbounded line (``/dev/zero``, a file with no newline) cannot take all memory
MAX_RECORD_BYTES = 256 * 1024 * 1024


class TooLong:
    """Stands, in a stream of lines, for a line longer than the cap (its content is not kept)."""

    def __init__(self, size: int):
        self.size = size


def _lines_from_chunks(chunks: Iterable[bytes], cap: int = MAX_RECORD_BYTES) -> Iterator[bytes | TooLong]:
    rest = b""
    skipping = 0  # bytes of an over-long line dropped so far (0: not in one)
    for chunk in chunks:
        buf = rest + chunk
        parts = buf.split(b"\n")
        rest = parts.pop()
        for part in parts:
            if skipping:
                yield TooLong(skipping + len(part))
                skipping = 0
            elif len(part) > cap:
                yield TooLong(len(part))
            else:
                yield part
        if len(rest) > cap or (skipping and rest):
            skipping += len(rest)
            rest = b""
    if skipping:
        yield TooLong(skipping + len(rest))
    elif rest:
        yield rest


def _bounded_lines(fh: Any, cap: int) -> Iterator[bytes | TooLong]:
    """Lines of a binary file object without their newline, none held beyond ``cap`` bytes."""
    while True:
        line = fh.readline(cap + 1)
        if not line:
            return
        if len(line) > cap and not line.endswith(b"\n"):
            size = len(line)
            while True:  # drop the rest of the line, in bounded pieces
                more = fh.readline(1 << 20)
                size += len(more)
                if not more or more.endswith(b"\n"):
                    break
            yield TooLong(size)
            continue
        yield line.rstrip(b"\n")


def _raw_lines(path: Path, cap: int = MAX_RECORD_BYTES) -> Iterator[bytes | TooLong]:
    """Lines of a possibly compressed file, without their newline; raises _Truncated. A line
    longer than ``cap`` bytes comes as a :class:`TooLong` (its content is not kept)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as fh:
                yield from _bounded_lines(fh, cap)
        except EOFError:
            raise _Truncated("gzip") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(f"corrupt gzip stream ({exc})", path=path) from None
    elif name.endswith(".zst"):
        yield from _lines_from_chunks(_zstd_chunks(path), cap)
    else:
        with open(path, "rb") as fh:
            yield from _bounded_lines(fh, cap)


def _special_kind(path: Path) -> str:
    """What a path that is neither a regular file nor a folder is, in words."""
    import stat

    mode = path.stat().st_mode
    for test, word in (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return word
    return "a special file"


def _line_of_byte(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


class _Reader:
    """Reads one file of a corpus into records; holds the decoding options."""

    def __init__(self, corpus: Corpus):
        self.c = corpus
        self.replaced = 0
        self.replacements = 0
        self.nonfinite = 0

    def _nonfinite_constant(self, _name: str) -> None:
        """``NaN``/``Infinity``/``-Infinity`` in JSON Lines: not JSON (RFC 8259); read as null."""
        self.nonfinite += 1
        return None

    def nonfinite_to_null(self, value: Any) -> Any:
        """``value`` with NaN and infinite floats (at any depth) as ``None``, counted."""
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                self.nonfinite += 1
                return None
            return value
        if isinstance(value, dict):
            return {k: self.nonfinite_to_null(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.nonfinite_to_null(v) for v in value]
        return value

    def too_long(self, size: int, line: int) -> _BadRecord:
        cap = self.c.max_record_bytes
        return _BadRecord(
            f"record of {size:,} bytes is longer than the limit of {cap:,} bytes (--max-record-bytes)",
            line,
        )

    def decode(self, raw: bytes, line: int, *, whole_file: bool = False) -> str:
        if line == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark (Windows tools)
            raw = raw[3:]
        if b"\x00" in raw:  # text never holds NUL bytes: a binary file (or UTF-16), not a corpus
            where = _line_of_byte(raw, raw.index(b"\x00")) if whole_file else line
            raise _BinaryInput(
                "looks binary (NUL bytes), not UTF-8 text: check the file (UTF-16 text must be converted "
                "to UTF-8; corpora are .txt, .jsonl[.gz|.zst], .parquet or folders of them)",
                where,
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self.c.errors == "replace":
                self.replaced += 1
                text = raw.decode("utf-8", errors="replace")
                # U+FFFD inserted (one per invalid sequence), not those the input already had
                self.replacements += text.count("\ufffd") - raw.count("\ufffd".encode())
                return text
            where = _line_of_byte(raw, exc.start) if whole_file else line
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)  # byte offset in its line
            value = " ".join(f"0x{b:02x}" for b in raw[exc.start : exc.end])
            raise _BadRecord(
                f"invalid UTF-8 at byte {column} of the line ({value}); use --errors replace to replace it",
                where,
            ) from None

    def surrogates(self, rec: dict[str, Any], line: int) -> dict[str, Any]:
        """Lone surrogates (``"\\ud800"`` escapes without their pair) are not Unicode text: a bad
        record under ``errors="strict"``; replaced by U+FFFD and counted under ``"replace"``."""
        found: list[str] = []

        def fix(v: Any, where: str) -> Any:
            if isinstance(v, str):
                if _LONE_SURROGATE.search(v):
                    found.append(where)
                    return _LONE_SURROGATE.sub("\ufffd", v)
                return v
            if isinstance(v, dict):
                return {fix(k, where): fix(x, f"{where}.{k}" if where else k) for k, x in v.items()}
            if isinstance(v, list):
                return [fix(x, where) for x in v]
            return v

        fixed = fix(rec, "")
        if not found:
            return rec
        if self.c.errors != "replace":
            raise _BadRecord(
                f"lone surrogate (a \\ud800-\\udfff escape without its pair) in field {found[0] or 'name'!r}: "
                "not valid Unicode; use --errors replace to replace it",
                line,
            )
        self.replaced += 1
        return fixed

    def jsonl(self, path: Path) -> Iterator[tuple[int, Any]]:
        lineno = 0
        try:
            for lineno, raw in enumerate(_raw_lines(path, self.c.max_record_bytes), start=1):
                if isinstance(raw, TooLong):
                    yield lineno, self.too_long(raw.size, lineno)
                    continue
                if not raw.strip():
                    continue
                try:
                    text = self.decode(raw.rstrip(b"\r"), lineno)
                    try:
                        rec = json.loads(text, parse_constant=self._nonfinite_constant)
                    except json.JSONDecodeError as exc:
                        raise _BadRecord(f"invalid JSON ({exc.msg} at column {exc.colno})", lineno) from None
                    except RecursionError:
                        raise _BadRecord("JSON nested too deeply to read", lineno) from None
                    if not isinstance(rec, dict):
                        raise _BadRecord(f"expected a JSON object, got {type(rec).__name__}", lineno)
                    if _SURROGATE_ESCAPE.search(raw):
                        rec = self.surrogates(rec, lineno)
                except _BadRecord as bad:
                    yield lineno, bad
                    continue
                yield lineno, rec
        except _Truncated as exc:
            raise InputError(
                f"truncated {exc.kind} stream (file ends mid-stream); re-download or re-compress it",
                path=path,
                line=lineno + 1,
            ) from None

    def parquet(self, path: Path) -> Iterator[tuple[int, Any]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
            names = pf.schema_arrow.names
            if self.c.text_field not in names:
                raise InputError(
                    f"no column {self.c.text_field!r} (columns: {', '.join(names)}); use --text-field",
                    path=path,
                )
            meta = pf.schema_arrow.metadata or {}
            json_cols = [c for c in json.loads(meta.get(PARQUET_JSON_COLUMNS, b"[]")) if c in names]
            row = 0
            for batch in pf.iter_batches(batch_size=1024):
                for rec in batch.to_pylist():
                    row += 1
                    for c in json_cols:  # columns write_records stored as JSON text
                        if rec.get(c) is not None:
                            rec[c] = json.loads(rec[c])
                    yield row, self.nonfinite_to_null(rec)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable parquet file ({exc})", path=path) from None

    def txt(self, path: Path, rel: str) -> Iterator[tuple[int, Any]]:
        field_name = self.c.text_field
        mode = self.c.txt_mode
        if mode == "file":
            size = path.stat().st_size
            if size > self.c.max_record_bytes:
                yield 1, self.too_long(size, 1)
                return
            raw = path.read_bytes()
            try:
                text = self.decode(raw, 1, whole_file=True)
            except _BadRecord as bad:
                yield bad.line or 1, bad
                return
            yield 1, {self.c.id_field: rel, field_name: text}
            return
        block: list[str] = []
        start = 0
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(_bounded_lines(fh, self.c.max_record_bytes), start=1):
                if isinstance(raw, TooLong):
                    yield lineno, self.too_long(raw.size, lineno)
                    continue
                try:
                    line = self.decode(raw.rstrip(b"\n").rstrip(b"\r"), lineno)
                except _BadRecord as bad:
                    yield lineno, bad
                    continue
                if mode == "lines":
                    if line.strip():
                        yield lineno, {field_name: line}
                    continue
                if line.strip():
                    if not block:
                        start = lineno
                    block.append(line)
                elif block:
                    yield start, {field_name: "\n".join(block)}
                    block = []
        if block:
            yield start, {field_name: "\n".join(block)}

    def hf(self, path: Path) -> Iterator[tuple[int, Any]]:
        from ._deps import require

        datasets = require("datasets", feature="reading a Hugging Face dataset folder")
        try:
            ds = datasets.load_from_disk(str(path))
        except (ValueError, OSError, KeyError, TypeError) as exc:  # corrupt dataset_info/state.json
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                f"not a readable Hugging Face dataset folder ({first}); re-save it with save_to_disk",
                path=path,
            ) from None
        if isinstance(ds, datasets.DatasetDict):
            raise InputError(
                f"a DatasetDict with splits {sorted(ds)}; point at one split's folder, e.g. {path / sorted(ds)[0]}",
                path=path,
            )
        if self.c.text_field not in ds.column_names:
            raise InputError(
                f"no column {self.c.text_field!r} (columns: {', '.join(ds.column_names)}); use --text-field",
                path=path,
            )
        yield from enumerate(ds, start=1)


# --------------------------------------------------------------------------------------------


def _detect(path: Path, fmt: Format) -> str | None:
    """The reader for one file, or None if its extension is not a corpus format."""
    if fmt != "auto":
        return fmt
    name = path.name.lower()
    for comp in _COMPRESSIONS:
        if name.endswith(comp):
            name = name[: -len(comp)]
            return "jsonl" if name.endswith(_JSONL_SUFFIXES) else None
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".txt"):
        return "txt"
    return None


def _is_hf_dataset(path: Path) -> bool:
    """A ``save_to_disk`` folder: a Dataset (state.json + dataset_info.json) or a DatasetDict."""
    return (path / "dataset_dict.json").is_file() or (
        (path / "state.json").is_file() and (path / "dataset_info.json").is_file()
    )


class Corpus:
    """A named, re-iterable stream of :class:`Document` read from files.

    Build one with :func:`read_corpus`. Each iteration re-reads the files (streaming; only a
    ``sample`` reservoir is held in memory) and refreshes :attr:`stats`. ``paths`` are the
    inputs as given; :attr:`files` the files they resolve to.
    """

    def __init__(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike],
        *,
        name: str | None = None,
        text_field: str = "text",
        id_field: str = "id",
        format: Format = "auto",
        txt_mode: TxtMode = "file",
        limit: int | None = None,
        sample: int | None = None,
        seed: int = 0,
        where: str | Sequence[str] | Mapping[str, Any] | None = None,
        errors: Errors = "strict",
        skip_bad: bool = False,
        max_bad_fraction: float = 0.01,
        keep_empty: bool = False,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ):
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = tuple(Path(p) for p in paths)
        if not self.paths:
            raise ConfigError("read_corpus needs at least one path")
        if format not in ("auto", "jsonl", "parquet", "txt", "hf"):
            raise ConfigError(f"format must be auto, jsonl, parquet, txt or hf, got {format!r}")
        if txt_mode not in ("file", "lines", "blank-line"):
            raise ConfigError(f"txt_mode must be file, lines or blank-line, got {txt_mode!r}")
        if errors not in ("strict", "replace"):
            raise ConfigError(f"errors must be strict or replace, got {errors!r}")
        for label, value in (("limit", limit), ("sample", sample)):
            if value is not None and value < 1:
                raise ConfigError(f"{label} must be a positive integer, got {value}")
        if not 0.0 <= max_bad_fraction <= 1.0:
            raise ConfigError(f"max_bad_fraction must be in [0, 1], got {max_bad_fraction}")
        if not isinstance(max_record_bytes, int) or max_record_bytes < 1:
            raise ConfigError(f"max_record_bytes must be a positive integer, got {max_record_bytes!r}")
        self.max_record_bytes = max_record_bytes
        self.where = parse_where(where)
        self.name = name or _default_name(self.paths[0], self.where)
        self.text_field = text_field
        self.id_field = id_field
        self.format = format
        self.txt_mode = txt_mode
        self.limit = limit
        self.sample = sample
        self.seed = seed
        self.errors = errors
        self.skip_bad = skip_bad
        self.max_bad_fraction = max_bad_fraction
        #: yield empty-string texts too (counted in ``stats.skipped_empty`` all the same); the
        #: edit job sets it so that every record that goes in comes out
        self.keep_empty = keep_empty
        self.stats = ReadStats()
        self._files: list[tuple[Path, str, str]] | None = None

    def __repr__(self) -> str:
        return f"Corpus(name={self.name!r}, paths={[str(p) for p in self.paths]!r})"

    # -- files ----------------------------------------------------------------------------
    @property
    def files(self) -> list[Path]:
        """The files (or dataset folders) the paths resolve to, in reading order."""
        return [p for p, _, _ in self._resolve()]

    def _resolve(self) -> list[tuple[Path, str, str]]:
        """[(file, reader kind, relative id prefix)], checked once."""
        if self._files is not None:
            return self._files
        out: list[tuple[Path, str, str]] = []
        for root in self.paths:
            if not root.exists():
                raise InputError("no such file or directory", path=root)
            if not root.is_dir() and not root.is_file():
                raise InputError(
                    f"not a regular file ({_special_kind(root)}); give a file or a folder of files",
                    path=root,
                )
            if root.is_dir():
                if self.format in ("auto", "hf") and _is_hf_dataset(root):
                    out.append((root, "hf", root.name))
                    continue
                found = []
                for p in sorted(root.rglob("*")):
                    rel = p.relative_to(root)
                    if any(part.startswith(".") for part in rel.parts) or not p.is_file():
                        continue
                    kind = _detect(p, self.format)
                    if kind is not None:
                        found.append((p, kind, rel.as_posix()))
                if not found:
                    raise InputError(
                        "directory has no readable files (looked for .jsonl, .json, .jsonl.gz, "
                        ".jsonl.zst, .parquet, .txt)",
                        path=root,
                    )
                out.extend(found)
            else:
                kind = _detect(root, self.format)
                if kind is None:
                    raise InputError(
                        f"unknown extension {''.join(root.suffixes) or '(none)'!r}; expected .jsonl, "
                        ".json, .jsonl.gz, .jsonl.zst, .parquet or .txt, or pass --format",
                        path=root,
                    )
                out.append((root, kind, root.name))
        self._files = out
        return out

    # -- iteration ------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Document]:
        if self.sample is None:
            yield from self._stream()
            return
        reservoir, seen = reservoir_sample(self._stream(final_check=False), self.sample, self.seed)
        stats = self.stats  # the pass's stats, set by _stream
        self._final_check(stats)
        stats.sampled_from = seen
        stats.documents = len(reservoir)
        yield from reservoir

    def _stream(self, final_check: bool = True) -> Iterator[Document]:
        stats = ReadStats()
        self.stats = stats
        reader = _Reader(self)
        for path, kind, rel in self._resolve():
            if kind == "jsonl":
                records = reader.jsonl(path)
            elif kind == "parquet":
                records = reader.parquet(path)
            elif kind == "txt":
                records = reader.txt(path, rel)
            else:
                records = reader.hf(path)
            for lineno, rec in records:
                if isinstance(rec, _BinaryInput):
                    raise InputError(str(rec), path=path, line=rec.line or lineno)
                if isinstance(rec, _BadRecord):
                    stats.records += 1
                    self._bad(stats, path, rec.line or lineno, str(rec))
                    continue
                if self.where and not _matches(rec, self.where):
                    stats.filtered += 1
                    if stats.documents == 0:  # values seen, for the "matched nothing" message
                        for key, _ in self.where:
                            found, got = _lookup(rec, key)
                            seen = stats.where_values.setdefault(key, Counter())
                            if len(seen) < 10_000 or (found and _as_text(got) in seen):
                                seen[_as_text(got) if found else "(missing)"] += 1
                    continue
                stats.records += 1
                text = rec.get(self.text_field, _MISSING)
                if text is _MISSING:
                    fields = ", ".join(list(rec)[:8])
                    self._bad(
                        stats,
                        path,
                        lineno,
                        f"missing text field {self.text_field!r} (fields: {fields}); use --text-field",
                    )
                    continue
                if not isinstance(text, str):
                    self._bad(
                        stats,
                        path,
                        lineno,
                        f"text field {self.text_field!r} is {type(text).__name__}, expected a string",
                    )
                    continue
                if not text:
                    stats.skipped_empty += 1
                    if not self.keep_empty:
                        continue
                raw_id = rec.get(self.id_field)
                doc_id = _as_text(raw_id) if raw_id is not None else f"{rel}:{lineno}"
                meta = {k: v for k, v in rec.items() if k != self.text_field}
                stats.documents += 1
                yield Document(doc_id, text, meta, f"{path}:{lineno}")
                if self.limit is not None and stats.documents >= self.limit:
                    stats.replaced_utf8, stats.nonfinite_null = reader.replaced, reader.nonfinite
                    stats.replacements = reader.replacements
                    return
        stats.replaced_utf8, stats.nonfinite_null = reader.replaced, reader.nonfinite
        stats.replacements = reader.replacements
        if final_check:
            self._final_check(stats)

    def _bad(self, stats: ReadStats, path: Path, line: int | None, message: str) -> None:
        if not self.skip_bad:
            raise InputError(message, path=path, line=line)
        stats.skipped_bad += 1
        if len(stats.bad_examples) < _MAX_EXAMPLES:
            stats.bad_examples.append(f"{path}:{line}: {message}")

    def _final_check(self, stats: ReadStats) -> None:
        if stats.skipped_bad and stats.records:
            frac = stats.skipped_bad / stats.records
            if frac > self.max_bad_fraction:
                first = stats.bad_examples[0] if stats.bad_examples else ""
                raise InputError(
                    f"{stats.skipped_bad} of {stats.records} records are bad ({frac:.1%} > "
                    f"--max-bad-fraction {self.max_bad_fraction}); first: {first}",
                    path=self.paths[0],
                )
        if stats.documents == 0:
            why = []
            if stats.filtered:
                seen = "; ".join(
                    f"{key} has "
                    + ", ".join(f"{v!r} ({n})" for v, n in counts.most_common(8))
                    + (", …" if len(counts) > 8 else "")
                    for key, counts in stats.where_values.items()
                )
                why.append(
                    f"{stats.filtered} records did not match --where {_where_str(self.where)}"
                    + (f"; most common values: {seen}" if seen else "")
                )
            if stats.skipped_empty:
                why.append(f"{stats.skipped_empty} empty texts")
            if stats.skipped_bad:
                why.append(f"{stats.skipped_bad} bad records")
            detail = f" ({'; '.join(why)})" if why else ""
            raise InputError(f"empty corpus: no documents{detail}", path=self.paths[0])

    # -- conveniences ---------------------------------------------------------------------
    def texts(self) -> Iterator[str]:
        """The documents' texts, streamed."""
        return (d.text for d in self)

    def to_list(self) -> list[Document]:
        """All documents in memory (for small corpora and notebooks)."""
        return list(self)

    @classmethod
    def from_documents(cls, docs: Iterable[Document | str], *, name: str = "corpus") -> MemoryCorpus:
        """An in-memory corpus; strings become documents with ids ``name:i``."""
        return MemoryCorpus(docs, name=name)


_MISSING = object()


def _where_str(where: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{k}={v}" for k, v in where)


def _default_name(path: Path, where: tuple[tuple[str, str], ...] = ()) -> str:
    """The file stem, plus the filter when there is one: ``texts[label=human]``."""
    name = path.name
    for suffix in (".gz", ".zst", ".jsonl", ".json", ".ndjson", ".parquet", ".txt"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    name = name or str(path)
    return f"{name}[{_where_str(where)}]" if where else name


class MemoryCorpus(Corpus):
    """A corpus held in memory (edited output, tests, notebooks)."""

    def __init__(self, docs: Iterable[Document | str], *, name: str = "corpus"):
        items: list[Document] = []
        for i, d in enumerate(docs):
            items.append(d if isinstance(d, Document) else Document(f"{name}:{i}", str(d)))
        self._docs = [d for d in items if d.text]
        self.name = name
        self.paths = ()
        self.text_field = "text"
        self.id_field = "id"
        self.where = ()
        self.sample = None
        self.limit = None
        self.seed = 0
        self.stats = ReadStats(
            documents=len(self._docs), records=len(items), skipped_empty=len(items) - len(self._docs)
        )
        self._files = []

    def __repr__(self) -> str:
        return f"MemoryCorpus(name={self.name!r}, documents={len(self._docs)})"

    def __iter__(self) -> Iterator[Document]:
        return iter(self._docs)

    def __len__(self) -> int:
        return len(self._docs)


def read_corpus(
    path_or_paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    text_field: str = "text",
    id_field: str = "id",
    format: Format = "auto",
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    where: str | Sequence[str] | Mapping[str, Any] | None = None,
    name: str | None = None,
    txt_mode: TxtMode = "file",
    errors: Errors = "strict",
    skip_bad: bool = False,
    max_bad_fraction: float = 0.01,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> Corpus:
    """Open a corpus for streaming; nothing is read until it is iterated.

    Parameters
    ----------
    path_or_paths : a file, a folder, or a list of them (read in order).
    text_field, id_field : record fields holding the text and the id. Records without an id get
        the stable id ``"<file>:<line>"`` (file relative to the folder given, or its name).
    format : ``"auto"`` (by extension) or one of ``jsonl``, ``parquet``, ``txt``, ``hf``.
    limit : take the first ``limit`` documents.
    sample : take a seeded uniform sample of ``sample`` documents (reservoir sampling, one
        pass), yielded in corpus order; applied after ``limit`` and ``where``.
    seed : seed of the sample.
    where : keep records whose field equals a value: ``"label=human"``, several
        comma-separated pairs (all must match), a list of them, or a mapping.
    name : label in outputs (default: the first path's stem).
    txt_mode : for ``.txt``: ``file`` (one document per file), ``lines``, ``blank-line``.
    errors : ``strict`` (invalid UTF-8 is a bad record) or ``replace`` (replaced, counted).
    skip_bad, max_bad_fraction : skip and count bad records, failing anyway when more than
        this fraction of records is bad.
    max_record_bytes : a record (JSONL line, .txt document or line) longer than this many bytes
        is a bad record (default 256 MiB), so that no single line can take unbounded memory.

    Raises
    ------
    InputError : missing paths, unknown extensions and, while iterating, bad records.
    """
    corpus = Corpus(
        path_or_paths,
        name=name,
        text_field=text_field,
        id_field=id_field,
        format=format,
        txt_mode=txt_mode,
        limit=limit,
        sample=sample,
        seed=seed,
        where=where,
        errors=errors,
        skip_bad=skip_bad,
        max_bad_fraction=max_bad_fraction,
        max_record_bytes=max_record_bytes,
    )
    corpus._resolve()  # fail fast on missing files and unknown extensions
    return corpus


# --------------------------------------------------------------------------------------------
# writing


def output_format(path: str | os.PathLike) -> str:
    """``jsonl``, ``jsonl.gz``, ``jsonl.zst`` or ``parquet`` from a file name."""
    name = Path(path).name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    for comp in _COMPRESSIONS:
        if name.endswith(comp):
            base = name[: -len(comp)]
            if base.endswith(_JSONL_SUFFIXES):
                return "jsonl" + comp
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    raise ConfigError(
        f"cannot tell the output format of {path}: use .jsonl, .jsonl.gz, .jsonl.zst or .parquet"
    )


def write_records(
    records: Iterable[Mapping[str, Any]], path: str | os.PathLike, *, fmt: str | None = None
) -> int:
    """Write records atomically (temp file + rename) in the format the name implies.

    Returns the number of records. Nothing appears at ``path`` unless writing succeeds, and the
    file gets the permissions a plain ``open`` would give it (the umask is respected).

    Parquet keeps every field of every record: the columns are the union of the records' fields
    (in order of first appearance); a record without a field has null there (Parquet has no
    "absent", so it reads back as ``None``). A column is stored natively when pyarrow can hold all
    its values in one type without changing any of them (ints widened to float only when exact);
    otherwise (e.g. an int in one record and a string in another, or dicts with different keys) it
    is stored as JSON text, listed in the file's schema metadata under
    ``toedit_stats.json_columns``, and :func:`read_corpus` decodes it back. The schema is decided
    before anything is written, so writing never fails on the records' types.
    """
    from ._io import atomic_file

    path = Path(path)
    fmt = fmt or output_format(path)
    n = 0
    with atomic_file(path) as tmp:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            rows = list(records)
            n = len(rows)
            pq.write_table(arrow_table(rows), tmp)
        else:
            with _open_writer(tmp, fmt) as fh:
                for rec in records:
                    fh.write(json_line(rec).encode("utf-8") + b"\n")
                    n += 1
    return n


PARQUET_JSON_COLUMNS = b"toedit_stats.json_columns"


def json_line(record: Any) -> str:
    """One record as strict JSON (RFC 8259): a NaN or infinite number (possible only in records
    built in Python: the readers read them as null) becomes ``null``, never ``NaN``."""
    from ._io import finite

    return json.dumps(finite(record), ensure_ascii=False, allow_nan=False)


def _same(a: Any, b: Any) -> bool:
    """Equal, with types that matter: bools are not numbers, ints equal floats only exactly."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b or (a != a and b != b)  # NaN == NaN here
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


def _writable_type(t: Any) -> bool:
    """False for types Parquet cannot store (structs without fields, also nested)."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return t.num_fields > 0 and all(_writable_type(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _writable_type(t.value_type)
    return True


def arrow_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """A pyarrow table holding every field of every row (see :func:`write_records`)."""
    import pyarrow as pa

    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    arrays, json_cols = [], []
    for name in names:
        values = [r.get(name) for r in rows]
        arr = None
        try:
            arr = pa.array(values)
            if not _writable_type(arr.type) or not all(map(_same, arr.to_pylist(), values)):
                arr = None
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            arr = None
        if arr is None:
            json_cols.append(name)
            arr = pa.array(
                [None if v is None else json.dumps(v, ensure_ascii=False, default=str) for v in values],
                pa.string(),
            )
        arrays.append(arr)
    meta = {PARQUET_JSON_COLUMNS: json.dumps(json_cols).encode()} if json_cols else None
    return pa.Table.from_arrays(arrays, names=list(names), metadata=meta)


@contextlib.contextmanager
def _open_writer(path: Path, fmt: str) -> Iterator[Any]:
    with open(path, "wb") as raw:
        if fmt == "jsonl.gz":
            # mtime=0 and no name: byte-identical output for identical input
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
                yield fh
        elif fmt == "jsonl.zst":
            import zstandard

            with zstandard.ZstdCompressor().stream_writer(raw, closefd=False) as fh:
                yield fh
        else:
            yield raw
