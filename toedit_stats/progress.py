"""Progress that stays honest on long documents: a bar that counts **tokens** as they are scored
(the backends report every forward batch, so it moves inside one long document), with documents
done in the postfix. Its total is estimated from the characters still to score, at the
tokens-per-character rate of the documents finished so far (4 characters per token until the
first document finishes), so the ETA follows the text, not the document count.

Nothing is printed unless enabled; library code turns it on only when asked (``progress=True``).
Every bar comes from :func:`bar`: on a terminal (or in Jupyter) a live tqdm bar; when stderr is
a log file or a pipe, one plain line every ``TOEDIT_STATS_PROGRESS_INTERVAL`` seconds (default
30) with the count, rate and ETA, and one when a bar closes (a stage's end), so a job redirected
to a log still reports, never a line per document.

>>> p = TokenProgress(chars_total=40, documents=2, enabled=False)
>>> p.on_tokens(5); p.document_done(chars=20, tokens=5)
>>> round(p.estimated_total), p.documents_done
(10, 1)
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

__all__ = ["TokenProgress", "bar", "log_interval"]

_INITIAL_CHARS_PER_TOKEN = 4.0
DEFAULT_LOG_INTERVAL = 30.0
FIRST_ETA_AFTER = 5.0  # seconds of a pass before its first estimate of the time left


def log_interval() -> float:
    """Seconds between progress lines when stderr is not a terminal
    (``TOEDIT_STATS_PROGRESS_INTERVAL``, default 30)."""
    raw = os.environ.get("TOEDIT_STATS_PROGRESS_INTERVAL", "")
    try:
        value = float(raw) if raw else DEFAULT_LOG_INTERVAL
    except ValueError:
        value = DEFAULT_LOG_INTERVAL
    return value if value > 0 else DEFAULT_LOG_INTERVAL


_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class _Lines:
    """A file for tqdm that turns its carriage-return redraws into whole lines (for logs)."""

    def __init__(self, stream: Any):
        self.stream = stream

    def write(self, s: str) -> None:
        # no carriage returns, and no cursor moves of nested bars (ESC [ A)
        line = _ESCAPES.sub("", s.replace("\r", "")).strip()
        if line:
            self.stream.write(line + "\n")
            self.stream.flush()

    def flush(self) -> None:
        self.stream.flush()


def _interactive(stream: Any) -> bool:
    """A terminal, or a Jupyter kernel's output stream (tqdm.auto draws a widget there)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or type(stream).__module__.startswith("ipykernel")


def bar(**kwargs: Any):
    """A tqdm progress bar on stderr: live on a terminal or in Jupyter, otherwise one line per
    :func:`log_interval` seconds (and a last line when it closes)."""
    stream = kwargs.pop("file", None) or sys.stderr
    if _interactive(stream):
        import warnings

        with warnings.catch_warnings():  # no ipywidgets in this kernel: a text bar, without the warning
            warnings.filterwarnings("ignore", message="IProgress not found")
            from tqdm.auto import tqdm

        return tqdm(file=stream, **kwargs)
    from tqdm import tqdm

    class _LogBar(tqdm):
        def close(self) -> None:
            # a stage that ended within the first interval: still one line for its end
            if not self.disable and self.n and getattr(self, "last_print_t", 0) < self.start_t + self.delay:
                self.delay = 0
            super().close()

    interval = log_interval()
    kwargs.pop("dynamic_ncols", None)
    # the first line after one interval, then one per interval and one at the end
    return _LogBar(
        file=_Lines(stream),
        mininterval=interval,
        maxinterval=interval,
        miniters=1,
        ncols=120,
        delay=interval,
        **kwargs,
    )


def _human(n: float) -> str:
    """``12,345`` → ``12.3k``; ``2.5e6`` → ``2.5M``.

    >>> _human(950), _human(12345), _human(2.5e6)
    ('950', '12.3k', '2.5M')
    """
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def _duration(seconds: float) -> str:
    """``75`` → ``1 min 15 s``; ``4000`` → ``1 h 6 min``.

    >>> _duration(42), _duration(75), _duration(4000)
    ('42 s', '1 min 15 s', '1 h 6 min')
    """
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


class TokenProgress:
    """A tqdm bar in tokens with a re-estimated total; ``on_tokens`` is the backends' hook."""

    def __init__(self, *, chars_total: int, documents: int, desc: str = "scoring", enabled: bool = True):
        self.chars_total = max(0, int(chars_total))
        self.documents = documents
        self.chars_done = 0
        self.tokens_done = 0  # every scored token, including documents still in progress
        self.tokens_of_done = 0  # tokens of finished documents
        self.documents_done = 0
        self._batches = [0, 0, 0]  # chars, tokens, documents of the batches finished (batch_done)
        self.edits: int | None = None  # counted when the caller reports edits
        self.estimated_total = self.chars_total / _INITIAL_CHARS_PER_TOKEN
        self.bar: Any = None
        if enabled:
            self.bar = bar(
                total=round(self.estimated_total), desc=desc, unit="tok", unit_scale=True, dynamic_ncols=True
            )
            self.bar.set_postfix_str(f"docs 0/{documents:,}", refresh=False)
        # said when the first tokens come back (after the model loaded: a load that fails
        # leaves only its one-line error)
        self._intro: str | None = (
            f"{desc}: {documents:,} documents, about {_human(self.estimated_total)} tokens "
            f"(from their characters; a first estimate of the time follows after {FIRST_ETA_AFTER:.0f} s)"
            if enabled
            else None
        )
        self._eta_said = not enabled

    def _begin(self) -> None:
        if self._intro is not None:
            self._say(self._intro)
            self._intro = None

    def _say(self, line: str) -> None:
        """One line on stderr above the bar (tqdm.write keeps a live bar intact)."""
        self.bar.write(line, file=sys.stderr)

    def _first_eta(self) -> None:
        """Once, after :data:`FIRST_ETA_AFTER` seconds of scoring (or the log interval, if shorter;
        a pass shorter than that gets none): the rate so far and the time left at it."""
        import time

        elapsed = time.time() - self.bar.start_t
        if (
            elapsed < min(FIRST_ETA_AFTER, log_interval())
            or not self.tokens_done
            or self.tokens_done >= self.estimated_total
        ):
            return
        self._eta_said = True
        rate = self.tokens_done / elapsed
        left = max(0.0, self.estimated_total - self.tokens_done) / rate
        self._say(
            f"{self.bar.desc}: first estimate {_duration(left)} left at {_human(rate)} tokens/s "
            f"(after {_human(self.tokens_done)} tokens, {self.documents_done:,} of {self.documents:,} documents done)"
        )

    def on_tokens(self, n: int) -> None:
        self.tokens_done += int(n)
        if self.bar is not None:
            self._begin()
            if self.tokens_done > self.bar.total:
                self.bar.total = self.tokens_done
            self.bar.update(int(n))
            if not self._eta_said:
                self._first_eta()

    def document_done(self, *, chars: int, tokens: int, edits: int | None = None) -> None:
        """One document finished: its characters, its scored tokens, and (editing) its edits."""
        if self.bar is not None:
            self._begin()
        self.documents_done += 1
        if edits is not None:
            self.edits = (self.edits or 0) + edits
        self.chars_done += chars
        self.tokens_of_done += tokens
        if self.chars_done:
            rate = self.tokens_of_done / self.chars_done
            self.estimated_total = self.tokens_of_done + rate * max(0, self.chars_total - self.chars_done)
            if self.tokens_done > self.estimated_total:  # partial documents already counted
                self.estimated_total = self.tokens_done
        if self.bar is not None:
            self.bar.total = max(round(self.estimated_total), self.bar.n)
            edits = f", edits {self.edits:,}" if self.edits is not None else ""
            self.bar.set_postfix_str(f"docs {self.documents_done:,}/{self.documents:,}{edits}", refresh=False)
            # update(0), not refresh(): the bar's own interval decides when to draw, so a log gets
            # one line per interval, never one per document (refresh() draws at once)
            self.bar.update(0)
            if not self._eta_said:
                self._first_eta()

    def batch_done(self, *, chars: int, tokens: int, documents: int, edits: int | None = None) -> None:
        """A batch of ``documents`` finished. Its worker may have run in another process, where
        :meth:`on_tokens` and :meth:`document_done` were not called: the bar catches up to what
        the finished batches add up to (a no-op where they were called live)."""
        self._batches[0] += chars
        self._batches[1] += tokens
        self._batches[2] += documents
        chars_t, tokens_t, docs_t = self._batches
        if self.tokens_done < tokens_t:
            self.on_tokens(tokens_t - self.tokens_done)
        missing = docs_t - self.documents_done
        if missing > 0:
            self.documents_done += missing - 1
            self.document_done(
                chars=max(0, chars_t - self.chars_done),
                tokens=max(0, tokens_t - self.tokens_of_done),
                edits=edits,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
