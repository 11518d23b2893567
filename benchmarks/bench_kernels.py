"""Memory of the all-pairs statistics (issue 31): peak RSS and CPU-seconds of the embedding
analyzer's kernel tests — the aggregated MMD test (9 bandwidths, 1,000 permutations), the
median-bandwidth MMD² test (in the aggregated test's pass where the checkout has it) and PRDC — on ``n`` + ``n`` seeded Gaussian 384-d vectors, each
measurement a fresh process, for this checkout and (``--before PATH``) an older one side by side.

Usage: python benchmarks/bench_kernels.py [--sizes 1000,2000,4000] [--before PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys
import numpy as np
def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024
n = int(sys.argv[1])
rng = np.random.default_rng(0)
a, b = rng.normal(size=(n, 384)), rng.normal(0.05, size=(n, 384))
from toedit_stats.stats import mmd_agg_test
from toedit_stats.analyzers.embeddings import mmd2_test, prdc
cpu0, rss0 = usage()
import inspect
if "median" in inspect.signature(mmd_agg_test).parameters:  # both tests in one pass, as the analyzer runs them
    mmd_agg_test(a, b, permutations=1000, median=True)
else:
    mmd_agg_test(a, b, permutations=1000)
    mmd2_test(a, b, permutations=1000)
prdc(a, b)
cpu1, rss1 = usage()
print(json.dumps({"cpu": cpu1 - cpu0, "peak_mb": rss1, "before_mb": rss0}))
"""


def run(n: int, tree: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True, env=env, cwd=tree
    )
    if res.returncode:
        return {"error": (res.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,2000,4000")
    ap.add_argument("--before", type=Path, default=None)
    args = ap.parse_args(argv)
    trees = [("this checkout", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    print("| n per side | " + " | ".join(f"{t}: peak RSS MB / CPU-s" for t, _ in trees) + " |")
    print("|---|" + "---|" * len(trees))
    for n in (int(x) for x in args.sizes.split(",")):
        cells = []
        for _, tree in trees:
            r = run(n, tree)
            cells.append(r["error"] if "error" in r else f"{r['peak_mb']:,.0f} / {r['cpu']:.1f}")
        print(f"| {n:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
