"""Nothing lost, nothing overwritten: resume under kills, output writers, output locations,
hostile names and content, model-loading refusals (one test or more per defect of issue 17)."""

from __future__ import annotations

import csv
import errno
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from toedit_stats import compare, read_corpus, write_records
from toedit_stats.cli import main
from toedit_stats.editing import EditConfig, run_edit_job
from toedit_stats.errors import ConfigError
from toedit_stats.lm.fake import FakeLM

PY = [sys.executable, "-m", "toedit_stats.cli"]


def _cli(*args, env=None, **kw):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*PY, *map(str, args)], capture_output=True, text=True, env=full_env, **kw)


def _one_clean_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[0].startswith("error: ")
    return lines[0]


def _leftovers(folder: Path, out: Path) -> list[str]:
    """Parts folders, trash folders and temp files an edit of ``out`` could leave."""
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith(f".{out.name}") or p.name == f"{out.name}.parts"
    )


# ---------------------------------------------------------------------------------------------
# 1 and 5: resume, killed at every phase boundary

PHASES = [
    "chunk-written:1",
    "chunk-written:2",
    "manifest-updated:1",
    "manifest-updated:3",
    "output-writing",
    "output-written",
    "final-manifest-written",
    "parts-renamed",
    "parts-removing",
]


def _edit_args(inp: Path, out: Path, model: str, *extra: str) -> list[str]:
    args = ["edit", inp, "-o", out, "--model", model, "--chunk-docs", "2", "--quiet", "--p", "0.9", *extra]
    return [str(a) for a in args]


def _kill_and_resume(tmp_path: Path, inp: Path, model: str, phases: list[str]) -> dict[str, str]:
    reference = tmp_path / "reference.jsonl"
    proc = _cli(*_edit_args(inp, reference, model))
    assert proc.returncode == 0, proc.stderr
    ref_bytes = reference.read_bytes()
    outcomes = {}
    for phase in phases:
        out = tmp_path / f"run-{phase.replace(':', '-')}.jsonl"
        killed = _cli(*_edit_args(inp, out, model), env={"TOEDIT_STATS_CRASH_AT": phase})
        assert killed.returncode == -9, (phase, killed.returncode, killed.stderr[-1500:])
        resumed = _cli(*_edit_args(inp, out, model, "--resume"))
        assert resumed.returncode == 0, (phase, resumed.stderr[-1500:])
        assert out.read_bytes() == ref_bytes, phase
        manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
        assert manifest["complete"] and manifest["totals"]["documents"] == len(ref_bytes.splitlines())
        assert _leftovers(tmp_path, out) == [], (phase, _leftovers(tmp_path, out))
        outcomes[phase] = "identical"
    return outcomes


@pytest.fixture()
def small_input(tmp_path, sample_synthetic) -> Path:
    """7 documents (so the last chunk is short), one of them empty."""
    recs = [json.loads(x) for x in sample_synthetic.read_text().splitlines()[:6]]
    recs.insert(3, {"id": "empty-one", "text": "", "label": "synthetic"})
    path = tmp_path / "in" / "small.jsonl"
    path.parent.mkdir()
    write_records(recs, path)
    return path


def test_kill_at_every_phase_then_resume_is_identical_fake(tmp_path, small_input):
    outcomes = _kill_and_resume(tmp_path, small_input, "fake", PHASES)
    assert set(outcomes.values()) == {"identical"} and len(outcomes) == len(PHASES)


@pytest.mark.model
@pytest.mark.slow
def test_kill_at_phase_boundaries_then_resume_is_identical_real_model(tmp_path, lm):
    recs = [
        {"id": f"d{i}", "text": t}
        for i, t in enumerate(
            [
                "In conclusion, it is important to recognize that technology has changed education.",
                "Furthermore, students may benefit from a competitive environment in many ways.",
                "",
                "The early 1970s saw a rise in cultural differences and discrimination in schools.",
                "Overall, the benefits of online learning outweigh its drawbacks for most students.",
            ]
        )
    ]
    inp = tmp_path / "in.jsonl"
    write_records(recs, inp)
    phases = ["chunk-written:1", "manifest-updated:2", "output-writing", "parts-removing"]
    outcomes = _kill_and_resume(tmp_path, inp, "smollm2-135m", phases)
    assert len(outcomes) == len(phases)


def test_deleted_and_corrupted_chunks_are_redone(tmp_path, sample_synthetic):
    """The issue's deterministic form: kill after chunk 1 exists, delete chunk 0, resume."""
    ref = tmp_path / "ref.jsonl"
    args = ["--chunk-docs", "5", "--limit", "20"]
    assert _cli(*_edit_args(sample_synthetic, ref, "fake", *args)).returncode == 0
    out = tmp_path / "o.jsonl"
    env = {"TOEDIT_STATS_CRASH_AT": "manifest-updated:3"}
    assert _cli(*_edit_args(sample_synthetic, out, "fake", *args), env=env).returncode == -9
    parts = tmp_path / "o.jsonl.parts"
    assert (parts / "chunk-00001.jsonl").is_file()
    (parts / "chunk-00000.jsonl").unlink()
    with open(parts / "chunk-00002.jsonl", "a") as fh:  # a chunk changed by hand
        fh.write('{"id": "intruder", "text": "x"}\n')
    (parts / ".chunk-00003.jsonl.abcd1234.tmp").write_text("half a chunk")
    proc = _cli(*_edit_args(sample_synthetic, out, "fake", *args, "--resume"))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == ref.read_bytes()
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 20
    assert _leftovers(tmp_path, out) == []


def test_resume_of_a_finished_job_only_cleans_up(tmp_path, small_input):
    out = tmp_path / "o.jsonl"
    assert _cli(*_edit_args(small_input, out, "fake")).returncode == 0
    stale = tmp_path / ".o.jsonl.zzzz9999.tmp"
    stale.write_bytes(b"x" * 1000)  # a full-size temp file a killed final write left
    before = out.read_bytes()
    assert _cli(*_edit_args(small_input, out, "fake", "--resume")).returncode == 0
    assert out.read_bytes() == before and not stale.exists()


def test_stale_temp_after_kill_in_final_write_is_removed(tmp_path, small_input):
    out = tmp_path / "o.jsonl"
    env = {"TOEDIT_STATS_CRASH_AT": "output-writing"}
    assert _cli(*_edit_args(small_input, out, "fake"), env=env).returncode == -9
    temps = [p for p in tmp_path.iterdir() if p.name.startswith(".o.jsonl.") and p.name.endswith(".tmp")]
    assert temps and not out.exists()  # the kill left a half-written temp file
    assert _cli(*_edit_args(small_input, out, "fake", "--resume")).returncode == 0
    assert _leftovers(tmp_path, out) == []


# ---------------------------------------------------------------------------------------------
# 2: columnar output keeps every field

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_value = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_record = st.dictionaries(st.sampled_from(["a", "b", "c", "meta", "n"]), _value, max_size=4)


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


@settings(max_examples=60)
@given(st.lists(_record, min_size=1, max_size=6))
def test_every_format_keeps_every_field(tmp_path_factory, recs):
    folder = tmp_path_factory.mktemp("w")
    rows = [{"id": f"r{i}", "text": f"doc {i}", **r} for i, r in enumerate(recs)]
    fields = {k for r in rows for k in r}
    for name in ("o.jsonl", "o.jsonl.gz", "o.jsonl.zst", "o.parquet"):
        write_records(rows, folder / name)
        back = list(read_corpus(folder / name))
        assert len(back) == len(rows)
        for doc, row in zip(back, rows):
            got = {"text": doc.text, **doc.metadata}
            if name.endswith(".parquet"):  # Parquet has no "absent": a missing field reads back null
                assert set(got) == fields
                row = {k: row.get(k) for k in fields}
            assert _same(got, row), (name, got, row)


def test_edit_to_parquet_keeps_heterogeneous_fields(tmp_path):
    recs = [
        {"id": "a", "text": "one two three", "score": 1},
        {"id": "b", "text": "four five six", "score": "high", "extra": {"k": [1, 2]}},
        {"id": "c", "text": "seven eight", "late": True},
    ]
    inp = tmp_path / "in.jsonl"
    write_records(recs, inp)
    run_edit_job(read_corpus(inp), tmp_path / "o.parquet", model=FakeLM(), config=EditConfig(p=1.01))
    back = {d.id: d for d in read_corpus(tmp_path / "o.parquet")}
    assert back["a"].metadata["score"] == 1 and back["b"].metadata["score"] == "high"
    assert back["b"].metadata["extra"] == {"k": [1, 2]} and back["c"].metadata["late"] is True
    assert back["a"].metadata["late"] is None and "toedit" in back["c"].metadata


# ---------------------------------------------------------------------------------------------
# 3: the input is never an output


@pytest.mark.parametrize("extra", [[], ["--resume"], ["--overwrite"]])
def test_output_equal_to_input_is_refused(tmp_path, small_input, extra):
    before = small_input.read_bytes()
    mode = small_input.stat().st_mode
    proc = _cli(*_edit_args(small_input, small_input, "fake", *extra))
    line = _one_clean_line(proc)
    assert "overwrite the input" in line
    assert small_input.read_bytes() == before and small_input.stat().st_mode == mode
    inside = _cli(*_edit_args(small_input.parent, small_input.parent / "o.jsonl", "fake"))
    assert "overwrite the input" in _one_clean_line(inside)
    assert sorted(p.name for p in small_input.parent.iterdir()) == ["small.jsonl"]


# ---------------------------------------------------------------------------------------------
# 4 and 7: output locations, permissions


def _commands_writing(out_file: Path, out_dir: Path, sample_human, sample_synthetic):
    return {
        "edit": ["edit", sample_synthetic, "-o", out_file, "--model", "fake", "--limit", "3"],
        "ngrams": ["ngrams", sample_human, sample_synthetic, "-o", out_dir, "--limit", "3"],
        "tokens": ["tokens", sample_human, "-o", out_dir, "--model", "fake", "--limit", "3"],
        "report": ["report", sample_human, sample_synthetic, "-o", out_dir, "--model", "fake", "--quiet"],
    }


def test_output_below_a_file_is_one_clean_line(tmp_path, sample_human, sample_synthetic):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    cmds = _commands_writing(blocker / "sub" / "o.jsonl", blocker / "sub", sample_human, sample_synthetic)
    for name, args in cmds.items():
        t0 = time.perf_counter()
        line = _one_clean_line(_cli(*args))
        assert "afile" in line and "is a file" in line, (name, line)
        assert time.perf_counter() - t0 < 30  # refused before the work, not after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_one_clean_line(tmp_path, sample_human, sample_synthetic):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        cmds = _commands_writing(ro / "o.jsonl", ro / "out", sample_human, sample_synthetic)
        for args in cmds.values():
            assert "cannot write to" in _one_clean_line(_cli(*args))
    finally:
        ro.chmod(0o755)


def test_full_disk_is_refused_before_work_and_mid_write(tmp_path, small_input, monkeypatch):
    import shutil

    from toedit_stats import _io

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=10))
    res = CliRunner().invoke(main, _edit_args(small_input, tmp_path / "o.jsonl", "fake"))
    assert res.exit_code == 2 and "not enough free space" in res.output
    monkeypatch.undo()

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(_io.tempfile, "mkstemp", read_only)
    res = CliRunner().invoke(main, _edit_args(small_input, tmp_path / "o.jsonl", "fake"))
    assert res.exit_code == 2 and "cannot write to" in res.output and "Read-only file system" in res.output
    monkeypatch.undo()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "o.jsonl"))

    monkeypatch.setattr(_io, "atomic_write_bytes", full)
    monkeypatch.setattr("toedit_stats.editing.job.atomic_write_bytes", full)
    res = CliRunner().invoke(main, _edit_args(small_input, tmp_path / "o.jsonl", "fake"))
    assert res.exit_code == 2 and "No space left on device" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_outputs_get_normal_permissions(tmp_path, small_input, sample_human):
    old = os.umask(0o022)
    try:
        out = tmp_path / "o.jsonl"
        assert _cli(*_edit_args(small_input, out, "fake")).returncode == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        assert stat.S_IMODE(out.with_name("o.jsonl.manifest.json").stat().st_mode) == 0o644
        folder = tmp_path / "ng"
        assert _cli("ngrams", sample_human, "-o", folder, "--limit", "5").returncode == 0
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
        assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o644}
    finally:
        os.umask(old)


def test_result_folders_refuse_non_empty_without_overwrite(tmp_path, sample_human):
    folder = tmp_path / "ng"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    line = _one_clean_line(_cli("ngrams", sample_human, "-o", folder, "--limit", "5"))
    assert "not empty" in line and "--overwrite" in line
    proc = _cli("ngrams", sample_human, "-o", folder, "--limit", "5", "--overwrite")
    assert proc.returncode == 0 and (folder / "ngrams.json").is_file() and (folder / "mine.txt").is_file()


# ---------------------------------------------------------------------------------------------
# 6: every record that goes in comes out or is counted


def test_empty_texts_pass_through_and_bad_records_are_counted(tmp_path, sample_synthetic):
    recs = [json.loads(x) for x in sample_synthetic.read_text().splitlines()[:6]]
    recs[1]["text"] = ""
    recs[4]["text"] = ""
    inp = tmp_path / "in.jsonl"
    write_records(recs, inp)
    with open(inp, "a") as fh:
        fh.write("{not json\n")
    out = tmp_path / "o.jsonl"
    proc = _cli(*_edit_args(inp, out, "fake", "--skip-bad", "--max-bad-fraction", "0.5"))
    assert proc.returncode == 0, proc.stderr
    back = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in back] == [r["id"] for r in recs]
    assert back[1]["text"] == "" and back[1]["toedit"]["tokens"] == 0
    # --quiet: no summary, but dropped input is never silent
    assert proc.stderr.strip() == "warning: skipped 1 bad records (see the manifest)"
    totals = json.loads(out.with_name("o.jsonl.manifest.json").read_text())["totals"]
    assert totals["documents"] == 6 and totals["empty_passed_through"] == 2 and totals["skipped_bad"] == 1
    manifest = json.loads((tmp_path / "o.jsonl.manifest.json").read_text())
    assert manifest["totals"]["skipped_bad"] == 1 and manifest["input"]["skipped_bad"] == 1
    assert "in.jsonl:7" in manifest["input"]["bad_examples"][0]


# ---------------------------------------------------------------------------------------------
# 8 and 9: hostile names and content in plots, terminals, HTML and CSV

HOSTILE = ["$\\frac{$", "a\x1b[2Jb", "r\u202eevil", '=HYPERLINK("http://x")', "@SUM(1)", "+1", "-x"]


def test_hostile_names_and_content_everywhere(tmp_path):
    docs = lambda tag: [  # noqa: E731
        {
            "id": f"{HOSTILE[i % len(HOSTILE)]}{tag}{i}",
            "text": f"{tag} {HOSTILE[i % len(HOSTILE)]} words $x$ {i}",
        }
        for i in range(12)
    ]
    h, s = tmp_path / "h.jsonl", tmp_path / "s.jsonl"
    write_records(docs("human"), h)
    write_records(docs("synthetic"), s)
    report = compare(
        h,
        s,
        names=("$\\alpha^{$", "x\x1b]0;title\x07y", "e\u202ed"),
        lm="fake",
        embedder="tfidf",
        mauve_seeds=1,
        permutations=20,
        editor=EditConfig(p=0.5, k=4),
    )
    out = report.save(tmp_path / "rep")  # mathtext would fail here, at draw time
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "\x1b" not in html and "\u202e" not in html and "\x07" not in html
    assert "\\x1b" in html and "\\u202e" in html
    for table in (out / "tables").glob("*.csv"):
        with open(table, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    if cell.startswith(("=", "+", "-", "@")):
                        float(cell)  # only numbers may start so


def test_terminal_output_escapes_control_characters(tmp_path, sample_human):
    name = tmp_path / "bad\x1b[2Jname\u202e.jsonl"
    name.write_text('{"t\x1b]0;x\x07": "hello"}\n')
    line = _one_clean_line(_cli("info", name))
    assert "\x1b" not in line and "\u202e" not in line and "\x07" not in line
    assert "\\x1b[2J" in line and "\\u202e" in line
    proc = _cli("info", sample_human, "--names", "n\x1b[31mred\u202e")
    assert proc.returncode == 0 and "\x1b" not in proc.stdout and "\\x1b[31m" in proc.stdout
    js = _cli("info", sample_human, "--names", "n\x9b2J\u202e", "--json")
    assert "\u202e" not in js.stdout and "\x9b" not in js.stdout
    assert json.loads(js.stdout)["corpora"][0]["name"] == "n\x9b2J\u202e"  # the same JSON value


# ---------------------------------------------------------------------------------------------
# 10: model loading


def test_unknown_model_fails_fast_naming_what_was_tried(tmp_path, sample_human):
    pytest.importorskip("transformers")
    t0 = time.perf_counter()
    line = _one_clean_line(
        _cli("tokens", sample_human, "--model", "no-such-org/no-such-model", "--limit", "2", cwd=tmp_path)
    )
    assert time.perf_counter() - t0 < 30
    assert "not an embedded name" in line and "not a local path" in line and "Hugging Face cache" in line


@pytest.mark.model
def test_pickle_weights_refused_unless_allowed(tmp_path, sample_human, lm):
    torch = pytest.importorskip("torch")
    import transformers

    folder = tmp_path / "tiny"
    cfg = transformers.LlamaConfig(
        vocab_size=lm.tokenizer.vocab_size + len(lm.tokenizer.get_added_vocab()),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg)
    model.save_pretrained(folder)
    (folder / "model.safetensors").unlink()  # keep the weights as a pickle only
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    lm.tokenizer.save_pretrained(folder)
    assert (folder / "pytorch_model.bin").is_file()
    base = ["tokens", sample_human, "--model", folder, "--limit", "2", "--json"]
    line = _one_clean_line(_cli(*base))
    assert "pickle" in line and "--allow-pickle-weights" in line
    ok = _cli(*base, "--allow-pickle-weights")
    assert ok.returncode == 0, ok.stderr[-2000:]

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    torch.save({"model.embed_tokens.weight": Evil()}, folder / "pytorch_model.bin")
    line = _one_clean_line(_cli(*base, "--allow-pickle-weights"))
    assert "refused" in line or "pickle" in line
    assert not (tmp_path / "pwned").exists()


def test_python_save_names_the_python_fix(tmp_path):
    from toedit_stats import Report

    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "x").write_text("x")
    with pytest.raises(ConfigError, match="overwrite=True"):
        Report(editor=None).save(tmp_path / "rep")
