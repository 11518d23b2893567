from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st
from vllm_shapes import FlatLogprobs, Logprob

from toedit_stats.corpus import Document
from toedit_stats.errors import ConfigError
from toedit_stats.lm.base import normalize_offsets, plan_windows
from toedit_stats.lm.vllm import convert_prompt_logprobs


@given(st.integers(1, 5000), st.integers(2, 600))
def test_plan_windows_cover_each_position_once_with_half_context(n, ctx):
    windows = plan_windows(n, ctx)
    scored = []
    for s, e, f in windows:
        assert 0 <= s < f <= e <= n or (f == e == n == 1)
        assert e - s <= ctx
        for p in range(f, e):
            assert p - s >= min(p, ctx // 2)  # at least half a window, or the whole prefix
        scored.extend(range(f, e))
    assert scored == list(range(1, n))


def test_normalize_offsets_byte_pieces():
    # ' ü' as two byte-level pieces: (12,14) then (13,14); '日' as three: (20,22),(21,22),(21,22)
    raw = np.array([[0, 5], [5, 12], [12, 14], [13, 14], [14, 20], [20, 22], [21, 22], [21, 22]])
    out = normalize_offsets(raw)
    assert out.tolist() == [[0, 5], [5, 12], [12, 14], [14, 14], [14, 20], [20, 22], [22, 22], [22, 22]]


# ---------------------------------------------------------------------------------------------
# vLLM adapter on objects shaped like vLLM's documented output classes


def _fake_prompt_logprobs(ids, k, rng):
    """Position 0 None; later positions: the actual token first, then the top-k (k or k+1)."""
    out, truth = [None], []
    vocab = 50
    for pos in range(1, len(ids)):
        logits = rng.normal(size=vocab) * 3
        lp = logits - np.log(np.exp(logits).sum())
        order = np.argsort(-lp)
        ranks = np.empty(vocab, int)
        ranks[order] = np.arange(1, vocab + 1)
        actual = ids[pos]
        entry = {int(actual): Logprob(float(lp[actual]), int(ranks[actual]))}
        for t in order[:k]:
            entry.setdefault(int(t), Logprob(float(lp[t]), int(ranks[t])))
        out.append(entry)
        truth.append((lp[actual], ranks[actual], order[:k], lp[order[:k]]))
    return out, truth


@pytest.mark.parametrize("flat", [False, True])
def test_vllm_adapter_documented_shapes(flat):
    rng = np.random.default_rng(0)
    ids = [0, *rng.integers(0, 50, 40).tolist()]
    k = 5
    pl, truth = _fake_prompt_logprobs(ids, k, rng)
    sizes = {len(e) for e in pl[1:]}
    assert sizes <= {k, k + 1} and len(sizes) == 2  # both shapes occur
    if flat:
        f = FlatLogprobs()
        for e in pl:
            f.append(e)
        pl = f
    lp, rk, tki, tkl = convert_prompt_logprobs(pl, ids, k)
    assert lp.shape == (40,) and tki.shape == (40, k)
    for j, (tlp, trk, tids, tlps) in enumerate(truth):
        assert lp[j] == pytest.approx(tlp, abs=1e-6) and rk[j] == trk
        assert tki[j].tolist() == tids.tolist()
        np.testing.assert_allclose(tkl[j], tlps, atol=1e-6)
    # windows: only positions from score_from on
    lp2, *_ = convert_prompt_logprobs(pl, ids, k, score_from=10)
    np.testing.assert_array_equal(lp2, lp[9:])


def test_vllm_adapter_rejects_missing_token():
    with pytest.raises(ValueError, match="lack the prompt token"):
        convert_prompt_logprobs([None, {5: Logprob(-1.0, 1)}], [0, 7], 1)


def test_vllm_backend_requires_extra():
    from toedit_stats import MissingDependencyError
    from toedit_stats.lm.vllm import VLLMModel

    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match=r"pip install 'toedit-stats\[vllm\]'"):
            VLLMModel("x").load()


# ---------------------------------------------------------------------------------------------
# the real embedded model


@pytest.fixture(scope="module")
def sample_texts(sample_synthetic):
    return [json.loads(line)["text"] for line in sample_synthetic.read_text().splitlines()][:4]


@pytest.mark.model
def test_logprobs_match_direct_reference(lm, sample_texts):
    import torch

    scores = list(lm.score(sample_texts[:2], top_k=8))
    for text, s in zip(sample_texts, scores):
        ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
        x = torch.tensor([[lm.prefix, *ids]])
        with torch.no_grad():
            lp = torch.log_softmax(lm.model(x).logits[0, :-1].float(), -1)
        ref = lp[torch.arange(len(ids)), torch.tensor(ids)].numpy()
        assert len(s) == len(ids)  # every token scored, the first included
        np.testing.assert_allclose(s.logprobs, ref, atol=1e-4)
        ref_rank = (lp > lp[torch.arange(len(ids)), torch.tensor(ids)][:, None]).sum(1).numpy() + 1
        np.testing.assert_array_equal(s.ranks, ref_rank)
        ref_ent = -(lp.exp() * lp).sum(1).numpy()
        np.testing.assert_allclose(s.entropy, ref_ent, atol=1e-3)
        top = lp.topk(8, dim=1)
        np.testing.assert_array_equal(s.topk_ids, top.indices.numpy())
        assert s.perplexity == pytest.approx(float(np.exp(-ref.mean())), rel=1e-4)


@pytest.mark.model
def test_batch_size_and_order_do_not_change_scores(lm, sample_texts):
    docs = [Document(str(i), t) for i, t in enumerate(sample_texts)]
    a = {s.doc_id: s for s in lm.score(docs, top_k=4)}
    old = lm.batch_tokens
    try:
        lm.batch_tokens = 128  # one document per batch
        b = {s.doc_id: s for s in lm.score(list(reversed(docs)), top_k=4)}
    finally:
        lm.batch_tokens = old
    for key in a:
        np.testing.assert_allclose(a[key].logprobs, b[key].logprobs, atol=1e-4)
        np.testing.assert_array_equal(a[key].topk_ids[:, 0], b[key].topk_ids[:, 0])


@pytest.mark.model
def test_long_documents_are_windowed_not_truncated(lm, sample_texts):
    from toedit_stats.lm.hf import TransformersLM

    text = sample_texts[0]
    full = next(lm.score([text]))
    small = TransformersLM("smollm2-135m", dtype="float32", max_context=64)
    small._model, small._tokenizer, small._source = lm.model, lm.tokenizer, lm._source
    small._device, small._prefix, small._context, small._softcap = "cpu", lm.prefix, 64, None
    windowed = next(small.score([text]))
    assert len(windowed) == len(full) > 200
    # the first window is the same prefix as the full pass
    np.testing.assert_allclose(windowed.logprobs[:63], full.logprobs[:63], atol=1e-4)
    # later tokens have 32..63 tokens of context instead of all: close to full, never identical
    assert np.isfinite(windowed.logprobs).all()
    assert np.abs(windowed.logprobs[63:] - full.logprobs[63:]).mean() < 1.0


@pytest.mark.model
def test_offsets_map_back_on_shared_corpora(lm, essays_path, outfox_path):
    checked = overlapping = 0
    for path in (essays_path, outfox_path):
        texts = [json.loads(line)["text"] for line in path.read_text().splitlines()]
        enc = lm.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        for text, raw in zip(texts, enc["offset_mapping"]):
            raw = np.asarray(raw)
            assert (np.diff(raw[:, 0]) >= 0).all()  # starts never go back
            overlapping += bool((raw[1:, 0] < raw[:-1, 1]).any())
            off = normalize_offsets(raw)
            assert "".join(text[s:e] for s, e in off) == text
            checked += 1
    assert checked == 4270
    assert overlapping > 0  # byte-level pieces of multi-byte characters do occur


@pytest.mark.model
def test_mixed_precision_switches_only_the_inner_blocks(lm):
    import torch

    from toedit_stats.lm.hf import TransformersLM

    mixed = TransformersLM("smollm2-135m", device="cpu", dtype="mixed").load()
    blocks = mixed.model.model.layers
    kinds = [{type(m).__name__ for m in b.modules() if "Linear" in type(m).__name__} for b in blocks]
    assert kinds[0] == kinds[-1] == {"Linear"}  # first and last block float32
    assert all(k == {"BF16Linear"} for k in kinds[1:-1])
    assert mixed.model.get_output_embeddings().weight.dtype == torch.float32  # the head stays float32
    assert mixed.fingerprint.endswith(":mixed") and lm.fingerprint.endswith(":float32")
    assert mixed.info()["dtype"] == "mixed"
    with pytest.raises(ConfigError, match="dtype must be"):
        TransformersLM("smollm2-135m", dtype="half")


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["essays_path", "outfox_path"])
def test_mixed_precision_fidelity_against_float32(request, lm, corpus):
    """The measured fidelity of dtype='mixed' on 60 seeded documents of each shared corpus
    (issue 16's contract, :data:`~toedit_stats.lm.fidelity.FIDELITY_BOUND`: mean |Δ log p| ≤ 0.02
    nats, rank-1 agreement ≥ 99%, ≥ 99% of p ≥ 0.99 selections unchanged). Measured: 0.011 /
    0.013 nats, rank-1 99.35% / 99.27%, selections 99.5% / 98.2% (5 of 278 flip) — the last
    below the contract on OUTFOX, so float32 stays the CPU default."""
    from toedit_stats import read_corpus, sample_documents
    from toedit_stats.lm.fidelity import fidelity
    from toedit_stats.lm.hf import TransformersLM

    docs, _ = sample_documents(iter(read_corpus(request.getfixturevalue(corpus))), 60, 0)
    mixed = TransformersLM("smollm2-135m", device="cpu", dtype="mixed").load()
    f = fidelity(lm.score(docs, top_k=1), mixed.score(docs, top_k=1))
    assert f.mean_abs_dlogp <= 0.02
    assert f.rank1_agreement >= 0.99
    assert f.selections_unchanged >= 0.98


@pytest.mark.model
def test_precision_fidelity_contract_on_the_bundled_sample(lm, sample_synthetic):
    """CI's check of the fidelity contract, on the 40 bundled synthetic essays (12,848 tokens,
    1,060 selections at p ≥ 0.99): dtype='mixed' against float32. Measured: mean |Δ log p|
    0.0112 nats (max 0.20), rank-1 agreement 99.10%, selections unchanged 98.87% (12 flip) —
    under the 99% bound, which is why the CPU default is float32: the test fails the day the
    fastest precision meets the whole bound here and the default has not moved to it."""
    from toedit_stats import read_corpus
    from toedit_stats.lm.fidelity import FIDELITY_BOUND, fidelity
    from toedit_stats.lm.hf import CPU_DEFAULT_DTYPE, TransformersLM

    docs = list(read_corpus(sample_synthetic))
    mixed = TransformersLM("smollm2-135m", device="cpu", dtype="mixed").load()
    f = fidelity(lm.score(docs, top_k=1), mixed.score(docs, top_k=1))
    assert f.tokens == 12848 and f.selections > 1000
    assert f.mean_abs_dlogp <= FIDELITY_BOUND["mean_abs_dlogp"]
    assert f.rank1_agreement >= FIDELITY_BOUND["rank1_agreement"]
    assert f.selections_unchanged >= 0.98
    assert ("mixed" if f.meets() else "float32") == CPU_DEFAULT_DTYPE, f.failures()
    # the reference against itself: exact
    same = fidelity(lm.score(docs[:3], top_k=1), lm.score(docs[:3], top_k=1))
    assert same.mean_abs_dlogp == same.max_abs_dlogp == 0 and same.selections_flipped == 0 and same.meets()


def _scores(lp, top):
    from toedit_stats.lm.base import TokenScores

    n = len(lp)
    return TokenScores(
        "d",
        np.arange(n),
        np.zeros((n, 2), np.int64),
        np.log(np.asarray(lp, np.float64)).astype(np.float32),
        np.ones(n, np.int64),
        None,
        np.asarray(top, np.int64).reshape(n, -1),
        np.zeros((n, 1), np.float32),
    )


def test_fidelity_hand_computed_and_edge_cases():
    from toedit_stats.lm.fidelity import FIDELITY_BOUND, fidelity

    a = [_scores([0.995, 0.5, 0.999, 0.2], [1, 2, 3, 4]), _scores([0.991], [7])]
    b = [_scores([0.98, 0.5, 0.999, 0.1], [1, 5, 3, 4]), _scores([0.995], [7])]
    f = fidelity(a, b)
    d = np.abs(np.log([0.995, 0.999, 0.2, 0.991]) - np.log([0.98, 0.999, 0.1, 0.995]))
    assert f.tokens == 5
    assert f.mean_abs_dlogp == pytest.approx(d.sum() / 5, rel=1e-5)
    assert f.max_abs_dlogp == pytest.approx(np.log(2), rel=1e-5)
    assert f.rank1_agreement == pytest.approx(4 / 5)
    # selected in a: 0.995, 0.999, 0.991 (p >= 0.99, the editor's rule); b drops the first
    assert (f.selections, f.selections_flipped) == (3, 1)
    assert f.selections_unchanged == pytest.approx(2 / 3)
    assert len(f.failures()) == 3 and not f.meets()
    assert f.meets({"mean_abs_dlogp": 1.0, "rank1_agreement": 0.8, "selections_unchanged": 0.5})
    assert f.to_dict()["selections_unchanged"] == pytest.approx(2 / 3)
    same = fidelity(a, a)
    assert (same.mean_abs_dlogp, same.rank1_agreement, same.selections_flipped) == (0, 1, 0)
    assert same.meets(FIDELITY_BOUND)
    empty = fidelity([], [])
    assert empty.tokens == 0 and np.isnan(empty.selections_unchanged) and not empty.meets()
    with pytest.raises(ConfigError, match="different documents"):
        fidelity(a, b[:1])
    with pytest.raises(ConfigError, match="threshold"):
        fidelity(a, b, threshold=1.5)


def _per_position(flat, ids, k, score_from=1):
    """The per-position rule (``_fill``), position by position: the reference for the vectorised
    conversion."""
    from toedit_stats.lm.vllm import _fill, _flat_columns

    starts, ends, cand, clp, crk = _flat_columns(flat)
    m = len(ids) - score_from
    lp, rk = np.empty(m, np.float32), np.empty(m, np.int64)
    tki, tkl = np.zeros((m, k), np.int64), np.full((m, k), -np.inf, np.float32)
    for j, pos in enumerate(range(score_from, len(ids))):
        s, e = starts[pos], ends[pos]
        _fill(j, ids[pos], cand[s:e], clp[s:e], crk[s:e], k, lp, rk, tki, tkl)
    return lp, rk, tki, tkl


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 30), st.integers(0, 6), st.integers(1, 4))
def test_vectorised_flat_conversion_equals_the_per_position_rule(seed, n, k, score_from):
    """Random FlatLogprobs (vLLM's actual-token-first layout, the token again among the top-k,
    duplicates, unknown ranks, tied log-probabilities, fewer candidates than k): one numpy pass
    gives what the per-position rule gives."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 12, n + score_from).tolist()
    flat = FlatLogprobs()
    for pos in range(len(ids)):
        flat.start_indices.append(len(flat.token_ids))
        if pos:
            entries = [(ids[pos], int(rng.integers(1, 15)))]
            entries += [
                (int(t), int(r)) for r, t in enumerate(rng.integers(0, 12, rng.integers(0, k + 2)), 1)
            ]
            for t, r in entries:
                flat.token_ids.append(t)
                flat.logprobs.append(float(np.round(-rng.exponential(), 1)))  # ties happen
                flat.ranks.append(None if rng.random() < 0.1 else r)
                flat.decoded_tokens.append(None)
        flat.end_indices.append(len(flat.token_ids))
    got = convert_prompt_logprobs(flat, ids, k, score_from)
    want = _per_position(flat, ids, k, score_from)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 40), st.integers(0, 8))
def test_vllm_layout_fast_path_equals_the_per_position_rule(seed, n, k):
    """Outputs exactly in vLLM's layout (k distinct candidates ranked 1..k after the actual token)
    are read straight from the columns; that gives what the per-position rule gives."""
    from toedit_stats.lm.vllm import _convert_flat, _convert_vllm_columns

    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 50, n + 1).tolist()
    flat = FlatLogprobs()
    for pos in range(len(ids)):
        flat.start_indices.append(len(flat.token_ids))
        if pos:
            top = rng.choice(49, k, replace=False)
            top[top >= ids[pos]] += 1
            r = int(rng.integers(1, 2 * k + 2))
            lps = np.sort(np.round(-rng.exponential(size=k), 2))[::-1]
            if r <= k:
                top[r - 1] = ids[pos]
            actual_lp = float(lps[r - 1]) if r <= k else float(lps[-1] - 1) if k else -float(r)
            for t, lp_, rank in [(ids[pos], actual_lp, r), *zip(top.tolist(), lps.tolist(), range(1, k + 1))]:
                flat.token_ids.append(int(t))
                flat.logprobs.append(float(lp_))
                flat.ranks.append(rank)
                flat.decoded_tokens.append(None)
        flat.end_indices.append(len(flat.token_ids))
    assert _convert_vllm_columns(flat, np.asarray(ids), k, 1) is not None  # the column path ran
    got = _convert_flat(flat, np.asarray(ids), k, 1)
    for g, w in zip(got, _per_position(flat, ids, k)):
        assert np.array_equal(g, w)


@pytest.mark.model
def test_cuda_batch_plan_keeps_padding_under_5_percent_on_the_shared_corpora(lm):
    """Issue 29: at the CUDA defaults, padding is at most 5% of every batch's positions (so of
    all of them) on the shared corpora, while batches stay large enough to amortise kernel
    launches (most of 32,768 tokens); computed from the batch plan, no GPU needed."""
    from toedit_stats import read_corpus
    from toedit_stats.lm.hf import CPU_BATCHING, CUDA_BATCHING, batch_figures

    for name in ("outfox-essays", "chatgpt-student-essays"):
        path = SHARED / "data" / name / "texts.jsonl"
        if not path.exists():
            pytest.skip(f"shared corpus {name} not present")
        counts = lm.count_tokens([d.text for d in read_corpus(path, limit=3000)])
        cuda = batch_figures(counts, lm.context, CUDA_BATCHING)
        assert cuda["padding"] <= 0.05, (name, cuda)
        if name == "outfox-essays":  # 3,000 essays, 1.4M tokens: batches close to full
            assert cuda["tokens_per_batch"] >= 0.75 * CUDA_BATCHING[0], cuda
        no_cap = batch_figures(counts, lm.context, (CUDA_BATCHING[0], CPU_BATCHING[1], None))
        assert no_cap["padding"] > cuda["padding"]  # what the cap and the larger buffer remove


@settings(max_examples=200)
@given(
    st.lists(st.integers(1, 300), max_size=60),
    st.integers(1, 1000),
    st.one_of(st.none(), st.floats(0, 0.5)),
)
def test_batch_plan_covers_rows_in_order_within_its_limits(lengths, batch_tokens, max_padding):
    from toedit_stats.lm.base import batch_plan

    lengths = sorted(lengths, reverse=True)
    plan = batch_plan(lengths, batch_tokens, max_padding)
    assert [i for sl in plan for i in range(sl.start, sl.stop)] == list(range(len(lengths)))
    for sl in plan:
        rows = lengths[sl]
        if len(rows) > 1:  # a single row is its own batch whatever its length
            assert len(rows) * rows[0] <= batch_tokens
            if max_padding is not None:
                assert 1 - sum(rows) / (len(rows) * rows[0]) <= max_padding + 1e-12
        if sl.stop < len(lengths) and len(rows) < max(1, batch_tokens // rows[0]):
            # cut early only because the next row would pass the padding limit
            nxt = [*rows, lengths[sl.stop]]
            assert max_padding is not None and 1 - sum(nxt) / (len(nxt) * rows[0]) > max_padding


@pytest.mark.model
def test_scoring_reads_ahead_in_order_and_stops_cleanly(lm):
    """The next buffer is read and tokenised in a thread: output order is input order, an error
    while reading surfaces where the caller iterates, and closing early leaves no thread behind."""
    import threading

    texts = [f"Document number {i} is here." for i in range(7)]
    got = [s.doc_id for s in lm.score(iter(texts), buffer_docs=2)]
    assert got == [str(i) for i in range(7)]

    def broken():
        yield from texts[:3]
        raise ValueError("bad line 4")

    with pytest.raises(ValueError, match="bad line 4"):
        list(lm.score(broken(), buffer_docs=2))
    gen = lm.score(iter(texts), buffer_docs=2)
    next(gen)
    gen.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("toedit-tokenize")]


@pytest.mark.model
def test_low_precision_body_gets_a_float32_head(sample_texts):
    """Issue 29: with a bfloat16 model (the CUDA default) the LM head runs in float32 from a
    float32 copy of its weights: log p equals a direct float32 head over the model's bfloat16
    hidden states, and is closer to it than the bfloat16 head's; the fingerprint says so."""
    import torch

    from toedit_stats.lm.hf import TransformersLM

    text = sample_texts[0][:400]
    lm = TransformersLM("smollm2-135m", device="cpu", dtype="bfloat16").load()
    low = TransformersLM("smollm2-135m", device="cpu", dtype="bfloat16", head_dtype=None).load()
    got, got_low = next(lm.score([text])), next(low.score([text]))
    ids = torch.tensor([[lm.prefix, *got.token_ids.tolist()]])
    with torch.inference_mode():
        hidden = lm.model.model(input_ids=ids).last_hidden_state[0, :-1].float()
        logits = hidden @ lm.model.get_output_embeddings().weight.float().T
        want = torch.log_softmax(logits, -1)[torch.arange(len(got)), ids[0, 1:]].numpy()
    err, err_low = np.abs(got.logprobs - want), np.abs(got_low.logprobs - want)
    assert err.max() < 1e-4
    assert err_low.mean() > 10 * err.mean()
    assert ":head=float32" in lm.fingerprint and ":head=model" in low.fingerprint
    assert lm.model.get_input_embeddings().weight.dtype == torch.bfloat16  # tied weights untouched


def test_curvature_on_a_two_token_vocabulary():
    """Fast-DetectGPT's analytic curvature by hand: p = (0.8, 0.2) at each of two positions, the
    text takes token 0 then token 1."""
    from toedit_stats.lm.base import TokenScores

    p = np.array([0.8, 0.2])
    mu = float((p * np.log(p)).sum())
    var = float((p * np.log(p) ** 2).sum() - mu**2)
    lp = np.log(np.array([0.8, 0.2]))
    s = TokenScores(
        "d",
        np.array([0, 1]),
        np.zeros((2, 2), np.int64),
        lp.astype(np.float32),
        np.array([1, 2]),
        np.full(2, -mu, np.float32),
        np.zeros((2, 0), np.int64),
        np.zeros((2, 0), np.float32),
        np.full(2, var, np.float32),
    )
    want = (lp.sum() - 2 * mu) / np.sqrt(2 * var)
    assert s.curvature == pytest.approx(want, rel=1e-6)
    no_var = TokenScores(
        *[getattr(s, f) for f in ("doc_id", "token_ids", "offsets", "logprobs", "ranks")],
        s.entropy,
        s.topk_ids,
        s.topk_logprobs,
    )
    assert np.isnan(no_var.curvature)  # a top-k-only backend: not approximated


@pytest.mark.model
def test_curvature_equals_full_vocabulary_computation(lm, sample_texts):
    """The head's one extra reduction gives Fast-DetectGPT's curvature as computed directly from
    SmolLM2's full-vocabulary log-probabilities (to 1e-4), on a few documents, one scored in
    windows."""
    import torch

    from toedit_stats.lm.hf import TransformersLM

    small = TransformersLM("smollm2-135m", dtype="float32", max_context=128)
    small._model, small._tokenizer, small._source = lm.model, lm.tokenizer, lm._source
    small._device, small._prefix, small._context, small._softcap = "cpu", lm.prefix, 128, None
    for model, text in (
        (lm, sample_texts[0][:500]),
        (lm, sample_texts[1][:300]),
        (small, sample_texts[2][:900]),
    ):
        got = next(model.score([text]))
        ids = torch.tensor([[lm.prefix, *got.token_ids.tolist()]])
        with torch.inference_mode():
            if model is lm:
                logp = torch.log_softmax(lm.model(input_ids=ids).logits[0, :-1].double(), -1)
            else:  # windows: the same positions from the same windows as the backend
                from toedit_stats.lm.base import plan_windows

                parts = []
                for s, e, f in plan_windows(ids.shape[1], 128):
                    out = torch.log_softmax(lm.model(input_ids=ids[:, s:e]).logits[0].double(), -1)
                    parts.append(out[f - s - 1 : e - s - 1])
                logp = torch.cat(parts)
        p = logp.exp()
        mu = (p * logp).sum(-1)
        var = (p * logp**2).sum(-1) - mu**2
        actual = logp[torch.arange(len(got)), ids[0, 1:]]
        want = float((actual.sum() - mu.sum()) / var.sum().sqrt())
        assert got.curvature == pytest.approx(want, rel=1e-4, abs=1e-4)
        assert np.allclose(got.logprob_var, var.numpy(), atol=1e-3)
