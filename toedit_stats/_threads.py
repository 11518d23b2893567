"""How many threads this process's own parallel work uses (n-gram counting, compression, the
bootstrap; torch reads ``OMP_NUM_THREADS`` itself).

``TOEDIT_STATS_THREADS`` (set by the CLI's ``--threads``), else ``OMP_NUM_THREADS``, else the CPUs
this process may run on. A Ray actor sees ``OMP_NUM_THREADS`` set to its ``num_cpus`` by Ray,
so model replicas sharing a machine do not oversubscribe it.
"""

from __future__ import annotations

import os

__all__ = ["set_threads", "worker_threads"]


def worker_threads() -> int:
    for var in ("TOEDIT_STATS_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def set_threads(n: int) -> None:
    """Use ``n`` threads here and in the math libraries (torch, BLAS) of this process: sets the
    environment before they start, and torch's pool if torch is already imported."""
    import sys

    for var in ("TOEDIT_STATS_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
