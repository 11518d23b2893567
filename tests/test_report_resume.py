"""report --resume (issue 18): a report killed part-way continues from OUTPUT.parts and gives the
same numbers as an uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PY = [sys.executable, "-m", "toedit_stats"]


def _report(out, human, synthetic, *extra, env=None):
    args = [
        "report",
        str(human),
        str(synthetic),
        "-o",
        str(out),
        "--embedder",
        "tfidf",
        "--max-docs",
        "8",
        "--mauve-seeds",
        "1",
        "--permutations",
        "30",
        "--bootstrap",
        "50",
        "--p",
        "0.5",
        "--quiet",
        *extra,
    ]
    return subprocess.run(
        [*PY, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600
    )


def _numbers(out):
    m = json.loads((out / "metrics.json").read_text())
    for key in ("timings", "provenance"):
        m.pop(key)
    return m


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize(("phase", "signal"), [("report-edited", "KILL"), ("report-analyzer:2", "INT")])
def test_killed_report_resumes_to_identical_results(
    tmp_path, sample_human, sample_synthetic, lm, phase, signal
):
    """With the embedded SmolLM2 (the fake model builds its vocabulary while scoring, so it cannot
    decode tokens it only read back from a cache)."""
    ref = tmp_path / "ref"
    done = _report(ref, sample_human, sample_synthetic)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "ref.parts").exists()  # removed once the report is saved

    out = tmp_path / "run"
    killed = _report(
        out,
        sample_human,
        sample_synthetic,
        env={"TOEDIT_STATS_CRASH_AT": phase, "TOEDIT_STATS_CRASH_SIGNAL": signal},
    )
    assert killed.returncode == (-9 if signal == "KILL" else 130), killed.stderr[-2000:]
    assert not out.exists() and (tmp_path / "run.parts" / "scores").is_dir()

    again = _report(out, sample_human, sample_synthetic)  # without --resume: refused, nothing lost
    assert again.returncode == 2 and "pass --resume to continue it" in again.stderr
    other = _report(out, sample_human, sample_synthetic, "--resume", "--p", "0.9")
    assert other.returncode == 2 and "settings.e_p: 0.5 -> 0.9" in other.stderr, other.stderr

    resumed = _report(out, sample_human, sample_synthetic, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _numbers(out) == _numbers(ref)
    caches = json.loads((out / "metrics.json").read_text())["provenance"]["caches"]
    assert caches["scores"]["hits"] > 0 and caches["scores"]["on_disk"]  # the killed run's scores were reused
    assert not (tmp_path / "run.parts").exists()


def test_left_over_work_needs_resume_or_overwrite(tmp_path, sample_human, sample_synthetic):
    """Fast, with the fake model: the refusals, and --overwrite starting over."""
    out = tmp_path / "run"
    fake = ("--model", "fake")
    killed = _report(
        out, sample_human, sample_synthetic, *fake, env={"TOEDIT_STATS_CRASH_AT": "report-edited"}
    )
    assert killed.returncode == -9 and not out.exists()
    manifest = json.loads((tmp_path / "run.parts" / "manifest.json").read_text())
    assert manifest["config"]["settings"]["e_p"] == 0.5 and manifest["config"]["inputs"][0]["sha256"]
    again = _report(out, sample_human, sample_synthetic, *fake)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "pass --resume" in again.stderr
    other = _report(out, sample_human, sample_synthetic, *fake, "--resume", "--seed", "3")
    assert other.returncode == 2 and "settings.seed: 0 -> 3" in other.stderr, other.stderr
    fresh = _report(out, sample_human, sample_synthetic, *fake, "--overwrite")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert (out / "metrics.json").exists() and not (tmp_path / "run.parts").exists()


def test_a_user_mistake_leaves_no_work_folder(tmp_path, sample_human, sample_synthetic):
    """An error in the command or input (exit 2) is not an interruption: no OUTPUT.parts to trip on."""
    out = tmp_path / "run"
    bad = _report(
        out, sample_human, sample_synthetic, "--model", "fake", "--select", "dsir", "--select-n", "99"
    )
    assert bad.returncode == 2 and "select_n must be" in bad.stderr
    assert not (tmp_path / "run.parts").exists() and not out.exists()
    ok = _report(out, sample_human, sample_synthetic, "--model", "fake")
    assert ok.returncode == 0, ok.stderr[-2000:]
