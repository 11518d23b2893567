from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from toedit_stats import compare, write_records
from toedit_stats.analyzers.base import FRAME_COLUMNS
from toedit_stats.cli import main
from toedit_stats.editing import EditConfig

# fake LM and TF-IDF: the plumbing of the report in seconds (the real models have their own test)
FAST = [
    "--model",
    "fake",
    "--embedder",
    "tfidf",
    "--max-docs",
    "10",
    "--mauve-seeds",
    "1",
    "--permutations",
    "50",
]
METRIC_KEYS = {"schema_version", "config", "corpora", "results", "metrics", "edit", "verdict", "timings"}


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _check_html(path: Path) -> _Collect:
    html = path.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(html)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "link" not in tags
    for _, attrs in parser.tags:
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not re.match(r"(?i)\s*(https?:)?//", value), value
    imgs = [a["src"] for t, a in parser.tags if t == "img"]
    assert imgs and all(s.startswith("data:image/png;base64,") and len(s) > 1000 for s in imgs)
    return parser


def _run(args):
    return CliRunner().invoke(main, ["report", *args, "--quiet"])


@pytest.mark.model
def test_report_end_to_end_real_models(tmp_path, sample_human, sample_synthetic, lm):
    out = tmp_path / "rep"
    r = _run(
        [
            str(sample_human),
            str(sample_synthetic),
            "-o",
            str(out),
            "--max-docs",
            "6",
            "--mauve-seeds",
            "2",
            "--permutations",
            "200",
            "--p",
            "0.9",
        ]
    )
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert set(m) >= METRIC_KEYS
    assert [c["name"] for c in m["corpora"]] == ["human", "synthetic", "edited"]
    assert all(c["documents"] == 6 for c in m["corpora"])
    assert [c["name"] for c in m["results"]["tokens"]["corpora"]] == ["human", "synthetic", "edited"]
    assert [c["name"] for c in m["results"]["ngrams"]["corpora"]] == ["human", "synthetic", "edited"]
    assert [c["name"] for c in m["results"]["embed"]["corpora"]] == ["human", "synthetic", "edited"]
    assert set(m["edit"]) >= {"documents", "tokens", "selected", "changed", "deleted"}
    assert m["edit"]["changed"] > 0
    # the synthetic corpus is scored once, by the editor: its token count equals the edit's
    synth = next(c for c in m["results"]["tokens"]["corpora"] if c["name"] == "synthetic")
    assert synth["tokens"] == m["edit"]["tokens"]
    assert set(m["timings"]) >= {"edit", "tokens", "ngrams", "embed", "total"}
    _check_html(out / "report.html")
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {
        "tokens_prob_u_shape.png",
        "tokens_perplexity_hist.png",
        "ngrams_rank_frequency.png",
        "ngrams_hashed_buckets.png",
        "ngrams_top_bigrams.png",
        "embed_embedding_map.png",
    } <= figures
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(figures)
    assert "<ins" in html  # changed tokens highlighted
    edited = [json.loads(x) for x in (out / "edited.jsonl").read_text().splitlines()]
    assert len(edited) == 6 and "toedit" in edited[0]
    assert (out / "tables" / "summary.csv").exists()


def test_no_edit_and_edited_paths(tmp_path, sample_human, sample_synthetic):
    out = tmp_path / "a"
    r = _run(
        [
            str(sample_human),
            str(sample_synthetic),
            "-o",
            str(out),
            "--no-edit",
            *FAST,
        ]
    )
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert [c["name"] for c in m["corpora"]] == ["human", "synthetic"] and m["edit"] is None
    assert not (out / "edited.jsonl").exists()
    edited = tmp_path / "given.jsonl"
    write_records([json.loads(x) for x in sample_synthetic.read_text().splitlines()[:10]], edited)
    out2 = tmp_path / "b"
    r = _run(
        [
            str(sample_human),
            str(sample_synthetic),
            "--edited",
            str(edited),
            "-o",
            str(out2),
            *FAST,
        ]
    )
    assert r.exit_code == 0, r.output
    m = json.loads((out2 / "metrics.json").read_text())
    assert [c["name"] for c in m["corpora"]] == ["human", "synthetic", "edited"] and m["edit"] is None
    assert "was given" in (out2 / "report.html").read_text()


def test_where_splits_one_paired_file(tmp_path, essays_path):
    out = tmp_path / "w"
    r = _run(
        [
            str(essays_path),
            str(essays_path),
            "--where",
            "label=human",
            "--where",
            "source=chatgpt-4",
            "-o",
            str(out),
            "--model",
            "fake",
            "--embedder",
            "tfidf",
            "--max-docs",
            "8",
            "--mauve-seeds",
            "1",
            "--permutations",
            "20",
            "--analyzers",
            "ngrams,embed",
        ]
    )
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["corpora"][0]["of"] == 90 and m["corpora"][1]["of"] == 90 and "tokens" not in m["results"]


def test_refuses_existing_dir_and_bad_input(tmp_path, sample_human, sample_synthetic):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = _run(
        [str(sample_human), str(sample_synthetic), "-o", str(out), "--model", "fake", "--embedder", "tfidf"]
    )
    assert r.exit_code == 2 and "exists and is not empty" in r.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n[1]\n')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "toedit_stats.cli",
            "report",
            str(sample_human),
            str(bad),
            "-o",
            str(tmp_path / "never"),
            "--model",
            "fake",
            "--embedder",
            "tfidf",
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "bad.jsonl:2: expected a JSON object" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "never").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_html_escapes_everything(tmp_path):
    evil = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
    docs_h = [
        {
            "id": f"h{i}<script>alert(1)</script>",
            "text": f"{evil[i % 2]} human words number {i} here and more.",
            "meta": evil[1],
        }
        for i in range(12)
    ]
    docs_s = [
        {
            "id": f's{i}"><img src=x onerror=alert(1)>',
            "text": f"Synthetic {evil[i % 2]} text {i} , the the.",
            "meta": evil[0],
        }
        for i in range(12)
    ]
    h, s = tmp_path / "h.jsonl", tmp_path / "s.jsonl"
    write_records(docs_h, h)
    write_records(docs_s, s)
    report = compare(
        h,
        s,
        names=(evil[0], evil[1], "edited<blink>"),
        lm="fake",
        embedder="tfidf",
        mauve_seeds=1,
        permutations=20,
        editor=EditConfig(p=0.5, k=4),
    )
    out = report.save(tmp_path / "rep")
    html = (out / "report.html").read_text()
    assert "<script>" not in html and "<img src=x" not in html and "<blink>" not in html
    assert "&lt;script&gt;" in html
    parser = _check_html(out / "report.html")
    assert not any("onerror" in attrs for _, attrs in parser.tags)
    inline = report._repr_html_()  # compact: no page, no global styles, escaped
    assert "<!DOCTYPE" not in inline and "body {" not in inline and "<script>" not in inline
    assert "&lt;script&gt;" in inline and len(inline) < 20_000
    assert "<html" not in inline and "<body" not in inline
    style = re.search(r"<style>(.*?)</style>", inline, re.S).group(1)
    selectors = [sel.strip() for rule in re.findall(r"([^{}]+)\{", style) for sel in rule.split(",")]
    assert selectors and all(sel.startswith(".toedit-summary") for sel in selectors), selectors
    frame = report.to_frame()
    assert list(frame.columns) == list(FRAME_COLUMNS) and len(frame) > 10


def test_report_select_dsir_and_scores(tmp_path, sample_human, sample_synthetic):
    """`--select dsir`: a DSIR-selected subset and its uniform control as two more corpora, the
    selection effect against the control with intervals, the selection equal to a standalone DSIR
    draw, and the per-document scores written and listed."""
    import numpy as np
    import pandas as pd

    from toedit_stats import read_corpus, sample_documents
    from toedit_stats.selection import dsir_features, dsir_log_weights, gumbel_top_k

    out = tmp_path / "sel"
    r = _run([str(sample_human), str(sample_synthetic), "-o", str(out), *FAST, "--select", "dsir"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert [c["name"] for c in m["corpora"]] == ["human", "synthetic", "edited", "selected", "uniform"]
    sel = m["selection"]
    assert sel["n"] == 5 and sel["of"] == 10 and len(sel["selected_ids"]) == 5 == len(sel["uniform_ids"])
    # the selection is DSIR on the report's samples, with the report's seed
    h = sample_documents(iter(read_corpus(sample_human)), 10, 0)[0]
    s = sample_documents(iter(read_corpus(sample_synthetic)), 10, 0)[0]
    ids = sorted(d.id for d in s)
    s = sorted(s, key=lambda d: d.id)
    assert [d.id for d in s] == ids
    w = dsir_log_weights(dsir_features([d.text for d in s]), dsir_features([d.text for d in h]))
    assert sorted(sel["selected_ids"]) == sorted(s[i].id for i in gumbel_top_k(w, 5, seed=0))
    rows = sel["effects"]
    assert rows and {r["verdict"] for r in rows} <= {
        "toward human",
        "away from human",
        "no detectable change",
        "no interval",
        "not tested",
    }
    with_ci = [r for r in rows if r["low"] is not None]
    assert with_ci and all(r["low"] <= r["high"] for r in with_ci)
    for r in with_ci:  # Δ is selected − uniform, the values of the two corpora in the results
        assert r["delta"] == pytest.approx(r["selected"] - r["uniform"])
    scores = pd.read_parquet(out / "scores.parquet")
    assert list(scores["corpus"].unique()) == ["human", "synthetic", "edited"]
    assert scores.groupby("corpus").size().to_dict() == {"human": 10, "synthetic": 10, "edited": 10}
    assert set(scores.loc[scores["dsir_selected"], "id"]) == set(sel["selected_ids"])
    assert scores.loc[scores["dsir_selected"], "corpus"].eq("synthetic").all()
    assert np.isfinite(scores["p_synthetic"]).all()
    liked = pd.read_csv(out / "tables" / "human_like_documents.csv")
    assert list(liked["rank"].unique()) == ["most human-like", "least human-like"]
    syn = scores[scores["corpus"] == "synthetic"].set_index("id")["p_synthetic"]
    top = liked[liked["rank"] == "most human-like"]
    assert (
        top["p_synthetic"].tolist() == sorted(top["p_synthetic"]) and top["p_synthetic"].iloc[0] == syn.min()
    )
    html = (out / "report.html").read_text()
    assert "Selection (DSIR) beside editing" in html and "human-like" in html
    _check_html(out / "report.html")


def test_report_select_checks_its_arguments(tmp_path, sample_human, sample_synthetic):
    from toedit_stats.errors import ConfigError
    from toedit_stats.report import Report

    with pytest.raises(ConfigError, match="select must be"):
        Report(select="random")
    with pytest.raises(ConfigError, match="select_n must be"):
        Report(select="dsir", select_n=1)
    r = _run(
        [
            str(sample_human),
            str(sample_synthetic),
            "-o",
            str(tmp_path / "x"),
            *FAST,
            "--select",
            "dsir",
            "--select-n",
            "10",
        ]
    )
    assert r.exit_code == 2 and "smaller than the synthetic sample (10 documents), got 10" in r.output


@pytest.mark.model
@pytest.mark.slow  # four minutes of SmolLM2 and MiniLM on 2 cores
def test_bundled_report_is_reproduced(tmp_path):
    """The README's main command rebuilds reports/example: every number of metrics.json equal to
    1e-9 (timings and provenance aside) and the edited corpus byte for byte — the check that a
    refactoring (issue 28: executors, stages) moved no behaviour."""
    import math
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "example"
    cmd = [sys.executable, "-m", "toedit_stats", "report", "examples/human.jsonl", "examples/synthetic.jsonl"]
    r = subprocess.run(
        [*cmd, "-o", str(out), "--quiet"], cwd=root, capture_output=True, text=True, timeout=1800
    )
    assert r.returncode == 0, r.stderr[-2000:]
    want = json.loads((root / "reports" / "example" / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    diffs = []

    def walk(a, b, at):
        if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
            for k in a:
                if k not in ("timings", "provenance"):
                    walk(a[k], b[k], f"{at}.{k}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{at}[{i}]")
        elif isinstance(a, float) and isinstance(b, (int, float)):
            if not (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))):
                diffs.append((at, a, b))
        elif a != b:
            diffs.append((at, a, b))

    walk(want, got, "")
    assert not diffs, diffs[:10]
    assert (out / "edited.jsonl").read_bytes() == (root / "reports" / "example" / "edited.jsonl").read_bytes()


def _fast_report(human, synthetic, **kw):
    from toedit_stats import Report
    from toedit_stats.report.inputs import make_analyzers

    analyzers = make_analyzers(None, {"embedder": "tfidf", "mauve_seeds": 1, "permutations": 200})
    return Report(analyzers, lm="fake", bootstrap=200, **kw).run(human, synthetic)


def test_headline_and_ranked_differences_on_the_bundled_sample(sample_human, sample_synthetic):
    """Issue 30: the headline answers in plain words with their numbers, and the ranked table:
    sorted by |standardised difference| within each contrast, every row with an interval and a
    Holm-adjusted p-value; 'How?' names only supported rows."""
    import math

    r = _fast_report(sample_human, sample_synthetic)
    head = {h["question"]: h["answer"] for h in r.verdict()["headline"]}
    assert head["Are synthetic and human different?"].startswith("yes — ")
    assert "Holm" in head["How?"] and "changed" in head["Did editing move it toward human?"]
    d = r.differences()
    assert set(d["contrast"]) == {"synthetic vs human", "edited vs synthetic"}
    for _, part in d.groupby("contrast"):
        z = part["standardised"].abs().tolist()
        assert z == sorted(z, reverse=True) and part["rank"].tolist() == list(range(1, len(part) + 1))
        assert all(math.isfinite(x) for x in part["low"]) and all(math.isfinite(x) for x in part["high"])
        assert ((part["holm"] < 0.05) == part["supported"]).all()
    top = d[(d["contrast"] == "synthetic vs human") & d["supported"] & (d["kind"] == "per corpus")].head(3)
    for label in top["label"]:  # what each corpus is, side by side, before distances
        assert label in head["How?"]
    assert "length-matched documents" in head["Is it only length?"]
    assert "length_fair" in r.tables() and "Is it only length?" in r.html()
    assert "differences" in r.tables() and "Largest differences" in r.html()


def test_headline_of_identical_corpora_flags_nothing(sample_human):
    """A corpus against a copy of itself: no test rejects, no difference is supported, and the
    headline says so (no edit: nothing about editing)."""
    r = _fast_report(sample_human, sample_human, editor=None)
    head = {h["question"]: h["answer"] for h in r.verdict()["headline"]}
    assert head["Are synthetic and human different?"].startswith("no detectable difference")
    assert head["How?"].startswith("no single statistic differs")
    assert not r.differences()["supported"].any()
    assert "Did editing move it toward human?" not in head
    assert "Is it only length?" not in head  # nothing differs, so nothing to explain


def test_headline_of_human_halves_flags_nothing(sample_human, tmp_path):
    """Two halves of the human sample: no difference is supported and no length line."""
    import json

    lines = sample_human.read_text().splitlines()
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(lines[::2]) + "\n")
    b.write_text("\n".join(lines[1::2]) + "\n")
    assert json.loads(lines[0])
    r = _fast_report(a, b, editor=None)
    head = {h["question"]: h["answer"] for h in r.verdict()["headline"]}
    assert not r.differences()["supported"].any(), r.differences()[["label", "holm"]]
    assert head["How?"].startswith("no single statistic differs")
    assert "Is it only length?" not in head
