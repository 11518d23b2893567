"""Bootstrap intervals for every metric of a report, 1,000 documents per corpus, B = 1,000, and
the aggregated MMD test with 1,000 permutations on 1,000 + 1,000 embeddings.

The report is built on OUTFOX human vs gpt-3.5-turbo essays with the deterministic fake LM and
TF-IDF embeddings (the model's scoring cost is not what is measured here: the bootstrap works on
the per-document contributions the analyzers already computed). Printed side by side in one run:
the analyzers' own time (what re-running them B times would cost per replicate) and the bootstrap.

Usage: python benchmarks/bench_bootstrap.py [path/to/outfox-essays/texts.jsonl] [--docs 1000]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from toedit_stats import Report, read_corpus
from toedit_stats.analyzers.embeddings import EmbeddingAnalyzer
from toedit_stats.stats import mmd_agg_test


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    docs = int(sys.argv[sys.argv.index("--docs") + 1]) if "--docs" in sys.argv else 1000
    path = args[0] if args else "../shared/data/outfox-essays/texts.jsonl"
    human = read_corpus(path, where="label=human", limit=docs, name="human")
    synth = read_corpus(path, where="generator=gpt-3.5-turbo-0613", limit=docs, name="synthetic")
    rep = Report(
        ["ngrams", "tokens", EmbeddingAnalyzer(embedder="tfidf", mauve_seeds=1, permutations=100), "lengths"],
        lm="fake",
        max_docs=None,
        bootstrap=1000,
    )
    t = time.perf_counter()
    rep.run(human, synth)
    run = time.perf_counter() - t
    analyzers = {k: v for k, v in rep.timings.items() if k in rep.results}
    t = time.perf_counter()
    eff = rep.effects()
    boot = time.perf_counter() - t
    n_int = len(eff["intervals"]) + sum(1 for r in eff["effects"] if np.isfinite(r["low"]))
    print(f"documents per corpus: {len(rep.results['lengths'].corpora[0].ids)} (human, synthetic, edited)")
    print(
        f"report run (edit + analyzers): {run:.1f} s; analyzers: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in analyzers.items())
    )
    print(f"bootstrap, B = 1000, {n_int} intervals (metric values and edit effects): {boot:.1f} s")
    print(
        f"re-running the analyzers instead would take about {1000 * sum(analyzers.values()):.0f} s "
        f"({1000 * sum(analyzers.values()) / boot:.0f}x the bootstrap)"
    )

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1000, 384)), rng.normal(0.02, size=(1000, 384))
    t = time.perf_counter()
    res = mmd_agg_test(a, b, permutations=1000, seed=0)
    print(
        f"aggregated MMD, 1000 + 1000 x 384-d, {len(res['bandwidths'])} bandwidths, 1000 permutations: "
        f"{time.perf_counter() - t:.1f} s (p = {res['pvalue']:.3g})"
    )


if __name__ == "__main__":
    main()
