"""The vLLM backend (GPU, high throughput), written against vLLM's documented offline API.

- ``LLM(model, max_logprobs=k, enable_prefix_caching=False, ...)``: prefix caching makes prompt
  logprobs depend on request order (vllm#42019), so it is off.
- ``SamplingParams(max_tokens=1, temperature=0, prompt_logprobs=k, detokenize=False,
  flat_logprobs=True)`` (``flat_logprobs`` only where the installed vLLM has it): the one generated
  token is thrown away, so it is drawn greedily.
- windows of at most ``max_model_len - 1`` tokens (:meth:`VLLMModel.window_limit`): vLLM refuses a
  prompt that leaves no room for one generated token, and one refused prompt fails every request
  of its ``generate`` call. The overlap of a long document's windows is scored by vLLM and dropped
  here: ``SamplingParams.prompt_logprob_start`` (vLLM PR #54335) would skip it, but vLLM applies
  it only with ``prompt_logprob_token_ids`` (log-probabilities of fixed candidate tokens, checked
  in ``vllm/sampling_params.py``'s ``_validate_logprobs``), not to the top-k prompt logprobs this
  backend needs, so it is not used.
- precision: the log-probabilities are only as good as the LM head's arithmetic. vLLM computes the
  head in the model dtype (bf16/fp16) unless told otherwise, and ``dtype="auto"`` turns an fp32
  checkpoint into fp16; a bf16 head flips an estimated ~3% of the p >= 0.99 selections. So the
  head runs in fp32 by default (``head_dtype="float32"``, passed as
  ``hf_overrides={"head_dtype": "float32"}``, honoured for generation models since vLLM PR #48390,
  i.e. vLLM 0.34); for a small prior use ``dtype="float32"`` for the whole model. The fingerprint
  (and so the score cache's key) holds the dtype, the head dtype and the vLLM version.
- ranks count ties against the token, as vLLM does (``#(logit >= x)``); the transformers backend
  counts them in its favour (``1 + #(logit > x)``). They differ only on exact ties.
- progress: per finished request (vLLM calls ``use_tqdm`` to make the bar it updates), not per
  buffer.
- prompts are ``TokensPrompt(prompt_token_ids=[prefix, *ids])``: the tokenizer runs here, with
  character offsets, and the same prefix-token rule and windows as the transformers backend.
- ``RequestOutput.prompt_logprobs`` is a list with ``None`` at position 0 and, at each later
  position, the k most probable tokens plus the actual one (k or k+1 entries, ``Logprob(logprob,
  rank, decoded_token)``), either as ``dict[int, Logprob]`` or as vLLM's ``FlatLogprobs``
  columns; :func:`convert_prompt_logprobs` turns either into numpy arrays.
- Ranks come from vLLM. The entropy of the predictive distribution cannot be computed from the
  top-k alone, so ``TokenScores.entropy`` is ``None``.

vLLM cannot be installed on our CI machines: this adapter is contract-tested against objects
shaped like vLLM's documented classes, not run on a GPU there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from .._deps import require
from ..corpus import Document
from ..errors import ConfigError
from .base import (
    TokenScores,
    document_buffers,
    normalize_offsets,
    plan_windows,
    score_variants_in_full,
    stitch,
)
from .models import DEFAULT_MODEL, resolve_model

__all__ = ["VLLMModel", "convert_prompt_logprobs"]


def convert_prompt_logprobs(
    prompt_logprobs: Any, token_ids: Sequence[int], k: int, score_from: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrays ``(logprobs, ranks, topk_ids, topk_logprobs)`` for positions ``score_from..`` of
    one prompt (position 0, the prefix, has no logprobs).

    ``prompt_logprobs`` is vLLM's ``list[dict[int, Logprob] | None]`` or a ``FlatLogprobs``
    (columns ``start_indices``, ``end_indices``, ``token_ids``, ``logprobs``, ``ranks``).
    """
    ids = np.asarray(token_ids, dtype=np.int64)
    n = ids.size
    if score_from < 1:
        raise ValueError("position 0 has no prompt logprobs; score_from must be >= 1")
    m = max(0, n - score_from)
    lp = np.empty(m, np.float32)
    rk = np.empty(m, np.int64)
    tki = np.zeros((m, k), np.int64)
    tkl = np.full((m, k), -np.inf, np.float32)
    if hasattr(prompt_logprobs, "start_indices") and hasattr(prompt_logprobs, "token_ids"):
        return _convert_flat(prompt_logprobs, ids, k, score_from)
    else:
        for j, pos in enumerate(range(score_from, n)):
            entry = prompt_logprobs[pos]
            if entry is None:
                raise ValueError(f"prompt_logprobs has no entry at position {pos}")
            cids = np.fromiter(entry.keys(), np.int64, len(entry))
            vals = list(entry.values())
            clp = np.fromiter((v.logprob for v in vals), np.float32, len(vals))
            crk = np.fromiter((-1 if v.rank is None else v.rank for v in vals), np.int64, len(vals))
            _fill(j, ids[pos], cids, clp, crk, k, lp, rk, tki, tkl)
    return lp, rk, tki, tkl


def _flat_columns(flat: Any) -> tuple[np.ndarray, ...]:
    ranks = flat.ranks
    try:
        crk = _column(ranks, np.int64)
    except TypeError:  # ranks of None (unknown): -1
        crk = np.fromiter((-1 if r is None else r for r in ranks), np.int64, len(ranks))
    return (
        np.asarray(flat.start_indices, np.int64),
        np.asarray(flat.end_indices, np.int64),
        np.asarray(flat.token_ids, np.int64),
        np.asarray(flat.logprobs, np.float32),
        crk,
    )


def _column(values: Any, dtype, sl: slice | None = None) -> np.ndarray:
    """A FlatLogprobs column (a list, or an array) or a slice of it as a numpy array
    (``np.fromiter`` over a list: ~12 ns per value, a third less than ``np.asarray``)."""
    if sl is not None:
        values = values[sl]
    if isinstance(values, np.ndarray):
        return values.astype(dtype, copy=False)
    return np.fromiter(values, dtype, len(values))


def _convert_vllm_columns(flat: Any, ids: np.ndarray, k: int, score_from: int):
    """The common case read straight from vLLM's columns, or ``None``: positions stored one after
    another, each as the actual token then (with ``k > 0``) k distinct candidates ranked 1..k —
    the layout of vLLM's ``FlatLogprobs``. Only the columns the result needs are converted (every
    id and log-probability, the actual token's rank); the layout is checked, not assumed
    (anything else goes to the general pass of :func:`_convert_flat`)."""
    n = ids.size
    m = n - score_from
    w = k + 1
    if m <= 0 or len(flat.start_indices) != n or len(flat.end_indices) != n:
        return None
    a, b = int(flat.start_indices[score_from]), int(flat.end_indices[n - 1])
    if b - a != m * w:
        return None
    starts = _column(flat.start_indices, np.int64, slice(score_from, n))
    ends = _column(flat.end_indices, np.int64, slice(score_from, n))
    if not (np.array_equal(starts, np.arange(a, b, w)) and np.array_equal(ends, starts + w)):
        return None
    ranks = flat.ranks
    try:
        rk = _column(ranks, np.int64, slice(a, b, w))
        for j in range(1, w):  # candidates ranked 1..k in order
            if not (_column(ranks, np.int64, slice(a + j, b, w)) == j).all():
                return None
    except TypeError:  # a rank of None: the general pass handles it
        return None
    cand = _column(flat.token_ids, np.int64, slice(a, b)).reshape(m, w)
    clp = _column(flat.logprobs, np.float32, slice(a, b)).reshape(m, w)
    if not np.array_equal(cand[:, 0], ids[score_from:]):
        return None
    lp = clp[:, 0].copy()
    if not k:
        return lp, rk, np.zeros((m, 0), np.int64), np.zeros((m, 0), np.float32)
    top, top_lp = cand[:, 1:], clp[:, 1:]
    srt = np.sort(top, axis=1)
    if k > 1 and (srt[:, 1:] == srt[:, :-1]).any():
        return None
    inside = (rk >= 1) & (rk <= k)
    col = np.clip(rk, 1, k) - 1
    rows = np.arange(m)
    if not ((top[rows, col] == cand[:, 0]) & (top_lp[rows, col] == lp) | ~inside).all():
        return None
    return lp, rk, np.ascontiguousarray(top), np.ascontiguousarray(top_lp)


def _convert_flat(flat: Any, ids: np.ndarray, k: int, score_from: int):
    """:func:`convert_prompt_logprobs` for vLLM's ``FlatLogprobs`` columns in one numpy pass over
    every position (no per-position Python): the same arrays as the per-position rule of
    :func:`_fill` (tested on random outputs). vLLM's own layout is read by slicing its columns
    (:func:`_convert_vllm_columns`); anything else by the general pass below."""
    fast = _convert_vllm_columns(flat, ids, k, score_from)
    if fast is not None:
        return fast
    starts, ends, cand, clp, crk = _flat_columns(flat)
    n = ids.size
    pos = np.arange(score_from, n)
    m = pos.size
    lens = ends[pos] - starts[pos]
    total = int(lens.sum())
    seg = np.repeat(np.arange(m), lens)
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64) if m else np.zeros(0, np.int64)
    ent = starts[pos][seg] + np.arange(total) - offsets[seg]
    c_ids, c_lp, c_rk = cand[ent], clp[ent], crk[ent]
    hit = np.flatnonzero(c_ids == ids[pos][seg])
    found, first = np.unique(seg[hit], return_index=True)
    if found.size != m:
        missing = int(np.setdiff1d(np.arange(m), found)[0])
        raise ValueError(f"prompt logprobs lack the prompt token {int(ids[pos[missing]])}")
    lp = c_lp[hit[first]].astype(np.float32)
    rk = c_rk[hit[first]].astype(np.int64)
    tki = np.zeros((m, k), np.int64)
    tkl = np.full((m, k), -np.inf, np.float32)
    if k and total and _fill_vllm_layout(c_ids, c_lp, c_rk, m, k, tki, tkl):
        return lp, rk, tki, tkl
    if k and total:
        # top-k: by position, rank (unknown last), then log-probability; each token once
        rank_key = np.where(c_rk > 0, c_rk, np.iinfo(np.int64).max)
        order = np.lexsort((-c_lp, rank_key, seg))
        by_token = np.lexsort((np.arange(order.size), c_ids[order], seg[order]))
        sorted_seg, sorted_ids = seg[order][by_token], c_ids[order][by_token]
        repeat = np.zeros(order.size, bool)
        repeat[by_token[1:]] = (sorted_seg[1:] == sorted_seg[:-1]) & (sorted_ids[1:] == sorted_ids[:-1])
        kept = order[~repeat]
        kseg = seg[kept]
        within = np.arange(kept.size) - np.searchsorted(kseg, kseg, side="left")
        sel = within < k
        tki[kseg[sel], within[sel]] = c_ids[kept][sel]
        tkl[kseg[sel], within[sel]] = c_lp[kept][sel]
    return lp, rk, tki, tkl


def _fill_vllm_layout(c_ids, c_lp, c_rk, m, k, tki, tkl) -> bool:
    """The common case, without sorting: vLLM's layout proper — at each position the actual token,
    then k distinct candidates ranked 1..k in order (the actual token, when among them, with the
    same log-probability). The top-k are then those k entries as they stand. Returns False (and
    fills nothing) when the outputs are not exactly so."""
    if c_ids.size != m * (k + 1):
        return False
    ids, lps, rks = c_ids.reshape(m, k + 1), c_lp.reshape(m, k + 1), c_rk.reshape(m, k + 1)
    if not (rks[:, 1:] == np.arange(1, k + 1)).all():
        return False
    top = ids[:, 1:]
    srt = np.sort(top, axis=1)
    if k > 1 and (srt[:, 1:] == srt[:, :-1]).any():
        return False
    inside = (rks[:, 0] >= 1) & (rks[:, 0] <= k)
    col = np.clip(rks[:, 0], 1, k) - 1
    rows = np.arange(m)
    if not ((top[rows, col] == ids[:, 0]) & (lps[:, 1:][rows, col] == lps[:, 0]) | ~inside).all():
        return False
    tki[:] = top
    tkl[:] = lps[:, 1:]
    return True


def _fill(j, actual, cids, clp, crk, k, lp, rk, tki, tkl):
    hit = np.flatnonzero(cids == actual)
    if hit.size == 0:
        raise ValueError(f"prompt logprobs lack the prompt token {int(actual)}")
    lp[j] = clp[hit[0]]
    rk[j] = crk[hit[0]]
    if k:
        # top-k = the candidates with ranks 1..k (the actual token appears among them or extra)
        order = np.lexsort((-clp, np.where(crk > 0, crk, np.iinfo(np.int64).max)))
        seen: set[int] = set()
        c = 0
        for i in order:
            t = int(cids[i])
            if t in seen:
                continue
            seen.add(t)
            tki[j, c] = t
            tkl[j, c] = clp[i]
            c += 1
            if c == k:
                break


class VLLMModel:
    """vLLM offline engine as a :class:`~toedit_stats.lm.base.LanguageModel`.

    Parameters are stored; the engine starts on first use. ``max_logprobs`` must be at least the
    ``top_k`` later asked of :meth:`score`. ``engine_kwargs`` go to ``vllm.LLM`` as is.
    """

    backend = "vllm"
    # documents an editor hands to score() at a time: vLLM schedules a whole generate call, so
    # the more requests it sees at once the fuller its batches
    edit_buffer_docs = 1024
    # LMConfig field -> constructor argument; vLLM places and batches on its own, so --device
    # and --batch-tokens are refused rather than ignored (see toedit_stats.lm.load_lm)
    config_fields: ClassVar[dict[str, str]] = {"dtype": "dtype", "trust_remote_code": "trust_remote_code"}

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        max_logprobs: int = 20,
        dtype: str = "auto",
        gpu_memory_utilization: float | None = None,
        head_dtype: str | None = "float32",
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        prefix_token: int | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        engine_kwargs: dict[str, Any] | None = None,
    ):
        if dtype == "mixed":
            raise ConfigError(
                "dtype 'mixed' is the transformers backend's CPU mode; vllm takes auto, bfloat16, float16 or float32"
            )
        self.name = model
        self.max_logprobs = max_logprobs
        self.dtype = dtype
        self.gpu_memory_utilization = gpu_memory_utilization  # None: vLLM's default (all of it)
        self.head_dtype = head_dtype
        self.max_model_len = max_model_len
        self.tensor_parallel_size = tensor_parallel_size
        self.prefix_token = prefix_token
        self.trust_remote_code = trust_remote_code
        self.revision = revision
        self.engine_kwargs = dict(engine_kwargs or {})
        self._llm = None

    def __repr__(self) -> str:
        return f"VLLMModel(model={self.name!r}, max_logprobs={self.max_logprobs})"

    def load(self) -> VLLMModel:
        if self._llm is not None:
            return self
        vllm = require("vllm", feature="the vLLM backend")
        transformers = require("transformers", feature="the vLLM backend's tokenizer offsets")
        from .base import choose_prefix_token

        src = resolve_model(self.name)
        if src.gguf_file:
            # vLLM's GGUF path needs a separate tokenizer; the embedded GGUF is a CPU fallback.
            src = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
        kwargs = dict(
            model=src.path,
            max_logprobs=self.max_logprobs,
            enable_prefix_caching=False,
            dtype=self.dtype,
            tensor_parallel_size=self.tensor_parallel_size,
            trust_remote_code=self.trust_remote_code,
        )
        if self.revision:
            kwargs["revision"] = self.revision
        if self.max_model_len:
            kwargs["max_model_len"] = self.max_model_len
        if self.gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = self.gpu_memory_utilization
        if self.head_dtype:
            kwargs["hf_overrides"] = {"head_dtype": self.head_dtype}
        user = dict(self.engine_kwargs)
        if "hf_overrides" in user:  # the caller's overrides, with ours unless they set head_dtype
            kwargs["hf_overrides"] = {**kwargs.get("hf_overrides", {}), **user.pop("hf_overrides")}
        kwargs.update(user)
        self._vllm_version = str(getattr(vllm, "__version__", "unknown"))
        self._llm = vllm.LLM(**kwargs)
        self._tokenizer = transformers.AutoTokenizer.from_pretrained(
            src.path, trust_remote_code=self.trust_remote_code, revision=self.revision
        )
        self._source = src
        self._prefix = (
            self.prefix_token if self.prefix_token is not None else choose_prefix_token(self._tokenizer)
        )
        self._context = self.window_limit(
            self.max_model_len or self._llm.llm_engine.model_config.max_model_len
        )
        return self

    @staticmethod
    def window_limit(max_model_len: int) -> int:
        """The longest prompt window: ``max_model_len - 1`` tokens. vLLM refuses a prompt that leaves
        no room for one generated token (``len(prompt) >= max_model_len``), and one refused prompt
        fails every request of its ``generate`` call."""
        return int(max_model_len) - 1

    @property
    def fingerprint(self) -> str:
        self.load()
        return (
            f"vllm{self._vllm_version}:{self.name}:{self._source.path}@{self.revision or 'main'}"
            f":dtype={self.dtype}:head={self.head_dtype or 'model'}:prefix={self._prefix}:ctx={self._context}"
        )

    @property
    def vocab_size(self) -> int:
        self.load()
        return len(self._tokenizer)

    def info(self) -> dict[str, Any]:
        self.load()
        return {
            "backend": self.backend,
            "name": self.name,
            "path": self._source.path,
            "fingerprint": self.fingerprint,
            "context": self._context,
            "prefix_token": self._prefix,
        }

    def token_text(self, token_ids: Sequence[int]) -> list[str]:
        self.load()
        return [self._tokenizer.decode([int(t)], clean_up_tokenization_spaces=False) for t in token_ids]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        self.load()
        return [len(ids) for ids in self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def score_variants(self, docs, variants, **kw) -> Iterator[tuple[TokenScores, list[TokenScores]]]:
        """Documents, then their variants, scored in full (:func:`score_variants_in_full`); vLLM runs with prefix caching off (see the module docstring), so nothing of the document's pass is reused."""
        return score_variants_in_full(self, docs, variants, **kw)

    def score(
        self,
        docs: Iterable[Document | str],
        *,
        top_k: int = 0,
        buffer_docs: int = 1024,
        on_tokens: Callable[[int], None] | None = None,
    ) -> Iterator[TokenScores]:
        if top_k > self.max_logprobs:
            raise ConfigError(f"top_k={top_k} exceeds max_logprobs={self.max_logprobs}; raise max_logprobs")
        self.load()
        for buf in document_buffers(docs, buffer_docs):
            yield from self._score_buffer(buf, top_k, on_tokens)

    def _sampling_params(self, top_k: int):
        from vllm import SamplingParams

        # the one generated token is thrown away: greedy, nothing to sample
        kw = dict(max_tokens=1, temperature=0.0, prompt_logprobs=top_k, detokenize=False)
        try:
            return SamplingParams(**kw, flat_logprobs=True)
        except TypeError:  # vLLM before flat logprobs
            return SamplingParams(**kw)

    def _score_buffer(
        self, docs: list[Document], top_k: int, on_tokens: Callable[[int], None] | None = None
    ) -> list[TokenScores]:
        from vllm.inputs import TokensPrompt

        enc = self._tokenizer([d.text for d in docs], add_special_tokens=False, return_offsets_mapping=True)
        prompts, index = [], []
        seqs = []
        for di, ids in enumerate(enc["input_ids"]):
            seq = [self._prefix, *ids]
            seqs.append(seq)
            for s, e, f in plan_windows(len(seq), self._context):
                prompts.append(TokensPrompt(prompt_token_ids=seq[s:e]))
                index.append((di, s, e, f))
        # one generate call per buffer (vLLM schedules it); progress moves once per buffer
        tokens = sum(e - f for _, _, e, f in index)
        bar = _RequestProgress(on_tokens, tokens, len(prompts)) if on_tokens is not None else None
        outputs = self._llm.generate(prompts, self._sampling_params(top_k), use_tqdm=bar or False)
        if bar is not None:
            bar.finish()
        parts: dict[int, list] = {i: [] for i in range(len(docs))}
        for (di, s, e, f), out in zip(index, outputs):
            parts[di].append(convert_prompt_logprobs(out.prompt_logprobs, seqs[di][s:e], top_k, f - s))
        result = []
        for di, doc in enumerate(docs):
            lp, rk, tki, tkl = (stitch([p[j] for p in parts[di]]) for j in range(4))
            ids = np.asarray(enc["input_ids"][di], np.int64)
            off = normalize_offsets(np.asarray(enc["offset_mapping"][di], np.int64))
            result.append(TokenScores(doc.id, ids, off, lp, rk, None, tki, tkl))
        return result


class _RequestProgress:
    """vLLM's ``use_tqdm`` callable: vLLM calls it to make its bar and ``update(n)`` as requests
    finish; here each finished request reports its share of the buffer's tokens, so progress moves
    per request, and :meth:`finish` reports what is left (all of it for a vLLM that never called)."""

    def __init__(self, on_tokens: Callable[[int], None], tokens: int, requests: int):
        self.on_tokens, self.tokens, self.requests = on_tokens, tokens, max(1, requests)
        self.done = self.reported = 0

    def __call__(self, *args: Any, **kwargs: Any) -> _RequestProgress:  # vLLM makes its "bar"
        return self

    def update(self, n: int = 1) -> None:
        self.done = min(self.requests, self.done + int(n))
        due = self.tokens * self.done // self.requests
        if due > self.reported:
            self.on_tokens(due - self.reported)
            self.reported = due

    def finish(self) -> None:
        if self.tokens > self.reported:
            self.on_tokens(self.tokens - self.reported)
            self.reported = self.tokens

    def close(self) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass
