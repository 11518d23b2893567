"""Editing overhead: edit time vs pure scoring time on the same documents, and our vectorised
post-processing vs a faithful re-implementation of the reference's per-position Python loop over
dicts of k+1 log-probs, on the same arrays.

Usage: python benchmarks/bench_edit.py [N_DOCS] [path.jsonl]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from toedit_stats import read_corpus
from toedit_stats.editing import EditConfig, doc_rng, edit, edit_scores
from toedit_stats.lm.hf import TransformersLM


def reference_loop(text_ids, scores, cfg: EditConfig, rng: np.random.Generator):
    """The reference's structure (toedit_resampling.py): per position, build a dict of the k+1
    candidate log-probs, test the actual token's probability, softmax over the dict with beta
    and sample. Returns the new id sequence (the reference then re-decodes it)."""
    out = []
    k, beta = cfg.k, cfg.effective_beta
    for t in range(len(text_ids)):
        cand = {int(i): float(lp) for i, lp in zip(scores.topk_ids[t, :k], scores.topk_logprobs[t, :k])}
        cand[int(text_ids[t])] = float(scores.logprobs[t])
        prob = float(np.exp(cand[int(text_ids[t])]))
        if prob >= cfg.p:
            ids = list(cand)
            w = np.exp(np.array([cand[i] for i in ids]) / beta)
            w /= w.sum()
            out.append(ids[int(rng.choice(len(ids), p=w))])
        else:
            out.append(int(text_ids[t]))
    return out


def main() -> None:
    n_docs = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    path = sys.argv[2] if len(sys.argv) > 2 else "examples/synthetic.jsonl"
    docs = list(read_corpus(path, limit=n_docs))
    lm = TransformersLM().load()
    cfg = EditConfig()
    list(lm.score(docs[:2], top_k=8))  # warm-up
    t0 = time.perf_counter()
    scores = list(lm.score(docs, top_k=cfg.k))
    t_score = time.perf_counter() - t0
    t0 = time.perf_counter()
    edited = list(edit(docs, lm, cfg))
    t_edit = time.perf_counter() - t0
    tokens = sum(len(s) for s in scores)
    print(f"{len(docs)} documents, {tokens} tokens, SmolLM2-135M fp32 CPU")
    print(
        f"scoring only (top-8): {t_score:.2f} s   editing (score + select + sample + splice): {t_edit:.2f} s"
        f"   overhead {100 * (t_edit - t_score) / t_score:+.1f}%"
    )
    # post-processing alone, same arrays
    reps = 5
    t0 = time.perf_counter()
    for _ in range(reps):
        for d, s in zip(docs, scores):
            edit_scores(d.text, s, cfg, lm.token_text, doc_rng(cfg.seed, d.id))
    ours = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    for s in scores:
        reference_loop(s.token_ids, s, cfg, np.random.default_rng(0))
    ref = time.perf_counter() - t0
    print(
        f"post-processing: ours {1e3 * ours:.1f} ms, reference-style loop {1e3 * ref:.1f} ms "
        f"-> {ref / ours:.0f}x; {tokens / ours / 1e6:.1f} M tokens/s"
    )
    changed = sum(e.audit.changed for e in edited)
    selected = sum(e.audit.selected for e in edited)
    print(
        f"selected {selected} ({100 * selected / tokens:.2f}% of tokens), changed {changed} "
        f"({100 * changed / tokens:.3f}%)"
    )


if __name__ == "__main__":
    main()
