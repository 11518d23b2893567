"""Scoring edited texts from their first changed token on (issue 12): ``score_variants`` of every
backend and of the score cache, ``edit(score_edited=True)``, the report and the sweep reusing it,
and the cache's top-k floor."""

from __future__ import annotations

import numpy as np
import pytest

from toedit_stats import read_corpus, sample_documents
from toedit_stats.corpus import Document, MemoryCorpus
from toedit_stats.editing import EditConfig, edit
from toedit_stats.editing.toedit import doc_rng, edit_scores
from toedit_stats.lm.base import TokenScores
from toedit_stats.lm.cache import CachedLM
from toedit_stats.lm.fake import FakeLM

FIELDS = ("token_ids", "offsets", "logprobs", "ranks", "entropy", "topk_ids", "topk_logprobs")


def _same(a: TokenScores, b: TokenScores) -> None:
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert (x is None) == (y is None), f
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=f)


class Counting(FakeLM):
    """FakeLM that counts the documents it scores."""

    def __init__(self):
        super().__init__()
        self.scored: list[str] = []

    def score(self, docs, **kw):
        docs = list(docs)
        self.scored += [d.text if isinstance(d, Document) else d for d in docs]
        return super().score(docs, **kw)


def _docs(path, n=8):
    return list(read_corpus(path, limit=n))


def _editor(lm, configs):
    def variants(doc, scores):
        return [edit_scores(doc.text, scores, c, lm.token_text, doc_rng(c.seed, doc.id))[0] for c in configs]

    return variants


CONFIGS = [EditConfig(p=0.3, k=4, exclude_original=True), EditConfig(p=0.99, k=4), EditConfig(p=2.0, k=4)]


def test_score_variants_in_full_equals_scoring_each_text(sample_synthetic):
    lm = FakeLM()
    docs = _docs(sample_synthetic)
    out = list(lm.score_variants(docs, _editor(lm, CONFIGS), top_k=4, variant_top_k=2))
    assert len(out) == len(docs)
    for d, (s, vs) in zip(docs, out):
        _same(s, next(lm.score([d], top_k=4)))
        texts = _editor(lm, CONFIGS)(d, s)
        assert len(vs) == 3 and texts[2] == d.text  # p = 2 selects nothing
        for t, v in zip(texts, vs):
            _same(v, next(lm.score([t], top_k=2)))


def test_cached_score_variants_scores_each_text_once_and_serves_the_cache(sample_synthetic):
    inner = Counting()
    lm = CachedLM(inner, memory=True)
    docs = _docs(sample_synthetic)
    calls = []

    def variants(doc, scores):
        calls.append(doc.id)
        return _editor(inner, CONFIGS)(doc, scores)

    first = list(lm.score_variants(docs, variants, top_k=4))
    assert calls == [d.id for d in docs]  # once per document
    distinct = {t for d, (s, _) in zip(docs, first) for t in _editor(inner, CONFIGS)(d, s)}
    assert sorted(inner.scored) == sorted({d.text for d in docs} | distinct)
    # a second pass: everything from the cache, the callback sees the cached scores
    inner.scored.clear()
    again = list(lm.score_variants(docs, _editor(inner, CONFIGS), top_k=4))
    assert inner.scored == []
    for (s1, v1), (s2, v2) in zip(first, again):
        _same(s1, s2)
        for a, b in zip(v1, v2):
            _same(a, b)
    # the token analyzer's plain request for an edited text is a hit
    hits = lm.hits
    list(lm.score([Document("x", t) for t in distinct]))
    assert lm.hits == hits + len(distinct) and inner.scored == []


def test_cached_document_with_new_variants_is_rescored_through_the_inner_model(sample_synthetic):
    inner = Counting()
    lm = CachedLM(inner, memory=True)
    docs = _docs(sample_synthetic, 3)
    list(lm.score(docs, top_k=4))
    inner.scored.clear()
    two = [
        EditConfig(p=0.3, k=4, exclude_original=True, seed=1),
        EditConfig(p=0.3, k=4, exclude_original=True, seed=2),
    ]
    out = list(lm.score_variants(docs, _editor(inner, two), top_k=4))
    # two variants per cached document: the document is scored again (one pass, then suffixes)
    assert sum(t in {d.text for d in docs} for t in inner.scored) == len(docs)
    for d, (s, vs) in zip(docs, out):
        for t, v in zip(_editor(inner, two)(d, s), vs):
            _same(v, next(FakeLM().score([t])))


@pytest.mark.parametrize("generations", [1, 2])
def test_edit_score_edited_gives_the_edited_texts_scores_and_the_same_edits(sample_synthetic, generations):
    docs = [*_docs(sample_synthetic), Document("empty", "")]
    cfg = EditConfig(
        p=0.3,
        k=4,
        exclude_original=True,
        strategy="low_drop_up_revise",
        drop_below=0.001,
        generations=generations,
    )
    plain = list(edit(docs, FakeLM(), cfg, audit_positions=True))
    lm = FakeLM()
    scored = list(edit(docs, lm, cfg, audit_positions=True, score_edited=True))
    assert [e.record() for e in plain] == [e.record() for e in scored]
    for e in scored:
        if not e.doc.text:
            assert e.edited_scores is None
            continue
        ref = next(FakeLM().score([e.doc.text]))
        np.testing.assert_array_equal(e.edited_scores.token_ids, ref.token_ids)
        np.testing.assert_array_equal(e.edited_scores.logprobs, ref.logprobs)
    assert all(e.edited_scores is None for e in plain)


def test_report_scores_edited_documents_in_the_editing_pass(sample_human, sample_synthetic):
    from toedit_stats.analyzers.tokens import TokenAnalyzer
    from toedit_stats.report import Report

    h = MemoryCorpus(_docs(sample_human, 10), name="human")
    s = MemoryCorpus(_docs(sample_synthetic, 10), name="synthetic")
    inner = Counting()
    cfg = EditConfig(p=0.3, k=4, exclude_original=True)
    rep = Report(["tokens"], cfg, lm=inner, max_docs=None, bootstrap=0).run(h, s)
    edited = [e.doc.text for e in rep.edited_docs]
    # each text scored exactly once: human, synthetic, and the edited texts that changed
    assert sorted(inner.scored) == sorted({d.text for d in h} | {d.text for d in s} | set(edited))
    direct = TokenAnalyzer(model="fake", max_docs=None).analyze(
        [h, s, MemoryCorpus([Document(e.doc.id, e.doc.text) for e in rep.edited_docs], name="edited")]
    )
    assert rep.results["tokens"].to_dict()["corpora"] == direct.to_dict()["corpora"]


def test_topk_floor_keeps_only_selectable_rows(sample_synthetic):
    docs = _docs(sample_synthetic, 4)
    lm = CachedLM(FakeLM(), memory=True, topk_floor=0.9)
    full = list(FakeLM().score(docs, top_k=6))
    list(lm.score(docs, top_k=6))
    dense = CachedLM(FakeLM(), memory=True)
    list(dense.score(docs, top_k=6))
    assert lm.nbytes() < dense.nbytes()
    for f, c in zip(full, lm.score(docs, top_k=4)):
        keep = np.exp(f.logprobs.astype(np.float64)) >= 0.9
        assert keep.any() and (~keep).any()
        np.testing.assert_array_equal(c.topk_ids[keep], f.topk_ids[keep, :4])
        np.testing.assert_array_equal(c.topk_logprobs[keep], f.topk_logprobs[keep, :4])
        assert np.isneginf(c.topk_logprobs[~keep]).all()
        np.testing.assert_array_equal(c.logprobs, f.logprobs)
    # editing at p >= the floor from the floored cache equals editing from full scores
    for cfg in (EditConfig(p=0.9, k=4), EditConfig(p=0.95, k=3, exclude_original=True)):
        assert [e.record() for e in edit(docs, lm, cfg)] == [e.record() for e in edit(docs, FakeLM(), cfg)]


# ---------------------------------------------------------------------------------------------
# the real model: suffix-only scores equal a full rescore


@pytest.mark.model
@pytest.mark.parametrize(
    "corpus,docs",
    [
        ("sample_synthetic", 2),  # the default twin: the bundled sample
        pytest.param("essays_path", 6, marks=pytest.mark.slow),
        pytest.param("outfox_path", 6, marks=pytest.mark.slow),
    ],
)
def test_suffix_rescoring_equals_full_rescore_on_shared_corpora(request, lm, corpus, docs):
    """Edited texts at the paper's setting and at aggressive ones (first changes early and
    mid-document), scored from their first changed token with the document's keys and values,
    equal a full rescore: same token ids and offsets, |Δ log p| and |Δ entropy| ≤ 1e-4 nats,
    and (the ranks and top-k candidates only differ where two logits tie within rounding)."""
    from toedit_stats.lm.hf import TransformersLM

    docs, _ = sample_documents(iter(read_corpus(request.getfixturevalue(corpus))), docs, 0)
    configs = [
        EditConfig(p=0.99, k=8),
        EditConfig(p=0.9, k=8, exclude_original=True),
        EditConfig(p=0.5, k=8, exclude_original=True, seed=3),
    ]
    fresh = TransformersLM("smollm2-135m", device="cpu", dtype="float32", batch_tokens=1024).load()
    out = list(fresh.score_variants(docs, _editor(fresh, configs), top_k=8, variant_top_k=8))
    texts = [t for d, (s, _) in zip(docs, out) for t in _editor(fresh, configs)(d, s)]
    variants = [v for _, vs in out for v in vs]
    full = list(lm.score(texts, top_k=8))
    assert fresh.reused_tokens > 0 and fresh.rescored_tokens > 0
    lp_err = ent_err = 0.0
    rank_agree = []
    for v, f in zip(variants, full):
        np.testing.assert_array_equal(v.token_ids, f.token_ids)
        np.testing.assert_array_equal(v.offsets, f.offsets)
        lp_err = max(lp_err, float(np.abs(v.logprobs - f.logprobs).max(initial=0)))
        ent_err = max(ent_err, float(np.abs(v.entropy - f.entropy).max(initial=0)))
        rank_agree.append(np.mean(v.topk_ids[:, 0] == f.topk_ids[:, 0]))
    assert lp_err <= 1e-4 and ent_err <= 1e-4
    assert min(rank_agree) >= 0.99


@pytest.mark.model
def test_real_model_variants_none_some_and_identical(lm, sample_synthetic):
    """Documents with no variant, with their own text as a variant, and a deletion at the end:
    the transformers backend handles each (nothing rescored for an identical text)."""
    from toedit_stats.lm.hf import TransformersLM

    docs = _docs(sample_synthetic, 3)
    fresh = TransformersLM("smollm2-135m", device="cpu", dtype="float32").load()
    pick = {docs[0].id: [], docs[1].id: [docs[1].text], docs[2].id: [docs[2].text[:-40], docs[2].text]}
    out = list(fresh.score_variants(docs, lambda d, s: pick[d.id], top_k=2, variant_top_k=2))
    assert [len(vs) for _, vs in out] == [0, 1, 2]
    _same(out[1][1][0], out[1][0])  # its own text: the document's scores, nothing recomputed
    ref = next(lm.score([docs[2].text[:-40]]))
    v = out[2][1][0]
    np.testing.assert_array_equal(v.token_ids, ref.token_ids)
    assert np.abs(v.logprobs - ref.logprobs).max() <= 1e-4


def test_a_backend_without_score_variants_still_edits_and_scores(sample_synthetic):
    """A plugin backend written before ``score_variants`` joined the protocol: the editor and the
    cache fall back to scoring the variants in full."""

    class OldBackend:
        backend = name = "old"
        fingerprint = "old:v1"

        def __init__(self):
            self._fake = FakeLM()

        def score(self, docs, **kw):
            return self._fake.score(docs, **kw)

        def token_text(self, ids):
            return self._fake.token_text(ids)

    docs = _docs(sample_synthetic, 4)
    cfg = EditConfig(p=0.3, k=4, exclude_original=True)
    ref = [e.record() for e in edit(docs, FakeLM(), cfg)]
    for lm in (OldBackend(), CachedLM(OldBackend(), memory=True)):
        out = list(edit(docs, lm, cfg, score_edited=True))
        assert [e.record() for e in out] == ref
        for e in out:
            np.testing.assert_array_equal(
                e.edited_scores.logprobs, next(FakeLM().score([e.doc.text])).logprobs
            )
