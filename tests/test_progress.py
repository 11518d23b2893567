"""Progress in logs: when stderr is not a terminal, plain lines at the set interval."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

from toedit_stats.progress import TokenProgress, bar, log_interval


def test_log_lines_at_the_interval(monkeypatch):
    monkeypatch.setenv("TOEDIT_STATS_PROGRESS_INTERVAL", "0.2")
    assert log_interval() == 0.2
    out = io.StringIO()  # not a terminal
    b = bar(total=1000, desc="scoring", unit="tok", file=out)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.05:
        b.update(1)
        time.sleep(0.01)
    b.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # nothing in the first 0.2 s, then about one line per 0.2 s, and a last one at close
    assert 4 <= len(lines) <= 8, lines
    assert all(line.startswith("scoring") for line in lines)
    assert "tok/s" in lines[-2] and "<" in lines[-2] and "/1000" in lines[-2]  # rate, ETA, total


def test_nested_bars_write_plain_lines(monkeypatch):
    monkeypatch.setenv("TOEDIT_STATS_PROGRESS_INTERVAL", "0.05")
    out = io.StringIO()
    outer = bar(total=2, desc="analyzers", file=out)
    inner = bar(total=100, desc="scoring", file=out)
    for _ in range(10):
        time.sleep(0.02)
        inner.update(10)
    inner.close()
    outer.update(2)
    outer.close()
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()
    assert all(line.startswith(("analyzers", "scoring")) for line in out.getvalue().splitlines())


def test_short_jobs_print_one_line_at_their_end(monkeypatch):
    """A stage shorter than the interval writes one line when it ends (issue 30: "at stage ends"),
    none before; a bar that did nothing writes none."""
    monkeypatch.setenv("TOEDIT_STATS_PROGRESS_INTERVAL", "5")
    out = io.StringIO()
    b = bar(total=10, desc="scoring", file=out)
    b.update(10)
    assert out.getvalue() == ""
    b.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scoring: 100%")
    idle = io.StringIO()
    bar(total=10, desc="idle", file=idle).close()
    assert idle.getvalue() == ""


def test_bad_interval_falls_back(monkeypatch):
    monkeypatch.setenv("TOEDIT_STATS_PROGRESS_INTERVAL", "soon")
    assert log_interval() == 30.0


def test_token_progress_counts_inside_a_document(monkeypatch):
    monkeypatch.setenv("TOEDIT_STATS_PROGRESS_INTERVAL", "0.01")
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    p = TokenProgress(chars_total=4000, documents=1, desc="editing")
    for _ in range(5):  # five forward batches of one long document, before it finishes
        time.sleep(0.02)
        p.on_tokens(100)
    assert p.documents_done == 0 and p.tokens_done == 500
    p.close()
    assert "500/1.00k" in out.getvalue().splitlines()[-1]


def test_cli_writes_progress_lines_to_a_log(tmp_path, sample_synthetic):
    env = {**os.environ, "TOEDIT_STATS_PROGRESS_INTERVAL": "0.05"}
    out = tmp_path / "e.jsonl"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "toedit_stats",
            "edit",
            str(sample_synthetic),
            "-o",
            str(out),
            "--model",
            "fake",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("editing")]
    assert lines and "docs 40/40" in lines[-1]
    # before the pass: what is to score; after the first document: a first estimate of the time
    assert "editing: 40 documents, about" in lines[0] and "tokens" in lines[0]
    assert sum("first estimate" in x and "left at" in x for x in lines) == 1
    assert len(out.read_text().splitlines()) == 40 and json.loads(out.read_text().splitlines()[0])
    quiet = subprocess.run(
        [
            sys.executable,
            "-m",
            "toedit_stats",
            "edit",
            str(sample_synthetic),
            "-o",
            str(tmp_path / "q.jsonl"),
            "--model",
            "fake",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def test_quiet_report_prints_nothing(tmp_path, sample_human, sample_synthetic):
    """A whole report with --quiet, in a subprocess: stdout and stderr empty (faiss, transformers
    and progress output included)."""
    args = [str(sample_human), str(sample_synthetic), "-o", str(tmp_path / "r"), "--model", "fake"]
    args += [
        "--embedder",
        "tfidf",
        "--max-docs",
        "10",
        "--mauve-seeds",
        "1",
        "--permutations",
        "20",
        "--quiet",
    ]
    r = subprocess.run(
        [sys.executable, "-m", "toedit_stats", "report", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TOEDIT_STATS_PROGRESS_INTERVAL": "0.05"},
        timeout=300,
    )
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", (r.stdout, r.stderr)


def test_report_in_a_log_writes_a_few_lines_not_one_per_document(tmp_path, sample_human, sample_synthetic):
    """Issue 30: with stderr a file (not a terminal), the report's bars draw on their interval
    only: a handful of lines, never one per document (the editing bar's per-document postfix used
    to force a line each: 40 for the 40 bundled essays)."""
    env = dict(os.environ, TOEDIT_STATS_PROGRESS_INTERVAL="1")
    cmd = [sys.executable, "-m", "toedit_stats", "report", str(sample_human), str(sample_synthetic)]
    cmd += ["-o", str(tmp_path / "r"), "--model", "fake", "--embedder", "tfidf"]
    with open(tmp_path / "err.log", "w") as err:
        r = subprocess.run(cmd, stderr=err, stdout=subprocess.DEVNULL, env=env, timeout=600)
    assert r.returncode == 0
    lines = (tmp_path / "err.log").read_text().splitlines()
    assert 1 <= len(lines) <= 20, lines
    assert sum("docs " in line for line in lines) <= 5, lines
