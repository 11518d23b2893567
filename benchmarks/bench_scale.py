"""How the report grows with the corpus (issue 31): CPU-seconds and peak RSS per stage of
``compare(..., max_docs=None)`` (the CLI's ``report --all-docs``) with the fake model and TF-IDF
embeddings, at 1k, 4k, 16k and 64k documents per corpus, and the fit of peak RSS against words.

The corpora are OUTFOX-derived and seeded: each human (synthetic) document takes the sentence
count of a random human (synthetic) essay and fills it with sentences drawn from all essays of
its label, so the 64k-document corpora have real sentences and lengths without being copies.

Each size runs in a fresh process (``--child``), which wraps the report's stages and each
analyzer's ``analyze`` and records, after each, the CPU time and the process's peak RSS so far
(``ru_maxrss``: a stage's row is the peak reached by the end of it). ``--tree PATH`` runs another
checkout (e.g. ``git worktree add /tmp/before a459516``) for a before/after table.

Usage: python benchmarks/bench_scale.py [--sizes 1000,4000,16000,64000] [--tree PATH] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "outfox-essays" / "texts.jsonl"
SPLIT = re.compile(r"(?<=[.!?])\s+")


def make_corpora(n: int, folder: Path, seed: int = 0) -> tuple[Path, Path, int]:
    """``human.jsonl`` and ``synthetic.jsonl`` of ``n`` documents each; returns their paths and
    the total number of words (whitespace-separated)."""
    rng = np.random.default_rng([seed, n])
    pools: dict[str, list[list[str]]] = {"human": [], "synthetic": []}
    for line in CORPUS.read_text().splitlines():
        rec = json.loads(line)
        pools["human" if rec["label"] == "human" else "synthetic"].append(
            [s for s in SPLIT.split(rec["text"]) if s.strip()]
        )
    words = 0
    paths = []
    for label, essays in pools.items():
        sentences = [s for e in essays for s in e]
        lengths = np.array([len(e) for e in essays])
        path = folder / f"{label}.jsonl"
        with path.open("w") as f:
            for i in range(n):
                k = int(lengths[rng.integers(len(lengths))])
                text = " ".join(sentences[j] for j in rng.integers(len(sentences), size=max(1, k)))
                words += len(text.split())
                f.write(json.dumps({"id": f"{label[0]}-{i:06d}", "text": text}) + "\n")
        paths.append(path)
    return paths[0], paths[1], words


def _usage() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024  # CPU-s, MB


def child(human: str, synthetic: str, out: str) -> None:
    """Run one report in this process and print the per-stage JSON."""
    from toedit_stats.analyzers.base import Analyzer
    from toedit_stats.report import build, compare

    rows: list[dict] = []

    def wrap(name, fn):
        def run(*a, **k):
            cpu0, _ = _usage()
            t0 = time.perf_counter()
            res = fn(*a, **k)
            cpu1, rss = _usage()
            rows.append({"stage": name, "cpu": cpu1 - cpu0, "wall": time.perf_counter() - t0, "peak_mb": rss})
            print(
                "STAGE " + json.dumps(rows[-1]), file=sys.stderr, flush=True
            )  # as it goes: a long run shows progress
            return res

        return run

    build.STAGES[:] = [(n, wrap(n, f)) for n, f in build.STAGES]
    build.read_stage = wrap("read", build.read_stage)
    from toedit_stats.registry import analyzer_names, get_analyzer

    for name in analyzer_names():
        get_analyzer(name)  # imported, so that its class can be wrapped
    seen = set()
    todo = list(Analyzer.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "analyze" in vars(cls) and cls not in seen:
            seen.add(cls)
            cls.analyze = wrap(f"  analyze: {getattr(cls, 'name', cls.__name__)}", cls.analyze)
    report = compare(human, synthetic, lm="fake", max_docs=None, embedder="tfidf")
    wrap("effects (bootstrap, swaps, Holm)", report.effects)()
    wrap("save (HTML, JSON, figures)", report.save)(out, overwrite=True)
    print("BENCH " + json.dumps(rows))


def run_size(n: int, tree: Path, work: Path) -> dict:
    h, s, words = make_corpora(n, work)
    env = dict(os.environ, PYTHONPATH=str(tree), MPLBACKEND="Agg")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(h), str(s), str(work / "report")]
    t0 = time.perf_counter()
    stages = work / "stages.log"
    with stages.open("w") as err:  # the child's stage rows as they finish (tail -f it)
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=tree)
    res.stderr = stages.read_text()
    wall = time.perf_counter() - t0
    line = next((x for x in res.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        return {
            "docs": n,
            "words": words,
            "error": (res.stderr.strip().splitlines() or ["killed"])[-1],
            "wall": wall,
        }
    return {"docs": n, "words": words, "stages": json.loads(line[6:]), "wall": wall}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,4000,16000,64000")
    ap.add_argument("--tree", type=Path, default=ROOT)
    ap.add_argument("--out", type=Path, default=None, help="Also write the results as JSON here.")
    ap.add_argument("--child", nargs=3, metavar=("HUMAN", "SYNTHETIC", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_size(n, args.tree.resolve(), Path(tmp))
        results.append(r)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1))
        if "error" in r:
            print(f"{n} documents per corpus ({r['words']:,} words): failed — {r['error']}", flush=True)
            continue
        print(
            f"\n{n:,} documents per corpus, {r['words']:,} words in all, {r['wall']:.0f} s wall", flush=True
        )
        print("| stage | CPU-s | peak RSS so far (MB) |\n|---|---|---|")
        for row in r["stages"]:
            print(f"| {row['stage']} | {row['cpu']:.1f} | {row['peak_mb']:,.0f} |", flush=True)
    ok = [r for r in results if "stages" in r]
    if len(ok) >= 2:
        w = np.array([r["words"] for r in ok], float)
        peak = np.array([max(x["peak_mb"] for x in r["stages"]) for r in ok])
        b, a = np.polyfit(w, peak, 1)
        pred = a + b * w
        r2 = 1 - ((peak - pred) ** 2).sum() / max(((peak - peak.mean()) ** 2).sum(), 1e-12)
        print(f"\npeak RSS ≈ {a:,.0f} MB + {b * 2**20:,.1f} bytes/word × words (R² {r2:.3f})")


if __name__ == "__main__":
    main()
