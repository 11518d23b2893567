"""--engine ray (issue 14, first part): `edit` on a local Ray cluster gives the local engine's
output (byte for byte with the fake model; texts and counts with the real one)."""

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


def test_ray_engine_refusals_and_bad_input(tmp_path, sample_synthetic):
    inp = _input(tmp_path, sample_synthetic, n=3)
    r = _edit(inp, tmp_path / "o.jsonl", "--model", "fake", "--engine", "ray", "--resume")
    assert r.returncode == 2 and "not supported with --engine ray" in r.stderr
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


def test_tokens_on_ray_equal_local(tmp_path, sample_human, sample_synthetic):
    """`tokens --engine ray`: the scoring on the actor pool, the statistics on the driver from
    those scores — the same JSON as the local engine (fake model: exactly)."""
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
    assert json.loads(outs[0].stdout) == json.loads(outs[1].stdout)
    r = subprocess.run(
        [*PY, "tokens", *args, "--ray-actors", "2"], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 2 and "--ray-actors needs --engine ray" in r.stderr


@pytest.mark.model
def test_ray_scores_match_local_real_model(sample_synthetic, lm):
    from toedit_stats import read_corpus
    from toedit_stats.options import LMConfig
    from toedit_stats.ray_engine import ray_score

    docs = list(read_corpus(sample_synthetic, limit=4))
    got = ray_score(docs, LMConfig(device="cpu", dtype="float32"), top_k=4, actors=2, batch_docs=2)
    for d, a, b in zip(docs, lm.score(docs, top_k=4), got):
        assert b.doc_id == d.id and np.array_equal(a.token_ids, b.token_ids)
        assert np.abs(a.logprobs - b.logprobs).max() < 1e-4  # one thread per actor: float rounding only


def test_prefilled_scores_are_not_scored_again(sample_synthetic):
    from toedit_stats import read_corpus
    from toedit_stats.analyzers.tokens import TokenAnalyzer
    from toedit_stats.lm.fake import FakeLM
    from toedit_stats.ray_engine import prefill_scores

    class Counting(FakeLM):
        calls = 0

        def score(self, docs, **kw):
            docs = list(docs)
            Counting.calls += len(docs)
            return super().score(docs, **kw)

    docs = list(read_corpus(sample_synthetic, limit=5))
    scores = list(FakeLM().score(docs))
    lm = prefill_scores(Counting(), docs, scores)
    TokenAnalyzer(model=lm).analyze(read_corpus(sample_synthetic, limit=5))
    assert Counting.calls == 0 and lm.hits == 5
