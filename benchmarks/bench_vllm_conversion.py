"""Host cost of turning vLLM's prompt logprobs into arrays (issue 29, item 5): the per-position
rule (one Python step per position, as before) against the vectorised pass over vLLM's
``FlatLogprobs`` columns, side by side in one run, at k = 0 (token statistics) and k = 8 (editing).
The outputs are shaped like vLLM 0.34's (the actual token first, then the top-k by rank, the
actual token again when it is among them). Positions per second on one core; the ratio is the
figure to read (the machines are shared and noisy).

Usage: python benchmarks/bench_vllm_conversion.py [POSITIONS] [REPEATS]
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from toedit_stats.lm.vllm import _convert_flat, _fill, _flat_columns


@dataclass
class FlatLogprobs:
    start_indices: list[int] = field(default_factory=list)
    end_indices: list[int] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)


def make(n: int, k: int, seed: int = 0) -> tuple[FlatLogprobs, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 49152, n)
    flat = FlatLogprobs()
    flat.start_indices.append(0)
    flat.end_indices.append(0)
    for pos in range(1, n):
        top = rng.choice(49151, k, replace=False)  # distinct, as vLLM's top-k are
        top[top >= ids[pos]] += 1  # and none is the actual token, unless placed below
        actual_rank = 1 if rng.random() < 0.6 else int(rng.integers(2, 1000))
        if actual_rank <= k:
            top[actual_rank - 1] = ids[pos]
        flat.start_indices.append(len(flat.token_ids))
        flat.token_ids += [int(ids[pos]), *map(int, top)]
        lps = np.sort(-rng.exponential(size=k + 1))[::-1]
        flat.logprobs += [
            float(lps[min(actual_rank, k) - 1] if actual_rank <= k else -12.0),
            *map(float, lps[:k]),
        ]
        flat.ranks += [actual_rank, *range(1, k + 1)]
        flat.end_indices.append(len(flat.token_ids))
    return flat, ids


def per_position(flat, ids, k):
    starts, ends, cand, clp, crk = _flat_columns(flat)
    m = len(ids) - 1
    lp, rk = np.empty(m, np.float32), np.empty(m, np.int64)
    tki, tkl = np.zeros((m, k), np.int64), np.full((m, k), -np.inf, np.float32)
    for j, pos in enumerate(range(1, len(ids))):
        s, e = starts[pos], ends[pos]
        _fill(j, ids[pos], cand[s:e], clp[s:e], crk[s:e], k, lp, rk, tki, tkl)
    return lp, rk, tki, tkl


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"{n:,} positions per output, best of {repeats}, one core")
    print(f"{'k':>3} {'per-position pos/s':>20} {'vectorised pos/s':>18} {'ratio':>7}  equal")
    for k in (0, 8):
        flat, ids = make(n, k)
        best = {}
        for name, fn in (("loop", per_position), ("vec", lambda f, i, k: _convert_flat(f, i, k, 1))):
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                out = fn(flat, ids, k)
                times.append(time.perf_counter() - t)
            best[name] = (min(times), out)
        same = all(np.array_equal(a, b) for a, b in zip(best["loop"][1], best["vec"][1]))
        lo, ve = (n - 1) / best["loop"][0], (n - 1) / best["vec"][0]
        print(f"{k:>3} {lo:>20,.0f} {ve:>18,.0f} {ve / lo:>6.1f}x  {same}")


if __name__ == "__main__":
    main()
