"""The language-model backend contract (toedit_stats.testing.check_backend) on every backend: the
fake model, the transformers backend with the embedded SmolLM2, and the vLLM backend driven by an
engine that returns vLLM's documented output objects (vLLM cannot be installed here).

The vLLM stand-in follows vLLM 0.34's offline path where it matters to us:
- a prompt that leaves no room for one generated token (``len(prompt) >= max_model_len``) is
  rejected, and the rejection fails the whole ``generate`` call
  (``v1/engine/input_processor.py`` ``_validate_prompt_len``; ``entrypoints/common/offline.py``);
- ``RequestOutput.prompt_logprobs`` as ``FlatLogprobs`` columns: position 0 empty, each later
  position the actual token first and then the top-k by rank — the actual token twice when it is
  in the top-k (``logprobs.py`` ``append_fast``);
- ranks count ties against the token (``#(logit >= x)``).
Its "model" is a fixed function of the previous token, so scores cannot depend on batching or
windows; what is tested is the backend's own planning, conversion and stitching.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from vllm_shapes import FlatLogprobs, Logprob

from toedit_stats.testing import BACKEND_CHECKS, check_backend


@dataclass
class RequestOutput:  # vllm.outputs.RequestOutput, the fields the backend reads
    prompt_token_ids: list[int]
    prompt_logprobs: FlatLogprobs


class FakeVLLMEngine:
    """``vllm.LLM`` as far as the backend uses it: ``generate(prompts, params, use_tqdm)``."""

    def __init__(self, vocab: int, max_model_len: int, layout: str = "flat"):
        self.vocab, self.max_model_len, self.layout = vocab, max_model_len, layout
        self.longest = 0
        self._memo: dict[int, np.ndarray] = {}

    def _model(self, prev: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log-probabilities after ``prev`` (a fixed function of it), the 20 most probable tokens,
        and every log-probability in decreasing order (for ranks)."""
        if prev not in self._memo:
            logits = np.random.default_rng(prev).normal(size=self.vocab).astype(np.float32) * 4
            lp = logits - np.logaddexp.reduce(logits)
            order = np.argsort(-lp, kind="stable")
            self._memo[prev] = (lp, order[:20], -lp[order])
        return self._memo[prev]

    def generate(self, prompts, params, use_tqdm=False):
        for p in prompts:  # vLLM validates every prompt first: one too long fails the call
            n = len(p["prompt_token_ids"])
            if n >= self.max_model_len:
                raise ValueError(
                    f"The decoder prompt (length {n}) is longer than the maximum model length of {self.max_model_len}."
                )
        k = params.prompt_logprobs
        self.params = params
        bar = use_tqdm(total=len(prompts), desc="Processed prompts") if callable(use_tqdm) else None
        out = []
        for p in prompts:
            ids = list(p["prompt_token_ids"])
            self.longest = max(self.longest, len(ids))
            flat = FlatLogprobs()
            flat.start_indices.append(0)
            flat.end_indices.append(0)  # position 0: no logprobs
            for pos in range(1, len(ids)):
                lp, top, neg_sorted = self._model(ids[pos - 1])
                order = top[:k]
                actual = ids[pos]
                # #(logit >= x): ties against the token, as vLLM counts
                rank = int(np.searchsorted(neg_sorted, -lp[actual], side="right"))
                flat.start_indices.append(len(flat.token_ids))
                for t, r in [(actual, rank), *((int(t), i + 1) for i, t in enumerate(order))]:
                    flat.token_ids.append(int(t))
                    flat.logprobs.append(float(lp[t]))
                    flat.ranks.append(r)
                    flat.decoded_tokens.append(None)
                flat.end_indices.append(len(flat.token_ids))
            out.append(RequestOutput(ids, flat if self.layout == "flat" else _as_dicts(flat)))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return out


def _as_dicts(flat: FlatLogprobs) -> list:
    """The same positions as vLLM's older layout, ``list[dict[int, Logprob] | None]`` (a dict holds
    the actual token once)."""
    out = []
    for s, e in zip(flat.start_indices, flat.end_indices):
        if s == e:
            out.append(None)
            continue
        out.append(
            {t: Logprob(lp, r) for t, lp, r in zip(flat.token_ids[s:e], flat.logprobs[s:e], flat.ranks[s:e])}
        )
    return out


class SamplingParams:  # vllm.SamplingParams, as the backend builds it
    def __init__(
        self, max_tokens=1, temperature=1.0, prompt_logprobs=0, detokenize=False, flat_logprobs=False
    ):
        self.max_tokens, self.temperature = max_tokens, temperature
        self.prompt_logprobs, self.flat_logprobs = prompt_logprobs, flat_logprobs


@pytest.fixture(scope="module")
def texts(sample_synthetic):
    docs = [json.loads(line)["text"] for line in sample_synthetic.read_text().splitlines()][:3]
    return [d[:600] for d in docs] + ["Café naïve — 東京 🙂 e\u0301", "x"]


def _vllm_backend(monkeypatch, max_model_len: int, layout: str = "flat", **kw):
    """The vLLM backend with the embedded model's tokenizer and the vLLM-shaped engine."""
    transformers = pytest.importorskip("transformers")
    import sys
    import types

    from toedit_stats.lm.base import choose_prefix_token
    from toedit_stats.lm.models import resolve_model
    from toedit_stats.lm.vllm import VLLMModel

    src = resolve_model("smollm2-135m")
    if src.origin == "hub":
        pytest.skip("the embedded model is not installed")
    path = src.path if not src.gguf_file else resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct").path
    # the two vLLM names the backend imports, shaped as vLLM documents them
    fake = types.ModuleType("vllm")
    fake.SamplingParams = SamplingParams
    fake.__version__ = "0.34.0"
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = dict
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setitem(sys.modules, "vllm.inputs", inputs)
    lm = VLLMModel("smollm2-135m", max_model_len=max_model_len, **kw)
    lm._vllm_version = fake.__version__
    lm._tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    lm._llm = FakeVLLMEngine(len(lm._tokenizer), max_model_len, layout)
    lm._source = src
    lm._prefix = choose_prefix_token(lm._tokenizer)
    lm._context = lm.window_limit(max_model_len)
    return lm


@pytest.mark.parametrize("check", list(BACKEND_CHECKS))
def test_fake_backend_contract(check, texts):
    from toedit_stats.lm.fake import FakeLM

    BACKEND_CHECKS[check](FakeLM(), texts, 4)


@pytest.mark.model
@pytest.mark.parametrize("check", list(BACKEND_CHECKS))
def test_transformers_backend_contract(check, texts, lm):
    BACKEND_CHECKS[check](lm, texts[:2] + texts[3:], 4)


@pytest.mark.model
@pytest.mark.parametrize("layout", ["flat", "dict"])
def test_vllm_backend_contract_on_vllm_shaped_outputs(monkeypatch, texts, layout):
    lm = _vllm_backend(monkeypatch, max_model_len=48, layout=layout)
    assert check_backend(lm, texts, top_k=4) == list(BACKEND_CHECKS)
    assert lm._llm.longest <= 47  # every window left room for the one generated token


@pytest.mark.model
def test_vllm_backend_windows_stay_below_max_model_len(monkeypatch):
    """A document exactly as long as the context: a window of max_model_len tokens would be refused
    by vLLM and take the whole buffer with it (issue 29, bug 1)."""
    lm = _vllm_backend(monkeypatch, max_model_len=32)
    text = " ".join(f"w{i}" for i in range(200))
    (sc,) = list(lm.score([text], top_k=2))
    assert len(sc) == lm.count_tokens([text])[0] and lm._llm.longest == 31


@pytest.mark.model
def test_vllm_scoring_settings_and_progress_per_request(monkeypatch, texts):
    """The throw-away token is greedy, and progress moves as each request finishes (vLLM's
    ``use_tqdm`` callable), adding up to every scored token."""
    lm = _vllm_backend(monkeypatch, max_model_len=48)
    seen: list[int] = []
    scores = list(lm.score(texts, top_k=2, on_tokens=seen.append))
    assert lm._llm.params.temperature == 0.0 and lm._llm.params.max_tokens == 1
    assert len(seen) > len(texts) and sum(seen) == sum(len(s) for s in scores)


@pytest.mark.model
def test_vllm_fingerprint_holds_dtype_head_dtype_and_version(monkeypatch):
    """Scores of a bf16 and an fp32 run, of another head precision or another vLLM, never share
    score-cache keys."""
    base = _vllm_backend(monkeypatch, max_model_len=48)
    keys = {base.fingerprint}
    for kw in ({"dtype": "bfloat16"}, {"head_dtype": None}):
        keys.add(_vllm_backend(monkeypatch, max_model_len=48, **kw).fingerprint)
    other = _vllm_backend(monkeypatch, max_model_len=48)
    other._vllm_version = "0.35.0"
    keys.add(other.fingerprint)
    assert len(keys) == 4 and "dtype=auto" in base.fingerprint and "head=float32" in base.fingerprint


@pytest.mark.model
def test_vllm_engine_gets_an_fp32_head_and_vllms_memory_default(monkeypatch):
    """``vllm.LLM`` is built with ``hf_overrides={"head_dtype": "float32"}`` (a user's own
    overrides kept) and without a ``gpu_memory_utilization`` unless one is asked for."""
    import sys
    import types

    made = []

    class LLM:  # records the engine arguments
        def __init__(self, **kw):
            made.append(kw)

    fake = types.ModuleType("vllm")
    fake.LLM, fake.__version__ = LLM, "0.34.0"
    monkeypatch.setitem(sys.modules, "vllm", fake)
    from toedit_stats.lm.models import resolve_model
    from toedit_stats.lm.vllm import VLLMModel

    if resolve_model("smollm2-135m").origin == "hub":
        pytest.skip("the embedded model is not installed")
    VLLMModel("smollm2-135m", max_model_len=64).load()
    VLLMModel(
        "smollm2-135m",
        max_model_len=64,
        gpu_memory_utilization=0.8,
        engine_kwargs={"hf_overrides": {"rope_scaling": None}},
    ).load()
    assert made[0]["hf_overrides"] == {"head_dtype": "float32"} and "gpu_memory_utilization" not in made[0]
    assert made[1]["hf_overrides"] == {"head_dtype": "float32", "rope_scaling": None}
    assert made[1]["gpu_memory_utilization"] == 0.8
