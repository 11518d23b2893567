"""The edit job on the local engine vs Ray Data with 1 and 2 actors (SmolLM2-135M, CPU), side by
side in one run, in documents per second. Each Ray actor gets one CPU (Ray sets its threads to
1); the local engine uses torch's default threads. Ray's start-up is included (a local cluster is
started once, before the first Ray run, and not counted).

Overhead breakdown, measured in the same run:
- ``ray.init``: starting the local cluster (once per process);
- ``pipeline, no-op actor``: the documents through ``map_batches`` on one actor that returns a
  small row per document — Ray Data's scheduling, the texts' serialisation into the object store
  and back, actor start-up without a model;
- ``actor + model load``: one actor that loads SmolLM2-135M and scores one short document (what
  each actor pays before its first batch);
- ``scores to the driver``: the pickled TokenScores of the corpus (top-8), in MB, and the time to
  pickle and unpickle them here (what a ``ScoreWorker`` moves; ``tokens`` merges TokenStats per
  batch instead).

Usage: python benchmarks/bench_ray.py [N_DOCS] [path.jsonl]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from toedit_stats import read_corpus
from toedit_stats.editing import EditConfig, run_edit_job
from toedit_stats.execution import RayExecutor, Worker
from toedit_stats.lm.config import LMConfig


class _NoOp(Worker):
    def __call__(self, batch):
        return [len(d.text) for d in batch]


class _LoadOnly(Worker):
    def setup(self):
        self.lm = LMConfig(device="cpu", dtype="float32").load()
        list(self.lm.score(["warm up the model"]))

    def __call__(self, batch):
        return [0 for _ in batch]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    path = sys.argv[2] if len(sys.argv) > 2 else "examples/synthetic.jsonl"
    corpus = read_corpus(path, limit=n)
    cfg = EditConfig()
    lm = LMConfig(device="cpu", dtype="float32")
    import ray

    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    overhead = [("ray.init (local cluster)", time.perf_counter() - t)]
    docs = list(corpus)
    t = time.perf_counter()
    RayExecutor(actors=1).map(_NoOp(), docs, batch=4)
    overhead.append(("pipeline, no-op actor (all documents)", time.perf_counter() - t))
    t = time.perf_counter()
    RayExecutor(actors=1).map(_LoadOnly(), docs[:1], batch=1)
    overhead.append(("actor + model load + one short document", time.perf_counter() - t))
    import pickle

    scores = list(lm.load().score(docs, top_k=8))
    t = time.perf_counter()
    blob = [pickle.dumps(s) for s in scores]
    [pickle.loads(b) for b in blob]
    mb = sum(len(b) for b in blob) / 2**20
    overhead.append((f"scores to the driver: pickle+unpickle {mb:.1f} MB", time.perf_counter() - t))
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        t = time.perf_counter()
        run_edit_job(corpus, Path(tmp) / "local.jsonl", model=lm.load(), config=cfg)
        rows.append(("local engine", time.perf_counter() - t))
        for actors in (1, 2):
            t = time.perf_counter()
            out = Path(tmp) / f"ray{actors}.jsonl"
            run_edit_job(corpus, out, model=lm, config=cfg, chunk_docs=4, executor=RayExecutor(actors=actors))
            rows.append((f"ray, {actors} actor(s)", time.perf_counter() - t))

        def texts(name):
            return [json.loads(line)["text"] for line in (Path(tmp) / name).read_text().splitlines()]

        # texts and counts equal; the audit's expected_changed float can differ in its 6th
        # decimal (one torch thread per actor), so the files are compared by their texts
        same = all(texts(f"ray{a}.jsonl") == texts("local.jsonl") for a in (1, 2))
    print(f"{n} documents from {path}; edited texts identical: {same}")
    base = rows[0][1]
    for name, dt in rows:
        print(f"{name:<20} {dt:6.1f} s {n / dt:6.2f} docs/s {base / dt:5.2f}x local")
    print("overhead breakdown:")
    for name, dt in overhead:
        print(f"  {name:<48} {dt:6.2f} s")


if __name__ == "__main__":
    main()
