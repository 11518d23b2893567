"""Suffix-only rescoring (issue 12): what scoring edited texts from their first changed token saves,
for the report (the paper's setting) and for a 16-point editor sweep, side by side in one run.

Measured, interleaved and repeated (best of R), on the same documents and model:
- ``synthetic``: the editor's pass over the synthetic corpus (top-8), as in ``report``;
- ``+ edited (suffix)``: the same pass with every edited text scored from its first changed token
  (``score_variants``), minus the pass alone = what the edited corpus's scoring costs now;
- ``edited (full)``: the changed edited texts scored on their own, as before;
- ``report scoring``: human + synthetic + edited (suffix), i.e. the report's token scoring;
- ``sweep scoring (exact)``: human + one pass with the grid's largest k and every grid point's
  edited texts scored from their first changed token (``sweep(token_fraction=1)``);
- ``sweep scoring (token sample)``: the same with only the variants of the seeded token sample
  scored (``sweep``'s default ``token_fraction = min(1, 3 / grid points)``).
Token counts (reused from the document's pass / recomputed) are exact and noise-free.

Usage: python benchmarks/bench_suffix.py [HUMAN] [SYNTHETIC] [REPEATS] [GRID] [--no-exact]
(``--no-exact`` skips the exact sweep, the slowest line.)
"""

from __future__ import annotations

import sys
import time

from toedit_stats import read_corpus
from toedit_stats.editing import EditConfig, doc_rng, edit_scores
from toedit_stats.lm.hf import TransformersLM
from toedit_stats.report.sweep import TOKEN_BUDGET, parse_grid, token_sample

GRID = "p=0.9,0.99;k=8,64;beta=1,1.5;exclude_original=false,true"


def editor(lm, configs, only=None):
    def variants(doc, scores):
        if only is not None and doc.id not in only:
            return []
        texts = (edit_scores(doc.text, scores, c, lm.token_text, doc_rng(c.seed, doc.id))[0] for c in configs)
        return list(dict.fromkeys(t for t in texts if t != doc.text))

    return variants


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--no-exact"]
    exact = "--no-exact" not in sys.argv
    human_path = args[0] if len(args) > 0 else "examples/human.jsonl"
    syn_path = args[1] if len(args) > 1 else "examples/synthetic.jsonl"
    repeats = int(args[2]) if len(args) > 2 else 2
    grid_text = args[3] if len(args) > 3 else GRID
    human, syn = list(read_corpus(human_path)), list(read_corpus(syn_path))
    lm = TransformersLM("smollm2-135m", device="cpu", dtype="float32").load()
    paper = [EditConfig()]
    grid = parse_grid(grid_text)
    list(lm.score(syn[:2], top_k=8))  # warm-up
    fraction = min(1.0, TOKEN_BUDGET / len(grid))
    sample = {syn[i].id for i in token_sample(len(syn), fraction, 0)}
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
        if exact:
            keep(
                "sweep pass + variants (suffix)",
                timed(lambda k=kmax: list(lm.score_variants(syn, editor(lm, grid), top_k=k)))[0],
            )
            counts["sweep"] = (lm.reused_tokens, lm.rescored_tokens)
        lm.reused_tokens = lm.rescored_tokens = 0
        keep(
            "sweep pass + variants (token sample)",
            timed(lambda k=kmax: list(lm.score_variants(syn, editor(lm, grid, sample), top_k=k)))[0],
        )
        counts["sample"] = (lm.reused_tokens, lm.rescored_tokens)
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
    print(
        f"report scoring: {report:.2f} s (before suffix reuse: {report_before:.2f} s, ratio {report / report_before:.2f})"
    )
    if exact:
        sweep = best["human"] + best["sweep pass + variants (suffix)"]
        reused, rescored = counts["sweep"]
        print(
            f"{len(grid)}-point sweep ({grid_text}) scoring, exact: {sweep:.2f} s = {sweep / report:.2f}x the report's "
            f"scoring; variant tokens reused {reused}, recomputed {rescored} "
            f"({100 * reused / max(1, reused + rescored):.0f}% reused)"
        )
    sampled = best["human"] + best["sweep pass + variants (token sample)"]
    reused, rescored = counts["sample"]
    print(
        f"  with the token sample ({len(sample)} of {len(syn)} documents, fraction {fraction:.2f}): {sampled:.2f} s = "
        f"{sampled / report:.2f}x the report's scoring; variant tokens reused {reused}, recomputed {rescored}"
    )


if __name__ == "__main__":
    main()
