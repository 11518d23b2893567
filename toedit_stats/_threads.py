"""How many threads this process's own parallel work uses (n-gram counting, compression, the
bootstrap; torch reads ``OMP_NUM_THREADS`` itself).

``TOEDIT_STATS_THREADS`` (set by the CLI's ``--threads``), else ``OMP_NUM_THREADS``, else the CPUs
this process may run on. A Ray actor sees ``OMP_NUM_THREADS`` set to its ``num_cpus`` by Ray,
so model replicas sharing a machine do not oversubscribe it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

__all__ = ["set_threads", "single_threaded_math", "worker_threads"]


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


@contextmanager
def single_threaded_math() -> Iterator[None]:
    """BLAS and OpenMP (numpy, scipy, scikit-learn, faiss) on one thread inside, restored after
    (``threadpoolctl``). For the embedding statistics: many small products, eigendecompositions,
    logistic-regression fits and k-means runs, where the libraries' worker threads spin between
    calls more than they work. Measured on 2 cores (``benchmarks/bench_embed.py``): 500 + 500
    vectors 2.13 -> 0.86 CPU-s and 1.09 -> 0.86 s wall, 2,000 + 2,000 10.6 -> 4.6 CPU-s and
    6.1 -> 4.6 s wall. It also keeps results independent of the number of cores (a multi-threaded
    reduction may sum in another order)."""
    import importlib

    from threadpoolctl import threadpool_limits

    # a library loaded inside the block would keep its own thread count: load them first
    for name in ("scipy.linalg", "sklearn.linear_model", "faiss"):
        with suppress(ImportError):  # an extra that is not installed: nothing of it will run
            importlib.import_module(name)
    with threadpool_limits(limits=1):
        yield
