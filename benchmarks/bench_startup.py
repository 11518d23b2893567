"""Fixed cost of one CLI process (issue 31): ``toedit-stats tokens`` on one short document, in
CPU-seconds (user + system, this process and its threads), broken down by what the run pays for.

Each measurement is a fresh process; the rows alternate over ``--rounds`` rounds and the table
gives medians (the machines are shared and noisy):

- ``python``: the interpreter alone (``python -c pass``);
- ``import toedit_stats``: the package (``import toedit_stats``);
- ``import toedit_stats.cli``: the CLI's modules (Click and the commands);
- ``model``: importing torch/transformers and loading the default model (cached safetensors copy);
- ``scoring``: scoring the document with the loaded model, once per corpus as the command does
  (it is given the same file as both corpora; the work itself);
- ``tokens (whole command)``: ``toedit-stats tokens DOC DOC --quiet``; ``outside scoring`` is
  it minus ``scoring``;
- ``tokens -o DIR``: the same writing JSON, CSV tables and the PNG figures.

Usage: python benchmarks/bench_startup.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = {"id": "one", "text": "The cat sat on the mat. It was a sunny day, and the cat was happy."}

CHILD = r"""
import resource, sys, json
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0 = cpu()
import toedit_stats.cli
t1 = cpu()
from toedit_stats.lm import load_lm
lm = load_lm().load()
t2 = cpu()
from toedit_stats.corpus import Document
for corpus in ("human", "synthetic"):  # the command scores each of its two corpora
    list(lm.score([Document("one", sys.argv[1])]))
t3 = cpu()
print(json.dumps({"import": t1 - t0, "model": t2 - t1, "scoring": t3 - t2, "before": t0}))
"""


def _cpu_of(cmd: list[str]) -> float:
    """User + system CPU seconds of a child process (``resource`` counts waited-for children)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(rounds: int) -> dict[str, float]:
    py = sys.executable
    cli = str(Path(py).with_name("toedit-stats"))
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / "one.jsonl"
        doc.write_text(json.dumps(DOC) + "\n")
        for r in range(rounds):
            out.setdefault("python", []).append(_cpu_of([py, "-c", "pass"]))
            out.setdefault("import toedit_stats", []).append(_cpu_of([py, "-c", "import toedit_stats"]))
            out.setdefault("import toedit_stats.cli", []).append(
                _cpu_of([py, "-c", "import toedit_stats.cli"])
            )
            res = subprocess.run(
                [py, "-c", CHILD, DOC["text"]], check=True, capture_output=True, text=True, cwd=ROOT
            )
            parts = json.loads(res.stdout.strip().splitlines()[-1])
            out.setdefault("model", []).append(parts["model"])
            out.setdefault("scoring", []).append(parts["scoring"])
            out.setdefault("tokens (whole command)", []).append(
                _cpu_of([cli, "tokens", str(doc), str(doc), "--quiet"])
            )
            dest = Path(tmp) / f"out{r}"
            out.setdefault("tokens -o DIR", []).append(
                _cpu_of([cli, "tokens", str(doc), str(doc), "--quiet", "-o", str(dest)])
            )
    med = {k: statistics.median(v) for k, v in out.items()}
    med["outside scoring"] = med["tokens (whole command)"] - med["scoring"]
    med["outside scoring, -o DIR"] = med["tokens -o DIR"] - med["scoring"]
    med["writing (tables, JSON, 3 PNG figures)"] = med["tokens -o DIR"] - med["tokens (whole command)"]
    return med


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    med = measure(args.rounds)
    print("| part | CPU-s (median) |")
    print("|---|---|")
    for k, v in med.items():
        print(f"| {k} | {v:.2f} |")


if __name__ == "__main__":
    main()
