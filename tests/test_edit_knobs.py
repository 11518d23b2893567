"""Editor knobs beyond the paper: exclude_original, target_change_rate, expected vs realised."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from toedit_stats import read_corpus
from toedit_stats.cli import main
from toedit_stats.corpus import Document
from toedit_stats.editing import EditConfig, edit
from toedit_stats.editing.toedit import change_profile, choose_p
from toedit_stats.lm.fake import FakeLM


def _docs(path, n=20):
    return list(read_corpus(path, limit=n))


def test_exclude_original_changes_every_safe_selected_position(sample_synthetic):
    out = list(edit(_docs(sample_synthetic), FakeLM(), EditConfig(p=0.9, k=4, exclude_original=True)))
    for e in out:
        a = e.audit
        assert a.changed == a.selected - a.skipped_unsafe
        assert a.expected_changed == a.selected  # every selected position changes with probability 1
    assert sum(e.audit.changed for e in out) > 0


def test_default_is_the_paper_and_unchanged(sample_synthetic):
    docs = _docs(sample_synthetic, 8)
    a = [e.doc.text for e in edit(docs, FakeLM(), EditConfig())]
    b = [
        e.doc.text for e in edit(docs, FakeLM(), EditConfig(exclude_original=False, target_change_rate=None))
    ]
    assert a == b


def test_expected_matches_realised_within_sampling_error(sample_synthetic):
    # the fake LM's candidates are always splice-safe, so realised changes are Bernoulli draws with
    # the expected probabilities: their sum is within 4 standard deviations of the expectation
    out = list(edit(_docs(sample_synthetic, 40), FakeLM(), EditConfig(p=0.5, k=4, beta=1.5)))
    expected = sum(e.audit.expected_changed for e in out)
    realised = sum(e.audit.changed for e in out)
    assert expected > 50
    assert abs(realised - expected) <= 4 * math.sqrt(expected), (realised, expected)


def test_choose_p_hits_the_target_on_the_profile():
    rng = np.random.default_rng(0)
    count = rng.integers(0, 50, 1000)
    expected = count * rng.random(1000) * 0.2
    for target in (0.001, 0.01, 0.05):
        p = choose_p(count, expected, target)
        b = round(p * 1000)
        share = expected[b:].sum() / count.sum()
        above = expected[b + 1 :].sum() / count.sum()
        assert share >= target - 1e-12 and above < target  # the largest bin edge that reaches it


def test_target_change_rate_on_fake_model(sample_synthetic):
    docs = _docs(sample_synthetic, 30)
    lm = FakeLM()
    cfg = EditConfig(k=4, target_change_rate=0.02)
    out = list(edit(docs, lm, cfg))
    tokens = sum(e.audit.tokens for e in out)
    expected = sum(e.audit.expected_changed for e in out) / tokens
    assert 0.02 <= expected < 0.02 + 0.02  # at least the target, within the last bin's mass
    count = sum(change_profile(s, cfg)[0] for s in lm.score(docs, top_k=4))
    assert count.sum() == tokens


@pytest.mark.model
@pytest.mark.slow
def test_target_change_rate_on_the_chatgpt_essays(essays_records, lm):
    docs = [Document(r["id"], r["text"]) for r in essays_records if r.get("generator") == "ChatGPT (GPT-4)"][
        :30
    ]
    for target in (0.005, 0.02):
        out = list(edit(docs, lm, EditConfig(target_change_rate=target)))
        tokens = sum(e.audit.tokens for e in out)
        expected = sum(e.audit.expected_changed for e in out) / tokens
        realised = sum(e.audit.changed for e in out) / tokens
        assert target <= expected <= target * 1.25, (target, expected)
        # realised: Bernoulli sum around the expectation, minus unsafe skips
        assert abs(realised - expected) <= 4 * math.sqrt(expected * tokens) / tokens + 0.002, (
            realised,
            expected,
        )


def test_edit_job_records_the_p_it_chose(tmp_path, sample_synthetic):
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(
        main,
        [
            "edit",
            str(sample_synthetic),
            "-o",
            str(out),
            "--model",
            "fake",
            "--target-change-rate",
            "0.03",
            "--k",
            "4",
            "--limit",
            "10",
        ],
    )
    assert r.exit_code == 0, r.output
    m = json.loads(out.with_name("o.jsonl.manifest.json").read_text())
    assert 0 < m["p_chosen"] < 1 and m["config"]["edit"]["target_change_rate"] == 0.03
    assert m["totals"]["expected_changed"] / m["totals"]["tokens"] >= 0.03
    assert "chosen for target_change_rate" in r.output
    r = CliRunner().invoke(
        main,
        [
            "edit",
            str(sample_synthetic),
            "-o",
            str(tmp_path / "x.jsonl"),
            "--model",
            "fake",
            "--target-change-rate",
            "1.5",
        ],
    )
    assert r.exit_code == 2 and "target_change_rate must be a number in (0, 1]" in r.output
