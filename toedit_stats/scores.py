"""Per-document audit scores: one row per document, for filtering and for decisions about
documents (``toedit-stats score``; :func:`score`).

Columns (all per document; ``corpus``, ``id`` and ``position`` — its index in the corpus as read —
identify it):

Word statistics (the words of :mod:`toedit_stats.tokenize`, lower-cased WordPunct tokens)
    ``words``, ``characters``; ``distinct_1``/``distinct_2``/``distinct_3`` — distinct n-grams /
    n-grams within the document (``nan`` with no n-gram); ``top_bigram_share`` — occurrences of
    the most repeated bigram / bigrams; ``gzip_ratio`` — UTF-8 bytes / gzip bytes (level 9, mtime 0).
Near duplicates
    ``near_dup_cluster`` — documents linked by MinHash-LSH (word 5-shingles, 128 permutations,
    threshold 0.8, seeded; as the n-gram analyzer) share the smallest row number of their
    connected component across all corpora; ``-1`` for a document with no near duplicate.
Language model (with ``model``)
    ``tokens``, ``perplexity`` (``exp(-mean log p)``, the token analyzer's), ``mean_logprob``
    (nats), ``share_ge_0.99``, ``share_ge_0.9``, ``share_le_0.01``, GLTR rank shares
    ``rank_1``, ``rank_2_10``, ``rank_11_100``, ``rank_101_1000``, ``rank_gt_1000``, and
    ``mean_entropy`` (nats; empty with vLLM), ``curvature`` (Fast-DetectGPT's analytic
    conditional probability curvature, Bao et al. ICLR 2024, with the scoring model as sampling
    model: higher = more machine-like; empty with vLLM, whose top-k cannot give it).
Against a reference corpus (with ``reference``)
    ``dsir_log_weight`` — DSIR's log importance weight with the reference as target and the other
    corpora pooled as raw (:mod:`toedit_stats.selection`); ``p_synthetic`` — out-of-fold
    probability (5-fold logistic regression on embeddings, seeded) that the document is not from
    the reference; ``nearest_reference`` — cosine distance to the nearest reference document (for
    a reference document: to the nearest other one).
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .corpus import Corpus
from .errors import ConfigError
from .tokenize import WORD_PATTERN

__all__ = ["score", "word_columns"]

_RANK_COLUMNS = ("rank_1", "rank_2_10", "rank_11_100", "rank_101_1000", "rank_gt_1000")


def word_columns(text: str) -> dict[str, Any]:
    """The word-statistics columns of one document.

    >>> c = word_columns("the cat the cat the dog")
    >>> c["words"], round(c["distinct_1"], 3), c["top_bigram_share"]
    (6, 0.5, 0.4)
    """
    words = WORD_PATTERN.findall(text.lower())
    out: dict[str, Any] = {"words": len(words), "characters": len(text)}
    bigram_counts: dict[tuple[str, str], int] = {}
    for n in (1, 2, 3):
        grams = list(zip(*(words[i:] for i in range(n))))
        out[f"distinct_{n}"] = len(set(grams)) / len(grams) if grams else math.nan
        if n == 2:
            for g in grams:
                bigram_counts[g] = bigram_counts.get(g, 0) + 1
    nb = max(0, len(words) - 1)
    out["top_bigram_share"] = max(bigram_counts.values()) / nb if nb else math.nan
    raw = text.encode("utf-8", "surrogatepass")
    out["gzip_ratio"] = len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0)) if raw else math.nan
    return out


def _lm_columns(s) -> dict[str, Any]:
    lp = s.logprobs.astype(np.float64)
    n = lp.size
    if not n:
        return {"tokens": 0, "perplexity": math.nan, "mean_logprob": math.nan}
    p = np.exp(lp)
    edges = np.searchsorted(np.array([1, 2, 11, 101, 1001]), s.ranks, side="right") - 1
    ranks = np.bincount(edges, minlength=5)[:5] / n
    return {
        "tokens": int(n),
        "perplexity": float(np.exp(-lp.mean())),
        "mean_logprob": float(lp.mean()),
        "share_ge_0.99": float((p >= 0.99).mean()),
        "share_ge_0.9": float((p >= 0.9).mean()),
        "share_le_0.01": float((p <= 0.01).mean()),
        **{k: float(v) for k, v in zip(_RANK_COLUMNS, ranks)},
        "mean_entropy": float(s.entropy.astype(np.float64).mean()) if s.entropy is not None else math.nan,
        "curvature": s.curvature,
    }


def _clusters(texts: Sequence[str], seed: int) -> np.ndarray:
    from .analyzers.ngrams import near_duplicate_pairs, word_hashes
    from .analyzers.ngrams.near_duplicates import iter_shingle_hashes
    from .tokenize import encode_texts

    vocab, codes, lengths = encode_texts(texts, WORD_PATTERN.findall)  # streaming: ids, not strings
    word_hash = word_hashes(np.array(vocab, dtype=object)) if vocab else np.zeros(0, np.uint64)
    shingles = iter_shingle_hashes(word_hash, codes, lengths)  # one run of documents at a time
    parent = list(range(len(texts)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    linked = np.zeros(len(texts), bool)
    for i, j in near_duplicate_pairs(shingles, threshold=0.8, num_perm=128, seed=seed):
        a, b = find(i), find(j)
        parent[max(a, b)] = min(a, b)
        linked[i] = linked[j] = True
    return np.array([find(i) if linked[i] else -1 for i in range(len(texts))], np.int64)


def score(
    corpora: Sequence[Corpus] | Corpus,
    *,
    reference: Corpus | None = None,
    model: Any = None,
    embedder: Any = "minilm",
    seed: int = 0,
    max_docs: int | None = None,
    executor: Any = None,
):
    """One row per document of ``corpora`` (and of ``reference``, first, when given): the columns
    of the module docstring, as a pandas DataFrame. ``model`` (a name, ``LMConfig`` or loaded
    backend) adds the language-model columns; ``reference`` adds the DSIR weight, the classifier
    probability and the nearest-reference distance. Documents keep their input order; nothing
    depends on batch size or document order except ``position``. The scoring and embedding run on
    ``executor``'s workers (default: this process; see :mod:`toedit_stats.execution`)."""
    import pandas as pd

    from .corpus import sample_documents

    if isinstance(corpora, Corpus):
        corpora = [corpora]
    sets = ([reference] if reference is not None else []) + list(corpora)
    if not sets:
        raise ConfigError("no corpora given")
    rows: list[dict[str, Any]] = []
    texts: list[str] = []
    docs_all = []
    for c in sets:
        docs = list(c) if max_docs is None else sample_documents(iter(c), max_docs, seed)[0]
        for pos, d in enumerate(docs):
            rows.append({"corpus": c.name, "id": d.id, "position": pos, **word_columns(d.text)})
            texts.append(d.text)
            docs_all.append(d)
    frame = pd.DataFrame(rows)
    frame["near_dup_cluster"] = _clusters(texts, seed)
    if model is not None:
        from .execution import resolve_executor
        from .lm import load_lm
        from .lm.config import LMConfig
        from .lm.worker import ScoreWorker

        lm = model.load() if isinstance(model, LMConfig) else load_lm(model)
        scored = resolve_executor(executor).map(ScoreWorker(model, loaded=lm), docs_all, batch=256)
        lm_rows = [_lm_columns(s) for s in scored]
        frame = pd.concat([frame, pd.DataFrame(lm_rows)], axis=1)
    if reference is not None:
        frame = _reference_columns(frame, texts, reference.name, embedder, seed, executor)
    return frame


def _reference_columns(
    frame, texts: list[str], ref_name: str, embedder: Any, seed: int, executor: Any = None
):
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from .analyzers.embeddings import c2st_classifier
    from .embed import load_embedder
    from .kernels import nearest_cosine
    from .selection import dsir_features, dsir_log_diff

    is_ref = (frame["corpus"] == ref_name).to_numpy()
    feats = dsir_features(texts)
    weights = np.full(len(texts), math.nan)
    if (~is_ref).any():  # the reference is the target, the other corpora pooled are the raw data
        weights = np.asarray(feats @ dsir_log_diff(feats[~is_ref], feats[is_ref])).ravel()
    frame["dsir_log_weight"] = weights
    from .embed.worker import embed_texts
    from .execution import resolve_executor

    loaded = load_embedder(embedder, seed=seed)
    served = embed_texts([texts], embedder, resolve_executor(executor), seed=seed, loaded=loaded)
    x = np.asarray(served.embed(texts), np.float64)
    y = (~is_ref).astype(int)
    folds = min(5, int(y.sum()), int((1 - y).sum()))
    prob = np.full(len(texts), math.nan)
    if folds >= 2:
        clf = c2st_classifier()
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
        prob = cross_val_predict(clf, x, y, cv=cv, method="predict_proba")[:, 1]
    frame["p_synthetic"] = prob
    u = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    ref_rows = np.flatnonzero(is_ref)
    # in blocks of rows (memory linear in documents); a reference document is not its own neighbour
    frame["nearest_reference"] = 1 - nearest_cosine(u, ref_rows) if len(ref_rows) else math.nan
    return frame
