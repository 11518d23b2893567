"""Token-level editing (ToEdit, Zhu et al. 2025, Algorithm 1): selection, sampling, splicing, audit.

One teacher-forced pass scores every token of a document. Then, by ``strategy``:

``up_revise`` (the paper's method)
    every token whose probability is ``>= p`` (Eq. 2; the reference code uses ``>``) is replaced
    by a sample from the model's top-``k`` candidates at that position, drawn from
    ``softmax(top-k log-probs / beta)``. The original token is usually the top candidate and stays
    likely, so only a few percent of selected tokens actually change. ``beta`` defaults to 1.5.
``low_drop_up_revise``
    the same, and tokens with probability ``< drop_below`` are deleted; ``beta`` defaults to 1.0
    (the reference's setting for this strategy).
``filtering``
    only deletes tokens with probability ``< drop_below``.

Every real token is eligible, the first included (the backend scores it after a prefix token).

**Seeding.** Each document gets its own generator from ``sha256(seed, document id,
generation)``, and one uniform number is drawn per selected position in position order, so the
output does not depend on batch size, document order, sharding or backend batching.

**Splicing, not re-decoding.** The edited text is the original string with the character span
of each changed token replaced by the new token's text (and deleted spans removed); everything
else stays byte-identical. A position is skipped and counted as ``skipped_unsafe`` when its span
does not decode to exactly the token (byte-level pieces of a multi-byte character) or when the
replacement token is itself a partial character.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..corpus import Document
from ..errors import ConfigError
from ..lm.base import TokenScores, document_buffers, variant_scorer
from ..options import check_fields, option

__all__ = [
    "DAMAGE_CLASSES",
    "PROTECT",
    "STRATEGIES",
    "damage_class",
    "DocumentAudit",
    "EditConfig",
    "EditedDocument",
    "change_profile",
    "choose_p",
    "doc_rng",
    "edit",
    "edit_scores",
    "resolve_target",
]

STRATEGIES = ("up_revise", "low_drop_up_revise", "filtering")
PROTECT = ("names", "numbers")
DAMAGE_CLASSES = ("number", "inside_word", "name", "punctuation", "word")


def _word_bounds(text: str, s: int, e: int) -> tuple[int, int]:
    """The span of the word (letters and digits) that characters ``[s, e)`` belong to, the
    token's leading whitespace excluded."""
    while s < e and not text[s].isalnum():
        s += 1
    a, b = s, max(s, e)
    while a > 0 and text[a - 1].isalnum():
        a -= 1
    while b < len(text) and text[b].isalnum():
        b += 1
    return a, b


def inside_word(text: str, s: int, e: int, old: str) -> bool:
    """The token at ``[s, e)`` is a piece of a longer word: a letter or digit touches it without a
    space ("1970s" → "1972s", "Walmart" → "WalmArt")."""
    left = s > 0 and text[s - 1].isalnum() and old[:1].isalnum()
    right = e < len(text) and text[e].isalnum() and old[-1:].isalnum()
    return bool(left or right)


def in_name(text: str, s: int, e: int) -> bool:
    """The token at ``[s, e)`` belongs to a capitalised word that does not start a sentence (the
    previous non-space character is not ``.``, ``!``, ``?``, a newline, or the start of the text):
    a heuristic for names."""
    a, b = _word_bounds(text, s, e)
    if a >= b or not text[a].isupper():
        return False
    j = a - 1
    while j >= 0 and text[j] in " \t\"'“‘([":
        j -= 1
    return j >= 0 and text[j] not in ".!?\n\r:"


def damage_class(text: str, s: int, e: int, old: str, new: str) -> str:
    """What one applied edit of the span ``[s, e)`` (original token ``old``, replacement ``new``,
    empty for a deletion) did, by the first that applies: ``number`` (a digit in either token),
    ``inside_word`` (:func:`inside_word`), ``name`` (:func:`in_name`), ``punctuation`` (the
    original token has no letter or digit: whitespace or punctuation), ``word`` (a whole word
    replaced or deleted).

    >>> t = "In the early 1970s, Merle went to Walmart."
    >>> at = lambda w: (t.index(w), t.index(w) + len(w))
    >>> damage_class(t, *at("70"), "70", "72"), damage_class(t, *at("Merle"), "Merle", "Merley")
    ('number', 'name')
    >>> damage_class(t, *at("art"), "art", "Art"), damage_class(t, *at(","), ",", " and"), damage_class(t, 2, 6, " the", " an")
    ('inside_word', 'punctuation', 'word')
    """
    if any(c.isdigit() for c in old) or any(c.isdigit() for c in new):
        return "number"
    if inside_word(text, s, e, old):
        return "inside_word"
    if in_name(text, s, e):
        return "name"
    if not any(c.isalnum() for c in old):
        return "punctuation"
    return "word"


def _protected_positions(
    text: str, scores: TokenScores, positions: np.ndarray, protect: frozenset[str], texts
) -> np.ndarray:
    """Which of ``positions`` (token indices) ``protect`` forbids editing; ``texts`` are their
    token strings."""
    out = np.zeros(positions.size, bool)
    for j, (pos, tok) in enumerate(zip(positions.tolist(), texts)):
        s, e = (int(x) for x in scores.offsets[pos])
        if (
            "numbers" in protect
            and (
                any(c.isdigit() for c in tok)
                # a separator inside a number ("1,000", "3.5") is part of it
                or (s > 0 and e < len(text) and text[s - 1].isdigit() and text[e].isdigit())
            )
        ) or ("names" in protect and in_name(text, s, e)):
            out[j] = True
    return out


@dataclass(frozen=True)
class EditConfig:
    """Editing parameters (see the module docstring), each declared once: the command line's
    ``edit`` and ``report`` options, TOML job files and Python all come from these fields.
    ``beta=None`` takes the strategy's default."""

    p: float = option(
        0.99,
        min=0,
        min_open=True,
        help="Select tokens with probability >= p (p > 1 selects none).",
    )
    k: int = option(8, min=1, help="Resample a selected token from the model's top-k candidates.")
    beta: float | None = option(
        None,
        kind="float",
        min=0,
        min_open=True,
        help="Sampling temperature (default 1.5; 1.0 for low_drop_up_revise).",
    )
    strategy: str = option("up_revise", choices=STRATEGIES, help="What to edit (see the editing docs).")
    drop_below: float = option(0.001, min=0, max=1, help="Delete tokens with p < this (drop strategies).")
    seed: int = option(0, cli="", help="Seed of the per-document generators.")
    generations: int = option(1, min=1, help="Edit G times in a row.")
    exclude_original: bool = option(
        False,
        help="Sample among the top-k without the original token, so every selected position with a safe "
        "span changes (not the paper's method).",
    )
    target_change_rate: float | None = option(
        None,
        kind="float",
        min=0,
        max=1,
        min_open=True,
        help="Choose p for this corpus so that the expected changed share of all tokens is this (one extra "
        "scoring pass); the p chosen is recorded. Overrides --p.",
    )
    protect: str = option(
        "",
        metavar="numbers,names",
        help="Never edit these (comma-separated): numbers (no token with a digit is changed, deleted or "
        "sampled), names (no token of a capitalised word that does not start a sentence).",
    )

    def __post_init__(self):
        check_fields(self)
        parts = sorted({x.strip() for x in str(self.protect).split(",") if x.strip()})
        bad = [x for x in parts if x not in PROTECT]
        if bad:
            raise ConfigError(
                f"protect must be a comma-separated subset of {', '.join(PROTECT)}, got {self.protect!r}"
            )
        object.__setattr__(self, "protect", ",".join(parts))

    @property
    def protected(self) -> frozenset[str]:
        return frozenset(x for x in self.protect.split(",") if x)

    @property
    def effective_beta(self) -> float:
        if self.beta is not None:
            return float(self.beta)
        return 1.0 if self.strategy == "low_drop_up_revise" else 1.5

    @property
    def revises(self) -> bool:
        return self.strategy in ("up_revise", "low_drop_up_revise")

    @property
    def deletes(self) -> bool:
        return self.strategy in ("low_drop_up_revise", "filtering")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["beta"] = self.effective_beta
        return d


@dataclass
class DocumentAudit:
    """What editing did to one document in one generation. ``selected``: tokens with ``p >= p``
    (up-revise strategies); ``changed``: replacements applied (the sample differed from the
    original token); ``deleted``: deletions applied; ``skipped_unsafe``: edits not applied because
    a span was not a clean character boundary; ``positions``: with ``audit_positions``, one
    ``[token index, [start, end], old text, new text, old probability]`` per applied edit;
    ``protected``: positions ``protect`` left alone; ``damage``: applied edits per
    :func:`damage_class`."""

    tokens: int = 0
    selected: int = 0
    changed: int = 0
    deleted: int = 0
    skipped_unsafe: int = 0
    expected_changed: float = 0.0  # sum over selected positions of P(the sample differs from the original)
    protected: int = 0  # selected or deletable positions left alone by ``protect``
    damage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DAMAGE_CLASSES, 0))
    positions: list[list[Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "positions"}
        if self.positions is not None:
            d["positions"] = self.positions
        return d


@dataclass(frozen=True)
class EditedDocument:
    """An edited document: ``doc`` carries the new text and the original metadata;
    ``audits`` holds one :class:`DocumentAudit` per generation; ``scores`` the first
    generation's scores of the original text (for token statistics without re-scoring);
    ``edited_scores`` the scores of the edited text when :func:`edit` was asked for them
    (``score_edited=True``: computed from the first changed token on, see
    :meth:`~toedit_stats.lm.base.LanguageModel.score_variants`; ``None`` for an empty text)."""

    doc: Document
    original: str
    audits: list[DocumentAudit]
    scores: TokenScores | None = field(default=None, repr=False)
    edited_scores: TokenScores | None = field(default=None, repr=False)

    @property
    def audit(self) -> DocumentAudit:
        """Totals over generations (``tokens`` and ``selected`` of the first generation)."""
        a = self.audits
        return DocumentAudit(
            tokens=a[0].tokens,
            selected=a[0].selected,
            changed=sum(x.changed for x in a),
            deleted=sum(x.deleted for x in a),
            skipped_unsafe=sum(x.skipped_unsafe for x in a),
            expected_changed=round(sum(x.expected_changed for x in a), 6),
            protected=sum(x.protected for x in a),
            damage={c: sum(x.damage.get(c, 0) for x in a) for c in DAMAGE_CLASSES},
        )

    def record(self, text_field: str = "text") -> dict[str, Any]:
        """The output record: all input fields, the text replaced, and the ``toedit`` audit."""
        rec = dict(self.doc.metadata)
        rec[text_field] = self.doc.text
        audit = self.audit.to_dict()
        if any(a.positions is not None for a in self.audits):
            audit["positions"] = (
                [a.positions for a in self.audits] if len(self.audits) > 1 else self.audits[0].positions
            )
        if len(self.audits) > 1:
            audit["generations"] = [
                {k: v for k, v in a.to_dict().items() if k != "positions"} for a in self.audits
            ]
        rec["toedit"] = audit
        return rec


def doc_rng(seed: int, doc_id: str, generation: int = 0) -> np.random.Generator:
    """The document's own generator, from a stable hash of (seed, id, generation)."""
    digest = hashlib.sha256(f"{seed}\x00{doc_id}\x00{generation}".encode()).digest()
    return np.random.default_rng(np.frombuffer(digest, dtype=np.uint32))


def _sampling_weights(
    topk_logprobs: np.ndarray,
    cand: np.ndarray,
    original: np.ndarray,
    config: EditConfig,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per position: the sampling distribution over the top-k candidates (softmax of log-probs / β,
    the original masked out with ``exclude_original``) and the probability that the sample differs
    from the original token (1 when the original is not among the top-k; with
    ``exclude_original``, 1 unless the original is the only candidate)."""
    logits = topk_logprobs.astype(np.float64) / config.effective_beta
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    w = w / w.sum(axis=1, keepdims=True)
    is_orig = cand == original[:, None]
    if allowed is not None:  # candidates ``protect`` forbids (the original always stays possible)
        w = np.where(allowed | is_orig, w, 0.0)
        total = w.sum(axis=1, keepdims=True)
        w = np.where(total > 0, w / np.where(total > 0, total, 1.0), is_orig.astype(np.float64))
    if config.exclude_original:
        rest = np.where(is_orig, 0.0, w)
        total = rest.sum(axis=1, keepdims=True)
        ok = total[:, 0] > 0
        w = np.where(ok[:, None], rest / np.where(total > 0, total, 1.0), is_orig.astype(np.float64))
        return w, ok.astype(np.float64)
    possible = w.sum(axis=1) > 0  # False: every candidate forbidden and the original not among them
    return w, np.where(possible, 1.0 - (w * is_orig).sum(axis=1), 0.0)


def change_profile(
    scores: TokenScores, config: EditConfig, bins: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """For one document: tokens per probability bin and the expected number of changes per bin if
    every position in the bin were selected (``bins`` equal bins of [0, 1]). Summed over a corpus,
    this gives the expected changed share for any threshold p (:func:`choose_p`)."""
    p = np.exp(scores.logprobs.astype(np.float64))
    b = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(b, minlength=bins)
    if not p.size or scores.topk_ids.shape[1] < config.k:
        return count, np.zeros(bins)
    _, pc = _sampling_weights(
        scores.topk_logprobs[:, : config.k], scores.topk_ids[:, : config.k], scores.token_ids, config
    )
    return count, np.bincount(b, weights=pc, minlength=bins)


def choose_p(count: np.ndarray, expected: np.ndarray, target: float) -> float:
    """The largest threshold p (a bin edge) whose expected changed share of all tokens reaches
    ``target``; 1.0 selects the top bin only. With the corpus's profile summed from
    :func:`change_profile`.

    >>> count = np.array([50, 30, 20]); expected = np.array([0.0, 3.0, 2.0])  # bins [0,1/3), [1/3,2/3), [2/3,1]
    >>> choose_p(count, expected, 0.02), choose_p(count, expected, 0.04)
    (0.6666666666666666, 0.3333333333333333)
    """
    total = count.sum()
    if total == 0:
        return 1.0
    bins = count.size
    cum = np.cumsum(expected[::-1]) / total  # expected share when selecting the top j+1 bins
    j = int(np.searchsorted(cum, target - 1e-12, side="left"))
    j = min(j, bins - 1)
    return float((bins - 1 - j) / bins)


def resolve_target(docs: Sequence[Document], lm: Any, config: EditConfig) -> EditConfig:
    """``config`` with ``p`` chosen for ``docs`` from ``target_change_rate`` (one scoring pass;
    a model wrapped in a score cache makes the editing pass free). Unchanged without a target."""
    if config.target_change_rate is None:
        return config
    count = expected = None
    for sc in lm.score(docs, top_k=config.k):
        c, e = change_profile(sc, config)
        count = c if count is None else count + c
        expected = e if expected is None else expected + e
    if count is None:
        return config
    return replace(config, p=choose_p(count, expected, config.target_change_rate))


def edit_scores(
    text: str,
    scores: TokenScores,
    config: EditConfig,
    token_text: Callable[[Sequence[int]], list[str]],
    rng: np.random.Generator,
    *,
    audit_positions: bool = False,
) -> tuple[str, DocumentAudit]:
    """Edit one document given its scores; returns the new text and the audit.

    Selection and sampling are vectorised over positions; Python loops run only over the few
    positions that actually change.
    """
    lp = scores.logprobs.astype(np.float64)
    n = lp.size
    probs = np.exp(lp)
    audit = DocumentAudit(tokens=n, positions=[] if audit_positions else None)
    edits: dict[int, int | None] = {}  # position -> new token id, or None to delete
    if config.revises and n:
        sel = np.flatnonzero(probs >= config.p)
        audit.selected = int(sel.size)
        # one uniform per selected position, drawn even when nothing changes (or the position is
        # protected): determinism, and protection changes nothing at the other positions
        u = rng.random(sel.size)
        protect = config.protected
        if sel.size and protect:
            keep = ~_protected_positions(
                text, scores, sel, protect, token_text(scores.token_ids[sel].tolist())
            )
            audit.protected += int((~keep).sum())
            sel, u = sel[keep], u[keep]
        if sel.size:
            if scores.topk_ids.shape[1] < config.k:
                raise ConfigError(
                    f"scores carry top-{scores.topk_ids.shape[1]} candidates; k={config.k} needs more"
                )
            cand = scores.topk_ids[sel, : config.k]
            allowed = None
            if "numbers" in protect:  # never sample a token with a digit
                uniq, inv = np.unique(cand, return_inverse=True)
                digit = np.array([any(c.isdigit() for c in t) for t in token_text(uniq.tolist())], bool)
                allowed = ~digit[inv.reshape(cand.shape)]
            w, p_change = _sampling_weights(
                scores.topk_logprobs[sel, : config.k], cand, scores.token_ids[sel], config, allowed
            )
            audit.expected_changed = round(float(p_change.sum()), 6)
            cdf = np.cumsum(w, axis=1)
            choice = np.minimum((cdf < u[:, None]).sum(axis=1), config.k - 1)
            if config.exclude_original or allowed is not None:
                # rounding can land on a masked last candidate: take the most likely allowed one
                stuck = (w[np.arange(sel.size), choice] == 0) & (p_change > 0)
                if stuck.any():
                    choice[stuck] = np.argmax(w[stuck], axis=1)
            new_ids = np.where(p_change > 0, cand[np.arange(sel.size), choice], scores.token_ids[sel])
            for pos, new in zip(
                sel[new_ids != scores.token_ids[sel]].tolist(),
                new_ids[new_ids != scores.token_ids[sel]].tolist(),
            ):
                edits[pos] = new
    if config.deletes and n:
        low = np.flatnonzero(probs < config.drop_below)
        if low.size and config.protected:
            keep = ~_protected_positions(
                text, scores, low, config.protected, token_text(scores.token_ids[low].tolist())
            )
            audit.protected += int((~keep).sum())
            low = low[keep]
        for pos in low.tolist():
            edits[pos] = None
    if not edits:
        return text, audit
    positions = sorted(edits)
    old_txt = token_text(scores.token_ids[positions].tolist())
    new_txt = iter(token_text([t for t in (edits[p] for p in positions) if t is not None]))
    pieces, cursor = [], 0
    for pos, old in zip(positions, old_txt):
        new_id = edits[pos]
        new = "" if new_id is None else next(new_txt)
        s, e = (int(x) for x in scores.offsets[pos])
        if text[s:e] != old or "\ufffd" in new or s < cursor:
            audit.skipped_unsafe += 1
            continue
        pieces.append(text[cursor:s])
        pieces.append(new)
        cursor = e
        if new_id is None:
            audit.deleted += 1
        else:
            audit.changed += 1
        audit.damage[damage_class(text, s, e, old, new)] += 1
        if audit.positions is not None:
            audit.positions.append([pos, [s, e], old, new, float(probs[pos])])
    pieces.append(text[cursor:])
    return "".join(pieces), audit


def edit(
    docs: Iterable[Document | str],
    model: Any = "smollm2-135m",
    config: EditConfig | None = None,
    *,
    audit_positions: bool = False,
    buffer_docs: int | None = None,
    backend: str = "transformers",
    lm_kwargs: dict[str, Any] | None = None,
    on_tokens: Callable[[int], None] | None = None,
    score_edited: bool = False,
    **params: Any,
) -> Iterator[EditedDocument]:
    """Edit documents with ToEdit; yields :class:`EditedDocument` in input order.

    ``config`` or keyword ``params`` (``p``, ``k``, ``beta``, ``strategy``, ``drop_below``,
    ``seed``, ``generations``) set the edit. ``model`` is a name or a loaded backend.
    ``on_tokens(n)`` is passed to the backend's scoring (progress in tokens). Documents are never
    truncated: one longer than the model's context is scored in overlapping windows and edited
    whole. ``score_edited=True`` also scores each edited text (``EditedDocument.edited_scores``,
    no top-k) in the last generation's pass, from its first changed token on (a causal model's
    scores before it are the original's): a model behind a score cache then serves the edited
    corpus's token statistics without scoring it again.

    >>> out = next(edit(["The cat sat on the mat."], "fake", p=0.99, k=4, seed=0))   # doctest: +SKIP
    >>> out.audit.selected                                                          # doctest: +SKIP
    """
    from ..lm import load_lm

    cfg = config if config is not None else EditConfig(**params)
    if config is not None and params:
        cfg = replace(config, **params)
    lm = load_lm(model, backend=backend, **dict(lm_kwargs or {}))
    if cfg.target_change_rate is not None:  # one pass to choose p, then edit with it
        docs = [d if isinstance(d, Document) else Document(str(i), d) for i, d in enumerate(docs)]
        cfg = resolve_target([d for d in docs if d.text], lm, cfg)
    # documents handed to the model at a time: 64, or more where the backend batches better with
    # more (a GPU: see TransformersLM.edit_buffer_docs)
    buffer_docs = buffer_docs or getattr(lm, "edit_buffer_docs", 64)
    for buf in document_buffers(docs, buffer_docs):
        yield from _edit_buffer(buf, lm, cfg, audit_positions, on_tokens, score_edited)


def _edit_buffer(
    docs: list[Document],
    lm,
    cfg: EditConfig,
    audit_positions: bool,
    on_tokens: Callable[[int], None] | None = None,
    score_edited: bool = False,
) -> list[EditedDocument]:
    texts = [d.text for d in docs]
    audits: list[list[DocumentAudit]] = [[] for _ in docs]
    first_scores: list[TokenScores | None] = [None] * len(docs)
    edited_scores: list[TokenScores | None] = [None] * len(docs)
    for g in range(cfg.generations):
        # empty texts (given, or emptied by deletions) have nothing to score: an all-zero audit
        live = [i for i, t in enumerate(texts) if t]
        for i in range(len(docs)):
            if not texts[i]:
                audits[i].append(DocumentAudit(positions=[] if audit_positions else None))
        kw = {"on_tokens": on_tokens} if on_tokens is not None else {}
        last = score_edited and g == cfg.generations - 1
        done, rescored = _edit_generation(docs, live, texts, lm, cfg, g, audit_positions, last, kw)
        for i, sc in rescored.items():
            edited_scores[i] = sc
        for i in live:
            scores, new_text, audit = done[i]
            if g == 0:
                first_scores[i] = scores
            texts[i] = new_text
            audits[i].append(audit)
    return [
        EditedDocument(Document(d.id, t, d.metadata, d.source), d.text, a, s, e)
        for d, t, a, s, e in zip(docs, texts, audits, first_scores, edited_scores)
    ]


def _edit_generation(docs, live, texts, lm, cfg, g, audit_positions, score_edited, kw):
    """One generation over the live documents: ``{i: (scores, new text, audit)}`` and, with
    ``score_edited``, ``{i: scores of the new text}`` (``None`` for an emptied text)."""
    top_k = cfg.k if cfg.revises else 0
    current = [Document(docs[i].id, texts[i], docs[i].metadata, docs[i].source) for i in live]
    done: dict[int, tuple[TokenScores, str, DocumentAudit]] = {}
    rescored: dict[int, TokenScores | None] = {}

    def edit_one(i: int, scores: TokenScores) -> str:
        if i not in done:
            new, audit = edit_scores(
                texts[i],
                scores,
                cfg,
                lm.token_text,
                doc_rng(cfg.seed, docs[i].id, g),
                audit_positions=audit_positions,
            )
            done[i] = (scores, new, audit)
        return done[i][1]

    if not score_edited:
        for i, scores in zip(live, lm.score(current, top_k=top_k, **kw)):
            edit_one(i, scores)
        return done, rescored
    index = {id(d): i for i, d in zip(live, current)}

    def variants(doc: Document, scores: TokenScores) -> list[str]:
        i = index[id(doc)]
        new = edit_one(i, scores)
        return [new] if new and new != texts[i] else []

    for i, (scores, vs) in zip(live, variant_scorer(lm)(current, variants, top_k=top_k, **kw)):
        new = edit_one(i, scores)
        rescored[i] = vs[0] if vs else (scores if new else None)
    return done, rescored
