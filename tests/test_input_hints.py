"""Errors that lead somewhere (issue 18): binary input, a byte-order mark, --where that matches
nothing, a refused resume that names the settings that differ."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from toedit_stats import read_corpus
from toedit_stats.cli import main
from toedit_stats.editing import EditConfig
from toedit_stats.editing.job import run_edit_job
from toedit_stats.errors import ConfigError, InputError
from toedit_stats.lm.fake import FakeLM


def test_utf8_bom_is_accepted(tmp_path):
    j = tmp_path / "bom.jsonl"
    j.write_bytes(b'\xef\xbb\xbf{"text": "hello there"}\n{"text": "second"}\n')
    t = tmp_path / "bom.txt"
    t.write_bytes(b"\xef\xbb\xbfhello there\n")
    assert [d.text for d in read_corpus(j)] == ["hello there", "second"]
    assert [d.text for d in read_corpus(t)] == ["hello there\n"]


@pytest.mark.parametrize("name", ["data.jsonl", "data.txt"])
def test_binary_input_says_it_looks_binary(tmp_path, name):
    p = tmp_path / name
    p.write_bytes("hello world\n".encode("utf-16"))  # UTF-16: NUL bytes everywhere
    for skip in (False, True):  # not skippable: a binary file is not a corpus with a bad record
        with pytest.raises(InputError, match="looks binary") as exc:
            list(read_corpus(p, skip_bad=skip))
        assert str(p) in str(exc.value) and "--errors replace" not in str(exc.value)
    r = CliRunner().invoke(main, ["info", str(p)])
    assert r.exit_code == 2 and "looks binary" in r.output and "Traceback" not in r.output


def test_where_matching_nothing_lists_the_values_seen(essays_path):
    with pytest.raises(InputError) as exc:
        list(read_corpus(essays_path, where="source=gpt4"))
    msg = str(exc.value)
    assert "270 records did not match --where source=gpt4" in msg
    assert "source has 'student' (90), 'chatgpt-3' (90), 'chatgpt-4' (90)" in msg


def test_refused_resume_names_the_settings_that_differ(tmp_path, sample_synthetic):
    corpus = read_corpus(sample_synthetic, limit=3)
    done = run_edit_job(corpus, tmp_path / "a.jsonl", model=FakeLM(), config=EditConfig(p=0.5))
    parts = tmp_path / "o.jsonl.parts"
    parts.mkdir()
    old = {"fingerprint": "other", "config": done.manifest["config"], "chunks": []}
    (parts / "manifest.json").write_text(json.dumps(old))
    with pytest.raises(ConfigError, match=r"these settings differ: edit\.p: 0\.5 -> 0\.9") as exc:
        run_edit_job(corpus, tmp_path / "o.jsonl", model=FakeLM(), config=EditConfig(p=0.9), resume=True)
    assert "edit.k" not in str(exc.value)
