"""--engine ray from the command line (issue 14): `edit` on a local Ray cluster gives the local
engine's output (byte for byte with the fake model, and with the real one when the local engine
also runs one thread as each actor does; texts and counts with the default threads); workers write
the chunks and their completion markers; a killed worker costs its chunk, a killed driver is
resumed; the driver's memory does not grow with the corpus. That each job gives the same result on
every executor is tested in Python in tests/test_executors.py."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ray")

PY = [sys.executable, "-m", "toedit_stats"]


def _edit(inp, out, *extra):
    return subprocess.run(
        [*PY, "edit", str(inp), "-o", str(out), "--quiet", *map(str, extra)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def _input(tmp_path, sample_synthetic, n=12):
    recs = [json.loads(x) for x in sample_synthetic.read_text().splitlines()[:n]]
    recs.insert(3, {"id": "empty-one", "text": "", "label": "synthetic"})  # passed through unedited
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def test_ray_edit_equals_local_fake_model(tmp_path, sample_synthetic):
    inp = _input(tmp_path, sample_synthetic)
    local, ray_out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    a = _edit(inp, local, "--model", "fake", "--p", "0.5", "--audit-positions")
    b = _edit(
        inp,
        ray_out,
        "--model",
        "fake",
        "--p",
        "0.5",
        "--audit-positions",
        "--engine",
        "ray",
        "--ray-actors",
        "2",
        "--chunk-docs",
        "4",
    )
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr[-3000:]
    assert ray_out.read_bytes() == local.read_bytes()
    ma = json.loads((tmp_path / "local.jsonl.manifest.json").read_text())
    mb = json.loads((tmp_path / "ray.jsonl.manifest.json").read_text())
    assert mb["engine"]["name"] == "ray" and mb["engine"]["actors"] == 2 and mb["complete"]
    for key in ("documents", "tokens", "selected", "changed", "deleted", "damage"):
        assert mb["totals"][key] == ma["totals"][key], key
    assert mb["totals"]["expected_changed"] == pytest.approx(ma["totals"]["expected_changed"], abs=1e-6)
    assert mb["totals"]["empty_passed_through"] == 1
    assert mb["config"]["edit"] == ma["config"]["edit"]
    assert len(mb["chunks"]) == 4 and mb["model"]["backend"] == "fake"


FAKE = ("--model", "fake", "--p", "0.5", "--chunk-docs", "3", "--engine", "ray", "--ray-actors", "2")


def _run_env(inp, out, env, *extra):
    import os

    return subprocess.run(
        [*PY, "edit", str(inp), "-o", str(out), "--quiet", *FAKE, *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )


def test_ray_driver_killed_then_resumed_equals_uninterrupted(tmp_path, sample_synthetic):
    """The driver SIGKILLed as the first finished chunk arrives (before it reaches the manifest):
    the chunks the workers finished are kept by their completion markers, `--resume` redoes the
    rest, and the output equals a local run's byte for byte."""
    inp = _input(tmp_path, sample_synthetic)
    local, out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert _edit(inp, local, "--model", "fake", "--p", "0.5").returncode == 0
    killed = _run_env(inp, out, {"TOEDIT_STATS_CRASH_AT": "chunk-written:1"})
    assert killed.returncode != 0 and not out.exists()
    parts = out.with_name(out.name + ".parts")
    markers = sorted(p.name for p in parts.glob("*.done"))
    assert markers and json.loads((parts / "manifest.json").read_text())["chunks"] == []
    refused = _run_env(inp, out, {})
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = _run_env(inp, out, {}, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert out.read_bytes() == local.read_bytes() and not parts.exists()
    m = json.loads((tmp_path / "ray.jsonl.manifest.json").read_text())
    assert m["complete"] and m["totals"]["documents"] == 13


def test_ray_worker_killed_mid_job_costs_only_its_chunk(tmp_path, sample_synthetic):
    """One actor SIGKILLs itself after editing its first chunk (once across processes): Ray Data
    restarts it and retries the task; nothing is lost or duplicated."""
    inp = _input(tmp_path, sample_synthetic)
    local, out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert _edit(inp, local, "--model", "fake", "--p", "0.5").returncode == 0
    flag = tmp_path / "killed-once"
    r = _run_env(
        inp, out, {"TOEDIT_STATS_CRASH_AT": "ray-chunk-edited", "TOEDIT_STATS_CRASH_ONCE": str(flag)}
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert flag.exists()  # a worker really was killed
    assert out.read_bytes() == local.read_bytes()


@pytest.mark.slow  # the default twin: test_executors.py's edit job on Ray, and the local shard tests
def test_ray_shards_equal_local_shards(tmp_path, sample_synthetic):
    inp = _input(tmp_path, sample_synthetic)
    local, out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert _edit(inp, local, "--model", "fake", "--p", "0.5", "--shard", "1/2").returncode == 0
    r = _run_env(inp, out, {}, "--shard", "1/2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert out.read_bytes() == local.read_bytes()


_MEMORY = r"""
import json, sys, tracemalloc
from pathlib import Path
from toedit_stats import read_corpus
from toedit_stats.editing import EditConfig, run_edit_job
import toedit_stats.editing.job as job
from toedit_stats.lm.config import LMConfig
from toedit_stats.execution import RayExecutor

src, tmp = Path(sys.argv[1]).read_text().splitlines(), Path(sys.argv[2])
lm = LMConfig(model="fake")
held = []
write = job.atomic_write_text
def sampled(*a, **k):  # the manifest is rewritten as each chunk arrives: sample what is held then
    held.append(tracemalloc.get_traced_memory()[0])
    return write(*a, **k)
job.atomic_write_text = sampled
out = {}
# the same number of chunks (10) for both sizes
for name, times, chunk in (("warm-up", 1, 4), ("1x", 1, 4), ("20x", 20, 80)):
    p = tmp / f"in-{name}.jsonl"
    with p.open("w") as f:
        for r in range(times):
            for line in src:
                rec = json.loads(line)
                rec["id"] = f"{rec['id']}-{r}"
                f.write(json.dumps(rec) + "\n")
    held.clear()
    tracemalloc.start()
    run_edit_job(read_corpus(p), tmp / f"out-{name}.jsonl", model=lm, config=EditConfig(p=0.5),
                 chunk_docs=chunk, executor=RayExecutor(actors=2))
    out[name] = {"held": max(held), "peak": tracemalloc.get_traced_memory()[1], "bytes": p.stat().st_size}
    tracemalloc.stop()
print(json.dumps(out))
"""


def test_ray_driver_memory_does_not_grow_with_the_corpus(tmp_path, sample_synthetic):
    """The Python memory the driver holds while the chunks are edited (tracemalloc, sampled as each
    finished chunk is recorded, after a warm-up job), on the bundled sample and on 20 copies of it,
    both in 10 chunks: the chunks live in Ray's object store, the records are written by the
    workers, and the join streams, so what is held does not grow with the corpus. (The transient
    peak, while one chunk is serialised into the object store, grows with the chunk size.)"""
    r = subprocess.run(
        [sys.executable, "-c", _MEMORY, str(sample_synthetic), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert m["20x"]["held"] - m["1x"]["held"] < 0.05 * m["20x"]["bytes"], m


def test_ray_engine_refusals_and_bad_input(tmp_path, sample_synthetic):
    inp = _input(tmp_path, sample_synthetic, n=3)
    r = _edit(inp, tmp_path / "o.jsonl", "--model", "fake", "--ray-actors", "2")
    assert r.returncode == 2 and "need --engine ray" in r.stderr
    r = _edit(inp, tmp_path / "o.jsonl", "--model", "fake", "--engine", "ray", "--target-change-rate", "0.01")
    assert r.returncode == 2 and "target_change_rate" in r.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text(inp.read_text() + "{not json\n")
    r = _edit(bad, tmp_path / "b.jsonl", "--model", "fake", "--engine", "ray")
    assert r.returncode == 2 and f"{bad}:5" in r.stderr and "invalid JSON" in r.stderr
    assert not (tmp_path / "b.jsonl").exists()


@pytest.mark.model
@pytest.mark.slow  # the default twin: test_ray_edit_equals_local_fake_model (and the Ray report twin's real edit)
def test_ray_edit_equals_local_real_model(tmp_path, sample_synthetic, lm):
    inp = _input(tmp_path, sample_synthetic, n=6)
    local, ray_out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    a = _edit(inp, local, "--p", "0.9", "--device", "cpu")
    b = _edit(inp, ray_out, "--p", "0.9", "--device", "cpu", "--engine", "ray", "--ray-actors", "2")
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr[-3000:])
    # texts and counts identical; expected_changed is a float sum that thread counts can move
    ra = [json.loads(x) for x in local.read_text().splitlines()]
    rb = [json.loads(x) for x in ray_out.read_text().splitlines()]
    assert [r["text"] for r in rb] == [r["text"] for r in ra]
    for x, y in zip(ra, rb):
        ex, ey = x["toedit"].pop("expected_changed"), y["toedit"].pop("expected_changed")
        assert x == y and ey == pytest.approx(ex, abs=1e-5)
    # with one thread, as each actor has, the local engine's file is the Ray engine's byte for byte
    one = tmp_path / "local-1-thread.jsonl"
    c = subprocess.run(
        [*PY, "--threads", "1", "edit", str(inp), "-o", str(one), "--quiet", "--p", "0.9", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert c.returncode == 0, c.stderr
    assert one.read_bytes() == ray_out.read_bytes()


@pytest.mark.slow  # the default twin: test_executors.py's token statistics on Ray
def test_tokens_on_ray_equal_local(tmp_path, sample_human, sample_synthetic):
    """`tokens --engine ray`: the scoring on the actor pool, one TokenStats per batch merged on
    the driver — the same JSON as the local engine (fake model; floats to 1e-12)."""
    args = [
        str(sample_human),
        str(sample_synthetic),
        "--model",
        "fake",
        "--max-docs",
        "12",
        "--json",
        "--quiet",
    ]
    outs = [
        subprocess.run([*PY, "tokens", *args, *extra], capture_output=True, text=True, timeout=600)
        for extra in ([], ["--engine", "ray", "--ray-actors", "2"])
    ]
    assert all(o.returncode == 0 for o in outs), [o.stderr[-2000:] for o in outs]
    assert _approx_json(json.loads(outs[0].stdout), json.loads(outs[1].stdout))
    r = subprocess.run(
        [*PY, "tokens", *args, "--ray-actors", "2"], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 2 and "--ray-actors and --ray-gpus need --engine ray" in r.stderr


def test_ray_workers_use_their_one_cpu():
    """No oversubscription: a worker with one CPU runs torch and our thread pools on one thread."""
    from toedit_stats.execution import RayExecutor, Worker

    class ThreadsSeen(Worker):  # defined here: pickled by value for the workers
        def __call__(self, batch):
            import torch

            from toedit_stats._threads import worker_threads

            return [(worker_threads(), torch.get_num_threads()) for _ in batch]

    got = RayExecutor(actors=2).map(ThreadsSeen(), list(range(4)), batch=2)
    assert got == [(1, 1)] * 4


def _approx_json(a, b, rel=1e-12) -> bool:
    """Equal JSON documents, floats to ``rel``."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_approx_json(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_approx_json(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)):
        return a == pytest.approx(b, rel=rel, abs=1e-15, nan_ok=True)
    return a == b


@pytest.mark.model
@pytest.mark.slow  # the default twin: test_executors.py (the fake model on Ray)
def test_ray_scores_match_local_real_model(sample_synthetic, lm):
    from toedit_stats import read_corpus
    from toedit_stats.execution import RayExecutor
    from toedit_stats.lm import LMConfig
    from toedit_stats.lm.worker import ScoreWorker

    docs = list(read_corpus(sample_synthetic, limit=4))
    worker = ScoreWorker(LMConfig(device="cpu", dtype="float32"), top_k=4)
    got = RayExecutor(actors=2).map(worker, docs, batch=2)
    for d, a, b in zip(docs, lm.score(docs, top_k=4), got):
        assert b.doc_id == d.id and np.array_equal(a.token_ids, b.token_ids)
        assert np.abs(a.logprobs - b.logprobs).max() < 1e-4  # one thread per actor: float rounding only


def test_prefilled_scores_are_not_scored_again(sample_synthetic):
    from toedit_stats import read_corpus
    from toedit_stats.analyzers.tokens import TokenAnalyzer
    from toedit_stats.lm.cache import CachedLM
    from toedit_stats.lm.fake import FakeLM

    class Counting(FakeLM):
        calls = 0

        def score(self, docs, **kw):
            docs = list(docs)
            Counting.calls += len(docs)
            return super().score(docs, **kw)

    docs = list(read_corpus(sample_synthetic, limit=5))
    scores = list(FakeLM().score(docs))
    lm = CachedLM(Counting(), memory=True)
    for d, s in zip(docs, scores):  # as scores from a worker elsewhere arrive
        lm.add(d.text, s)
    TokenAnalyzer(model=lm).analyze(read_corpus(sample_synthetic, limit=5))
    assert Counting.calls == 0 and lm.hits == 5


@pytest.mark.model
@pytest.mark.slow  # ray_embed's numbers are also checked, in CI, by test_report_on_ray_equals_local
def test_embed_on_ray_equals_local(sample_human, sample_synthetic):
    """`embed --engine ray`: the texts embedded on the actor pool, the statistics here from those
    vectors — the same JSON as the local engine (MiniLM, 12 documents per corpus)."""
    pytest.importorskip("sentence_transformers")
    args = [
        str(sample_human),
        str(sample_synthetic),
        "--max-docs",
        "12",
        "--mauve-seeds",
        "1",
        "--json",
        "--quiet",
    ]
    outs = [
        subprocess.run([*PY, "embed", *args, *extra], capture_output=True, text=True, timeout=600)
        for extra in ([], ["--engine", "ray", "--ray-actors", "2"])
    ]
    assert all(o.returncode == 0 for o in outs), [o.stderr[-2000:] for o in outs]
    local, ray_out = json.loads(outs[0].stdout), json.loads(outs[1].stdout)
    # one thread per actor: float rounding in the last digits of the vectors
    assert json.dumps(local["embedder"]) == json.dumps(ray_out["embedder"])
    flat = lambda d, p="": (  # noqa: E731
        [x for k, v in d.items() for x in flat(v, f"{p}.{k}")] if isinstance(d, dict) else [(p, d)]
    )
    a, b = dict(flat(local)), dict(flat(ray_out))
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float):
            assert b[k] == pytest.approx(a[k], rel=1e-3, abs=1e-5), k
    # TF-IDF is fitted on the texts it embeds: on Ray they go to one worker, in one batch
    outs = [
        subprocess.run([*PY, "embed", *args, "--embedder", "tfidf", *extra], capture_output=True, text=True)
        for extra in ([], ["--engine", "ray"])
    ]
    assert all(o.returncode == 0 for o in outs), [o.stderr[-2000:] for o in outs]
    assert json.loads(outs[0].stdout) == json.loads(outs[1].stdout)


def test_exact_ngrams_refuse_a_distributed_executor(sample_human):
    """The exact n-gram mode holds every n-gram in one process: `--engine ray` needs `--sketch`
    (the sketch on every executor: tests/test_executors.py)."""
    r = subprocess.run(
        [*PY, "ngrams", str(sample_human), "--engine", "ray", "--quiet"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "ngrams without --sketch runs in one process" in r.stderr


def _numbers(d, prefix=""):
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in _numbers(val, f"{prefix}.{key}").items()}
    if isinstance(d, list):
        return {k: v for i, val in enumerate(d) for k, v in _numbers(val, f"{prefix}[{i}]").items()}
    return {prefix: d}


@pytest.mark.model
@pytest.mark.parametrize(
    "size",
    [
        # the default twin: tests/test_executors.py (the report on both executors, fake model)
        pytest.param(
            ["--max-docs", "3", "--analyzers", "tokens,lengths", "--no-scores"],
            id="twin",
            marks=pytest.mark.slow,
        ),
        pytest.param(["--max-docs", "5"], id="full", marks=pytest.mark.slow),
    ],
)
def test_report_on_ray_equals_local(tmp_path, sample_human, sample_synthetic, size):
    """`report --engine ray`: the synthetic, human and edited documents scored and every text
    embedded (MiniLM) on the actor pool, the editing and statistics here — the edited corpus and
    metrics.json equal the local report's (SmolLM2 and MiniLM on one thread per actor: numbers
    within float rounding). The default twin runs the token and length analyzers on 3 documents
    per corpus; the slow one every analyzer (MiniLM included) on 5."""
    pytest.importorskip("sentence_transformers")
    common = [
        str(sample_human),
        str(sample_synthetic),
        "--device",
        "cpu",
        "--p",
        "0.9",
        *size,
        "--bootstrap",
        "20",
        "--quiet",
    ]
    if "--analyzers" not in size:
        common += ["--mauve-seeds", "1"]
    runs = {}
    for name, extra in (("local", []), ("ray", ["--engine", "ray", "--ray-actors", "2"])):
        out = tmp_path / name
        r = subprocess.run(
            [*PY, "report", *common, "-o", str(out), *extra], capture_output=True, text=True, timeout=900
        )
        assert r.returncode == 0, r.stderr[-3000:]
        m = json.loads((out / "metrics.json").read_text())
        for key in ("timings", "provenance"):
            m.pop(key, None)
        runs[name] = _numbers(m)
        assert (out / "edited.jsonl").exists()
    assert (tmp_path / "local" / "edited.jsonl").read_bytes() == (
        tmp_path / "ray" / "edited.jsonl"
    ).read_bytes()
    a, b = runs["local"], runs["ray"]
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float) and isinstance(b[k], float):
            assert b[k] == pytest.approx(a[k], rel=1e-3, abs=1e-5), k
        elif "command" not in k:
            assert a[k] == b[k], k
