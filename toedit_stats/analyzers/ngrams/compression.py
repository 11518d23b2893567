"""gzip compression ratio, streamed and in parallel chunks."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..._threads import worker_threads

COMPRESS_CHUNK = 8 << 20  # bytes of the joined text per independently gzipped chunk


def compression_ratio(texts: Iterable[str], *, threads: int | None = None) -> float:
    """Original size / gzip size of the UTF-8 documents joined by spaces (see module docstring),
    gzipped in chunks of :data:`COMPRESS_CHUNK` bytes, in ``threads`` threads (zlib releases the
    GIL; default: :func:`~toedit_stats._threads.worker_threads`); streamed (:class:`ChunkedGzip`),
    so memory holds a few chunks, never the joined corpus."""
    gz = ChunkedGzip(threads)
    for text in texts:
        gz.add(text)
    return gz.ratio()


class ChunkedGzip:
    """The gzip ratio of a stream of documents joined by spaces, in independent gzip streams of
    :data:`COMPRESS_CHUNK` bytes of the joined text: each complete chunk is compressed (level 9)
    in a pool of ``threads`` threads, at most two chunks per thread in flight. The exact mode and
    the sketch (which sees the documents one at a time) both use it: the same chunks, the same
    compressed size."""

    def __init__(self, threads: int | None = None):
        self.threads = threads or worker_threads()
        self.raw = 0
        self.out = 0
        self._buf = bytearray()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Any] = []
        self._docs = 0

    def add(self, text: str) -> None:
        if self._docs:
            self._buf += b" "
        self._docs += 1
        self._buf += text.encode("utf-8")
        while len(self._buf) >= COMPRESS_CHUNK:
            chunk = bytes(self._buf[:COMPRESS_CHUNK])
            del self._buf[:COMPRESS_CHUNK]
            self._submit(chunk)

    def _submit(self, chunk: bytes) -> None:
        self.raw += len(chunk)
        if self.threads <= 1:
            self.out += _gzip_size(chunk)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads)
        self._pending.append(self._pool.submit(_gzip_size, chunk))
        while len(self._pending) > 2 * self.threads:
            self.out += self._pending.pop(0).result()

    def ratio(self) -> float:
        """The ratio so far (0.0 for no text); the stream stays usable."""
        if self._buf:
            self._submit(bytes(self._buf))
            self._buf = bytearray()
        self.out += sum(f.result() for f in self._pending)
        self._pending = []
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        return self.raw / self.out if self.out else 0.0


def _gzip_size(chunk: bytes) -> int:
    return len(gzip.compress(chunk, compresslevel=9, mtime=0))
