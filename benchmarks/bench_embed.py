"""The embedding suite against mauve-text alone, on the same vectors (issue 31).

MiniLM vectors of N human and N ChatGPT OUTFOX essays are computed once (kept in
``--vectors``, default a file under the system temp folder); then, alternating over ``--rounds``
rounds in this process, CPU-seconds (user + system, all threads: faiss and BLAS run several) and
wall seconds of

- ``compute_mauve``: one ``mauve.compute_mauve(p_features=human, q_features=synthetic)`` call
  (its defaults: PCA, k-means with n/10 clusters, best of 5 runs);
- ``suite``: the whole :class:`~toedit_stats.analyzers.embeddings.EmbeddingAnalyzer` on the same
  vectors (MAUVE over 5 seeds on one joint quantisation, Fréchet, MMD² and the aggregated MMD
  test with 1,000 permutations, the classifier test with 5 fold splits and its held-out p-value,
  PRDC, mean pairwise cosine, Vendi and its jackknife interval, the 2-D map);

and each part of the suite once, for the breakdown. Medians and the ratio suite / compute_mauve.

An older checkout: ``PYTHONPATH=/tmp/before python benchmarks/bench_embed.py --suite-only``.

Usage: python benchmarks/bench_embed.py [--docs 500] [--rounds 3] [--vectors PATH] [--suite-only]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "outfox-essays" / "texts.jsonl"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Vectors:
    """An embedder that serves precomputed vectors by text (the suite's input, fixed)."""

    name = "minilm-precomputed"
    fingerprint = "precomputed"

    def __init__(self, texts, vectors):
        self._rows = {t: v for t, v in zip(texts, vectors)}
        self.dim = vectors.shape[1]

    def embed(self, texts):
        return np.stack([self._rows[t] for t in texts]).astype(np.float32)


def load_vectors(n: int, path: Path):
    from toedit_stats import read_corpus

    human = list(read_corpus(str(CORPUS), where="label=human", limit=n, name="human"))
    synth = list(read_corpus(str(CORPUS), where="source=chatgpt", limit=n, name="synthetic"))
    if path.exists():
        z = np.load(path)
        a, b = z["a"], z["b"]
    else:
        from toedit_stats.embed import SentenceTransformerEmbedder

        emb = SentenceTransformerEmbedder("minilm")
        a, b = emb.embed([d.text for d in human]), emb.embed([d.text for d in synth])
        np.savez(path, a=a, b=b)
    return human, synth, a, b


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--vectors", type=Path, default=None)
    ap.add_argument(
        "--suite-only", action="store_true", help="Skip the per-part breakdown (e.g. for an older checkout)."
    )
    args = ap.parse_args(argv)
    path = args.vectors or Path(tempfile.gettempdir()) / f"toedit-bench-embed-{args.docs}.npz"
    human, synth, a, b = load_vectors(args.docs, path)

    import mauve

    from toedit_stats.analyzers.embeddings import EmbeddingAnalyzer, _without_faiss_warnings
    from toedit_stats.corpus import Corpus

    served = Vectors([d.text for d in human + synth], np.concatenate([a, b]))
    corpora = [Corpus.from_documents(human, name="human"), Corpus.from_documents(synth, name="synthetic")]
    times: dict[str, list[float]] = {"compute_mauve": [], "suite": []}
    walls: dict[str, list[float]] = {"compute_mauve": [], "suite": []}
    for _ in range(args.rounds):
        t, w = _cpu(), time.perf_counter()
        with _without_faiss_warnings():
            mauve.compute_mauve(p_features=a, q_features=b, seed=0, verbose=False)
        times["compute_mauve"].append(_cpu() - t)
        walls["compute_mauve"].append(time.perf_counter() - w)
        t, w = _cpu(), time.perf_counter()
        EmbeddingAnalyzer(embedder=served, max_docs=None).analyze(corpora)
        times["suite"].append(_cpu() - t)
        walls["suite"].append(time.perf_counter() - w)
    med = {k: statistics.median(v) for k, v in times.items()}
    wall = {k: statistics.median(v) for k, v in walls.items()}
    print(f"{len(a)} + {len(b)} MiniLM vectors ({a.shape[1]}-d), {args.rounds} rounds, medians\n")
    print("| what | CPU-s | × compute_mauve | wall s | × compute_mauve |")
    print("|---|---|---|---|---|")
    for k, v in med.items():
        print(
            f"| {k} | {v:.2f} | {v / med['compute_mauve']:.2f} | {wall[k]:.2f} | {wall[k] / wall['compute_mauve']:.2f} |"
        )
    if args.suite_only:
        return
    from toedit_stats.analyzers.embeddings import (
        c2st_heldout_pvalue,
        c2st_repeated_scores,
        frechet_distance,
        mauve_joint,
        mmd2_test,
        prdc,
        vendi_interval,
    )
    from toedit_stats.stats import mmd_agg_test

    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    rows = np.arange(len(a))
    parts = {
        "MAUVE, 5 seeds, joint": lambda: mauve_joint(
            {"h": a64, "s": b64}, [("h", rows, "s", rows)], range(5)
        ),
        "MMD² (median bandwidth)": lambda: mmd2_test(a64, b64, permutations=1000),
        "aggregated MMD": lambda: mmd_agg_test(a64, b64, permutations=1000),
        "classifier, 5 splits": lambda: c2st_repeated_scores(a64, b64, repeats=5),
        "classifier held-out p": lambda: c2st_heldout_pvalue(a64, b64),
        "PRDC": lambda: prdc(a64, b64),
        "Fréchet": lambda: frechet_distance(a64, b64),
        "Vendi jackknife (one corpus)": lambda: vendi_interval(a64, [d.id for d in human]),
    }
    for k, f in parts.items():
        t = _cpu()
        f()
        v = _cpu() - t
        print(f"| suite part: {k} | {v:.2f} | {v / med['compute_mauve']:.2f} |")


if __name__ == "__main__":
    main()
