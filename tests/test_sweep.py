"""The editor sweep: one scoring pass, variants identical to standalone edits, a table, a frontier."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from click.testing import CliRunner

from toedit_stats import read_corpus
from toedit_stats.cli import main
from toedit_stats.corpus import MemoryCorpus
from toedit_stats.editing import EditConfig, edit
from toedit_stats.errors import ConfigError
from toedit_stats.lm.fake import FakeLM
from toedit_stats.report.sweep import parse_grid, sweep

FAST_ANALYZERS = ["ngrams", "tokens", "lengths"]
# the CLI tests' small run: two cheap analyzers, 8 documents, 50 bootstrap replicates
SMALL_RUN = ("--analyzers", "lengths,tokens", "--limit", "8", "--bootstrap", "50")


@pytest.fixture(scope="module")
def pair(sample_human, sample_synthetic):
    h = MemoryCorpus(list(read_corpus(sample_human, limit=12)), name="human")
    s = MemoryCorpus(list(read_corpus(sample_synthetic, limit=12)), name="synthetic")
    return h, s


def test_parse_grid_types_and_validates():
    cfgs = parse_grid("p=0.9,0.99;k=8,64;beta=1,1.5;exclude_original=false,true", seed=3)
    assert len(cfgs) == 16 and all(c.seed == 3 for c in cfgs)
    assert {(c.p, c.k, c.beta, c.exclude_original) for c in cfgs} >= {(0.99, 64, 1.0, True)}
    for bad, msg in (
        ("q=1", "unknown edit option 'q'"),
        ("k=x", "k = 'x' is not a int"),
        ("p=-1", "p must be"),
        ("p", "expected NAME=V1,V2"),
        ("exclude_original=maybe", "is not a bool"),
    ):
        with pytest.raises(ConfigError, match=msg):
            parse_grid(bad)


def test_every_variant_is_a_standalone_edit_and_scoring_happens_once(pair):
    h, s = pair

    class Counting(FakeLM):
        calls = 0

        def score(self, docs, **kw):
            docs = list(docs)
            Counting.calls += len(docs)
            return super().score(docs, **kw)

    lm = Counting()
    res = sweep(
        h,
        s,
        "p=0.5,0.99;k=2,4;exclude_original=false,true",
        lm=lm,
        analyzers=FAST_ANALYZERS,
        max_docs=None,
        bootstrap=50,
        token_fraction=1.0,  # exact: every document's variants scored
    )
    assert len(res.rows) == 8 and all(r["token_documents"] == len(s) for r in res.rows)
    # the synthetic corpus is scored once with k = 4; human once; edited documents that changed once each
    changed_texts = set()
    for cfg in parse_grid("p=0.5,0.99;k=2,4;exclude_original=false,true"):
        out = list(edit(list(s), FakeLM(), cfg, audit_positions=True))
        row = next(
            r
            for r in res.rows
            if (r["p"], r["k"], r["exclude_original"]) == (cfg.p, cfg.k, cfg.exclude_original)
        )
        assert row["changed"] == sum(e.audit.changed + e.audit.deleted for e in out)
        changed_texts |= {e.doc.text for e in out if e.doc.text != e.original}
    assert Counting.calls == len(s) + len(h) + len(changed_texts)
    assert res.config["score_cache"]["misses"] == Counting.calls


def test_token_statistics_on_a_seeded_sample_score_only_its_variants(pair):
    """8 grid points: by default (3 / 8) the variants of 5 of the 12 documents are scored; the other
    analyzers and the edit counts still use every document, and the token effects equal a report
    run on the sampled documents alone."""
    from toedit_stats.corpus import Document
    from toedit_stats.report import Report
    from toedit_stats.report.sweep import token_sample

    h, s = pair
    grid = "p=0.5,0.99;k=2,4;exclude_original=false,true"
    docs = list(s)
    picked = token_sample(len(docs), 3 / 8, 0)
    assert len(picked) == 5 and picked == token_sample(len(docs), 3 / 8, 0) != token_sample(
        len(docs), 3 / 8, 1
    )
    assert token_sample(len(docs), 1.0, 0) == list(range(len(docs)))

    class Counting(FakeLM):
        texts: ClassVar[list[str]] = []

        def score(self, docs, **kw):
            docs = list(docs)
            Counting.texts += [d.text if hasattr(d, "text") else d for d in docs]
            return super().score(docs, **kw)

    kw = dict(analyzers=FAST_ANALYZERS, max_docs=None, bootstrap=50)
    exact = sweep(h, s, grid, lm=FakeLM(), token_fraction=1.0, **kw)
    res = sweep(h, s, grid, lm=Counting(), **kw)
    assert res.config["token_fraction"] == 3 / 8 and res.config["token_documents"] == 5
    assert all(r["token_documents"] == 5 for r in res.rows)
    variants = set()
    for cfg in parse_grid(grid):
        out = list(edit(docs, FakeLM(), cfg))
        variants |= {out[j].doc.text for j in picked if out[j].doc.text != docs[j].text}
        unsampled = {out[j].doc.text for j in range(len(docs)) if j not in picked} - {d.text for d in docs}
        assert not unsampled & set(Counting.texts)
    assert len(Counting.texts) == len(h) + len(s) + len(variants)
    for a, b in zip(exact.rows, res.rows):  # edit counts from every document
        assert (a["changed"], a["expected_share"]) == (b["changed"], b["expected_share"])
    ex, sa = exact.effects_frame(), res.effects_frame()
    other = "analyzer != 'tokens'"
    assert ex.query(other).reset_index(drop=True).equals(sa.query(other).reset_index(drop=True))
    # point 0's token effects: a report on the sampled synthetic documents and their variants
    cfg = parse_grid(grid)[0]
    out = list(edit(docs, FakeLM(), cfg))
    sub_s = MemoryCorpus([docs[j] for j in picked], name="synthetic")
    sub_v = MemoryCorpus([Document(out[j].doc.id, out[j].doc.text) for j in picked], name="edited")
    rep = Report(["tokens"], None, lm=FakeLM(), max_docs=None, bootstrap=50).run(h, sub_s, sub_v)
    want = {e["metric"]: e["delta"] for e in rep.effects()["effects"]}
    got = sa.query("point == 0 and analyzer == 'tokens'").set_index("metric")["delta"].to_dict()
    assert got == pytest.approx(want, abs=1e-12)
    with pytest.raises(ConfigError, match="token_fraction"):
        sweep(h, s, grid, lm=FakeLM(), token_fraction=0, **kw)


def test_sweep_variants_byte_identical_to_edit_records(pair, monkeypatch):
    import toedit_stats.editing.toedit as toedit_mod

    h, s = pair
    cfgs = [EditConfig(p=0.5, k=2, exclude_original=True), EditConfig(p=0.9, k=4, beta=1.0)]
    original = toedit_mod.edit
    captured = {}

    def spy(docs, lm, config, **kw):
        out = list(original(docs, lm, config, **kw))
        captured[config] = [json.dumps(e.record()) for e in out]
        return iter(out)

    monkeypatch.setattr(toedit_mod, "edit", spy)
    sweep(h, s, cfgs, lm=FakeLM(), analyzers=["lengths"], max_docs=None, bootstrap=0)
    for cfg in cfgs:  # scored once with k = 4 and sliced for k = 2: the same bytes as a standalone edit
        standalone = [json.dumps(e.record()) for e in original(list(s), FakeLM(), cfg, audit_positions=True)]
        assert captured[cfg] == standalone


def test_sweep_table_and_frontier(pair):
    h, s = pair
    res = sweep(h, s, "p=0.5,0.99;k=8", lm=FakeLM(), analyzers=FAST_ANALYZERS, max_docs=None, bootstrap=100)
    frame = res.to_frame()
    for col in (
        "changed_share",
        "expected_share",
        "delta_mean_logprob",
        "word_internal_share",
        "paper",
        "p_used",
        "distances_toward_human",
        "distances_no_detectable_change",
    ):
        assert col in frame.columns
    assert frame["paper"].tolist() == [False, True]
    assert set(res.effects_frame()["analyzer"]) == {"ngrams", "tokens", "lengths"}
    fig = res.frontier()
    assert len(fig.axes) >= 3
    assert json.loads(json.dumps(res.to_dict(), default=str))["rows"][0]["point"] == 0


def test_sweep_cli(tmp_path, sample_human, sample_synthetic):
    out = tmp_path / "sw"
    sweep_fake = ["sweep", str(sample_human), str(sample_synthetic), "--model", "fake"]

    def run(*args):
        return CliRunner().invoke(main, [*sweep_fake, *args])

    r = run("--grid", "p=0.5,0.99", *SMALL_RUN, "-o", str(out))
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} == {
        "sweep.json",
        "sweep.csv",
        "sweep_effects.csv",
        "frontier.png",
        ".toedit-stats.json",  # the marker: --overwrite may replace this folder
    }
    r = run("--grid", "k=0")
    assert r.exit_code == 2 and "k must be an integer >= 1" in r.output
    r = run("--grid", "p=0.5", "--ray-actors", "2")
    assert r.exit_code == 2 and "need --engine ray" in r.output
    r = run("--grid", "p=0.5", "--token-fraction", "1.5")
    assert r.exit_code == 2 and "token_fraction must be in (0, 1]" in r.output  # one message: sweep()'s


def test_sweep_embeds_each_text_once(pair):
    import numpy as np

    from toedit_stats.analyzers.embeddings import EmbeddingAnalyzer

    seen: list[str] = []

    class Counting:
        name, fingerprint, dim = "counting", "counting:v1", 3

        def embed(self, texts):
            seen.extend(texts)
            return np.array([[len(t), t.count(" "), t.count("e")] for t in texts], np.float32)

    h, s = pair
    an = EmbeddingAnalyzer(embedder=Counting(), mauve_seeds=1, permutations=20)
    sweep(h, s, "p=0.5,0.99", lm=FakeLM(), analyzers=[an], max_docs=None, bootstrap=0)
    assert seen and len(seen) == len(set(seen))  # unchanged texts come from the cache


def test_report_with_a_small_sweep(tmp_path, sample_human, sample_synthetic):
    out = tmp_path / "rep"
    args = ["report", str(sample_human), str(sample_synthetic), "--model", "fake", *SMALL_RUN, "--quiet"]
    args += ["-o", str(out)]
    r = CliRunner().invoke(main, [*args, "--sweep"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert len(m["sweep"]["rows"]) == 4 and sum(row["paper"] for row in m["sweep"]["rows"]) == 1
    assert (out / "figures" / "sweep_frontier.png").is_file() and (out / "tables" / "sweep.csv").is_file()
    assert 'id="sweep"' in (out / "report.html").read_text()
    r = CliRunner().invoke(main, [*args, "--sweep", "p=0.9;k=0", "--overwrite"])
    assert r.exit_code == 2 and "k must be an integer >= 1" in r.output
    r = CliRunner().invoke(main, [*args, "--sweep", "--no-edit", "--overwrite"])
    assert r.exit_code == 2 and "excludes --no-edit" in r.output


def test_fluency_cost_and_its_interval():
    """Ratio of sums of per-document log-probabilities, paired bootstrap over documents."""
    import math

    import numpy as np

    from toedit_stats.analyzers.tokens import TokenStats
    from toedit_stats.report.sweep import _fluency

    def stats(tokens, mean_lp):
        st = TokenStats("x")
        st.doc_tokens = list(tokens)
        st.doc_ppl = [math.exp(-m) for m in mean_lp]
        return st

    s = stats([10, 20, 30], [-2.0, -3.0, -1.0])
    e = stats([10, 22, 30], [-2.5, -3.0, -1.5])
    want = (-25 - 66 - 45) / 62 - (-20 - 60 - 30) / 60
    point, lo, hi = _fluency(s, e, 500, 0)
    assert point == pytest.approx(want) and lo <= point <= hi and lo < hi
    assert _fluency(s, e, 500, 0) == (point, lo, hi)  # seeded
    assert _fluency(s, s, 200, 0) == (0.0, 0.0, 0.0)
    p0, l0, h0 = _fluency(s, e, 0, 0)
    assert p0 == pytest.approx(want) and np.isnan(l0) and np.isnan(h0)


def test_relative_change_only_where_the_distance_is_far_from_identical():
    import math

    from toedit_stats.report.sweep import _effect_row

    base = {"analyzer": "embed", "metric": "mmd2", "label": "MMD²", "verdict": "no detectable change"}
    near = _effect_row(
        0,
        {
            **base,
            "synthetic": 0.002,
            "identical": 0.0,
            "base_se": 0.003,
            "better": "lower",
            "delta": 0.001,
            "low": -0.002,
            "high": 0.004,
        },
    )
    assert math.isnan(near["relative"]) and math.isnan(near["relative_low"]) and near["delta"] == 0.001
    far = _effect_row(
        0,
        {
            **base,
            "synthetic": 0.2,
            "identical": 0.0,
            "base_se": 0.01,
            "better": "lower",
            "delta": -0.02,
            "low": -0.03,
            "high": -0.01,
        },
    )
    assert far["relative"] == pytest.approx(-10.0) and far["relative_low"] < far["relative_high"] < 0
    # higher is better (MAUVE, identical 1): the gap is measured from 1, toward human is negative
    mauve = _effect_row(
        0,
        {
            **base,
            "synthetic": 0.6,
            "identical": 1.0,
            "base_se": 0.02,
            "better": "higher",
            "delta": 0.04,
            "low": 0.01,
            "high": 0.07,
        },
    )
    assert mauve["relative"] == pytest.approx(-10.0)
