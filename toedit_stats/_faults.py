"""Crash points for the kill tests: the process SIGKILLs itself at a named moment.

``TOEDIT_STATS_CRASH_AT=NAME`` (or ``NAME:N``) kills the process the first (N-th) time it
passes :func:`checkpoint` ``(NAME)``. Unset, a checkpoint costs one dictionary lookup. The edit
job's phase boundaries are checkpoints, so the tests can kill it exactly there and check that
``--resume`` recovers. ``TOEDIT_STATS_CRASH_SIGNAL=INT`` sends SIGINT instead (an interrupt
from the keyboard). ``TOEDIT_STATS_CRASH_ONCE=PATH`` makes it happen once across processes (the
first process to get there creates PATH; later ones, e.g. a restarted Ray worker, pass): the
worker-kill test of the Ray engine. ``TOEDIT_STATS_SLOW_AT=NAME`` sleeps
``TOEDIT_STATS_SLOW_SECONDS`` (default 0.3) at each pass instead: a run the tests signal or race
while it is at that point.
"""

from __future__ import annotations

import os
import signal

__all__ = ["checkpoint"]

_passed: dict[str, int] = {}


def checkpoint(name: str) -> None:
    if os.environ.get("TOEDIT_STATS_SLOW_AT") == name:
        import time

        time.sleep(float(os.environ.get("TOEDIT_STATS_SLOW_SECONDS", "0.3")))
    spec = os.environ.get("TOEDIT_STATS_CRASH_AT")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if _passed[name] >= int(nth or 1):
        once = os.environ.get("TOEDIT_STATS_CRASH_ONCE")
        if once:
            try:
                os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        sig = signal.SIGINT if os.environ.get("TOEDIT_STATS_CRASH_SIGNAL") == "INT" else signal.SIGKILL
        os.kill(os.getpid(), sig)
