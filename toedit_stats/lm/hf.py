"""The ``transformers`` backend: any causal LM by hub id or local path, on CPU or CUDA.

Scoring is one teacher-forced pass per document (or per window of a long document):

- **Prefix token.** A real token is scored from the tokens before it, so one token is put in
  front of every document (:func:`choose_prefix_token`): ``<|endoftext|>`` when the vocabulary
  has it (the document separator GPT-2-style BPE models such as SmolLM, Qwen2.5 and StarCoder
  are pre-trained with), else the BOS the tokenizer itself adds (Llama 2/3, Mistral), else the
  model's BOS, else its EOS. ``prefix_token=`` overrides it. Measured on SmolLM2-135M and 20
  essays: mean first-token log-prob -8.66 after ``<|endoftext|>`` vs -11.12 after the GGUF
  tokenizer's BOS ``<|im_start|>`` (a chat-turn marker).
- **Long documents** are never truncated: they are scored in overlapping windows of the
  model's context (:func:`~toedit_stats.lm.base.plan_windows`), every token with at least half
  a window of left context.
- **Batching.** Documents are read in buffers, their windows sorted by length and packed into
  batches of at most ``batch_tokens`` padded tokens (:func:`~toedit_stats.lm.base.batch_plan`);
  the forward pass runs under ``torch.inference_mode``. Defaults by device: on CPU 2,048 tokens
  per batch and 256 documents per buffer; on CUDA 32,768 tokens per batch (a forward of a small
  model is ~450 kernel launches, which a 2,048-token batch does not amortise), 4,096 documents per
  buffer and batches cut where padding would pass 5% of the batch (measured on the shared corpora
  by ``tests/test_lm.py``: see README's GPU section).
- **Host work overlapped.** The next buffer is tokenised in a thread while this one is scored; on
  CUDA each batch's results are copied to pinned host memory behind its kernels (non-blocking,
  with an event) and read only after the next batch is launched, and only what the statistics
  need comes back (no top-k when ``top_k = 0``).
- **Bounded memory.** The LM head and the log-softmax run over chunks of ``chunk_positions``
  scored positions, so a batch never holds a full ``tokens × vocabulary`` logit matrix.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import pickle
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from .._deps import require
from ..corpus import Document
from ..errors import ConfigError
from .base import (
    TokenScores,
    batch_plan,
    choose_prefix_token,
    document_buffers,
    normalize_offsets,
    plan_windows,
    stitch,
)
from .models import (
    DEFAULT_MODEL,
    hub_reachable,
    pickle_only,
    resolve_model,
    save_gguf_cache,
    unreachable_message,
)

__all__ = ["CPU_DEFAULT_DTYPE", "TransformersLM", "to_mixed_precision"]


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

# What dtype="auto" runs on CPU: the fastest precision that meets the fidelity bound against
# float32 (toedit_stats.lm.fidelity.FIDELITY_BOUND). "mixed" does not (98.2-98.9% of the p >= 0.99
# selections unchanged, bound 99%; tests/test_lm.py checks this in CI), so float32.
CPU_DEFAULT_DTYPE = "float32"
# What dtype="auto" runs on CUDA, by the same rule: float32 until a GPU measurement
# (benchmarks/gpu_check.py) shows bfloat16 with a float32 head meeting the bound. On CPU a
# bfloat16 body misses it (with a float32 head too: 0.045 nats, 97.6% rank-1 agreement on the
# bundled sample), and GPU bfloat16 matmuls round their outputs the same way.
CUDA_DEFAULT_DTYPE = "float32"

# Batching defaults by device (see the module docstring): (tokens per batch, documents per buffer,
# largest padding share per batch, bytes of float32 logits per LM-head chunk).
CPU_BATCHING = (2048, 256, None, 64 << 20)
CUDA_BATCHING = (32768, 4096, 0.05, 1 << 30)


@contextlib.contextmanager
def quiet_transformers(transformers: Any = None, gguf: bool = False):
    """Silence transformers' own progress bars and warnings while loading a model (library code
    does not print); restores the previous settings. Used by every backend and embedder load.
    ``gguf``: a GGUF file is about to be read, so the GGUF utilities' own bar is silenced too
    (imported only then: they cost a few hundred milliseconds to import)."""
    if transformers is None:
        transformers = require("transformers")
    log = transformers.utils.logging
    bars = log.is_progress_bar_enabled()
    level = log.get_verbosity()
    log.disable_progress_bar()
    log.set_verbosity_error()
    # the GGUF dequantiser calls tqdm directly, outside transformers' progress-bar switch
    gguf_utils = sys.modules.get("transformers.modeling_gguf_pytorch_utils")
    if gguf_utils is None and gguf:
        with contextlib.suppress(ImportError):
            import transformers.modeling_gguf_pytorch_utils as gguf_utils
    old_tqdm = getattr(gguf_utils, "tqdm", None)
    if old_tqdm is not None:
        gguf_utils.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        yield
    finally:
        log.set_verbosity(level)
        if bars:
            log.enable_progress_bar()
        if old_tqdm is not None:
            gguf_utils.tqdm = old_tqdm


def to_mixed_precision(model: Any) -> Any:
    """Switch the ``nn.Linear`` layers of every decoder block but the first and the last to
    bfloat16 weights and matmuls, their outputs back in float32: the residual stream, norms,
    attention softmax, the first and last blocks and the LM head stay float32 (the precision
    mode of issue 16, measured against float32 in ``tests/test_lm.py``). The blocks are the
    longest ``nn.ModuleList`` of the base model. Returns the model, changed in place."""
    torch = require("torch")

    class BF16Linear(torch.nn.Module):
        def __init__(self, linear):
            super().__init__()
            self.weight = torch.nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
            b = linear.bias
            self.bias = None if b is None else torch.nn.Parameter(b.detach().float(), requires_grad=False)

        def forward(self, x):
            y = torch.nn.functional.linear(x.to(torch.bfloat16), self.weight).float()
            return y if self.bias is None else y + self.bias

    base = getattr(model, model.base_model_prefix, model)
    lists = [m for m in base.modules() if isinstance(m, torch.nn.ModuleList)]
    if not lists:
        raise ConfigError("dtype 'mixed': this model has no list of decoder blocks; use float32 or bfloat16")
    blocks = max(lists, key=len)
    for block in list(blocks)[1:-1]:
        for parent in list(block.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, torch.nn.Linear):
                    setattr(parent, name, BF16Linear(child))
    return model


class TransformersLM:
    """A causal LM from ``transformers``; parameters are stored, the model loads on first use.

    Parameters
    ----------
    model : ``"smollm2-135m"`` (embedded default, see :mod:`toedit_stats.lm.models`), a hub id
        or a local path.
    device : ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    dtype : ``"auto"`` (:data:`CUDA_DEFAULT_DTYPE` on CUDA, :data:`CPU_DEFAULT_DTYPE` on CPU:
        float32 on both, as no lower precision has met the fidelity bound yet; float32 elsewhere),
        ``"float32"`` (the reference), ``"bfloat16"``, ``"float16"``, or ``"mixed"``: float32
        weights, residual stream, norms, attention softmax and LM head, with the linear layers of
        every decoder block but the first and the last computed in bfloat16
        (:func:`to_mixed_precision`; 1.35x float32 on a CPU with AVX-512-bf16 and no AMX, at a
        measured 0.011 nats mean |Δ log p| but 98.9% of the p >= 0.99 selections unchanged,
        under the 99% of :data:`~toedit_stats.lm.fidelity.FIDELITY_BOUND`).
    head_dtype : ``"float32"`` (default): the LM head computed in float32 from a float32 copy of
        its weights whatever the model's dtype, so that a bfloat16/float16 body keeps float32
        log-probabilities at the head, where a low-precision head flips an estimated ~3% of the
        p >= 0.99 selections; ``None``: the head in the model's dtype.
    batch_tokens : padded tokens per forward batch (default by device: 2,048 on CPU, 32,768 on
        CUDA; :data:`CPU_BATCHING`, :data:`CUDA_BATCHING`).
    max_context : window length (default: the model's ``max_position_embeddings``).
    chunk_positions : positions per LM-head chunk (default: 64 MiB of float32 logits on CPU,
        1 GiB on CUDA, at least 64 positions; :meth:`_head`).
    prefix_token : override :func:`choose_prefix_token`.
    trust_remote_code, revision : passed to ``from_pretrained``.
    allow_pickle : also load pickle weights (``.bin``); by default only safetensors (and the
        embedded GGUF) are loaded, since unpickling can run code. torch's weights-only mode
        still applies.

    Example
    -------
    >>> lm = TransformersLM("smollm2-135m")                        # doctest: +SKIP
    >>> scores = next(lm.score(["The cat sat on the mat."], top_k=8))  # doctest: +SKIP
    """

    backend = "transformers"
    # LMConfig field -> constructor argument (see toedit_stats.lm.load_lm)
    config_fields: ClassVar[dict[str, str]] = {
        "device": "device",
        "dtype": "dtype",
        "batch_tokens": "batch_tokens",
        "trust_remote_code": "trust_remote_code",
        "allow_pickle_weights": "allow_pickle",
    }

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_tokens: int | None = None,
        max_context: int | None = None,
        chunk_positions: int | None = None,
        prefix_token: int | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        allow_pickle: bool = False,
        head_dtype: str | None = "float32",
    ):
        if not isinstance(device, str) or not _DEVICE.fullmatch(device):
            raise ConfigError(f"device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
        if dtype not in ("auto", "float32", "bfloat16", "float16", "mixed"):
            raise ConfigError(f"dtype must be auto, float32, bfloat16, float16 or mixed, got {dtype!r}")
        if (batch_tokens is not None and batch_tokens < 1) or (
            chunk_positions is not None and chunk_positions < 1
        ):
            raise ConfigError("batch_tokens and chunk_positions must be positive")
        if max_context is not None and max_context < 2:
            raise ConfigError(f"max_context must be at least 2, got {max_context}")
        self.name = model
        self.device = device
        self.dtype = dtype
        self.batch_tokens = batch_tokens
        self.max_context = max_context
        self.chunk_positions = chunk_positions
        self.prefix_token = prefix_token
        self.trust_remote_code = trust_remote_code
        self.revision = revision
        self.allow_pickle = allow_pickle
        if head_dtype not in (None, "float32"):
            raise ConfigError(f"head_dtype must be float32 or None, got {head_dtype!r}")
        self.head_dtype = head_dtype
        self._head_weight32 = None
        self._model = None
        self._tokenizer = None
        self._source = None
        self._batching = CPU_BATCHING  # the device's defaults, set again when loading
        self.load_seconds: float | None = None
        # score_variants: variant tokens taken from the document's pass, and those recomputed
        self.reused_tokens = 0
        self.rescored_tokens = 0

    def __repr__(self) -> str:
        return f"TransformersLM(model={self.name!r}, device={self.device!r}, dtype={self.dtype!r})"

    # -- loading ----------------------------------------------------------------------------
    def _resolved_dtype(self, torch, device: str) -> str:
        """The precision ``dtype`` runs as on ``device`` ("auto" resolved)."""
        if self.dtype != "auto":
            return self.dtype
        if device.startswith("cuda"):
            return CUDA_DEFAULT_DTYPE
        return CPU_DEFAULT_DTYPE if device == "cpu" else "float32"

    def _torch_dtype(self, torch, device: str):
        dtype = self._resolved_dtype(torch, device)
        # "mixed" loads in float32, then its block linears switch to bfloat16
        return torch.float32 if dtype == "mixed" else getattr(torch, dtype)

    def _from_pretrained(self, transformers, torch, src, device):
        kw: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        if self.revision:
            kw["revision"] = self.revision
        if src.gguf_file:
            kw["gguf_file"] = src.gguf_file
        weights_kw: dict[str, Any] = {}
        if not src.gguf_file and not self.allow_pickle:
            # pickle weights can run code when loaded: safetensors only, unless allowed
            if src.origin == "local" and pickle_only(src.path):
                raise ConfigError(
                    f"model {self.name!r} has only pickle weights (.bin/.pt), which can run code when "
                    "loaded; convert them to safetensors or pass --allow-pickle-weights"
                )
            weights_kw["use_safetensors"] = True

        def load(**extra):
            tok = transformers.AutoTokenizer.from_pretrained(src.path, **kw, **extra)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                src.path, dtype=self._torch_dtype(torch, device), **kw, **weights_kw, **extra
            )
            return tok, model

        if src.origin != "hub":
            return load()
        try:  # the local Hugging Face cache first: no network
            return load(local_files_only=True)
        except OSError:
            if not hub_reachable():
                raise ConfigError(unreachable_message(self.name)) from None
        return load()

    def load(self) -> TransformersLM:
        """Load tokenizer and model (idempotent)."""
        if self._model is not None:
            return self
        torch = require("torch", feature="the transformers backend")
        transformers = require("transformers", feature="the transformers backend")
        t0 = time.perf_counter()
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda"):
            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            index = int(device.partition(":")[2] or 0)
            if index >= n:
                raise ConfigError(
                    f"device {device!r}: this machine has {n} CUDA device(s); use --device cpu"
                    + (f" or cuda:0..cuda:{n - 1}" if n else "")
                )
        if device == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ConfigError("device 'mps': not available on this machine; use --device cpu")
        self._device = device
        self._batching = self._batching_for(device)
        src = resolve_model(self.name)
        try:
            with quiet_transformers(transformers, gguf=bool(src.gguf_file)):
                tok, model = self._from_pretrained(transformers, torch, src, device)
        except ConfigError:
            raise
        except pickle.UnpicklingError as exc:
            raise ConfigError(
                f"model {self.name!r}: torch refused its pickle weights ({str(exc).splitlines()[0]}); "
                "use a model with safetensors weights"
            ) from None
        except (OSError, ValueError) as exc:
            if src.origin != "cache":
                raise ConfigError(
                    f"cannot load model {self.name!r} from {src.path} ({src.origin}): {exc}".splitlines()[0]
                ) from None
            src = resolve_model(self.name, use_cache=False)  # a stale or broken cache: rebuild it
            with quiet_transformers(transformers, gguf=bool(src.gguf_file)):
                tok, model = self._from_pretrained(transformers, torch, src, device)
        self._source = src
        if not getattr(tok, "is_fast", False):
            raise ConfigError(f"model {self.name!r} has no fast tokenizer; character offsets need one")
        if src.gguf_file and src.cache_to is not None:
            # a read-only cache directory only costs speed next time
            with contextlib.suppress(OSError):
                save_gguf_cache(model, tok, src)
        model.eval().to(device)
        if self._resolved_dtype(torch, device) == "mixed":
            to_mixed_precision(model)
        self._tokenizer = tok
        self._model = model
        self._prefix = (
            self.prefix_token if self.prefix_token is not None else choose_prefix_token(tok, model.config)
        )
        ctx = self.max_context or getattr(model.config, "max_position_embeddings", None) or 2048
        self._context = int(ctx)
        self._softcap = getattr(model.config, "final_logit_softcapping", None)
        self.load_seconds = time.perf_counter() - t0
        return self

    @property
    def vocab_size(self) -> int:
        """Rows of the LM head: the most candidates a top-k can have."""
        return int(self.load()._model.get_output_embeddings().weight.shape[0])

    @property
    def tokenizer(self):
        return self.load()._tokenizer

    @property
    def model(self):
        return self.load()._model

    @property
    def context(self) -> int:
        return self.load()._context

    @property
    def prefix(self) -> int:
        return self.load()._prefix

    @property
    def _batch_tokens(self) -> int:
        return self.batch_tokens or self._batching[0]

    @property
    def edit_buffer_docs(self) -> int:
        """Documents an editor hands to :meth:`score` at a time: 64 on CPU (the editor's own
        default), the CUDA buffer on a GPU, so that batches sorted by length stay full and
        padding low. Does not load the model (a driver that only hands work to workers asks)."""
        device = self.device if self._model is None else self._device
        if device == "auto":
            device = "cuda" if require("torch").cuda.is_available() else "cpu"
        return self._batching_for(device)[1] if device.startswith("cuda") else 64

    @staticmethod
    def _batching_for(device: str) -> tuple:
        return CUDA_BATCHING if device.startswith("cuda") else CPU_BATCHING

    @property
    def fingerprint(self) -> str:
        self.load()
        weights = self._source.fingerprint or f"{self._source.path}@{self.revision or 'main'}"
        torch = require("torch")
        dtype = self._resolved_dtype(torch, self._device)
        # the head's precision matters only below float32 (float32 keys stay as they were)
        head = f":head={self.head_dtype or 'model'}" if dtype in ("bfloat16", "float16") else ""
        return f"transformers:{self.name}:{weights}:prefix={self._prefix}:ctx={self._context}:{dtype}{head}"

    def info(self) -> dict[str, Any]:
        """Provenance for manifests and reports."""
        self.load()
        return {
            "backend": self.backend,
            "name": self.name,
            "source": self._source.origin,
            "path": self._source.path,
            "fingerprint": self.fingerprint,
            "device": self._device,
            "context": self._context,
            "prefix_token": self._prefix,
            "dtype": self._resolved_dtype(require("torch"), self._device),
            "head_dtype": self.head_dtype or "model",
            "parameters": int(sum(p.numel() for p in self._model.parameters())),
        }

    def token_text(self, token_ids: Sequence[int]) -> list[str]:
        tok = self.tokenizer
        return [tok.decode([int(t)], clean_up_tokenization_spaces=False) for t in token_ids]

    def tokenize(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(ids, normalised offsets) per text, without special tokens."""
        if not texts:
            return []
        enc = self.tokenizer(
            list(texts), add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False
        )
        return [
            (np.asarray(ids, dtype=np.int64), normalize_offsets(np.asarray(off, dtype=np.int64)))
            for ids, off in zip(enc["input_ids"], enc["offset_mapping"])
        ]

    # -- scoring ----------------------------------------------------------------------------
    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [int(ids.size) for ids, _ in self.tokenize(texts)]

    def score(
        self,
        docs: Iterable[Document | str],
        *,
        top_k: int = 0,
        buffer_docs: int | None = None,
        on_tokens: Callable[[int], None] | None = None,
    ) -> Iterator[TokenScores]:
        """Score documents (see the module docstring); yields in input order.

        Documents are read ``buffer_docs`` at a time (default by device, :data:`CPU_BATCHING`),
        and each buffer is sorted by length into batches, so a stream of any length is scored
        in bounded memory. The next buffer is read and tokenised in a thread meanwhile.
        """
        if top_k < 0:
            raise ConfigError(f"top_k must be >= 0, got {top_k}")
        self.load()
        for buf, toks in self._tokenized_buffers(docs, buffer_docs):
            yield from self._score_buffer(buf, top_k, on_tokens, toks=toks)

    def _tokenized_buffers(self, docs, buffer_docs: int | None) -> Iterator[tuple[list[Document], list]]:
        """``(buffer, its tokens)``, the next buffer read and tokenised in one background thread
        while the caller scores this one (the Rust tokenizer releases the GIL). Only that thread
        advances ``docs``; an error reading or tokenising is raised here, in order."""
        buffers = document_buffers(docs, buffer_docs or self._batching[1])

        def nxt():
            buf = next(buffers, None)
            return None if buf is None else (buf, self.tokenize([d.text for d in buf]))

        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="toedit-tokenize") as pool:
            ahead = pool.submit(nxt)
            while (item := ahead.result()) is not None:
                ahead = pool.submit(nxt)
                yield item

    def score_variants(
        self,
        docs: Iterable[Document | str],
        variants: Callable[[Document, TokenScores], Sequence[str]],
        *,
        top_k: int = 0,
        variant_top_k: int = 0,
        buffer_docs: int | None = None,
        on_tokens: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[TokenScores, list[TokenScores]]]:
        """Score documents and texts derived from them, reusing each document's pass.

        For every document, ``variants(doc, scores)`` is called with its scores as soon as they
        exist and returns texts (e.g. edited versions); their scores (with ``variant_top_k``
        candidates) are computed **from the first token where the variant's tokens differ from
        the document's**: a causal model's scores before it are the document's, and the keys and
        values of the document's forward pass, kept while its batch is in memory, stand in for
        the common prefix. Yields ``(scores, [variant scores])`` in input order. A document
        scored in more than one window, or a variant longer than the context, is scored in
        full (same result, no saving). ``self.reused_tokens`` / ``self.rescored_tokens``
        count variant tokens taken from the document's pass and recomputed.
        """
        if top_k < 0 or variant_top_k < 0:
            raise ConfigError(f"top_k must be >= 0, got {min(top_k, variant_top_k)}")
        self.load()
        for buf, toks in self._tokenized_buffers(docs, buffer_docs):
            found: dict[int, list[TokenScores]] = {}
            scores = self._score_buffer(buf, top_k, on_tokens, (variants, variant_top_k, found), toks)
            for di, (doc, sc) in enumerate(zip(buf, scores)):
                if di not in found:  # scored in windows: its variants are scored in full
                    texts = list(variants(doc, sc))
                    found[di] = self._score_buffer(
                        [Document(doc.id, t) for t in texts], variant_top_k, on_tokens
                    )
                yield sc, found[di]

    def _score_buffer(
        self,
        docs: list[Document],
        top_k: int,
        on_tokens: Callable[[int], None] | None = None,
        variants: tuple | None = None,
        toks: list | None = None,
    ) -> list[TokenScores]:
        torch = require("torch")
        if toks is None:
            toks = self.tokenize([d.text for d in docs])
        seqs = [np.concatenate([[self._prefix], ids]) for ids, _ in toks]
        plans = [plan_windows(seq.size, self._context) for seq in seqs]
        segments = []  # (doc, window index, start, end, score_from)
        for di, plan in enumerate(plans):
            for wi, (s, e, f) in enumerate(plan):
                segments.append((di, wi, s, e, f))
        segments.sort(key=lambda t: t[3] - t[2], reverse=True)
        parts: dict[tuple[int, int], tuple] = {}

        def assemble(di: int) -> TokenScores:
            pieces = [parts[(di, wi)] for wi in range(len(plans[di]))]
            lp, rk, ent, tki, tkl, var = (stitch([p[j] for p in pieces]) for j in range(6))
            ids, off = toks[di]
            return TokenScores(docs[di].id, ids, off, lp, rk, ent, tki, tkl, var)

        def finish(batch, copy) -> None:
            for key, a in zip(((b[0], b[1]) for b in batch), copy.arrays()):
                parts[key] = a
            if on_tokens is not None:
                on_tokens(sum(e - f for _, _, _, e, f in batch))

        plan = batch_plan([e - s for _, _, s, e, _ in segments], self._batch_tokens, self._batching[2])
        pending = None  # the last batch's results, read after the next batch is launched
        for sl in plan:
            batch = segments[sl]
            copy, cache = self._score_batch(torch, seqs, batch, top_k, keep_cache=variants is not None)
            if variants is None:
                if pending is not None:
                    finish(*pending)
                pending = (batch, copy)
                continue
            finish(batch, copy)
            fn, variant_top_k, found = variants
            for r, b in enumerate(batch):
                di = b[0]
                if len(plans[di]) == 1:  # variants of a document in one window: from its cache
                    scores = assemble(di)
                    texts = list(fn(docs[di], scores))
                    found[di] = self._score_from_prefix(
                        torch, cache, r, seqs[di], scores, texts, variant_top_k, on_tokens
                    )
            del cache
        if pending is not None:
            finish(*pending)
        return [assemble(di) for di in range(len(docs))]

    def _score_from_prefix(self, torch, cache, row, seq, base_scores, texts, top_k, on_tokens):
        """Scores of ``texts``, each from its first token that differs from ``seq`` (the
        document's ids, prefix included), with the document's keys and values (row ``row`` of
        ``cache``) for the common prefix."""
        if not texts:
            return []
        toks = self.tokenize(texts)
        out: list[TokenScores | None] = [None] * len(texts)
        jobs = []  # (variant index, new sequence, past length P)
        full = []
        for vi, (ids, _) in enumerate(toks):
            ns = np.concatenate([[self._prefix], ids])
            if ns.size > self._context:
                full.append(vi)
                continue
            m = min(ns.size, seq.size)
            diff = np.flatnonzero(ns[:m] != seq[:m])
            j = int(diff[0]) if diff.size else m  # first position (sequence coordinates) that differs
            jobs.append((vi, ns, j))
        base = (
            base_scores.logprobs,
            base_scores.ranks,
            base_scores.entropy,
            base_scores.topk_ids[:, :top_k],
            base_scores.topk_logprobs[:, :top_k],
            base_scores.logprob_var
            if base_scores.logprob_var is not None
            else np.full(len(base_scores), np.nan, np.float32),
        )
        if base_scores.topk_ids.shape[1] < top_k:  # the document's pass has too few candidates
            full.extend(vi for vi, _, _ in jobs)
            jobs = []
        jobs.sort(key=lambda t: t[1].size - t[2], reverse=True)  # longest suffix first
        i = 0
        while i < len(jobs):
            n = max(1, self._batch_tokens // max(1, jobs[i][1].size - jobs[i][2]))
            group = jobs[i : i + n]
            i += n
            todo = [(vi, ns, j) for vi, ns, j in group if ns.size > j]
            suffix = dict(
                zip((vi for vi, _, _ in todo), self._score_suffix_batch(torch, cache, row, todo, top_k))
            )
            for vi, _ns, j in group:
                keep = j - 1  # tokens 1..j-1 of the document are the variant's too
                head = tuple(a[:keep] for a in base)
                tail = suffix.get(vi)
                arr = head if tail is None else tuple(stitch([h, t]) for h, t in zip(head, tail))
                ids, off = toks[vi]
                out[vi] = TokenScores(base_scores.doc_id, ids, off, *arr)
                self.reused_tokens += keep
                self.rescored_tokens += ids.size - keep
            if on_tokens is not None:
                on_tokens(sum(ns.size - j for _, ns, j in todo))
        if full:
            rest = self._score_buffer(
                [Document(base_scores.doc_id, texts[vi]) for vi in full], top_k, on_tokens
            )
            for vi, sc in zip(full, rest):
                out[vi] = sc
                self.rescored_tokens += len(sc)
        return out

    def _score_suffix_batch(self, torch, cache, row, jobs, top_k):
        """Positions ``j..`` of each new sequence, with positions ``0..j-2`` taken from ``row`` of
        the document's cache: the past is left-padded to a common length and masked, and each
        row's inputs start at its own position."""
        if not jobs:
            return []
        B = len(jobs)
        past = [j - 1 for _, _, j in jobs]
        P = max(past)
        N = max(ns.size - j for _, ns, j in jobs)
        device = self._device
        input_ids = torch.full((B, N), self._prefix, dtype=torch.long)
        mask = torch.zeros((B, P + N), dtype=torch.long)
        positions = torch.zeros((B, N), dtype=torch.long)
        for r, (_, ns, j) in enumerate(jobs):
            n = ns.size - j
            input_ids[r, :n] = torch.from_numpy(ns[j - 1 : -1])
            mask[r, P - past[r] : P + n] = 1
            positions[r] = torch.arange(past[r], past[r] + N)
        layers = []
        for k_all, v_all in cache:
            shape = (B, k_all.shape[1], P, k_all.shape[3])
            k = k_all.new_zeros(shape)
            v = v_all.new_zeros(shape)
            for r, p in enumerate(past):
                if p:
                    k[r, :, P - p :] = k_all[row, :, :p]
                    v[r, :, P - p :] = v_all[row, :, :p]
            layers.append((k, v))
        transformers = require("transformers")
        with torch.inference_mode():
            kv = transformers.DynamicCache(layers) if P else None
            base = getattr(self._model, self._model.base_model_prefix)
            hidden = base(
                input_ids=input_ids.to(device),
                attention_mask=mask.to(device),
                position_ids=positions.to(device),
                use_cache=kv is not None,
                **{_cache_argument(base): kv},
            ).last_hidden_state
            rows = np.concatenate([np.full(ns.size - j, r) for r, (_, ns, j) in enumerate(jobs)])
            cols = np.concatenate([np.arange(ns.size - j) for _, ns, j in jobs])
            tgt = np.concatenate([ns[j:] for _, ns, j in jobs])
            sel = hidden[torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device)]
            copy = self._head(
                torch, sel, torch.from_numpy(tgt).to(device), top_k, [ns.size - j for _, ns, j in jobs]
            )
        return copy.arrays()

    def _score_batch(self, torch, seqs, batch, top_k, keep_cache: bool = False):
        """One padded batch of windows: its inputs built here, then :meth:`_forward`. Returns a
        :class:`_HostCopy` of the per-window arrays and, with ``keep_cache``, the keys and values."""
        return self._forward(torch, *self._batch_inputs(torch, seqs, batch), top_k, keep_cache)

    def _batch_inputs(self, torch, seqs, batch):
        """Host side of a batch: padded input ids, and the (row, column, target) of every scored
        position with the number per window."""
        B = len(batch)
        L = max(e - s for _, _, s, e, _ in batch)
        input_ids = torch.full((B, L), self._prefix, dtype=torch.long)
        rows, cols, targets, counts = [], [], [], []
        for r, (di, _, s, e, f) in enumerate(batch):
            seq = seqs[di]
            input_ids[r, : e - s] = torch.from_numpy(seq[s:e])
            pos = np.arange(f, e)  # positions scored in this window (sequence coordinates)
            rows.append(np.full(pos.size, r))
            cols.append(pos - s - 1)  # hidden state that predicts position p
            targets.append(seq[pos])
            counts.append(pos.size)
        return input_ids, np.concatenate(rows), np.concatenate(cols), np.concatenate(targets), counts

    def _forward(self, torch, input_ids, rows, cols, targets, counts, top_k, keep_cache):
        """Device side of a batch: the base model's forward and the LM head over the scored
        positions (the only method ``benchmarks/bench_host.py`` replaces by a zero-cost stand-in)."""
        device = self._device
        cache = None
        with torch.inference_mode():
            # Right padding needs no attention mask in a causal LM: a real token only attends to
            # earlier positions, which are all real. Without a mask SDPA takes its causal fast path.
            base = getattr(self._model, self._model.base_model_prefix)
            out = base(input_ids=input_ids.to(device), use_cache=keep_cache)
            hidden = out.last_hidden_state
            if keep_cache:  # (keys, values) per layer, batch rows in ``batch`` order
                kv = getattr(out, "cache", None) or out.past_key_values
                cache = [(layer.keys, layer.values) for layer in kv.layers]
            rows_t = torch.from_numpy(rows).to(device)
            cols_t = torch.from_numpy(cols).to(device)
            sel = hidden[rows_t, cols_t]
            tgt = torch.from_numpy(targets).to(device)
            copy = self._head(torch, sel, tgt, top_k, counts)
        return copy, cache

    def _head(self, torch, sel, tgt, top_k, counts):
        """LM head and per-position statistics over chunks of hidden states: (log p of the
        target, its full-vocabulary rank, entropy, top-k ids, top-k log p), on their way to the
        host split into ``counts`` positions per window (:class:`_HostCopy`).

        One pass of the head per chunk into a float32 logit buffer that is reused from chunk to
        chunk and call to call (a fresh vocabulary-sized tensor per step costs as much in page
        faults as the arithmetic), then: the target's logit; its rank as ``1 + #(z > z_target)``;
        the top-k, whose first value is the maximum ``m``; ``e = exp(z - m)`` in a second buffer,
        ``s = sum(e)``, ``log p = z - m - log s`` and entropy ``H = log s - sum(e (z - m)) / s``.
        Chunks of ``chunk_positions`` positions (default: 64 MiB of float32 logits on CPU, at
        most 1024 positions; 1 GiB on CUDA, at most 8192; at least 64)."""
        head = self._model.get_output_embeddings()
        weight = head.weight
        linear = type(head) is torch.nn.Linear and head.bias is None
        if self.head_dtype == "float32" and weight.dtype != torch.float32 and linear:
            if self._head_weight32 is None or self._head_weight32.device != weight.device:
                self._head_weight32 = weight.detach().float()  # once; tied embeddings stay as they are
            weight, sel = self._head_weight32, sel.float()
        V = int(weight.shape[0])
        n = int(sel.shape[0])
        most = 1024 if self._batching is CPU_BATCHING else 8192
        chunk = self.chunk_positions or max(64, min(most, self._batching[3] // (4 * V)))
        device = sel.device
        f32 = torch.float32
        lp_all = torch.empty(n, dtype=f32, device=device)
        ent_all = torch.empty(n, dtype=f32, device=device)
        var_all = torch.empty(n, dtype=f32, device=device)
        rk_all = torch.empty(n, dtype=torch.int32, device=device)
        k = max(1, top_k)
        tk_v = torch.empty((n, k), dtype=f32, device=device)
        tk_i = torch.empty((n, k), dtype=torch.long, device=device)
        direct = linear and weight.dtype == sel.dtype == f32
        zbuf, ebuf, flag = self._head_buffers(torch, min(chunk, n), V, device)
        for c0 in range(0, n, chunk):
            c1 = min(n, c0 + chunk)
            z, e, gt = zbuf[: c1 - c0], ebuf[: c1 - c0], flag[: c1 - c0]
            if direct:
                torch.mm(sel[c0:c1], weight.t(), out=z)
            else:  # another head type or precision: its own output, widened to float32
                z.copy_(head(sel[c0:c1]))
            if self._softcap:
                z.div_(self._softcap).tanh_().mul_(self._softcap)
            actual = z.gather(1, tgt[c0:c1, None])
            torch.gt(z, actual, out=gt)
            torch.sum(gt, dim=1, dtype=torch.int32, out=rk_all[c0:c1])
            v, ix = z.topk(k, dim=1)
            m = v[:, :1]
            z.sub_(m)
            torch.exp(z, out=e)
            s = e.sum(dim=1)
            log_s = s.log()
            e.mul_(z)
            lse = m[:, 0] + log_s
            lp_all[c0:c1] = actual[:, 0] - lse
            mean_z = e.sum(dim=1) / s  # E_p[z - m]
            ent_all[c0:c1] = log_s - mean_z
            # Var_p[log p] = E_p[(z - m)^2] - E_p[z - m]^2 (log p is z - m shifted): one more reduction
            var_all[c0:c1] = (torch.linalg.vecdot(e, z) / s - mean_z * mean_z).clamp_(min=0)
            tk_v[c0:c1] = v - lse[:, None]
            tk_i[c0:c1] = ix
        return _HostCopy(torch, (lp_all, rk_all, ent_all, var_all, tk_i, tk_v), top_k, counts)

    def _head_buffers(self, torch, rows: int, V: int, device):
        """(logits, exp, flags) buffers of at least ``rows`` x ``V``, kept between calls."""
        bufs = getattr(self, "_head_bufs", None)
        if bufs is None or bufs[0].shape[0] < rows or bufs[0].shape[1] != V or bufs[0].device != device:
            bufs = (
                torch.empty((rows, V), dtype=torch.float32, device=device),
                torch.empty((rows, V), dtype=torch.float32, device=device),
                torch.empty((rows, V), dtype=torch.bool, device=device),
            )
            self._head_bufs = bufs
        return bufs


def batch_figures(
    token_counts: Sequence[int], context: int, batching: tuple = CUDA_BATCHING
) -> dict[str, float]:
    """What :meth:`TransformersLM.score` would batch for documents of ``token_counts`` tokens
    (prefix token not included) at ``batching``'s defaults, without a model: the number of
    batches, the share of padded positions and the mean real tokens per batch."""
    tokens, buffer_docs, max_padding = batching[0], batching[1], batching[2]
    batches, real, padded = 0, 0, 0
    counts = list(token_counts)
    for b0 in range(0, len(counts), buffer_docs):
        lengths = sorted(
            (e - s for n in counts[b0 : b0 + buffer_docs] for s, e, _ in plan_windows(n + 1, context)),
            reverse=True,
        )
        plan = batch_plan(lengths, tokens, max_padding)
        batches += len(plan)
        real += sum(lengths)
        padded += sum((sl.stop - sl.start) * lengths[sl.start] for sl in plan)
    return {
        "batches": batches,
        "padding": 1 - real / padded if padded else 0.0,
        "tokens_per_batch": real / batches if batches else 0.0,
    }


class _HostCopy:
    """One batch's per-position results on their way to the host. On CUDA the copies are queued
    behind the batch's kernels into pinned memory (``non_blocking``) and an event marks them
    done, so the host can build and launch the next batch before :meth:`arrays` waits; the top-k
    comes back only when asked for. On CPU the tensors are the arrays."""

    def __init__(self, torch, tensors, top_k: int, counts: Sequence[int]):
        self.top_k, self.counts = top_k, counts
        keep = tensors if top_k else tensors[:4]
        if keep[0].device.type == "cuda":
            self.host = [t.to("cpu", non_blocking=True) for t in keep]
            self.event = torch.cuda.Event()
            self.event.record()
        else:
            self.host = [t.cpu() for t in keep]
            self.event = None

    def arrays(self) -> list[tuple]:
        """Per window: (log p, rank, entropy, top-k ids, top-k log p, variance of log p) as numpy
        arrays (the order of :class:`TokenScores`' fields)."""
        if self.event is not None:
            self.event.synchronize()
        lp, rk, ent, var = (t.numpy() for t in self.host[:4])
        rk = rk.astype(np.int64) + 1
        n = lp.size
        if self.top_k:
            ti = self.host[4].numpy().astype(np.int64, copy=False)
            tl = self.host[5].numpy()
        else:
            ti = np.zeros((n, 0), np.int64)
            tl = np.zeros((n, 0), np.float32)
        return _split((lp, rk, ent, ti, tl, var), self.counts)


def _cache_argument(module: Any) -> str:
    """The keyword a model's forward takes its key/value cache by: ``cache`` in transformers
    5.2x, ``past_key_values`` before (and deprecated after)."""
    import inspect

    return "cache" if "cache" in inspect.signature(module.forward).parameters else "past_key_values"


def _split(arrays: tuple, counts: Sequence[int]) -> list[tuple]:
    """Per-row slices of concatenated per-position arrays."""
    out = []
    start = 0
    for n in counts:
        sl = slice(start, start + n)
        out.append(tuple(a[sl] for a in arrays))
        start += n
    return out
