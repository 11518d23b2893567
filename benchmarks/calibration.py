"""Calibration and power of the two-sample tests on real data (numbers for the closing note and
README; the slow test in tests/test_statistics.py runs a smaller version).

Calibration: 200 seeded random splits of one human corpus into two halves (OUTFOX human essays,
the first 200; embedded once with MiniLM), each test at alpha = 0.05: the classifier test
(Mann-Whitney on out-of-fold scores), the aggregated MMD, the median-bandwidth MMD, and the KS test
of words per document. Power: human vs synthetic on both shared corpora.

    .venv/bin/python benchmarks/calibration.py [--splits 200] [--docs 200]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

from toedit_stats.analyzers.embeddings import c2st_test, mmd2_test
from toedit_stats.embed import load_embedder
from toedit_stats.stats import mmd_agg_test
from toedit_stats.tokenize import count_words

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def records(path: Path, **where) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if all(r.get(k) == v for k, v in where.items()):
            out.append(r)
    return out


def tests(a: np.ndarray, b: np.ndarray, la: np.ndarray, lb: np.ndarray, seed: int, permutations: int) -> dict:
    return {
        "c2st": c2st_test(a, b, seed=seed)[1],
        "mmd_agg": mmd_agg_test(a, b, permutations=permutations, seed=seed)["pvalue"],
        "mmd_median": mmd2_test(a, b, permutations=permutations, seed=seed)[1],
        "ks_words": float(ks_2samp(la, lb).pvalue),
    }


def calibration(splits: int, docs: int, permutations: int, shared: Path = SHARED) -> dict:
    human = records(shared / "outfox-essays" / "texts.jsonl", label="human")[:docs]
    emb = load_embedder("minilm")
    x = np.asarray(emb.embed([r["text"] for r in human]), np.float64)
    lengths = np.array([count_words(r["text"]) for r in human], np.float64)
    rejections: dict[str, int] = {}
    t = time.perf_counter()
    for i in range(splits):
        perm = np.random.default_rng(i).permutation(len(x))
        a, b = perm[: len(x) // 2], perm[len(x) // 2 :]
        for name, p in tests(x[a], x[b], lengths[a], lengths[b], i, permutations).items():
            rejections[name] = rejections.get(name, 0) + (p < 0.05)
    return {
        "corpus": f"OUTFOX human essays, first {len(x)}, halves of {len(x) // 2}",
        "splits": splits,
        "rejection_rate": {k: v / splits for k, v in rejections.items()},
        "seconds": round(time.perf_counter() - t, 1),
    }


def power(permutations: int, docs: int, shared: Path = SHARED) -> dict:
    emb = load_embedder("minilm")
    out = {}
    for label, path, gen in (
        (
            "chatgpt-student-essays (student vs ChatGPT-4)",
            shared / "chatgpt-student-essays" / "texts.jsonl",
            "ChatGPT (GPT-4)",
        ),
        (
            "outfox-essays (human vs gpt-3.5-turbo)",
            shared / "outfox-essays" / "texts.jsonl",
            "gpt-3.5-turbo-0613",
        ),
    ):
        h = records(path, label="human")[:docs]
        s = records(path, label="synthetic", generator=gen)[:docs]
        xa = np.asarray(emb.embed([r["text"] for r in h]), np.float64)
        xb = np.asarray(emb.embed([r["text"] for r in s]), np.float64)
        la = np.array([count_words(r["text"]) for r in h], np.float64)
        lb = np.array([count_words(r["text"]) for r in s], np.float64)
        out[label] = {"n": [len(h), len(s)], **tests(xa, xb, la, lb, 0, permutations)}
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", type=int, default=200)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--permutations", type=int, default=500)
    args = ap.parse_args()
    print(
        json.dumps(
            {
                "calibration": calibration(args.splits, args.docs, args.permutations),
                "power": power(args.permutations, args.docs),
            },
            indent=2,
        )
    )
