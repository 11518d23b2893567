"""The language-model seam: a protocol with one scoring method, and its per-document output.

A backend tokenises each document, prepends a *prefix* token so that the first real token gets a
probability (see :func:`choose_prefix_token`), runs one teacher-forced pass
(in overlapping windows when the document is longer than the context) and yields one
:class:`TokenScores` per document, in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..corpus import Document
from ..errors import ConfigError

__all__ = [
    "LanguageModel",
    "TokenScores",
    "batch_plan",
    "choose_prefix_token",
    "normalize_offsets",
    "plan_windows",
    "score_variants_in_full",
    "variant_scorer",
]


@dataclass(frozen=True)
class TokenScores:
    """Scores of every real token of one document (the prefix token excluded). Shapes: ``T``
    tokens, ``k`` candidates.

    Attributes
    ----------
    doc_id : the document's id.
    token_ids : int64 ``(T,)``.
    offsets : int64 ``(T, 2)`` character spans ``[start, end)`` in the ORIGINAL text,
        non-overlapping and non-decreasing; for byte-level tokenizers the pieces of one
        multi-byte character after the first get an empty span at the character's end, so that
        concatenating ``text[s:e]`` over tokens gives the text back.
    logprobs : float32 ``(T,)`` natural-log probability of each actual token.
    ranks : int64 ``(T,)`` rank of the actual token in the full vocabulary (1 = argmax; ties
        count in its favour).
    entropy : float32 ``(T,)`` entropy of the predictive distribution in nats, or ``None`` when
        the backend cannot compute it (vLLM returns only the top-k).
    topk_ids, topk_logprobs : ``(T, k)`` the k most probable tokens at each position, by
        decreasing probability (``k = 0`` when not requested).
    logprob_var : float32 ``(T,)`` variance of ``log p`` under the predictive distribution,
        ``Σ_v p_v (log p_v)² − (Σ_v p_v log p_v)²`` (for Fast-DetectGPT's analytic curvature,
        :attr:`curvature`), or ``None`` when the backend cannot compute it (top-k only).
    """

    doc_id: str
    token_ids: np.ndarray
    offsets: np.ndarray
    logprobs: np.ndarray
    ranks: np.ndarray
    entropy: np.ndarray | None
    topk_ids: np.ndarray
    topk_logprobs: np.ndarray
    logprob_var: np.ndarray | None = None

    @property
    def curvature(self) -> float:
        """Fast-DetectGPT's analytic conditional probability curvature (Bao et al., ICLR 2024)
        with this model as both sampling and scoring model: ``(Σ_t log p(x_t) − Σ_t μ_t) /
        √(Σ_t σ_t²)`` with ``μ_t = E_p[log p] = −H_t`` and ``σ_t² = Var_p[log p]``; higher = more
        machine-like. ``nan`` without entropy and variance (a top-k-only backend: not
        approximated) or for an empty document."""
        if self.entropy is None or self.logprob_var is None or self.logprobs.size == 0:
            return float("nan")
        var = float(self.logprob_var.astype(np.float64).sum())
        if not var > 0:
            return float("nan")
        lp = float(self.logprobs.astype(np.float64).sum())
        return (lp + float(self.entropy.astype(np.float64).sum())) / np.sqrt(var)

    def __len__(self) -> int:
        return int(self.token_ids.size)

    @property
    def probs(self) -> np.ndarray:
        return np.exp(self.logprobs.astype(np.float64))

    @property
    def perplexity(self) -> float:
        """``exp(-mean log p)`` over the document's tokens (``nan`` for an empty document)."""
        if self.logprobs.size == 0:
            return float("nan")
        return float(np.exp(-self.logprobs.astype(np.float64).mean()))


@runtime_checkable
class LanguageModel(Protocol):
    """Everything callers use of a language model (the token analyzer, the editor, the report,
    the job manifests). A backend registers by name in :mod:`toedit_stats.registry` and says
    which :class:`~toedit_stats.lm.config.LMConfig` fields it uses in ``config_fields``."""

    name: str
    backend: str

    def load(self) -> LanguageModel:
        """Load weights now (backends load lazily on first use); returns self."""
        ...

    def info(self) -> dict[str, Any]:
        """Provenance: backend, name, fingerprint, context, prefix_token, device, ..."""
        ...

    @property
    def vocab_size(self) -> int:
        """Number of token ids the model can predict (bounds the editor's k)."""
        ...

    @property
    def fingerprint(self) -> str:
        """Identifies weights, tokenizer and scoring settings (for caches and manifests)."""
        ...

    def score(
        self,
        docs: Iterable[Document | str],
        *,
        top_k: int = 0,
        on_tokens: Callable[[int], None] | None = None,
    ) -> Iterator[TokenScores]:
        """One :class:`TokenScores` per document, in input order. ``on_tokens(n)`` is called as
        tokens get scored (after every forward batch), so progress moves inside long documents."""
        ...

    def score_variants(
        self,
        docs: Iterable[Document | str],
        variants: Callable[[Document, TokenScores], Sequence[str]],
        *,
        top_k: int = 0,
        variant_top_k: int = 0,
        on_tokens: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[TokenScores, list[TokenScores]]]:
        """Score documents and, for each, the texts ``variants(doc, scores)`` derives from its
        scores (edited versions): ``(scores, [variant scores])`` per document, in input order.
        Variant scores equal scoring the texts on their own (within float rounding); a backend
        may compute them from the first token that differs (transformers) or in full
        (:func:`score_variants_in_full`)."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as :meth:`score` would score them (without the prefix token)."""
        ...

    def token_text(self, token_ids: Sequence[int]) -> list[str]:
        """The text of each token id decoded on its own (``�`` for partial UTF-8)."""
        ...


def choose_prefix_token(tokenizer: Any, config: Any = None) -> int:
    """The prefix-token rule, shared by every backend: the token put before every document so
    that its first real token gets a probability. ``<|endoftext|>`` when the vocabulary has it;
    else the BOS token when the tokenizer adds one itself; else BOS, then EOS, from the tokenizer
    or the model config."""
    vocab = tokenizer.get_vocab()
    if "<|endoftext|>" in vocab:
        return int(vocab["<|endoftext|>"])
    probe = tokenizer("a", add_special_tokens=True)["input_ids"]
    bos = tokenizer.bos_token_id
    if bos is not None and probe and probe[0] == bos:
        return int(bos)
    for cand in (
        bos,
        getattr(config, "bos_token_id", None),
        tokenizer.eos_token_id,
        getattr(config, "eos_token_id", None),
    ):
        if isinstance(cand, list):
            cand = cand[0] if cand else None
        if cand is not None:
            return int(cand)
    raise ConfigError("the tokenizer has no <|endoftext|>, BOS or EOS token; pass prefix_token=")


def normalize_offsets(offsets: np.ndarray) -> np.ndarray:
    """Make tokenizer offsets non-overlapping and non-decreasing (see :class:`TokenScores`).

    ``start' = max(start, previous end')``, ``end' = max(end, start')``. Byte-level tokenizers
    give every piece of a multi-byte character the character's span (or the first piece a span
    that also covers the preceding space); after this only the first piece keeps it.
    """
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2).copy()
    if off.shape[0] == 0:
        return off
    # running maximum of ends gives each start's lower bound
    ends = np.maximum.accumulate(off[:, 1])
    prev = np.concatenate([[0], ends[:-1]])
    off[:, 0] = np.maximum(off[:, 0], prev)
    off[:, 1] = np.maximum(off[:, 1], off[:, 0])
    return off


def plan_windows(n_tokens: int, context: int) -> list[tuple[int, int, int]]:
    """Windows ``(start, end, score_from)`` over a sequence of ``n_tokens`` ids (prefix included).

    Position ``i`` (predicted from ``0..i-1``) is scored in exactly one window. A sequence that
    fits in ``context`` is one window. Otherwise windows of ``context`` ids advance by half a
    context and each scores only its second half, so every token has at least ``context // 2``
    tokens of left context (or its whole prefix when that is shorter).

    >>> plan_windows(5, 8)
    [(0, 5, 1)]
    >>> plan_windows(12, 8)
    [(0, 8, 1), (4, 12, 8)]
    """
    if context < 2:
        raise ValueError(f"context must be at least 2, got {context}")
    if n_tokens <= context:
        return [(0, n_tokens, 1)]
    half = context // 2
    windows = [(0, context, 1)]
    scored_to = context
    start = context - half
    while scored_to < n_tokens:
        end = min(start + context, n_tokens)
        start = end - context
        windows.append((start, end, scored_to))
        scored_to = end
        start = end - half
    return windows


def batch_plan(lengths: Sequence[int], batch_tokens: int, max_padding: float | None = None) -> list[slice]:
    """Batches over segments sorted by decreasing length: consecutive slices whose padded size
    (rows x the first, longest, row) stays within ``batch_tokens`` and, with ``max_padding``,
    whose share of padding stays at most ``max_padding``. A row longer than ``batch_tokens`` is
    a batch of its own. Adding a shorter row never lowers a batch's padding share (it is at most
    the batch's mean), so the greedy cut is exact.

    >>> batch_plan([8, 8, 7, 2], 32)
    [slice(0, 4, None)]
    >>> batch_plan([8, 8, 7, 2], 32, max_padding=0.05)
    [slice(0, 3, None), slice(3, 4, None)]
    """
    n = len(lengths)
    out = []
    i = 0
    while i < n:
        longest = max(1, int(lengths[i]))
        cap = max(1, batch_tokens // longest)
        j, total = i + 1, int(lengths[i])
        while j < n and j - i < cap:
            if (
                max_padding is not None
                and 1 - (total + int(lengths[j])) / ((j - i + 1) * longest) > max_padding
            ):
                break
            total += int(lengths[j])
            j += 1
        out.append(slice(i, j))
        i = j
    return out


def padding_share(lengths: Sequence[int], plan: Sequence[slice]) -> float:
    """Share of padded positions in the batches of :func:`batch_plan` (0 = none)."""
    lengths = np.asarray(lengths, np.int64)
    padded = sum((sl.stop - sl.start) * int(lengths[sl.start]) for sl in plan)
    return 1 - float(lengths.sum()) / padded if padded else 0.0


def document_buffers(docs: Iterable[Document | str], size: int) -> Iterator[list[Document]]:
    """Documents in lists of at most ``size``; bare strings become documents with ids ``"0"``,
    ``"1"``... (their position in the stream). Backends sort each list by length into batches."""
    buf: list[Document] = []
    for i, d in enumerate(docs):
        buf.append(d if isinstance(d, Document) else Document(str(i), d))
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def stitch(parts: Sequence[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def score_variants_in_full(
    lm: Any,
    docs: Iterable[Document | str],
    variants: Callable[[Document, TokenScores], Sequence[str]],
    *,
    top_k: int = 0,
    variant_top_k: int = 0,
    buffer_docs: int = 256,
    on_tokens: Callable[[int], None] | None = None,
) -> Iterator[tuple[TokenScores, list[TokenScores]]]:
    """:meth:`LanguageModel.score_variants` for a backend that cannot reuse a document's pass:
    each buffer of documents is scored, then all their variants in one more call."""
    kw = {} if on_tokens is None else {"on_tokens": on_tokens}
    for buf in document_buffers(docs, buffer_docs):
        scores = list(lm.score(buf, top_k=top_k, **kw))
        texts = [list(variants(d, s)) for d, s in zip(buf, scores)]
        flat = [Document(d.id, t) for d, ts in zip(buf, texts) for t in ts]
        done = iter(lm.score(flat, top_k=variant_top_k, **kw) if flat else ())
        for s, ts in zip(scores, texts):
            yield s, [next(done) for _ in ts]


def variant_scorer(lm: Any) -> Callable[..., Iterator[tuple[TokenScores, list[TokenScores]]]]:
    """``lm.score_variants``, or :func:`score_variants_in_full` over ``lm`` for a backend (e.g. a
    plugin written before the method joined the protocol) that does not have it."""
    method = getattr(lm, "score_variants", None)
    if method is not None:
        return method
    return lambda docs, variants, **kw: score_variants_in_full(lm, docs, variants, **kw)
