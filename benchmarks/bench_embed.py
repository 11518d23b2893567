"""Embedding throughput with MiniLM on this machine, and the metric suite on 1,000 x 1,000
documents (384-d, 1,000 permutations, MAUVE over 5 seeds), with mauve-text alone on the same
features for comparison.

Usage: python benchmarks/bench_embed.py [path/to/outfox-essays/texts.jsonl]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from toedit_stats import read_corpus
from toedit_stats.analyzers.embeddings import (
    c2st_auc,
    frechet_distance,
    mauve_scores,
    mean_pairwise_cosine,
    mmd2_test,
    prdc,
)
from toedit_stats.embed import SentenceTransformerEmbedder


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/outfox-essays/texts.jsonl"
    human = [d.text for d in read_corpus(path, where="label=human", limit=1000)]
    synth = [d.text for d in read_corpus(path, where="source=chatgpt", limit=1000)]
    emb = SentenceTransformerEmbedder("minilm")
    emb.embed(human[:8])  # load + warm-up
    tok = emb.load().tokenizer
    n_tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in human + synth)
    t0 = time.perf_counter()
    a = emb.embed(human)
    b = emb.embed(synth)
    dt = time.perf_counter() - t0
    print(
        f"torch threads {torch.get_num_threads()}; embedded {len(human) + len(synth)} documents "
        f"({n_tokens:,} tokens, windows of 254) in {dt:.1f} s: {(len(human) + len(synth)) / dt:.1f} docs/s, "
        f"{n_tokens / dt:,.0f} tokens/s"
    )
    timings = {}
    t = time.perf_counter()
    runs = mauve_scores(a, b, range(5))
    timings["MAUVE x5 seeds"] = time.perf_counter() - t
    t = time.perf_counter()
    fd = frechet_distance(a, b)
    timings["Frechet"] = time.perf_counter() - t
    t = time.perf_counter()
    mmd, p, _ = mmd2_test(a, b, permutations=1000, seed=0)
    timings["MMD^2 + 1000 permutations"] = time.perf_counter() - t
    t = time.perf_counter()
    auc = c2st_auc(a, b)
    timings["C2ST 5-fold"] = time.perf_counter() - t
    t = time.perf_counter()
    pr = prdc(a, b)
    timings["PRDC k=5"] = time.perf_counter() - t
    t = time.perf_counter()
    cos = (mean_pairwise_cosine(a), mean_pairwise_cosine(b))
    timings["pairwise cosine"] = time.perf_counter() - t
    total = sum(timings.values())
    for k, v in timings.items():
        print(f"  {k:<28} {v:6.2f} s")
    print(f"  {'metric suite total':<28} {total:6.2f} s (goal < 30 s)")
    print(f"  {'mauve-text alone (1 seed)':<28} {timings['MAUVE x5 seeds'] / 5:6.2f} s")
    print(
        f"\nhuman vs ChatGPT (outfox, n=1000): MAUVE {np.mean(runs):.3f}±{np.std(runs):.3f}, Frechet {fd:.3f}, "
        f"MMD2 {mmd:.4f} (p={p:.4f}), C2ST AUC {auc:.3f}, PRDC {pr}, cosine human {cos[0]:.3f} / ChatGPT {cos[1]:.3f}"
    )


if __name__ == "__main__":
    main()
