"""Calibration and power of the two-sample tests and of the report's edit effects on real data
(numbers for the closing note and README; slow tests in tests/test_statistics.py and
tests/test_calibration.py run smaller versions).

Edit effects (``--edits``): whole reports (n-grams, lengths, tokens under the fake model,
TF-IDF embeddings by default for speed, ``--embedder minilm`` for MiniLM) on seeded splits where the truth is known, counting the false "toward/away" calls
(family-wise, after Holm), the human-vs-synthetic tests that reject after Holm, the gated
sentences, the coverage of 0 by each effect's interval, and the power:

* identity: edited = a copy of the synthetic sample, human of another size;
* exchangeability: random halves of the OUTFOX human essays as "human" and "synthetic", and an
  "edit" that swaps in other documents of the same human pool;
* different text: OUTFOX human vs gpt-3.5-turbo essays, each "edited" text replaced by another
  essay of the same generator (no systematic effect, every document changes);
* power: 8% of each synthetic document's words replaced by words drawn from the human pool's
  vocabulary (a real shift toward human in the n-gram statistics); ``power-weak``: 2%.

Calibration: 200 seeded random splits of one human corpus into two halves (OUTFOX human essays,
the first 200; embedded once with MiniLM), each test at alpha = 0.05: the classifier test
(Mann-Whitney on out-of-fold scores), the aggregated MMD, the median-bandwidth MMD, and the KS test
of words per document. Power: human vs synthetic on both shared corpora.

    .venv/bin/python benchmarks/calibration.py [--splits 200] [--docs 200]
"""

from __future__ import annotations

import argparse
import json
import math
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


def _report(h, s, e, embedder, replicates: int):
    import toedit_stats as ts
    from toedit_stats.analyzers.embeddings import EmbeddingAnalyzer
    from toedit_stats.analyzers.lengths import LengthAnalyzer
    from toedit_stats.analyzers.ngrams import NgramAnalyzer
    from toedit_stats.analyzers.tokens import TokenAnalyzer

    analyzers = [
        NgramAnalyzer(),
        LengthAnalyzer(),
        TokenAnalyzer(model="fake"),
        EmbeddingAnalyzer(embedder=embedder, mauve_seeds=1, permutations=200, cv_repeats=3),
    ]
    return ts.Report(analyzers, None, lm="fake", bootstrap=replicates, max_docs=None).run(h, s, e)


_SENTENCES = ("predictable than", "not expected to help", "significant difference in the length")


def _outcome(rep) -> dict:
    rows = rep.effects()["effects"]
    tested = [r for r in rows if math.isfinite(r.get("pvalue", math.nan))]
    calls = [r for r in tested if r["verdict"] in ("toward human", "away from human")]
    summary = rep.verdict()["summary"]
    return {
        "any_call": bool(calls),
        "ngram_toward": any(r["analyzer"] == "ngrams" and r["verdict"] == "toward human" for r in tested),
        "covers": {f"{r['analyzer']}:{r['metric']}": bool(r["low"] <= 0 <= r["high"]) for r in tested},
        "headline_rejects": any(r["rejects"] for r in rep.effects()["tests"]["rows"]),
        "sentence": any(x in summary for x in _SENTENCES),
        "family": len(tested),
    }


def edit_null_runs(
    outfox: Path, runs: int, n: int, kind: str, replicates: int = 200, embedder="tfidf"
) -> dict:
    """Rates over ``runs`` seeded reports of one kind (see the module docstring)."""
    from toedit_stats.corpus import Document, MemoryCorpus
    from toedit_stats.embed import load_embedder

    emb = load_embedder(embedder) if isinstance(embedder, str) and embedder != "tfidf" else embedder
    if emb is not None and not isinstance(emb, str):
        from toedit_stats.embed.cache import CachedEmbedder

        emb = CachedEmbedder(emb, memory=True) if not isinstance(emb, CachedEmbedder) else emb
    human = records(outfox, label="human")
    synthetic = records(outfox, label="synthetic", generator="gpt-3.5-turbo-0613")
    vocab = " ".join(r["text"] for r in human[:300]).split()
    out = []
    t = time.perf_counter()
    for run in range(runs):
        rng = np.random.default_rng([27, run])
        if kind == "exchangeability":
            idx = rng.permutation(len(human))
            h = [human[i] for i in idx[:n]]
            s = [human[i] for i in idx[n : 2 * n]]
            e_texts = [human[i]["text"] for i in idx[2 * n : 3 * n]]
        else:
            h = [human[i] for i in rng.choice(len(human), n, replace=False)]
            idx = rng.permutation(len(synthetic))
            s = [synthetic[i] for i in idx[:n]]
            if kind == "different-text":
                e_texts = [synthetic[i]["text"] for i in idx[n : 2 * n]]
            elif kind == "identity":
                e_texts = [r["text"] for r in s]
                h = h + [human[i] for i in rng.choice(len(human), n // 2, replace=False)]
            elif kind in ("power", "power-weak"):
                share = 0.08 if kind == "power" else 0.02
                e_texts = []
                for r in s:
                    words = r["text"].split(" ")
                    k = max(1, round(share * len(words)))
                    for i in rng.choice(len(words), k, replace=False):
                        words[i] = vocab[rng.integers(len(vocab))]
                    e_texts.append(" ".join(words))
            else:
                raise ValueError(kind)
        H = MemoryCorpus([Document(f"h{k}", r["text"]) for k, r in enumerate(h)], name="human")
        S = MemoryCorpus([Document(f"s{k}", r["text"]) for k, r in enumerate(s)], name="synthetic")
        E = MemoryCorpus([Document(f"s{k}", x) for k, x in enumerate(e_texts)], name="edited")
        out.append(_outcome(_report(H, S, E, emb if emb is not None else embedder, replicates)))
    metrics = sorted({k for o in out for k in o["covers"]})
    return {
        "kind": kind,
        "runs": runs,
        "n": n,
        "family": max(o["family"] for o in out),
        "any_call": sum(o["any_call"] for o in out) / runs,
        "ngram_toward": sum(o["ngram_toward"] for o in out) / runs,
        "headline_rejects": sum(o["headline_rejects"] for o in out) / runs,
        "gated_sentence": sum(o["sentence"] for o in out) / runs,
        "coverage_of_0": {m: sum(o["covers"].get(m, True) for o in out) / runs for m in metrics},
        "seconds": round(time.perf_counter() - t, 1),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", type=int, default=200)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--permutations", type=int, default=500)
    ap.add_argument("--edits", action="store_true", help="Rates of the report's edit effects instead.")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--kinds", default="identity,exchangeability,different-text,power")
    ap.add_argument("--embedder", default="tfidf", help="tfidf (fast, the default here) or minilm.")
    args = ap.parse_args()
    if args.edits:
        outfox = SHARED / "outfox-essays" / "texts.jsonl"
        for kind in args.kinds.split(","):
            print(
                json.dumps(edit_null_runs(outfox, args.runs, args.n, kind, embedder=args.embedder)),
                flush=True,
            )
        raise SystemExit
    print(
        json.dumps(
            {
                "calibration": calibration(args.splits, args.docs, args.permutations),
                "power": power(args.permutations, args.docs),
            },
            indent=2,
        )
    )
