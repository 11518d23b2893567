"""Hostile input: generated JSON lines and mutated files through ``read_corpus`` and the CLI.

Every outcome is documents or a :class:`ToeditError` (one clean line and exit 2 on the CLI); no
other exception escapes, nothing is written, the input is unchanged. Fast by default; the
``slow`` variant runs many more examples.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toedit_stats import read_corpus, write_records
from toedit_stats.errors import ToeditError

# text with surrogates, controls, bidi overrides and astral characters
_text = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\u202e", "\ufeff", "\U0001f600", "$"]),
    ),
    max_size=30,
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_record = st.fixed_dictionaries({}, optional={"text": _json, "id": _json, "meta": _json, "label": _text})


def _line(rec, rnd: random.Random) -> bytes:
    raw = json.dumps(rec, ensure_ascii=rnd.random() < 0.5).encode("utf-8", "surrogatepass")
    kind = rnd.random()
    if kind < 0.05:
        return raw[: rnd.randrange(max(1, len(raw)))]  # cut
    if kind < 0.08:
        return b"[" * 3000 + b"]" * 3000  # deep nesting
    if kind < 0.1:
        return bytes([rnd.randrange(256)]) + raw  # stray byte
    return raw


def _consume(path: Path, **kw) -> str:
    try:
        for doc in read_corpus(path, **kw):
            assert isinstance(doc.text, str) and doc.text
            doc.text.encode("utf-8")  # valid Unicode: no lone surrogates get through
        return "ok"
    except ToeditError:
        return "error"


def _fuzz_lines(tmp_path_factory, recs, seed):
    rnd = random.Random(seed)
    folder = tmp_path_factory.mktemp("fz")
    path = folder / "f.jsonl"
    path.write_bytes(b"\n".join(_line(r, rnd) for r in recs) + b"\n")
    before = path.read_bytes()
    outcomes = {
        _consume(path),
        _consume(path, errors="replace"),
        _consume(path, skip_bad=True, max_bad_fraction=1.0, errors="replace"),
    }
    assert path.read_bytes() == before
    return outcomes


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record, min_size=1, max_size=6), st.integers(0, 2**16))
def test_fuzz_json_lines(tmp_path_factory, recs, seed):
    _fuzz_lines(tmp_path_factory, recs, seed)


@pytest.mark.slow
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record, min_size=1, max_size=12), st.integers(0, 2**16))
def test_fuzz_json_lines_many(tmp_path_factory, recs, seed):
    _fuzz_lines(tmp_path_factory, recs, seed)


def _mutations(data: bytes, rnd: random.Random, n: int):
    for _ in range(n):
        m = bytearray(data)
        kind = rnd.random()
        if kind < 0.4:
            yield bytes(m[: rnd.randrange(1, len(m))])  # truncated
        elif kind < 0.8:
            for _ in range(rnd.randint(1, 4)):  # bit flips
                i = rnd.randrange(len(m))
                m[i] ^= 1 << rnd.randrange(8)
            yield bytes(m)
        else:  # a block overwritten with garbage
            i = rnd.randrange(len(m))
            m[i : i + 64] = bytes(rnd.randrange(256) for _ in range(64))
            yield bytes(m)


@pytest.mark.parametrize("suffix", ["jsonl.gz", "jsonl.zst", "parquet"])
def test_mutated_compressed_and_columnar_files(tmp_path, sample_synthetic, suffix):
    recs = [json.loads(x) for x in sample_synthetic.read_text().splitlines()[:8]]
    good = tmp_path / f"good.{suffix}"
    write_records(recs, good)
    data = good.read_bytes()
    rnd = random.Random(suffix)
    outcomes = []
    for k, mutated in enumerate(_mutations(data, rnd, 40)):
        path = tmp_path / f"m{k}.{suffix}"
        path.write_bytes(mutated)
        outcomes.append(_consume(path))
        assert path.read_bytes() == mutated
    assert "error" in outcomes  # the mutations do break files, and that is reported cleanly


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "toedit_stats.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, list[str], str]]:
    """name -> (input file, extra args, expected part of the message)."""
    cases = {}

    def add(name, content: bytes, extra=(), expect="", suffix="jsonl"):
        path = tmp / f"{name}.{suffix}"
        path.write_bytes(content)
        cases[name] = (path, list(extra), expect)

    add("deep-nesting", b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", expect="nested too deeply")
    add("surrogate-in-text", b'{"text": "a \\ud800 b"}\n', expect="lone surrogate")
    add("surrogate-in-id", b'{"id": "x\\udc00", "text": "fine words"}\n', expect="lone surrogate")
    add(
        "truncated-gzip",
        gzip.compress(b'{"text": "hello there"}\n' * 50)[:-9],
        expect="truncated",
        suffix="jsonl.gz",
    )
    add("not-an-object", b"[1, 2, 3]\n", expect="expected a JSON object")
    add("text-not-string", b'{"text": 5}\n', expect="expected a string")
    add("flipped-parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", expect="parquet", suffix="parquet")
    hf = tmp / "hf-corrupt"
    hf.mkdir()
    (hf / "dataset_info.json").write_text('{"x":')
    (hf / "state.json").write_text("{}")
    cases["hf-corrupt-metadata"] = (hf, [], "Hugging Face dataset")
    return cases


_COMMANDS = {
    "info": lambda p, out: ["info", p],
    "ngrams": lambda p, out: ["ngrams", p, "-o", out],
    "tokens": lambda p, out: ["tokens", p, "--model", "fake", "-o", out],
    "edit": lambda p, out: ["edit", p, "--model", "fake", "-o", out / "e.jsonl"],
}


@pytest.mark.parametrize("command", list(_COMMANDS))
def test_bad_inputs_table(tmp_path, command):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    cases = _bad_inputs(inputs)
    snapshot = {p: p.read_bytes() for p in inputs.rglob("*") if p.is_file()}
    for name, (path, extra, expect) in cases.items():
        out = tmp_path / f"out-{name}"
        proc = _cli(*_COMMANDS[command](path, out), *extra, cwd=tmp_path)
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        assert proc.returncode == 2, (name, proc.returncode, proc.stderr[-1500:])
        assert len(lines) == 1 and "Traceback" not in proc.stderr, (name, proc.stderr[-1500:])
        assert expect in lines[0], (name, lines[0])
        assert str(path.name) in lines[0] or name == "hf-corrupt-metadata", (name, lines[0])
        assert not out.exists(), name
    assert {p: p.read_bytes() for p in inputs.rglob("*") if p.is_file()} == snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"]


@pytest.mark.parametrize(
    "args, expect",
    [
        (["edit", "{S}", "-o", "o.jsonl", "--k", "1000000"], "larger than the model's vocabulary"),
        (["edit", "{S}", "-o", "o.jsonl", "--p", "-1", "--model", "fake"], "p must be a number > 0"),
        (["edit", "{S}", "-o", "o.jsonl", "--config", "{T}", "--model", "fake"], "is a string"),
        (["tokens", "{S}", "--device", "tpu"], "device must be auto, cpu, cuda"),
        (["edit", "{S}", "-o", "o.jsonl", "--device", "cuda:3"], "CUDA device"),
    ],
)
def test_bad_options_table(tmp_path, sample_synthetic, args, expect):
    if "--k" in args or "cuda:3" in args:
        pytest.importorskip("transformers")
    toml = tmp_path / "job.toml"
    toml.write_text('[edit]\np = "0.99"\n')
    real = [a.replace("{S}", str(sample_synthetic)).replace("{T}", str(toml)) for a in args]
    proc = _cli(*real, "--limit", "2", cwd=tmp_path)
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and expect in lines[0], proc.stderr[-1500:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.toml"]
