"""Never touch what the tool did not write (issue 26): one test or more per numbered defect.

1 output folders that hold inputs / foreign folders under --overwrite; 2 ``-o .``/``..``;
3 FIFOs, devices, unbounded lines, Ray resources; 4 ``report --resume`` with the fake model
and two concurrent resumes; 5 output + manifest together, ENOSPC names the file; 6 strict JSON
out; 7 a killed report resumes identically, "interrupted" names --resume, a resume with other
settings is refused before the model loads; 8 ``-o`` naming a device.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toedit_stats import read_corpus
from toedit_stats._io import MARKER, check_output_location
from toedit_stats.cli import main
from toedit_stats.editing import EditConfig, run_edit_job
from toedit_stats.errors import ConfigError, InputError

PY = [sys.executable, "-m", "toedit_stats.cli"]
FAST = ("--model", "fake", "--quiet", "--analyzers", "lengths", "--bootstrap", "0", "--no-scores")


def _cli(*args, env=None, **kw):
    return subprocess.run(
        [*PY, *map(str, args)], capture_output=True, text=True, env={**os.environ, **(env or {})}, **kw
    )


def _one_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def pair(tmp_path, sample_human, sample_synthetic):
    """Small human and synthetic corpora (12 documents each) in ``tmp_path/in``."""
    d = tmp_path / "in"
    d.mkdir()
    for src, name in ((sample_human, "h.jsonl"), (sample_synthetic, "s.jsonl")):
        (d / name).write_text(
            "".join(src.read_text(encoding="utf-8").splitlines(True)[:12]), encoding="utf-8"
        )
    return d / "h.jsonl", d / "s.jsonl"


# ---------------------------------------------------------------------------------------------
# 1: --overwrite never deletes inputs or folders the tool did not write


def test_report_into_the_folder_of_its_inputs_is_refused(tmp_path, pair):
    h, s = pair
    d = h.parent
    (d / "notes.txt").write_text("keep")
    before = _snapshot(d)
    for extra in ([], ["--overwrite"], ["--resume"]):
        line = _one_line(_cli("report", h, s, "-o", d, *FAST, *extra))
        assert "holds the input" in line
    assert _snapshot(d) == before


def test_sweep_into_a_parent_of_its_inputs_is_refused(tmp_path, pair):
    h, s = pair
    before = _snapshot(tmp_path)
    line = _one_line(_cli("sweep", h, s, "-o", tmp_path, "--model", "fake", "--grid", "p=0.5", "--overwrite"))
    assert "holds the input" in line
    assert _snapshot(tmp_path) == before


def test_overwrite_replaces_only_a_folder_the_tool_wrote(tmp_path, pair):
    h, s = pair
    foreign = tmp_path / "data"
    foreign.mkdir()
    (foreign / "corpus.jsonl").write_text('{"text": "mine"}\n')
    line = _one_line(_cli("report", h, s, "-o", foreign, *FAST, "--overwrite"))
    assert "not written by toedit-stats" in line and MARKER in line
    assert (foreign / "corpus.jsonl").read_text() == '{"text": "mine"}\n'

    out = tmp_path / "rep"
    assert _cli("report", h, s, "-o", out, *FAST).returncode == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["tool"] == "toedit-stats" and "metrics.json" in marker["files"]
    (out / "my-notes.txt").write_text("mine")  # a user's file dropped into a report folder
    line = _one_line(_cli("report", h, s, "-o", out, *FAST, "--overwrite"))
    assert "did not write (my-notes.txt)" in line
    assert (out / "my-notes.txt").read_text() == "mine"
    (out / "my-notes.txt").unlink()
    assert _cli("report", h, s, "-o", out, *FAST, "--overwrite").returncode == 0  # ours: replaced
    assert not list(tmp_path.glob(".rep.*"))


def test_analyzer_output_keeps_foreign_files_and_never_replaces_them(tmp_path, sample_human):
    out = tmp_path / "ng"
    out.mkdir()
    (out / "lengths.json").write_text("theirs")  # a file with the name the analyzer writes
    line = _one_line(_cli("lengths", sample_human, "-o", out, "--limit", "5", "--overwrite"))
    assert "not written by toedit-stats" in line
    assert (out / "lengths.json").read_text() == "theirs"


_WHERE = st.sampled_from(["out", "out/sub", "parent", "elsewhere"])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    inputs_at=st.tuples(_WHERE, _WHERE),
    existing=st.lists(
        st.sampled_from(["out/a.txt", "out/sub/b.txt", "out/metrics.json", "c.txt"]), max_size=3
    ),
    marked=st.booleans(),
    output=st.sampled_from(["out", "out/sub", ".", "new"]),
    overwrite=st.booleans(),
)
def test_no_pre_existing_file_is_ever_removed_or_changed(
    tmp_path_factory, sample_human, sample_synthetic, inputs_at, existing, marked, output, overwrite
):
    root = tmp_path_factory.mktemp("layout")
    base = root / "parent"
    (base / "elsewhere").mkdir(parents=True)
    paths = []
    for src, where in zip((sample_human, sample_synthetic), inputs_at):
        folder = base / where if where != "parent" else base
        folder.mkdir(parents=True, exist_ok=True)
        p = folder / f"{len(paths)}-{src.name}"
        p.write_text("".join(src.read_text(encoding="utf-8").splitlines(True)[:6]), encoding="utf-8")
        paths.append(p)
    for rel in existing:
        f = base / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(rel)
    if marked and (base / "out").is_dir():
        (base / "out" / MARKER).write_text(json.dumps({"tool": "toedit-stats", "files": ["metrics.json"]}))
    before = _snapshot(base)
    old = Path.cwd()
    os.chdir(base)
    try:
        args = ["report", *map(str, paths), "-o", output, *FAST, "--no-edit"]
        result = CliRunner().invoke(main, args + (["--overwrite"] if overwrite else []))
    finally:
        os.chdir(old)
    after = _snapshot(base)
    ours = set(json.loads((base / output / MARKER).read_text())["files"]) if result.exit_code == 0 else set()
    prefix = "" if output == "." else output + "/"
    for rel, digest in before.items():
        if rel.startswith(prefix) and rel[len(prefix) :] in ours | {MARKER}:
            continue  # a file the tool wrote before (the marker lists it): replaceable
        assert after.get(rel) == digest, (rel, result.output)
    assert result.exit_code in (0, 2), result.output


# ---------------------------------------------------------------------------------------------
# 2: -o . and -o .. are clean errors, with no orphan folder


@pytest.mark.parametrize("output", [".", ".."])
def test_output_the_current_folder_or_above_is_one_clean_line(tmp_path, pair, output):
    h, s = pair
    work = tmp_path / "w"
    work.mkdir()
    line = _one_line(_cli("report", h, s, "-o", output, *FAST, "--overwrite", cwd=work))
    assert "current folder" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "w"]
    assert list(work.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# 3: special files, unbounded lines, Ray resources


def test_fifo_input_is_refused_at_once(tmp_path):
    fifo = tmp_path / "p.jsonl"
    os.mkfifo(fifo)
    for cmd in (["info"], ["lengths"], ["ngrams"]):
        line = _one_line(_cli(*cmd, fifo, timeout=60))
        assert "named pipe" in line and str(fifo) in line
    with pytest.raises(InputError, match="named pipe"):
        read_corpus(fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_device_input_is_refused_at_once():
    line = _one_line(_cli("info", "/dev/zero", "--format", "jsonl", timeout=60))
    assert "character device" in line


def test_a_record_over_the_cap_is_a_bad_record_not_unbounded_memory(tmp_path):
    import gzip

    import zstandard

    body = '{"text": "' + "a" * 5000 + '"}\n{"text": "ok"}\n{"text": "' + "b" * 3000
    for name, data in (
        ("x.jsonl", body.encode()),
        ("x.jsonl.gz", gzip.compress(body.encode())),
        ("x.jsonl.zst", zstandard.ZstdCompressor().compress(body.encode())),
    ):
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(InputError, match=rf"{name}:1: record of 5,01\d bytes is longer than"):
            list(read_corpus(f, max_record_bytes=1000))
        c = read_corpus(f, max_record_bytes=1000, skip_bad=True, max_bad_fraction=1.0)
        assert [d.text for d in c] == ["ok"] and c.stats.skipped_bad == 2
        assert [d.text for d in read_corpus(f, skip_bad=True, max_bad_fraction=1.0)][:2] == ["a" * 5000, "ok"]
    line = _one_line(_cli("info", tmp_path / "x.jsonl", "--max-record-bytes", "1000"))
    assert "x.jsonl:1:" in line and "--max-record-bytes" in line
    big = tmp_path / "doc.txt"
    big.write_text("w " * 1000)
    with pytest.raises(InputError, match=r"doc\.txt:1: record of 2,000 bytes"):
        list(read_corpus(big, max_record_bytes=100))


def test_ray_gpus_on_a_cluster_without_gpus_is_one_line(tmp_path, sample_synthetic):
    pytest.importorskip("ray")
    line = _one_line(
        _cli(
            "edit",
            sample_synthetic,
            "-o",
            tmp_path / "o.jsonl",
            "--model",
            "fake",
            "--limit",
            "4",
            "--engine",
            "ray",
            "--ray-gpus",
            "1",
            timeout=300,
        )
    )
    assert "GPUs" in line and "has" in line and "0 GPUs" in line
    assert not (tmp_path / "o.jsonl").exists()


# ---------------------------------------------------------------------------------------------
# 4: report --resume with the fake model; two resumes of one folder


def test_report_resume_with_the_fake_model(tmp_path, pair):
    h, s = pair
    out = tmp_path / "r"
    env = {"TOEDIT_STATS_CRASH_AT": "report-analyzer"}
    assert _cli("report", h, s, "-o", out, *FAST, env=env).returncode == -signal.SIGKILL
    assert (tmp_path / "r.parts" / "scores").is_dir()
    proc = _cli("report", h, s, "-o", out, *FAST, "--resume")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "metrics.json").read_text())["provenance"]["caches"]["scores"]["hits"] > 0


def test_two_concurrent_resumes_one_runs_the_other_refuses(tmp_path, pair):
    h, s = pair
    out = tmp_path / "r"
    env = {"TOEDIT_STATS_CRASH_AT": "report-analyzer"}
    assert _cli("report", h, s, "-o", out, *FAST, env=env).returncode == -signal.SIGKILL
    slow = {"TOEDIT_STATS_SLOW_AT": "report-analyzer", "TOEDIT_STATS_SLOW_SECONDS": "5"}  # holds its lock
    first = subprocess.Popen(
        [*PY, "report", str(h), str(s), "-o", str(out), *FAST, "--resume"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **slow},
    )
    time.sleep(1.5)
    second = _cli("report", h, s, "-o", out, *FAST, "--resume")
    assert first.wait(timeout=120) == 0, first.stderr.read()[-2000:]
    assert "in use by another toedit-stats run" in _one_line(second)
    assert (out / "metrics.json").is_file() and not (tmp_path / "r.parts").exists()


# ---------------------------------------------------------------------------------------------
# 5: the selection and its manifest appear together; ENOSPC names the file


def test_select_output_and_manifest_appear_together(tmp_path, sample_human, sample_synthetic, monkeypatch):
    import toedit_stats.corpus as corpus_mod

    out = tmp_path / "sel.jsonl"
    real = corpus_mod.write_records

    def full_disk(records, path, fmt=None):
        real(records, path, fmt=fmt)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(corpus_mod, "write_records", full_disk)
    args = ["select", str(sample_synthetic), "--reference", str(sample_human), "--n", "5", "-o", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "No space left" in r.output and "sel.jsonl" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the output nor its manifest
    monkeypatch.setattr(corpus_mod, "write_records", real)
    r = CliRunner().invoke(main, args)  # the rerun is not refused: nothing was there
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "sel.jsonl.manifest.json").read_text())
    assert manifest["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_select_rerun_after_a_kill_between_manifest_and_output(tmp_path, sample_human, sample_synthetic):
    out = tmp_path / "sel.jsonl"
    (tmp_path / "sel.jsonl.manifest.json").write_text("{}")  # what a kill before the rename leaves
    r = CliRunner().invoke(
        main, ["select", str(sample_synthetic), "--reference", str(sample_human), "--n", "5", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output and out.is_file()


def test_enospc_while_writing_names_the_file(tmp_path, monkeypatch):
    from toedit_stats._io import atomic_write_text

    target = tmp_path / "x.json"

    def boom(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as info:
        import builtins

        monkeypatch.setattr(builtins, "open", boom)
        atomic_write_text(target, "x")
    monkeypatch.undo()
    assert info.value.filename == str(target) and info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# 6: every JSON line written is strict JSON


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_metadata_is_written_as_null_and_counted(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text(
        '{"id": "a", "text": "one two three four", "score": NaN, "x": {"y": [Infinity, 1.5]}}\n'
        '{"id": "b", "text": "five six seven", "score": -Infinity}\n'
    )
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(main, ["edit", str(inp), "-o", str(out), "--model", "fake", "--quiet"])
    assert r.exit_code == 0, r.output
    rows = [_strict(line) for line in out.read_text().splitlines()]
    assert rows[0]["score"] is None and rows[0]["x"] == {"y": [None, 1.5]} and rows[1]["score"] is None
    manifest = _strict((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["input"]["nonfinite_null"] == 3
    c = read_corpus(inp)
    assert [d.metadata["score"] for d in c] == [None, None] and c.stats.nonfinite_null == 3


# ---------------------------------------------------------------------------------------------
# 7: a killed report resumes to the same result; interrupted says --resume


def _comparable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("timings", "provenance")}


@pytest.fixture()
def pair40(tmp_path, essays_records):
    """60 student and 60 ChatGPT-4 essays: two edit buffers of the report's editing pass."""
    d = tmp_path / "in40"
    d.mkdir()
    for src, name in (("student", "h.jsonl"), ("chatgpt-4", "s.jsonl")):
        recs = [r for r in essays_records if r["source"] == src][:60]
        (d / name).write_text("".join(json.dumps(r) + "\n" for r in recs))
    return d / "h.jsonl", d / "s.jsonl"


@pytest.mark.parametrize(
    "trials", [2, pytest.param(10, marks=pytest.mark.slow)], ids=["2-trials", "10-trials"]
)
def test_killed_report_resumes_identically_at_random_moments(tmp_path, pair40, trials):
    h, s = pair40
    args = ("--model", "fake", "--quiet", "--analyzers", "lengths,ngrams", "--bootstrap", "50", "--no-scores")
    ref = tmp_path / "ref"
    assert _cli("report", h, s, "-o", ref, *args).returncode == 0
    want_metrics = _comparable(json.loads((ref / "metrics.json").read_text()))
    want_edited = (ref / "edited.jsonl").read_bytes()
    rng = random.Random(26 + trials)
    for trial in range(trials):
        out = tmp_path / f"r{trial}"
        at = f"report-edit-document:{rng.randint(1, 60)}"
        killed = _cli("report", h, s, "-o", out, *args, env={"TOEDIT_STATS_CRASH_AT": at})
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-1000:]
        assert not out.exists() and (tmp_path / f"r{trial}.parts" / "scores").is_dir()
        resumed = _cli("report", h, s, "-o", out, *args, "--resume")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert _comparable(json.loads((out / "metrics.json").read_text())) == want_metrics, at
        assert (out / "edited.jsonl").read_bytes() == want_edited, at
        assert not (tmp_path / f"r{trial}.parts").exists()


@pytest.mark.model
@pytest.mark.slow
def test_killed_real_model_report_resumes_identically(tmp_path, pair, lm):
    h, s = pair
    args = ("--quiet", "--analyzers", "lengths,tokens", "--bootstrap", "50", "--no-scores")
    ref = tmp_path / "ref"
    assert _cli("report", h, s, "-o", ref, *args).returncode == 0
    want = _comparable(json.loads((ref / "metrics.json").read_text()))
    for trial, at in enumerate(("report-edit-document:3", "report-edit-document:11")):
        out = tmp_path / f"r{trial}"
        assert _cli("report", h, s, "-o", out, *args, env={"TOEDIT_STATS_CRASH_AT": at}).returncode < 0
        assert _cli("report", h, s, "-o", out, *args, "--resume").returncode == 0
        got = _comparable(json.loads((out / "metrics.json").read_text()))
        assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
        assert (out / "edited.jsonl").read_bytes() == (ref / "edited.jsonl").read_bytes()


def test_interrupted_report_says_how_to_resume(tmp_path, pair):
    h, s = pair
    out = tmp_path / "r"
    env = {"TOEDIT_STATS_CRASH_AT": "report-edit-document:3", "TOEDIT_STATS_CRASH_SIGNAL": "INT"}
    proc = _cli("report", h, s, "-o", out, *FAST, env=env)
    assert proc.returncode == 130
    assert "interrupted" in proc.stderr and "--resume" in proc.stderr and "r.parts" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigterm_ends_a_report_like_ctrl_c(tmp_path, pair40):
    h, s = pair40
    out = tmp_path / "r"
    env = {**os.environ, "TOEDIT_STATS_SLOW_AT": "report-edit-document"}
    p = subprocess.Popen(
        [*PY, "report", str(h), str(s), "-o", str(out), *FAST], stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(4)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 130
    err = p.stderr.read()
    assert "--resume" in err and "Traceback" not in err
    assert (tmp_path / "r.parts" / "scores").is_dir() and not list(tmp_path.glob(".r.*"))


def test_edit_resume_with_other_settings_is_refused_before_the_model_loads(tmp_path, sample_synthetic):
    from toedit_stats.lm.fake import FakeLM

    out = tmp_path / "o.jsonl"
    corpus = read_corpus(sample_synthetic, limit=6)
    env_kill = {"TOEDIT_STATS_CRASH_AT": "chunk-written:2"}
    proc = _cli(
        "edit",
        sample_synthetic,
        "-o",
        out,
        "--model",
        "fake",
        "--limit",
        "6",
        "--chunk-docs",
        "2",
        env=env_kill,
    )
    assert proc.returncode == -signal.SIGKILL

    class Unloadable(FakeLM):
        def info(self):
            raise AssertionError("the model was loaded")

        @property
        def vocab_size(self):
            raise AssertionError("the model was loaded")

    with pytest.raises(ConfigError, match=r"edit\.p: 0\.99 -> 0\.5"):
        run_edit_job(corpus, out, model=Unloadable(), config=EditConfig(p=0.5), resume=True, chunk_docs=2)


# ---------------------------------------------------------------------------------------------
# 8: -o naming a device is refused


def test_output_naming_a_device_is_refused(tmp_path, sample_synthetic):
    dev = tmp_path / "dev.jsonl"
    dev.symlink_to("/dev/null")
    line = _one_line(
        _cli("edit", sample_synthetic, "-o", dev, "--model", "fake", "--limit", "2", "--overwrite")
    )
    assert "not a regular file" in line
    assert dev.is_symlink() and os.readlink(dev) == "/dev/null"
    with pytest.raises(ConfigError, match="not a regular file"):
        check_output_location(dev, overwrite=True)
