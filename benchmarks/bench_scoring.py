"""Scoring throughput: our transformers backend (fp32, bf16, mixed) vs a naive per-document loop, and
the roofline from a matmul measured in the same run (FLOPs per token ~ 2 x parameters).

Usage: python benchmarks/bench_scoring.py [N_DOCS] [path.jsonl]
"""

from __future__ import annotations

import sys
import time

import torch

from toedit_stats import read_corpus
from toedit_stats.lm.fidelity import FIDELITY_BOUND, fidelity
from toedit_stats.lm.hf import TransformersLM


def matmul_flops(dtype, n=2048, reps=5) -> float:
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def naive(lm: TransformersLM, texts) -> float:
    tok, model = lm.tokenizer, lm.model
    n = 0
    t0 = time.perf_counter()
    for t in texts:
        ids = [lm.prefix, *tok(t, add_special_tokens=False)["input_ids"]]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, :-1].float()
            lp = torch.log_softmax(logits, -1)
            lp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
        n += len(ids) - 1
    return n / (time.perf_counter() - t0)


def ours(lm: TransformersLM, texts, top_k=8) -> float:
    list(lm.score(texts[:2], top_k=top_k))  # warm-up (score() is a generator)
    t0 = time.perf_counter()
    n = sum(len(s) for s in lm.score(texts, top_k=top_k))
    return n / (time.perf_counter() - t0)


def main() -> None:
    n_docs = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    path = sys.argv[2] if len(sys.argv) > 2 else "examples/synthetic.jsonl"
    texts = [d.text for d in read_corpus(path, limit=n_docs)]
    print(f"{len(texts)} documents from {path}; torch threads: {torch.get_num_threads()}")
    fp32 = TransformersLM(dtype="float32").load()
    bf16 = TransformersLM(dtype="bfloat16").load()
    mixed = TransformersLM(dtype="mixed").load()
    params = sum(p.numel() for p in fp32.model.parameters())
    rows = [
        ("naive loop fp32 (model(ids).logits)", naive(fp32, texts)),
        ("toedit-stats fp32 (top-8, ranks, entropy)", ours(fp32, texts)),
        ("toedit-stats bf16 (top-8, ranks, entropy)", ours(bf16, texts)),
        ("toedit-stats mixed (top-8, ranks, entropy)", ours(mixed, texts)),
        ("toedit-stats fp32 again (drift check)", ours(fp32, texts)),
    ]
    f32, b16 = matmul_flops(torch.float32), matmul_flops(torch.bfloat16)
    roof32, roof16 = f32 / (2 * params), b16 / (2 * params)
    print(
        f"matmul: {f32 / 1e9:.0f} GFLOP/s fp32, {b16 / 1e9:.0f} GFLOP/s bf16; {params / 1e6:.1f} M parameters"
    )
    print(f"roofline: {roof32:.0f} tokens/s fp32, {roof16:.0f} tokens/s bf16\n")
    base = rows[0][1]
    print(f"{'method':<44} {'tokens/s':>9} {'x naive':>8} {'% fp32 roof':>12} {'% bf16 roof':>12}")
    for name, tps in rows:
        print(
            f"{name:<44} {tps:9.0f} {tps / base:8.2f} {100 * tps / roof32:11.0f}% {100 * tps / roof16:11.0f}%"
        )
    ref = list(fp32.score(texts, top_k=1))
    print(f"\nfidelity vs fp32 (bound: {FIDELITY_BOUND})")
    for name, lm in (("bf16", bf16), ("mixed", mixed)):
        f = fidelity(ref, lm.score(texts, top_k=1))
        print(
            f"{name:>6}: mean |d log p| {f.mean_abs_dlogp:.4f} nats (max {f.max_abs_dlogp:.2f}), "
            f"rank-1 {f.rank1_agreement:.2%}, selections unchanged {f.selections_unchanged:.2%} "
            f"({f.selections_flipped} of {f.selections} flip): {'meets' if f.meets() else 'misses'} the bound"
        )


if __name__ == "__main__":
    main()
