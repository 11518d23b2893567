"""--group-by: per-group results equal to running each group alone (issue 18)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from toedit_stats import read_corpus
from toedit_stats.cli import main
from toedit_stats.editing import EditConfig
from toedit_stats.errors import ConfigError
from toedit_stats.report import Report

ANALYZERS = ["tokens", "ngrams", "embed", "lengths"]


def _report(**kw) -> Report:
    import dataclasses

    r = Report(ANALYZERS, EditConfig(p=0.5, k=4), lm="fake", bootstrap=0, max_docs=None, scores=False, **kw)
    r.analyzers = [
        dataclasses.replace(a, embedder="tfidf", mauve_seeds=1, permutations=50) if a.name == "embed" else a
        for a in r.analyzers
    ]
    return r


def _values(results) -> pd.DataFrame:
    frames = [r.to_frame() for r in results.values()]
    return pd.concat(frames, ignore_index=True)[["analyzer", "metric", "corpus", "value"]]


def _by_generator(outfox_path):
    human = [d for d in read_corpus(outfox_path, where="label=human", limit=10)]
    synthetic = []
    for gen in ("gpt-3.5-turbo-0613", "text-davinci-003", "flan-t5-xxl"):
        synthetic += list(read_corpus(outfox_path, where=f"generator={gen}", limit=6))
    return human, synthetic


def test_group_values_equal_each_group_alone(outfox_path):
    human, synthetic = _by_generator(outfox_path)
    grouped = _report(group_by="generator").run(human, synthetic)
    g = grouped.groups
    assert not g.paired and set(g.results) == {"gpt-3.5-turbo-0613", "text-davinci-003", "flan-t5-xxl"}
    assert all(s == {"human": 10, "synthetic": 6, "edited": 6} for s in g.sizes.values())
    for gen, res in g.results.items():
        alone = _report().run(human, [d for d in synthetic if d.metadata["generator"] == gen])
        a, b = _values(res), _values(alone.results)
        assert a[["analyzer", "metric", "corpus"]].equals(b[["analyzer", "metric", "corpus"]])
        np.testing.assert_allclose(a["value"].to_numpy(float), b["value"].to_numpy(float), equal_nan=True)
    # one Holm family over all groups' tests
    tests = g.tests_frame()
    # 6 tests per group: bigram JS and share of p >= 0.99 (permutation), perplexity KS, classifier,
    # aggregated MMD, length KS
    assert len(tests) == 3 * 6 and (tests["holm"] >= tests["pvalue"]).all()
    frame = grouped.tables()["groups"]
    assert set(frame["group"]) == set(g.results) and {"analyzer", "metric", "value"} <= set(frame.columns)
    figs = grouped.figures()
    assert "groups_distances" in figs and "groups_embedding_map" in figs


def test_paired_groups_use_their_own_human_documents(essays_path):
    """The essays are topic-paired: grouped by topic, each group's reference is that topic's
    student essays."""
    human = list(read_corpus(essays_path, where="source=student"))
    synthetic = list(read_corpus(essays_path, where="source=chatgpt-4"))
    topics = pd.Series([d.metadata["topic"] for d in synthetic]).value_counts()
    keep = set(topics.index[:2])
    human = [d for d in human if d.metadata["topic"] in keep]
    synthetic = [d for d in synthetic if d.metadata["topic"] in keep]
    r = _report(group_by="topic").run(human, synthetic)
    assert r.groups.paired
    for topic, sizes in r.groups.sizes.items():
        assert sizes["human"] == sum(d.metadata["topic"] == topic for d in human)
        alone = _report().run(
            [d for d in human if d.metadata["topic"] == topic],
            [d for d in synthetic if d.metadata["topic"] == topic],
        )
        np.testing.assert_allclose(
            _values(r.groups.results[topic])["value"].to_numpy(float),
            _values(alone.results)["value"].to_numpy(float),
            equal_nan=True,
        )


def test_group_by_errors_and_cli(tmp_path, outfox_path, sample_human, sample_synthetic):
    with pytest.raises(ConfigError, match="no synthetic document has the field 'nope'"):
        _report(group_by="nope").run(*_by_generator(outfox_path))
    out = tmp_path / "g"
    r = CliRunner().invoke(
        main,
        [
            "report",
            str(outfox_path),
            str(outfox_path),
            "--where",
            "label=human",
            "--where",
            "label=synthetic",
            "--group-by",
            "generator",
            "--max-docs",
            "24",
            "--model",
            "fake",
            "--embedder",
            "tfidf",
            "--mauve-seeds",
            "1",
            "--permutations",
            "20",
            "--bootstrap",
            "20",
            "--quiet",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["group_by"] == "generator" and m["groups"]["field"] == "generator"
    assert (out / "tables" / "groups.csv").exists() and (out / "figures" / "groups_distances.png").exists()
    assert "By generator" in (out / "report.html").read_text()


def test_analyzer_subcommand_group_by(tmp_path, outfox_path):
    """`lengths --group-by generator`: one corpus per generator after the reference, each equal to
    running the analyzer on that generator alone."""
    from toedit_stats.analyzers.lengths import LengthAnalyzer

    base = [str(outfox_path), str(outfox_path), "--where", "label=human", "--where", "label=synthetic"]
    r = CliRunner().invoke(main, ["lengths", *base, "--group-by", "generator", "--max-docs", "50", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    names = [c["name"] for c in got["corpora"]]
    assert names[0] == "texts[label=human]" and len(names) == 4
    assert names[1:] == [
        f"texts[label=synthetic]·{g}" for g in ("flan-t5-xxl", "gpt-3.5-turbo-0613", "text-davinci-003")
    ]
    human = read_corpus(outfox_path, where="label=human", name="texts[label=human]")
    alone = LengthAnalyzer(max_docs=50).analyze(
        [human, read_corpus(outfox_path, where="generator=text-davinci-003", name=names[3])]
    )
    a = next(c for c in got["corpora"] if c["name"] == names[3])
    b = next(c for c in alone.to_dict()["corpora"] if c["name"] == names[3])
    assert a == b
    bad = CliRunner().invoke(main, ["lengths", *base, "--group-by", "nope"])
    assert bad.exit_code == 2 and "no document of" in bad.output
