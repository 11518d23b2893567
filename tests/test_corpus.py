from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from toedit_stats import InputError, read_corpus, summarize, write_records
from toedit_stats.corpus import Corpus, parse_where


def _write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def records():
    return [
        {"id": "a", "text": "Hello world.", "label": "human"},
        {"id": "b", "text": "Synthetic text, very fluent.", "label": "synthetic"},
        {"id": "c", "text": "Another human essay here!", "label": "human"},
    ]


def test_read_jsonl_fields_and_metadata(tmp_path, records):
    path = _write_jsonl(tmp_path / "x.jsonl", records)
    docs = list(read_corpus(path))
    assert [d.id for d in docs] == ["a", "b", "c"]
    assert docs[1].text == "Synthetic text, very fluent."
    assert docs[1].metadata == {"id": "b", "label": "synthetic"}
    assert docs[0].source == f"{path}:1"


def test_corpus_is_reiterable_and_counts(tmp_path, records):
    corpus = read_corpus(_write_jsonl(tmp_path / "x.jsonl", records))
    assert [d.id for d in corpus] == [d.id for d in corpus]
    assert corpus.stats.documents == 3 and corpus.stats.records == 3


def test_where_limit_and_ids_without_id(tmp_path):
    path = _write_jsonl(tmp_path / "y.jsonl", [{"text": f"doc {i}", "k": i % 2} for i in range(10)])
    docs = list(read_corpus(path, where="k=1", limit=3))
    assert [d.id for d in docs] == ["y.jsonl:2", "y.jsonl:4", "y.jsonl:6"]
    corpus = read_corpus(path, where={"k": 0})
    assert len(list(corpus)) == 5 and corpus.stats.filtered == 5
    assert corpus.name == "y[k=0]"


def test_where_dotted_and_multiple(tmp_path):
    path = _write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"text": "x", "metadata": {"lang": "en"}, "s": "a"},
            {"text": "y", "metadata": {"lang": "fr"}, "s": "a"},
        ],
    )
    assert [d.text for d in read_corpus(path, where="metadata.lang=fr,s=a")] == ["y"]
    assert parse_where(["a=1", "b=2"]) == (("a", "1"), ("b", "2"))
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_where("label")


def test_sample_is_seeded_uniform_and_ordered(tmp_path):
    path = _write_jsonl(tmp_path / "s.jsonl", [{"id": str(i), "text": f"t{i}"} for i in range(100)])
    a = [d.id for d in read_corpus(path, sample=10, seed=1)]
    b = [d.id for d in read_corpus(path, sample=10, seed=1)]
    c = [d.id for d in read_corpus(path, sample=10, seed=2)]
    assert a == b and a != c and len(set(a)) == 10
    assert [int(x) for x in a] == sorted(int(x) for x in a)
    corpus = read_corpus(path, sample=200)
    assert len(list(corpus)) == 100 and corpus.stats.sampled_from == 100


def test_reservoir_sampling_is_uniform(tmp_path):
    # each of 20 documents should be picked with probability 5/20 = 0.25
    path = _write_jsonl(tmp_path / "u.jsonl", [{"id": str(i), "text": "x"} for i in range(20)])
    counts = [0] * 20
    trials = 800
    for seed in range(trials):
        for d in read_corpus(path, sample=5, seed=seed):
            counts[int(d.id)] += 1
    expected = trials * 0.25
    sd = (trials * 0.25 * 0.75) ** 0.5
    assert all(abs(c - expected) < 5 * sd for c in counts)


def test_all_formats_agree(tmp_path, essays_records):
    recs = essays_records[:60]
    write_records(recs, tmp_path / "c.jsonl")
    write_records(recs, tmp_path / "c.jsonl.gz")
    write_records(recs, tmp_path / "c.jsonl.zst")
    write_records(recs, tmp_path / "c.parquet")
    txt = tmp_path / "txt"
    txt.mkdir()
    for r in recs:
        (txt / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
    dolma = tmp_path / "dolma" / "documents"
    dolma.mkdir(parents=True)
    write_records(recs[:30], dolma / "part-0.jsonl.gz")
    write_records(recs[30:], dolma / "sub" / "part-1.jsonl.zst")
    results = []
    for p in ["c.jsonl", "c.jsonl.gz", "c.jsonl.zst", "c.parquet", "txt", "dolma"]:
        s = summarize(read_corpus(tmp_path / p))
        results.append((s.documents, s.characters, s.words))
    assert len(set(results)) == 1, results
    assert results[0][0] == 60


def test_multiframe_zstd(tmp_path):
    path = tmp_path / "m.jsonl.zst"
    frames = [
        zstandard.ZstdCompressor().compress(json.dumps({"text": f"d{i}"}).encode() + b"\n") for i in range(3)
    ]
    path.write_bytes(b"".join(frames))
    assert [d.text for d in read_corpus(path)] == ["d0", "d1", "d2"]


def test_txt_modes(tmp_path):
    path = tmp_path / "many.txt"
    path.write_text("first para\nline two\n\n\nsecond para\n\nthird\n", encoding="utf-8")
    assert [d.text for d in read_corpus(path, txt_mode="blank-line")] == [
        "first para\nline two",
        "second para",
        "third",
    ]
    assert [d.id for d in read_corpus(path, txt_mode="blank-line")] == [
        "many.txt:1",
        "many.txt:5",
        "many.txt:7",
    ]
    assert len(list(read_corpus(path, txt_mode="lines"))) == 4
    assert len(list(read_corpus(path))) == 1


def test_empty_documents_skipped_and_counted(tmp_path):
    path = _write_jsonl(tmp_path / "e.jsonl", [{"text": ""}, {"text": "x"}, {"text": ""}])
    corpus = read_corpus(path)
    assert [d.text for d in corpus] == ["x"]
    assert corpus.stats.skipped_empty == 2


def test_utf8_replace_counts(tmp_path):
    path = tmp_path / "u.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "bad \xff byte"}\n')
    with pytest.raises(InputError, match=r"u.jsonl:2: invalid UTF-8"):
        list(read_corpus(path))
    corpus = read_corpus(path, errors="replace")
    assert [d.text for d in corpus][1] == "bad \ufffd byte"
    assert corpus.stats.replaced_utf8 == 1


def test_skip_bad_counts_and_threshold(tmp_path):
    lines = [json.dumps({"text": f"t{i}"}) for i in range(199)] + ["{not json"]
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(lines) + "\n")
    corpus = read_corpus(path, skip_bad=True)
    assert len(list(corpus)) == 199 and corpus.stats.skipped_bad == 1
    assert corpus.stats.bad_examples[0].startswith(f"{path}:200: invalid JSON")
    with pytest.raises(InputError, match=r"1 of 200 records are bad"):
        list(read_corpus(path, skip_bad=True, max_bad_fraction=0.001))


def test_memory_corpus():
    c = Corpus.from_documents(["a b", "", "c"], name="m")
    assert [d.id for d in c] == ["m:0", "m:2"] and c.stats.skipped_empty == 1


def test_write_records_is_atomic(tmp_path):
    target = tmp_path / "out.jsonl"

    def gen():
        yield {"text": "a"}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_records(gen(), target)
    assert not target.exists() and list(tmp_path.iterdir()) == []


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=20))
def test_roundtrip_any_text(tmp_path_factory, texts):
    d = tmp_path_factory.mktemp("rt")
    write_records([{"id": str(i), "text": t} for i, t in enumerate(texts)], d / "r.jsonl.zst")
    nonempty = [t for t in texts if t]
    if not nonempty:
        with pytest.raises(InputError, match="empty corpus"):
            list(read_corpus(d / "r.jsonl.zst"))
    else:
        assert [doc.text for doc in read_corpus(d / "r.jsonl.zst")] == nonempty


# ------------------------------------------------------------------------------------------
# bad input through the CLI: one line naming file:line, exit 2, no traceback, nothing written


def _bad_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    good = b'{"id": "1", "text": "fine"}\n'
    cases: dict[str, tuple[list[str], str]] = {}

    def f(name: str, data: bytes) -> str:
        p = tmp / name
        p.write_bytes(data)
        return str(p)

    cases["missing"] = ([str(tmp / "nope.jsonl")], "nope.jsonl: no such file")
    cases["empty"] = ([f("empty.jsonl", b"")], "empty.jsonl: empty corpus")
    cases["invalid_json"] = ([f("ij.jsonl", good + b"{oops\n")], "ij.jsonl:2: invalid JSON")
    cases["not_object"] = (
        [f("no.jsonl", good + b"[1, 2]\n")],
        "no.jsonl:2: expected a JSON object, got list",
    )
    cases["missing_text"] = (
        [f("mt.jsonl", good + b'{"body": "x"}\n')],
        "mt.jsonl:2: missing text field 'text'",
    )
    cases["nonstring_text"] = (
        [f("ns.jsonl", good + b'{"text": 3}\n')],
        "ns.jsonl:2: text field 'text' is int",
    )
    cases["invalid_utf8"] = (
        [f("iu.jsonl", good + good + b'{"text": "\xc3("}\n')],
        "iu.jsonl:3: invalid UTF-8",
    )
    gz = gzip.compress(good * 2000)
    cases["truncated_gzip"] = ([f("tg.jsonl.gz", gz[: len(gz) // 2])], "tg.jsonl.gz:")
    zs = zstandard.ZstdCompressor().compress(good * 20000)
    cases["truncated_zstd"] = ([f("tz.jsonl.zst", zs[: len(zs) // 2])], "tz.jsonl.zst:")
    cases["unknown_ext"] = ([f("x.csv", b"a,b\n")], "x.csv: unknown extension '.csv'")
    (tmp / "emptydir").mkdir()
    (tmp / "emptydir" / "notes.md").write_text("hi")
    cases["empty_dir"] = ([str(tmp / "emptydir")], "emptydir: directory has no readable files")
    cases["where_nomatch"] = ([f("w.jsonl", good), "--where", "label=human"], "w.jsonl: empty corpus")
    cases["too_many_bad"] = ([f("tb.jsonl", good + b"oops\n"), "--skip-bad"], "1 of 2 records are bad")
    cases["bad_parquet"] = (
        [f("bp.parquet", b"not parquet at all")],
        "bp.parquet: not a readable parquet file",
    )
    cases["all_empty"] = (
        [f("ae.jsonl", b'{"text": ""}\n')],
        "ae.jsonl: empty corpus: no documents (1 empty texts)",
    )
    return cases


BAD_CASES = [
    "missing",
    "empty",
    "invalid_json",
    "not_object",
    "missing_text",
    "nonstring_text",
    "invalid_utf8",
    "truncated_gzip",
    "truncated_zstd",
    "unknown_ext",
    "empty_dir",
    "where_nomatch",
    "too_many_bad",
    "bad_parquet",
    "all_empty",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_cli(tmp_path, case):
    args, expected = _bad_cases(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    proc = subprocess.run(
        [sys.executable, "-m", "toedit_stats.cli", "info", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_truncated_line_numbers(tmp_path):
    good = b'{"id": "1", "text": "fine"}\n'
    gz = gzip.compress(good * 2000)
    (tmp_path / "t.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(InputError, match=r"t.jsonl.gz:\d+: truncated gzip"):
        list(read_corpus(tmp_path / "t.jsonl.gz"))


def test_hf_save_to_disk(tmp_path, records):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(records).save_to_disk(str(tmp_path / "ds"))
    docs = list(read_corpus(tmp_path / "ds"))
    assert [d.id for d in docs] == ["a", "b", "c"] and docs[1].metadata["label"] == "synthetic"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(records)}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(InputError, match="point at one split's folder"):
        list(read_corpus(tmp_path / "dd"))
    assert len(list(read_corpus(tmp_path / "dd" / "train"))) == 3


def test_invalid_utf8_names_the_offset_and_the_bytes(tmp_path):
    """The error says where in the line the bad bytes are and what they are (issue 30)."""
    p = tmp_path / "b.jsonl"
    p.write_bytes(b'{"text": "ok"}\n{"text": "caf\xb1 au lait"}\n')
    with pytest.raises(InputError, match=r"b.jsonl:2: invalid UTF-8 at byte 13 of the line \(0xb1\)"):
        list(read_corpus(p))
    t = tmp_path / "b.txt"
    t.write_bytes(b"first line\nsecond \xff\xfe line\n")
    with pytest.raises(InputError, match=r"b.txt:2: invalid UTF-8 at byte 7 of the line \(0xff\)"):
        list(read_corpus(t))
