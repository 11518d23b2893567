"""Oversized documents: progress in tokens that moves inside a long document, the analyzers'
``max_doc_tokens`` policy (skipped and counted, and the report says how many), and an editor that
never truncates."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from toedit_stats.analyzers.tokens import TokenAnalyzer
from toedit_stats.cli import main
from toedit_stats.corpus import Document, MemoryCorpus
from toedit_stats.editing import EditConfig, edit
from toedit_stats.lm.cache import CachedLM
from toedit_stats.lm.fake import FakeLM
from toedit_stats.progress import TokenProgress

LONG = " ".join(f"word{i % 97}" for i in range(3000))  # 3,000 fake tokens


def _corpora():
    h = MemoryCorpus(
        [Document(f"h{i}", f"the human text number {i} is here") for i in range(6)], name="human"
    )
    s = MemoryCorpus(
        [Document(f"s{i}", f"the synthetic text {i} and more") for i in range(5)]
        + [Document("s-long", LONG)],
        name="synthetic",
    )
    return h, s


def test_progress_estimates_tokens_from_characters():
    p = TokenProgress(chars_total=1000, documents=3, enabled=False)
    assert p.estimated_total == 250  # 4 characters per token before any document finished
    p.on_tokens(30)
    p.on_tokens(20)
    p.document_done(chars=100, tokens=50)  # 2 characters per token
    assert p.tokens_done == 50 and p.estimated_total == pytest.approx(50 + 900 / 2)
    p.on_tokens(400)  # a long document in progress: counted before it finishes
    assert p.tokens_done == 450
    p.document_done(chars=800, tokens=400)
    assert p.estimated_total == pytest.approx(450 + 100 * 450 / 900)


def test_backends_report_tokens_as_they_score():
    seen = []
    docs = [Document("a", "the cat sat"), Document("b", LONG)]
    scores = list(FakeLM().score(docs, on_tokens=seen.append))
    assert sum(seen) == sum(len(s) for s in scores)
    cached = CachedLM(FakeLM(), memory=True)
    list(cached.score(docs))
    seen.clear()
    list(cached.score(docs, on_tokens=seen.append))  # cache hits count too
    assert sum(seen) == sum(len(s) for s in scores)


@pytest.mark.model
def test_transformers_progress_moves_inside_one_long_document(lm):
    from toedit_stats.lm.hf import TransformersLM

    # the lm fixture made sure the embedded model is installed and cached: this loads in a second
    small = TransformersLM(
        "smollm2-135m", device="cpu", dtype="float32", max_context=64, batch_tokens=128
    ).load()
    text = "The committee met again on Tuesday to discuss the budget. " * 40
    calls = []
    (s,) = small.score([Document("d", text)], on_tokens=calls.append)
    assert len(calls) > 3 and sum(calls) == len(s) == small.count_tokens([text])[0]


def test_max_doc_tokens_skips_and_counts():
    h, s = _corpora()
    res = TokenAnalyzer(model="fake", max_doc_tokens=1000).analyze([h, s])
    synth = res.corpora[1]
    assert synth.skipped_long == 1 and synth.documents == 5 and "s-long" not in synth.doc_ids
    assert res.sampling["synthetic"]["skipped_long"] == 1
    m = {(x.name, x.corpus): x for x in res.metrics()}
    assert m[("skipped_long", "synthetic")].value == 1 and m[("skipped_long", "synthetic")].headline
    assert any("longer than 1,000 tokens were not scored" in f for f in res.findings())
    # with no limit every document is scored, the long one in full
    res = TokenAnalyzer(model="fake", max_doc_tokens=None).analyze([h, s])
    assert res.corpora[1].skipped_long == 0 and 3000 in res.corpora[1].doc_tokens
    # a document just under the limit is scored: only texts over the limit in bytes are tokenised
    res = TokenAnalyzer(model="fake", max_doc_tokens=3000).analyze([h, s])
    assert res.corpora[1].skipped_long == 0


def test_report_says_how_many_were_skipped(tmp_path):
    from toedit_stats import compare

    h, s = _corpora()
    rep = compare(h, s, lm="fake", analyzers=["tokens"], max_doc_tokens=1000, max_docs=None)
    out = rep.save(tmp_path / "rep")
    html = (out / "report.html").read_text()
    assert "longer than 1,000 tokens were not scored" in html
    m = json.loads((out / "metrics.json").read_text())
    assert m["results"]["tokens"]["sampling"]["synthetic"]["skipped_long"] == 1
    # the editor never skips or truncates: the long document is edited whole
    long_edit = next(e for e in rep.edited_docs if e.doc.id == "s-long")
    assert long_edit.audit.tokens == 3000


def test_cli_max_doc_tokens(tmp_path, sample_human):
    r = CliRunner().invoke(
        main, ["tokens", str(sample_human), "--model", "fake", "--limit", "3", "--max-doc-tokens", "0"]
    )
    assert r.exit_code == 2 and "max_doc_tokens must be an integer >= 1" in r.output
    r = CliRunner().invoke(
        main,
        ["tokens", str(sample_human), "--model", "fake", "--limit", "3", "--max-doc-tokens", "50", "--json"],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["sampling"]["human"]["skipped_long"] == 3  # essays are longer than 50 tokens


def test_editor_never_truncates_long_documents():
    (ed,) = edit([Document("long", LONG)], FakeLM(), EditConfig(p=0.5, k=4))
    assert ed.audit.tokens == FakeLM().count_tokens([LONG])[0] == 3000
    assert ed.audit.changed > 0


def test_edit_job_progress_counts_tokens(tmp_path, capsys):
    from toedit_stats.corpus import write_records
    from toedit_stats.editing import run_edit_job

    src = tmp_path / "in.jsonl"
    write_records([{"id": "a", "text": "the cat sat on the mat"}, {"id": "b", "text": LONG}], src)
    from toedit_stats import read_corpus

    run_edit_job(read_corpus(src), tmp_path / "out.jsonl", model=FakeLM(), config=EditConfig(), progress=True)
    err = capsys.readouterr().err
    assert "tok" in err and "docs 2/2" in err
