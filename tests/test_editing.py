from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from toedit_stats import read_corpus, write_records
from toedit_stats.corpus import Document
from toedit_stats.editing import EditConfig, doc_rng, edit, edit_scores, run_edit_job
from toedit_stats.errors import ConfigError
from toedit_stats.lm.base import TokenScores
from toedit_stats.lm.fake import FakeLM


def _records(path: Path, n: int | None = None) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines[:n]]


# ---------------------------------------------------------------------------------------------
# pure editing logic on hand-made scores


def _scores(text, pieces, probs, topk):
    offs, pos = [], 0
    for p in pieces:
        offs.append((pos, pos + len(p)))
        pos += len(p)
    assert "".join(pieces) == text
    ids = np.arange(len(pieces))
    tki = np.array([[t[0] for t in row] for row in topk], np.int64)
    tkl = np.log(np.array([[t[1] for t in row] for row in topk], np.float64)).astype(np.float32)
    return TokenScores(
        "d",
        ids,
        np.array(offs),
        np.log(np.array(probs)).astype(np.float32),
        np.ones(len(pieces), np.int64),
        None,
        tki,
        tkl,
    )


VOCAB = {0: "The", 1: " cat", 2: " sat", 3: ".", 10: " dog", 11: " ran", 12: "!"}


def _tt(ids):
    return [VOCAB[int(i)] for i in ids]


def test_splicing_replaces_and_deletes_exact_spans():
    text = "The cat sat."
    s = _scores(
        text,
        ["The", " cat", " sat", "."],
        [0.5, 0.995, 0.0005, 0.999],
        [[(0, 0.5), (10, 0.5)], [(10, 0.999), (1, 0.001)], [(11, 0.9), (2, 0.1)], [(12, 0.99), (3, 0.01)]],
    )
    # position 1: actual token " cat" is not the top candidate; force sampling the top with beta tiny
    cfg = EditConfig(p=0.99, k=2, beta=1e-6, strategy="low_drop_up_revise", drop_below=0.001)
    new, audit = edit_scores(text, s, cfg, _tt, doc_rng(0, "d"), audit_positions=True)
    assert new == "The dog!"
    assert (audit.tokens, audit.selected, audit.changed, audit.deleted) == (4, 2, 2, 1)
    assert audit.positions[0] == [1, [3, 7], " cat", " dog", pytest.approx(0.995)]
    only_delete = EditConfig(strategy="filtering", drop_below=0.001)
    new, audit = edit_scores(text, s, only_delete, _tt, doc_rng(0, "d"))
    assert new == "The cat." and audit.deleted == 1 and audit.selected == 0


def test_unsafe_spans_are_skipped():
    text = "The cat sat."
    s = _scores(
        text,
        ["The", " cat", " sat", "."],
        [0.5, 0.995, 0.5, 0.5],
        [[(0, 1.0)], [(10, 0.999)], [(2, 1.0)], [(3, 1.0)]],
    )
    bad_offsets = TokenScores(
        s.doc_id,
        s.token_ids,
        np.array([[0, 3], [3, 6], [7, 11], [11, 12]]),
        s.logprobs,
        s.ranks,
        None,
        s.topk_ids,
        s.topk_logprobs,
    )  # " cat" span is wrong
    new, audit = edit_scores(text, bad_offsets, EditConfig(k=1), _tt, doc_rng(0, "d"))
    assert new == text and audit.skipped_unsafe == 1 and audit.changed == 0
    partial = dict(VOCAB)
    partial[10] = "\ufffd"  # replacement is a partial UTF-8 piece
    new, audit = edit_scores(
        text, s, EditConfig(k=1), lambda ids: [partial[int(i)] for i in ids], doc_rng(0, "d")
    )
    assert new == text and audit.skipped_unsafe == 1


def test_selection_is_ge_p():
    text = "The cat sat."
    s = _scores(
        text,
        ["The", " cat", " sat", "."],
        [0.99, 0.98, 0.5, 0.5],
        [[(0, 0.99)], [(1, 0.98)], [(2, 1.0)], [(3, 1.0)]],
    )
    _, audit = edit_scores(
        text, s, EditConfig(p=float(np.exp(np.float64(np.float32(np.log(0.99))))), k=1), _tt, doc_rng(0, "d")
    )
    assert audit.selected == 1


def test_config_validation():
    with pytest.raises(ConfigError, match="strategy must be one of"):
        EditConfig(strategy="nope")
    with pytest.raises(ConfigError, match="k must be"):
        EditConfig(k=0)
    assert EditConfig().effective_beta == 1.5
    assert EditConfig(strategy="low_drop_up_revise").effective_beta == 1.0


# ---------------------------------------------------------------------------------------------
# jobs with the fake LM: round trip, seeds, shards, resume under SIGKILL


@pytest.mark.parametrize("limit", [400, pytest.param(None, marks=pytest.mark.slow)], ids=["400-docs", "all"])
def test_p_above_one_round_trips_both_shared_corpora(tmp_path, essays_path, outfox_path, limit):
    """Nothing selected, every record and field back as it was (the default twin: the first 400
    documents of each corpus; the slow test: all of them)."""
    for path in (essays_path, outfox_path):
        out = tmp_path / f"{path.parent.name}.jsonl"
        corpus = read_corpus(path, limit=limit)
        run_edit_job(corpus, out, model=FakeLM(), config=EditConfig(p=1.01), chunk_docs=150)
        original = _records(path)[: limit or None]
        edited = _records(out)
        assert len(edited) == len(original)
        for a, b in zip(original, edited):
            assert b["text"].encode("utf-8") == a["text"].encode("utf-8")
            assert {k: v for k, v in b.items() if k != "toedit"} == a  # every input field preserved
            assert b["toedit"]["changed"] == 0 and b["toedit"]["selected"] == 0


def test_output_format_follows_name(tmp_path, sample_synthetic):
    for name in ("e.jsonl.gz", "e.jsonl.zst", "e.parquet"):
        run_edit_job(
            read_corpus(sample_synthetic, limit=5), tmp_path / name, model=FakeLM(), config=EditConfig()
        )
        docs = list(read_corpus(tmp_path / name))
        assert len(docs) == 5 and "toedit" in docs[0].metadata


def test_seed_and_shards(tmp_path, sample_synthetic):
    corpus = read_corpus(sample_synthetic)
    cfg = EditConfig(p=0.99, k=4, seed=3)
    a = run_edit_job(corpus, tmp_path / "a.jsonl", model=FakeLM(), config=cfg, chunk_docs=7)
    run_edit_job(corpus, tmp_path / "b.jsonl", model=FakeLM(), config=cfg, chunk_docs=13)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert a.totals["changed"] > 0
    other = run_edit_job(corpus, tmp_path / "c.jsonl", model=FakeLM(), config=EditConfig(p=0.99, k=4, seed=4))
    assert (tmp_path / "c.jsonl").read_bytes() != (tmp_path / "a.jsonl").read_bytes()
    assert other.totals["selected"] == a.totals["selected"]
    shards = []
    for i in range(3):
        run_edit_job(corpus, tmp_path / f"s{i}.jsonl", model=FakeLM(), config=cfg, shard=(i, 3))
        shards += _records(tmp_path / f"s{i}.jsonl")
    whole = {r["id"]: r for r in _records(tmp_path / "a.jsonl")}
    assert len(shards) == len(whole) and {r["id"]: r for r in shards} == whole


def test_existing_partial_run_needs_resume_and_same_config(tmp_path, sample_synthetic):
    out = tmp_path / "o.jsonl"
    parts = tmp_path / "o.jsonl.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"fingerprint": "other", "chunks": []}))
    corpus = read_corpus(sample_synthetic, limit=3)
    with pytest.raises(ConfigError, match="pass --resume"):
        run_edit_job(corpus, out, model=FakeLM(), config=EditConfig())
    with pytest.raises(ConfigError, match="different configuration"):
        run_edit_job(corpus, out, model=FakeLM(), config=EditConfig(), resume=True)
    assert not out.exists()


def _edit_cmd(inp, out, *extra):
    return [
        sys.executable,
        "-m",
        "toedit_stats.cli",
        "edit",
        str(inp),
        "-o",
        str(out),
        "--model",
        "fake",
        "--chunk-docs",
        "1",
        "--quiet",
        "--p",
        "0.99",
        "--k",
        "4",
        *extra,
    ]


def test_resume_after_sigkill_gives_identical_output(tmp_path, sample_synthetic):
    reference = tmp_path / "ref.jsonl"
    subprocess.run(_edit_cmd(sample_synthetic, reference), check=True, capture_output=True)
    rng = random.Random(0)
    for trial in range(4):
        out = tmp_path / f"run{trial}.jsonl"
        proc = subprocess.Popen(
            _edit_cmd(sample_synthetic, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.6, 2.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not out.exists() or out.read_bytes() == reference.read_bytes()
        for _ in range(3):  # kill the resumed run too, sometimes
            if out.exists():
                break
            proc = subprocess.Popen(
                _edit_cmd(sample_synthetic, out, "--resume"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.5, 1.5))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if not out.exists():
            subprocess.run(_edit_cmd(sample_synthetic, out, "--resume"), check=True, capture_output=True)
        assert out.read_bytes() == reference.read_bytes()
        assert not (tmp_path / f"run{trial}.jsonl.parts").exists()


def test_bad_input_leaves_no_output(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{oops\n')
    proc = subprocess.run(_edit_cmd(bad, tmp_path / "o.jsonl"), capture_output=True, text=True)
    assert (
        proc.returncode == 2 and "bad.jsonl:2: invalid JSON" in proc.stderr and "Traceback" not in proc.stderr
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


def test_config_file(tmp_path, sample_synthetic):
    cfg = tmp_path / "job.toml"
    cfg.write_text('[edit]\np = 0.5\nk = 2\nstrategy = "up_revise"\n[model]\nmodel = "fake"\n')
    out = tmp_path / "o.jsonl"
    base = [
        sys.executable,
        "-m",
        "toedit_stats.cli",
        "edit",
        str(sample_synthetic),
        "-o",
        str(out),
        "--limit",
        "3",
        "--quiet",
        "--config",
    ]
    subprocess.run([*base, str(cfg)], check=True, capture_output=True)
    manifest = json.loads((tmp_path / "o.jsonl.manifest.json").read_text())
    assert manifest["config"]["edit"]["p"] == 0.5 and manifest["config"]["edit"]["k"] == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("nonsense = 1\n")
    proc = subprocess.run([*base, str(bad), "--overwrite"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown option 'nonsense'" in proc.stderr


# ---------------------------------------------------------------------------------------------
# the real embedded model


@pytest.fixture(scope="module")
def synth_docs(sample_synthetic):
    return [Document(r["id"], r["text"]) for r in _records(sample_synthetic, 8)]


@pytest.mark.model
def test_k1_changes_nothing(lm, synth_docs):
    for ed in edit(synth_docs[:3], lm, p=0.5, k=1):
        assert ed.doc.text == ed.original and ed.audit.changed == 0 and ed.audit.selected > 0


@pytest.mark.model
def test_changed_share_matches_topk_distribution(lm, synth_docs):
    cfg = EditConfig(p=0.9, k=8, beta=1.5, seed=0)
    expected = var = 0.0
    changed = skipped = 0
    for ed in edit(synth_docs, lm, cfg):
        s = ed.scores
        sel = np.flatnonzero(np.exp(s.logprobs.astype(np.float64)) >= cfg.p)
        w = np.exp((s.topk_logprobs[sel, :8].astype(np.float64)) / 1.5)
        w /= w.sum(1, keepdims=True)
        keep = (s.topk_ids[sel, :8] == s.token_ids[sel, None]) * w
        pc = 1 - keep.sum(1)
        expected += pc.sum()
        var += (pc * (1 - pc)).sum()
        changed += ed.audit.changed
        skipped += ed.audit.skipped_unsafe
    assert expected > 20
    # a sum of independent Bernoullis: within 4 standard deviations (skipped edits were draws too)
    assert abs(changed + skipped - expected) <= 4 * np.sqrt(var), (changed, skipped, expected, var)


@pytest.mark.model
def test_real_model_edits_are_local_and_deterministic(lm, synth_docs):
    cfg = EditConfig(p=0.99, k=8, strategy="low_drop_up_revise", seed=1)
    a = list(edit(synth_docs[:4], lm, cfg, audit_positions=True))
    old = lm.batch_tokens
    try:
        lm.batch_tokens = 256
        b = list(edit(list(reversed(synth_docs[:4])), lm, cfg, audit_positions=True, buffer_docs=1))
    finally:
        lm.batch_tokens = old
    assert [x.doc.text for x in a] == [x.doc.text for x in reversed(b)]
    for ed in a:
        s = ed.scores
        low = int((np.exp(s.logprobs.astype(np.float64)) < cfg.drop_below).sum())
        audit = ed.audits[0]
        assert audit.deleted + sum(1 for p in audit.positions if p[3] == "") <= 2 * low + 1
        assert audit.deleted <= low and audit.changed <= audit.selected
        # rebuild the edited text from the original and the audit: everything else is untouched
        pieces, cursor = [], 0
        for _, (start, end), old, new, _ in audit.positions:
            assert ed.original[start:end] == old
            pieces += [ed.original[cursor:start], new]
            cursor = end
        pieces.append(ed.original[cursor:])
        assert "".join(pieces) == ed.doc.text


def test_sft_text_field_and_progress(tmp_path, capsys):
    src = tmp_path / "sft.jsonl"
    write_records(
        [
            {"id": str(i), "prompt": "Say something.", "response": f"Sure, here is answer {i} for you."}
            for i in range(6)
        ],
        src,
    )
    out = tmp_path / "o.jsonl"
    res = run_edit_job(
        read_corpus(src, text_field="response"),
        out,
        model=FakeLM(),
        config=EditConfig(p=0.5, k=4),
        progress=True,
    )
    rows = _records(out)
    assert all(r["prompt"] == "Say something." for r in rows)
    assert res.totals["changed"] > 0
    assert any(r["response"] != f"Sure, here is answer {r['id']} for you." for r in rows)
    err = capsys.readouterr().err
    assert (
        "tok/s" in err and "docs 6/6" in err and "edits" in err
    )  # progress in tokens, with documents and edits


def test_generations_record_per_generation_totals(tmp_path, sample_synthetic):
    out = tmp_path / "g.jsonl"
    res = run_edit_job(
        read_corpus(sample_synthetic, limit=6),
        out,
        model=FakeLM(),
        config=EditConfig(p=0.5, k=4, generations=3),
    )
    gens = res.totals["generations"]
    assert len(gens) == 3 and all(g["tokens"] > 0 for g in gens)
    assert res.totals["changed"] == sum(g["changed"] for g in gens)
    rec = _records(out)[0]
    assert len(rec["toedit"]["generations"]) == 3
    one = run_edit_job(
        read_corpus(sample_synthetic, limit=6),
        tmp_path / "g1.jsonl",
        model=FakeLM(),
        config=EditConfig(p=0.5, k=4, generations=1),
    )
    assert one.totals["generations"][0] == gens[0]  # generation 1 is the same edit
    manifest = json.loads((tmp_path / "g.jsonl.manifest.json").read_text())
    assert manifest["totals"]["generations"] == gens
