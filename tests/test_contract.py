"""The analyzer contract, checked for every registered analyzer (like scikit-learn's
``parametrize_with_checks``), and the wiring bugs the contract removed, each as a test."""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner

from toedit_stats import Corpus, read_corpus
from toedit_stats._io import dumps
from toedit_stats.analyzers.base import Analyzer, Metric, Result
from toedit_stats.cli import main
from toedit_stats.corpus import Document, MemoryCorpus
from toedit_stats.errors import ConfigError
from toedit_stats.registry import analyzer_names, get_analyzer
from toedit_stats.testing import CHECKS, check_analyzer

# cheap settings per analyzer: the fake LM and TF-IDF, few permutations
FAST = {
    "tokens": {"model": "fake"},
    "embed": {"embedder": "tfidf", "mauve_seeds": 1, "permutations": 50},
}


def make(name: str, **kw) -> Analyzer:
    return get_analyzer(name)(**{**FAST.get(name, {}), **kw})


@pytest.fixture(scope="module")
def pair(sample_human, sample_synthetic):
    h = MemoryCorpus(list(read_corpus(sample_human, limit=12)), name="human")
    s = MemoryCorpus(list(read_corpus(sample_synthetic, limit=12)), name="synthetic")
    return h, s


def _json(result: Result) -> str:
    return dumps(result.to_dict())


ALL = analyzer_names()


def test_registry_lists_the_four_analyzers_lazily():
    assert ALL[:4] == ["ngrams", "tokens", "embed", "lengths"]
    code = "import toedit_stats.registry as r, sys; r.analyzer_names(); print('toedit_stats.analyzers.ngrams' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # names only: no analyzer module imported


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", ALL)
def test_analyzer_contract(name, check, pair):
    """Every check of the public contract (toedit_stats.testing) on every registered analyzer,
    over the bundled sample."""
    CHECKS[check](lambda **kw: make(name, **kw), pair)


def test_check_analyzer_passes_a_good_analyzer_and_names_the_check_a_bad_one_fails():
    from toedit_stats.analyzers.lengths import LengthAnalyzer

    assert check_analyzer(LengthAnalyzer) == list(CHECKS)

    @dataclasses.dataclass(kw_only=True)
    class FirstDocuments(LengthAnalyzer):  # reads only the first documents: order-dependent
        def analyze(self, corpora, reference=0):
            return super().analyze([MemoryCorpus(list(c)[:5], name=c.name) for c in corpora], reference)

    with pytest.raises(AssertionError, match="FirstDocuments fails document_order_does_not_change_results"):
        check_analyzer(FirstDocuments)


def test_lengths_against_hand_computed_values():
    from scipy.stats import ks_2samp

    from toedit_stats.analyzers.lengths import LengthAnalyzer

    a = Corpus.from_documents(["One two three. Four five!", "Six seven, eight."], name="a")
    b = Corpus.from_documents(["Nine ten.", "Eleven twelve thirteen fourteen."], name="b")
    r = LengthAnalyzer(segment=4).analyze([a, b])
    ca, cb = r.corpora
    # words are alphanumeric tokens (the comma and full stops are not words)
    assert sorted(ca.words.tolist()) == [3.0, 5.0] and sorted(cb.words.tolist()) == [2.0, 4.0]
    assert sorted(ca.sentence_words.tolist()) == [2.0, 3.0, 3.0]
    # TTR on equal 4-word segments: a's 8 words, all distinct -> 1.0; b's 6 words -> one segment
    assert ca.ttr == 1.0 and cb.ttr == 1.0 and ca.ttr_segment == cb.ttr_segment == 4
    assert math.isclose(
        ca.mean_word_length,
        sum(map(len, ["one", "two", "three", "four", "five", "six", "seven", "eight"])) / 8,
    )
    ks = ks_2samp([3, 5], [2, 4])
    assert math.isclose(r.pairs[0].ks_stat, ks.statistic) and math.isclose(r.pairs[0].ks_pvalue, ks.pvalue)
    assert {m.name for m in r.metrics()} >= {"words_p50", "ttr", "words_ks_stat", "words_ks_pvalue"}


def test_lengths_disjoint_lengths_give_ks_one_and_empty_corpus_is_nan():
    from toedit_stats.analyzers.lengths import LengthAnalyzer

    short = Corpus.from_documents(["a b"] * 5, name="s")
    long = Corpus.from_documents([" ".join(["w"] * 50)] * 5, name="l")
    r = LengthAnalyzer().analyze([short, long])
    assert r.pairs[0].ks_stat == 1.0
    empty = MemoryCorpus([], name="e")
    r = LengthAnalyzer().analyze([short, empty])
    assert math.isnan(r.pairs[0].ks_stat)


# ---------------------------------------------------------------------------------------------
# a fourth-party analyzer through the entry-point group: the report and the CLI pick it up


@dataclasses.dataclass(kw_only=True)
class CharAnalyzer(Analyzer):
    """Characters per corpus (a plugin used by the tests)."""

    name = "chars"
    title = "Characters"

    def analyze(self, corpora, reference=0):
        from toedit_stats.analyzers.base import prepare_corpora

        prepared, _ = prepare_corpora(corpora, reference, self.max_docs, self.seed)
        return CharResult([(c.name, sum(len(d.text) for d in c), len(c)) for c in prepared])


@dataclasses.dataclass(frozen=True, repr=False)
class CharResult(Result):
    analyzer = "chars"
    title = "Characters"
    rows: list

    def corpus_names(self):
        return [r[0] for r in self.rows]

    def metrics(self):
        return [
            Metric("chars", "characters", "characters", "per corpus", n, v, n=d, headline=True)
            for n, v, d in self.rows
        ]

    def to_dict(self):
        return {"rows": self.rows}

    def _figure_makers(self):
        def bar(ax=None):
            import matplotlib.pyplot as plt

            if ax is None:
                _, ax = plt.subplots()
            ax.bar([r[0] for r in self.rows], [r[1] for r in self.rows])
            return ax.figure

        return {"bar": bar}


@pytest.fixture
def plugin(monkeypatch):
    import toedit_stats.registry as registry

    ep = EntryPoint(name="chars", value=f"{__name__}:CharAnalyzer", group="toedit_stats.analyzers")
    monkeypatch.setattr(
        "importlib.metadata.entry_points", lambda group=None: [ep] if group == ep.group else []
    )
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry, "ANALYZERS", dict(registry.ANALYZERS))
    yield
    monkeypatch.setattr(registry, "_plugins_loaded", False)


def test_plugin_analyzer_reaches_report_and_cli(plugin, tmp_path, sample_human, sample_synthetic):
    from toedit_stats import compare

    assert "chars" in analyzer_names()
    rep = compare(sample_human, sample_synthetic, editor=False, analyzers=["lengths", "chars"], max_docs=5)
    assert set(rep.results) == {"lengths", "chars"}
    out = rep.save(tmp_path / "rep")
    m = json.loads((out / "metrics.json").read_text())
    assert m["results"]["chars"]["rows"][0][0] == "human"
    assert (out / "figures" / "chars_bar.png").is_file() and (out / "tables" / "chars_metrics.csv").is_file()
    assert 'id="chars"' in (out / "report.html").read_text()
    r = CliRunner().invoke(main, ["chars", str(sample_human), "--limit", "3", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["rows"][0][2] == 3


# ---------------------------------------------------------------------------------------------
# the reproduced wiring bugs


def test_compare_has_no_edit_parameter_shadowing_edit():
    from toedit_stats import compare

    assert "edit" not in inspect.signature(compare).parameters


def test_report_all_docs_really_means_all(tmp_path, sample_human, sample_synthetic):
    out = tmp_path / "r"
    r = CliRunner().invoke(
        main,
        [
            "report",
            str(sample_human),
            str(sample_synthetic),
            "-o",
            str(out),
            "--model",
            "fake",
            "--embedder",
            "tfidf",
            "--mauve-seeds",
            "1",
            "--permutations",
            "20",
            "--all-docs",
            "--analyzers",
            "embed,lengths",
            "--no-edit",
            "--quiet",
            "--limit",
            "15",
        ],
    )
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["max_docs"] is None and m["config"]["analyzers"]["embed"]["max_docs"] is None
    assert m["results"]["embed"]["corpora"][0]["documents"] == 15


@pytest.mark.parametrize(
    "flag, value",
    [("--device", "cuda:1"), ("--batch-tokens", "4096")],
)
def test_vllm_refuses_options_it_does_not_use(flag, value, sample_human):
    r = CliRunner().invoke(
        main, ["tokens", str(sample_human), "--backend", "vllm", flag, value, "--limit", "2"]
    )
    assert r.exit_code == 2
    assert f"does not use {flag}" in r.output


def test_unknown_backend_lists_the_registered_ones(sample_human):
    r = CliRunner().invoke(main, ["tokens", str(sample_human), "--backend", "tpu-magic", "--limit", "2"])
    assert r.exit_code == 2 and "backend must be one of transformers, vllm" in r.output


def test_verdict_is_built_once_per_report(tmp_path, sample_human, sample_synthetic, monkeypatch):
    import toedit_stats.report.verdict as verdict
    from toedit_stats import compare

    calls = []
    real = verdict.build_verdict
    monkeypatch.setattr(verdict, "build_verdict", lambda r: calls.append(1) or real(r))
    rep = compare(sample_human, sample_synthetic, editor=False, analyzers=["lengths"], max_docs=5)
    rep.save(tmp_path / "rep")
    rep.to_frame(), rep.summary_frame(), rep._repr_html_(), rep.to_dict(), rep.metrics()
    assert len(calls) == 1


def test_no_import_cycles_io_knows_no_figures():
    code = (
        "import sys, toedit_stats._io, toedit_stats.plotting;"
        "print(sorted(m for m in sys.modules if m.startswith('toedit_stats.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)
    assert not [m for m in loaded if m.startswith(("toedit_stats.analyzers", "toedit_stats.report"))]


def test_one_sampling_rule_across_analyzers(pair):
    from toedit_stats.corpus import sample_documents

    h, _ = pair
    ids = [d.id for d in sample_documents(iter(h), 5, seed=2)[0]]
    tok = make("tokens", max_docs=5, seed=2).analyze([h])
    assert sorted(tok.corpora[0].doc_ids) == sorted(ids)
    lengths = make("lengths", max_docs=5, seed=2).analyze([h])
    assert lengths.corpora[0].documents == 5


def test_edit_options_come_from_editconfig():
    from toedit_stats.editing import EditConfig
    from toedit_stats.options import flag, option_fields

    edit_cmd = main.get_command(None, "edit")
    report_cmd = main.get_command(None, "report")
    for f in option_fields(EditConfig):
        if f.name == "seed":
            continue
        for cmd in (edit_cmd, report_cmd):
            opt = next(p for p in cmd.params if flag(f) in getattr(p, "opts", []))
            assert opt.help == f.metadata["help"]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"p": -1}, "p must be a number > 0, got -1"),
        ({"p": float("nan")}, "p must be a number > 0, got nan"),
        ({"k": 0}, "k must be an integer >= 1, got 0"),
        ({"beta": 0.0}, "beta must be a number > 0 (or none), got 0.0"),
        ({"beta": float("inf")}, "beta must be a number > 0 (or none), got inf"),
        (
            {"strategy": "best"},
            "strategy must be one of up_revise, low_drop_up_revise, filtering, got 'best'",
        ),
        ({"drop_below": 2}, "drop_below must be a number in [0, 1], got 2"),
        ({"generations": 0}, "generations must be an integer >= 1, got 0"),
        ({"p": "0.99"}, "p must be a number > 0, got '0.99'"),
    ],
)
def test_one_message_template(kw, message):
    from toedit_stats.editing import EditConfig

    with pytest.raises(ConfigError) as exc:
        EditConfig(**kw)
    assert str(exc.value) == message


def test_p_above_one_selects_nothing():
    from toedit_stats.editing import EditConfig, edit
    from toedit_stats.lm.fake import FakeLM

    (out,) = edit([Document("a", "the cat sat on the mat and the dog")], FakeLM(), EditConfig(p=1.5))
    assert out.audit.selected == 0 and out.doc.text == out.original


def test_toml_goes_through_the_flags_types(tmp_path, sample_synthetic):
    cfg = tmp_path / "job.toml"
    cfg.write_text('[model]\nmodel = "fake"\n[edit]\np = 0.5\nk = 4\nn = 2\n')
    r = CliRunner().invoke(
        main, ["edit", str(sample_synthetic), "-o", str(tmp_path / "o.jsonl"), "--config", str(cfg)]
    )
    assert r.exit_code == 2 and "unknown option 'n'" in r.output
    cfg.write_text('[model]\nmodel = "fake"\n[edit]\np = 0.5\nk = 4\n')
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(
        main,
        [
            "edit",
            str(sample_synthetic),
            "-o",
            str(out),
            "--config",
            str(cfg),
            "--k",
            "2",
            "--limit",
            "3",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    manifest = json.loads(out.with_name("o.jsonl.manifest.json").read_text())
    assert manifest["config"]["edit"]["p"] == 0.5 and manifest["config"]["edit"]["k"] == 2  # the flag wins
    cfg.write_text("[edit]\nk = 0\n")
    r = CliRunner().invoke(
        main, ["edit", str(sample_synthetic), "-o", str(tmp_path / "x.jsonl"), "--config", str(cfg)]
    )
    assert r.exit_code == 2 and "k must be an integer >= 1, got 0" in r.output


def test_report_and_edit_job_write_one_manifest_format(tmp_path, sample_synthetic, sample_human):
    from toedit_stats import compare
    from toedit_stats.editing import EditConfig

    out = tmp_path / "e.jsonl"
    r = CliRunner().invoke(
        main, ["edit", str(sample_synthetic), "-o", str(out), "--model", "fake", "--limit", "4", "--quiet"]
    )
    assert r.exit_code == 0, r.output
    job = json.loads(out.with_name("e.jsonl.manifest.json").read_text())
    rep = compare(
        sample_human, sample_synthetic, editor=EditConfig(), lm="fake", analyzers=["lengths"], max_docs=4
    ).save(tmp_path / "rep")
    made = json.loads((rep / "edited.jsonl.manifest.json").read_text())
    assert set(made["config"]) == set(job["config"])
    assert (
        made["config"]["edit"] == job["config"]["edit"] and made["config"]["model"] == job["config"]["model"]
    )
    for key in ("versions", "complete", "totals", "output", "output_sha256"):
        assert key in made and key in job
    assert made["totals"]["documents"] == 4


def test_language_model_protocol_is_complete():
    from toedit_stats.lm.base import LanguageModel
    from toedit_stats.lm.cache import CachedLM
    from toedit_stats.lm.fake import FakeLM
    from toedit_stats.lm.hf import TransformersLM
    from toedit_stats.lm.vllm import VLLMModel

    members = ("load", "info", "score", "token_text", "fingerprint", "vocab_size")
    for cls in (TransformersLM, VLLMModel, FakeLM):
        assert all(hasattr(cls, m) for m in members), cls
        assert cls.backend
    assert isinstance(CachedLM(FakeLM(), memory=True), LanguageModel)
    assert isinstance(FakeLM(), LanguageModel)


def test_memory_score_cache_serves_fewer_top_k_and_rescoring_more():
    from toedit_stats.lm.cache import CachedLM
    from toedit_stats.lm.fake import FakeLM

    lm = CachedLM(FakeLM(), memory=True)
    docs = [Document("a", "the cat sat on the mat"), Document("b", "a dog")]
    first = list(lm.score(docs, top_k=4))
    again = list(lm.score(docs, top_k=2))
    assert lm.hits == 2 and again[0].topk_ids.shape[1] == 2
    assert (again[0].topk_ids == first[0].topk_ids[:, :2]).all()
    list(lm.score(docs, top_k=8))
    assert lm.misses == 4


def test_quiet_means_quiet_and_the_edited_line_is_dashed(sample_human, sample_synthetic, pair):
    # faiss's "WARNING clustering …" lines (MAUVE's k-means) no longer reach stderr
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "toedit_stats.cli",
            "embed",
            str(sample_human),
            str(sample_synthetic),
            "--embedder",
            "tfidf",
            "--mauve-seeds",
            "2",
            "--permutations",
            "20",
            "--quiet",
            "--json",
            "--limit",
            "20",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-500:]
    import matplotlib.pyplot as plt

    h, s = pair
    e = MemoryCorpus(list(s), name="edited")
    fig = make("tokens").analyze([h, s, e]).plot("prob_u_shape")
    lines = {
        ln.get_label().split(" (")[0]: ln.get_linestyle()
        for ln in fig.axes[0].get_lines()
        if ln.get_label()[0] != "_"
    }
    assert lines["edited"] == "--" and lines["synthetic"] == "-"
    plt.close(fig)
