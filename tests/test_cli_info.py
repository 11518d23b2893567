from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from toedit_stats.cli import main


def test_info_json_on_shared(essays_path):
    result = CliRunner().invoke(main, ["info", str(essays_path), "--where", "label=human", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (c,) = data["corpora"]
    assert c["documents"] == 90
    for key in ("name", "characters", "words", "length_words", "skipped_empty", "skipped_bad"):
        assert key in c
    assert set(c["length_words"]) == {"p5", "p50", "p95"}


def test_info_positional_where(essays_path):
    p = str(essays_path)
    result = CliRunner().invoke(
        main,
        ["info", p, p, "--where", "label=human", "--where", "source=chatgpt-4", "--names", "h,s", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [c["name"] for c in data["corpora"]] == ["h", "s"]
    assert [c["documents"] for c in data["corpora"]] == [90, 90]


def test_where_count_mismatch_is_usage_error(sample_human):
    p = str(sample_human)
    result = CliRunner().invoke(main, ["info", p, p, p, "--where", "a=1", "--where", "b=2"])
    assert result.exit_code == 2 and "--where given 2 times for 3 corpora" in result.stderr


def test_version_and_help():
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and "toedit-stats" in r.output
    r = CliRunner().invoke(main, ["info", "--help"])
    assert r.exit_code == 0 and "--where" in r.output


def test_import_is_light():
    code = (
        "import sys, toedit_stats; "
        "heavy = [m for m in ('torch', 'transformers', 'matplotlib', 'vllm', 'pandas', 'sklearn') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_all_resolves():
    import toedit_stats

    assert toedit_stats.__all__ == sorted(toedit_stats.__all__)
    for name in toedit_stats.__all__:
        assert getattr(toedit_stats, name) is not None


def test_help_texts_are_written_for_the_terminal():
    """No reST roles or literals, no pointer to a module docstring, in any command's help."""
    from click.testing import CliRunner

    from toedit_stats.cli import main

    for name in main.list_commands(None):
        out = CliRunner().invoke(main, [name, "--help"]).output
        assert ":mod:" not in out and ":class:" not in out and ":func:" not in out, name
        assert "``" not in out and "docstring" not in out, name


def test_quiet_prints_nothing_on_success(tmp_path, sample_human, sample_synthetic):
    """`--quiet` means the same in every subcommand that has it: nothing on stdout or stderr."""
    from click.testing import CliRunner

    from toedit_stats.cli import main

    pair = [str(sample_human), str(sample_synthetic)]
    runs = {
        "lengths": ["lengths", *pair, "--max-docs", "6"],
        "ngrams": ["ngrams", *pair, "--max-docs", "6", "--n", "1,2"],
        "tokens": ["tokens", *pair, "--max-docs", "6", "--model", "fake"],
        "embed": ["embed", *pair, "--max-docs", "6", "--embedder", "tfidf", "--mauve-seeds", "1"],
        "edit": ["edit", pair[1], "-o", str(tmp_path / "e.jsonl"), "--model", "fake", "--limit", "4"],
        "score": ["score", pair[1], "--model", "fake", "--limit", "4", "-o", str(tmp_path / "s.parquet")],
        "select": ["select", pair[1], "--reference", pair[0], "--n", "3", "-o", str(tmp_path / "sel.jsonl")],
        "sweep": [
            "sweep",
            *pair,
            "--grid",
            "p=0.5",
            "--model",
            "fake",
            "--analyzers",
            "lengths",
            "--max-docs",
            "6",
            "--bootstrap",
            "20",
            "-o",
            str(tmp_path / "sw"),
        ],
        "report": [
            "report",
            *pair,
            "--model",
            "fake",
            "--analyzers",
            "lengths",
            "--max-docs",
            "6",
            "--bootstrap",
            "20",
            "--no-scores",
            "-o",
            str(tmp_path / "rep"),
        ],
    }
    for name, args in runs.items():
        r = CliRunner().invoke(main, [*args, "--quiet"])
        assert r.exit_code == 0, (name, r.output)
        assert r.output == "", (name, r.output[:300])


def test_info_and_lengths_count_words_the_same_way(sample_synthetic):
    """Issue 30: one definition of a word (a token with a letter or digit) for info and lengths."""
    from toedit_stats import read_corpus
    from toedit_stats.analyzers.lengths import LengthAnalyzer
    from toedit_stats.summary import summarize

    s = summarize(read_corpus(sample_synthetic))
    r = LengthAnalyzer().analyze([read_corpus(sample_synthetic)])
    assert s.words == int(r.corpora[0].words.sum())


def test_replaced_utf8_is_counted_and_said(tmp_path):
    """Issue 30: --errors replace changes the input on the way in: the command says how many
    records and replacements, even with --quiet-like commands that print a table."""
    from click.testing import CliRunner

    from toedit_stats import read_corpus
    from toedit_stats.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        b'{"id": "a", "text": "caf\xe9 and \xff\xfe ok \xef\xbf\xbd"}\n{"id": "b", "text": "fine"}\n'
    )
    c = read_corpus(bad, errors="replace")
    assert [d.text.count("\ufffd") for d in c] == [4, 0]  # three inserted (one per invalid byte), one given
    assert c.stats.replaced_utf8 == 1 and c.stats.replacements == 3
    r = CliRunner().invoke(main, ["info", str(bad), "--errors", "replace"])
    assert r.exit_code == 0
    assert "invalid UTF-8 replaced by U+FFFD in 1 records (3 replacements" in r.output
