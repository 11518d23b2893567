"""Suffix-only rescoring (issue 12): what scoring edited texts from their first changed token saves,
for the report (the paper's setting) and for a 16-point editor sweep, side by side in one run.

Measured, interleaved and repeated (best of R), on the same documents and model:
- ``synthetic``: the editor's pass over the synthetic corpus (top-8), as in ``report``;
- ``+ edited (suffix)``: the same pass with every edited text scored from its first changed token
  (``score_variants``), minus the pass alone = what the edited corpus's scoring costs now;
- ``edited (full)``: the changed edited texts scored on their own, as before;
- ``report scoring``: human + synthetic + edited (suffix), i.e. the report's token scoring;
- ``sweep scoring``: human + one pass with the grid's largest k and every grid point's edited
  texts scored from their first changed token (what ``sweep`` scores).
Token counts (reused from the document's pass / recomputed) are exact and noise-free.

Usage: python benchmarks/bench_suffix.py [HUMAN] [SYNTHETIC] [REPEATS] [GRID]
"""

from __future__ import annotations

import sys
import time

from toedit_stats import read_corpus
from toedit_stats.editing import EditConfig, doc_rng, edit_scores
from toedit_stats.editing.sweep import parse_grid
from toedit_stats.lm.hf import TransformersLM

GRID = "p=0.9,0.99;k=8,64;beta=1,1.5;exclude_original=false,true"


def editor(lm, configs):
    def variants(doc, scores):
        texts = (edit_scores(doc.text, scores, c, lm.token_text, doc_rng(c.seed, doc.id))[0] for c in configs)
        return list(dict.fromkeys(t for t in texts if t != doc.text))

    return variants


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    human_path = sys.argv[1] if len(sys.argv) > 1 else "examples/human.jsonl"
    syn_path = sys.argv[2] if len(sys.argv) > 2 else "examples/synthetic.jsonl"
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    grid_text = sys.argv[4] if len(sys.argv) > 4 else GRID
    human, syn = list(read_corpus(human_path)), list(read_corpus(syn_path))
    lm = TransformersLM("smollm2-135m", device="cpu", dtype="float32").load()
    paper = [EditConfig()]
    grid = parse_grid(grid_text)
    list(lm.score(syn[:2], top_k=8))  # warm-up
    best: dict[str, float] = {}
    counts: dict[str, tuple[int, int]] = {}

    def keep(name, seconds):
        best[name] = min(best.get(name, float("inf")), seconds)

    for _ in range(repeats):
        keep("human", timed(lambda: list(lm.score(human)))[0])
        t, scores = timed(lambda: list(lm.score(syn, top_k=8)))
        keep("synthetic", t)
        edited = [t for d, s in zip(syn, scores) for t in editor(lm, paper)(d, s)]
        lm.reused_tokens = lm.rescored_tokens = 0
        keep(
            "synthetic + edited (suffix)",
            timed(lambda: list(lm.score_variants(syn, editor(lm, paper), top_k=8)))[0],
        )
        counts["paper"] = (lm.reused_tokens, lm.rescored_tokens)
        keep("edited (full)", timed(lambda e=edited: list(lm.score(e)))[0])
        lm.reused_tokens = lm.rescored_tokens = 0
        kmax = max(c.k for c in grid)
        keep(
            "sweep pass + variants (suffix)",
            timed(lambda k=kmax: list(lm.score_variants(syn, editor(lm, grid), top_k=k)))[0],
        )
        counts["sweep"] = (lm.reused_tokens, lm.rescored_tokens)
    tokens = sum(lm.count_tokens([d.text for d in syn]))
    print(
        f"{len(human)} human + {len(syn)} synthetic documents ({tokens} synthetic tokens), SmolLM2-135M fp32 CPU, best of {repeats}"
    )
    for k, v in best.items():
        print(f"  {k:36s} {v:7.2f} s")
    suffix = best["synthetic + edited (suffix)"] - best["synthetic"]
    full = best["edited (full)"]
    reused, rescored = counts["paper"]
    print(
        f"paper setting: {len(edited)} documents changed; edited corpus's scoring {full:.2f} s in full -> "
        f"{suffix:.2f} s from the first change ({100 * (1 - suffix / full):.0f}% saved); tokens reused "
        f"{reused}, recomputed {rescored} ({100 * reused / (reused + rescored):.0f}% of the changed documents' tokens reused)"
    )
    report = best["human"] + best["synthetic + edited (suffix)"]
    report_before = best["human"] + best["synthetic"] + full
    sweep = best["human"] + best["sweep pass + variants (suffix)"]
    reused, rescored = counts["sweep"]
    print(
        f"report scoring: {report:.2f} s (before suffix reuse: {report_before:.2f} s, ratio {report / report_before:.2f})"
    )
    print(
        f"{len(grid)}-point sweep ({grid_text}) scoring: {sweep:.2f} s = {sweep / report:.2f}x the report's scoring; variant tokens "
        f"reused {reused}, recomputed {rescored} ({100 * reused / max(1, reused + rescored):.0f}% reused)"
    )


if __name__ == "__main__":
    main()
