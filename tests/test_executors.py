"""Every job that takes ``executor=`` gives the same result on every executor (issue 28): each test
runs once in this process and once on a local Ray cluster (two actors), and checks the result
against a reference computed without the executor seam — the edit job against :func:`edit` itself,
the token statistics against direct scoring, the embedding statistics against vectors computed
directly, the sketch against one sketch of the whole corpus, the sweep and the report against a
run on a model object in this process."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toedit_stats import read_corpus
from toedit_stats.corpus import MemoryCorpus
from toedit_stats.execution import LocalExecutor, RayExecutor
from toedit_stats.lm import LMConfig
from toedit_stats.lm.fake import FakeLM


@pytest.fixture(params=["local", "ray"])
def executor(request):
    if request.param == "ray":
        pytest.importorskip("ray")
        return RayExecutor(actors=2)
    return LocalExecutor()


@pytest.fixture(scope="module")
def pair(sample_human, sample_synthetic):
    h = MemoryCorpus(list(read_corpus(sample_human, limit=10)), name="human")
    s = MemoryCorpus(list(read_corpus(sample_synthetic, limit=10)), name="synthetic")
    return h, s


def _approx(a, b, rel=1e-12) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_approx(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_approx(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-15) or (math.isnan(a) and math.isnan(b))
    return a == b


def test_edit_job_equals_the_editor(executor, tmp_path, pair):
    from toedit_stats.editing import EditConfig, edit, run_edit_job

    _, s = pair
    cfg = EditConfig(p=0.5)
    out = tmp_path / "out.jsonl"
    job = run_edit_job(s, out, model=LMConfig(model="fake"), config=cfg, chunk_docs=3, executor=executor)
    want = [ed.record("text") for ed in edit(list(s), FakeLM(), cfg)]
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in got] == [r["text"] for r in want]
    assert _approx(got, json.loads(json.dumps(want)), rel=1e-6)
    assert job.manifest["engine"]["name"] == executor.name and len(job.manifest["chunks"]) == 4


def test_token_statistics_equal_direct_scoring(executor, pair):
    from toedit_stats.analyzers.tokens import TokenAnalyzer, compare_token_stats, token_stats

    h, s = pair
    res = TokenAnalyzer(model="fake", max_docs=None, executor=executor, batch_docs=3).analyze([h, s])
    lm = FakeLM()
    direct = [token_stats(c.name, lm.score(list(c))) for c in (h, s)]
    for got, want in zip(res.corpora, direct):
        for f in ("documents", "tokens", "fine", "ge", "le", "ranks", "doc_ids", "doc_tokens", "doc_ge99"):
            assert np.array_equal(np.asarray(getattr(got, f)), np.asarray(getattr(want, f))), f
        assert got.doc_ppl == pytest.approx(want.doc_ppl, rel=1e-12)
    assert _approx(
        json.loads(json.dumps(res.pairs[0].__dict__, default=str)),
        json.loads(json.dumps(compare_token_stats(*direct).__dict__, default=str)),
    )


def test_embedding_statistics_equal_directly_computed_vectors(executor, pair):
    from toedit_stats.analyzers.embeddings import EmbeddingAnalyzer
    from toedit_stats.embed import PrefilledEmbedder, TfidfEmbedder

    h, s = pair
    kw = dict(max_docs=None, mauve_seeds=1, permutations=50, cv_repeats=1)
    got = EmbeddingAnalyzer(embedder="tfidf", executor=executor, **kw).analyze([h, s])
    texts = [d.text for c in (h, s) for d in c]
    emb = TfidfEmbedder(seed=0).fit(texts)
    info = {"name": emb.name, "fingerprint": emb.fingerprint, "dim": emb.dim}
    direct = PrefilledEmbedder(info, texts, emb.embed(texts))
    want = EmbeddingAnalyzer(embedder=direct, **kw).analyze([h, s])
    assert _approx(json.loads(json.dumps(got.to_dict())), json.loads(json.dumps(want.to_dict())))


def test_ngram_sketch_merges_to_one_sketch_of_the_corpus(executor, pair):
    from toedit_stats.analyzers.ngrams import analyze_ngrams_sketch

    kw = dict(n=(1, 2), capacity=50)
    runs = analyze_ngrams_sketch(list(pair), executor=executor, chunk_docs=3, **kw)
    whole = analyze_ngrams_sketch(list(pair), chunk_docs=10_000, **kw)  # one run per corpus
    for a, b in zip(whole.corpora, runs.corpora):
        assert (a.documents, a.tokens, a.compression_ratio, a.near_duplicate_rate) == (
            b.documents,
            b.tokens,
            b.compression_ratio,
            b.near_duplicate_rate,
        )
        assert np.array_equal(a.hashed.mass, b.hashed.mass)
        bounds = runs.sketch["bounds"][a.name]
        for sa, sb in zip(a.by_n, b.by_n):
            assert (sa.total, sa.distinct) == (sb.total, sb.distinct)  # HyperLogLog++ merges exactly
            assert abs(sa.top100_mass - sb.top100_mass) <= bounds[sa.n]["top100_mass_max_error"]


def test_sweep_does_not_depend_on_the_executor(executor, pair):
    from toedit_stats.report.sweep import sweep

    h, s = pair
    kw = dict(analyzers=["lengths", "tokens"], max_docs=None, bootstrap=50, token_fraction=0.5)
    grid = "p=0.5,0.99;exclude_original=false,true"
    want = sweep(h, s, grid, lm=FakeLM(), **kw)
    got = sweep(h, s, grid, lm=LMConfig(model="fake"), executor=executor, **kw)
    assert got.config["engine"]["name"] == executor.name
    assert got.config["score_cache"]["misses"] == want.config["score_cache"]["misses"]  # each text once
    rows = lambda r: [{k: v for k, v in x.items() if k != "seconds"} for x in r.rows]  # noqa: E731
    assert _approx(json.loads(json.dumps(rows(got))), json.loads(json.dumps(rows(want))))
    assert _approx(json.loads(json.dumps(got.effects)), json.loads(json.dumps(want.effects)))


def test_report_does_not_depend_on_the_executor(executor, pair):
    from toedit_stats.editing import EditConfig
    from toedit_stats.report import Report

    h, s = pair
    kw = dict(max_docs=None, bootstrap=50, scores=False)
    analyzers = ["tokens", "lengths", "ngrams"]
    want = Report(analyzers, EditConfig(p=0.5), lm=FakeLM(), **kw).run(h, s)
    got = Report(analyzers, EditConfig(p=0.5), lm=LMConfig(model="fake"), executor=executor, **kw).run(h, s)
    assert got.edited_records == want.edited_records
    a, b = got.to_dict(), want.to_dict()
    for d in (a, b):
        d.pop("timings"), d.pop("provenance")
    assert _approx(json.loads(json.dumps(a, default=str)), json.loads(json.dumps(b, default=str)))


def test_every_model_command_has_the_executor_flags_and_refuses_ray_flags_without_ray(sample_human):
    """One declaration (ExecutionOptions): the same --engine/--ray-* on every command that runs a
    model, an embedder or the sketch, and the same refusal of --ray-* without --engine ray."""
    from click.testing import CliRunner

    from toedit_stats.cli import main

    for cmd in ("report", "edit", "sweep", "score", "tokens", "embed", "ngrams"):
        help_text = CliRunner().invoke(main, [cmd, "--help"]).output
        assert all(f in help_text for f in ("--engine", "--ray-address", "--ray-actors", "--ray-gpus")), cmd
    r = CliRunner().invoke(
        main, ["tokens", str(sample_human), "--model", "fake", "--ray-actors", "2", "--quiet"]
    )
    assert r.exit_code == 2 and "--ray-address, --ray-actors and --ray-gpus need --engine ray" in r.output
