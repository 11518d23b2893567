"""The prepared GPU check (issue 29): what a person with one NVIDIA GPU runs, in under five
minutes, to see whether scoring on the GPU is fast and still right. Never run in CI.

For the transformers backend on CUDA in float32 and in bfloat16 with a float32 LM head (the CUDA
default), and for vLLM when it is installed (float32, and its default dtype with a float32 head):

- throughput in tokens per second, scoring (top_k = 0) and scoring for editing (top_k = 8), over
  the shared OUTFOX essays when present, else the bundled sample repeated;
- the share of the GPU's bfloat16 matmul roofline, measured in the same run (an 8192^3 matmul),
  that the forward pass reaches (2 x parameters FLOPs per token);
- fidelity against the CPU float32 scores of the bundled sample (toedit_stats.lm.fidelity: mean
  |d log p|, rank-1 agreement, selections unchanged), with the bound every default must meet;
- a document three times the model's context, scored in windows, against the CPU float32 scores;
- input order: the sample scored shuffled gives each document the scores it gets in order.

It writes one JSON file of results and exits with status 1, saying which, when a fidelity bound
is missed or a check fails. ``--device cpu`` is a dry run of the script's own code (no roofline).

Usage: python benchmarks/gpu_check.py [--out gpu_check.json] [--docs 2000] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = [ROOT / "examples" / "human.jsonl", ROOT / "examples" / "synthetic.jsonl"]
OUTFOX = ROOT.parent / "shared" / "data" / "outfox-essays" / "texts.jsonl"


def _sync(torch) -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def roofline_tflops(torch, n: int = 8192, repeats: int = 10) -> float:
    """Measured bfloat16 matmul throughput of this GPU (TFLOP/s)."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    _sync(torch)
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(torch)
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e12


def throughput(torch, lm, docs, top_k: int) -> dict:
    list(lm.score(docs[:8], top_k=top_k))  # warm-up
    _sync(torch)
    t = time.perf_counter()
    tokens = sum(len(s) for s in lm.score(docs, top_k=top_k))
    _sync(torch)
    seconds = time.perf_counter() - t
    return {"tokens": tokens, "seconds": round(seconds, 3), "tokens_per_s": tokens / seconds}


def long_document(sample, tokens_wanted: int, count_tokens) -> str:
    text, n = "", 0
    while n < tokens_wanted:
        text += "\n\n".join(d.text for d in sample) + "\n\n"
        n = count_tokens([text])[0]
    return text


def check_mode(torch, name, gate, lm, sample, bulk, reference, long_text, long_reference, roofline, params):
    """One scoring mode. ``gate``: a default mode, whose fidelity misses are failures; another
    mode's misses are recorded (``below_bound``) as the evidence for or against making it one."""
    from toedit_stats.corpus import Document
    from toedit_stats.lm.fidelity import fidelity

    out: dict = {"mode": name, "default": gate, "failures": [], "below_bound": []}
    precision = out["failures"] if gate else out["below_bound"]
    load = time.perf_counter()
    lm.load()
    out["load_s"] = round(time.perf_counter() - load, 1)
    for k in (0, 8):
        out[f"k{k}"] = throughput(torch, lm, bulk, k)
    if roofline and params:
        achieved = 2 * params * out["k0"]["tokens_per_s"] / 1e12
        out["roofline_tflops"] = round(roofline, 1)
        out["share_of_roofline_k0"] = round(achieved / roofline, 4)
    scores = list(lm.score(sample, top_k=8))
    fid = fidelity(reference, scores)
    out["fidelity"] = fid.to_dict()
    precision += [f"fidelity: {f}" for f in fid.failures()]
    long_scores = list(lm.score([Document("long", long_text)], top_k=8))
    long_fid = fidelity(long_reference, long_scores)
    out["long_document"] = {"tokens": len(long_scores[0]), "fidelity": long_fid.to_dict()}
    precision += [f"long document: {f}" for f in long_fid.failures()]
    shuffled = list(sample)
    random.Random(0).shuffle(shuffled)
    again = {s.doc_id: s for s in lm.score(shuffled, top_k=8)}
    order_ok = [s.doc_id for s in lm.score(shuffled, top_k=0)] == [d.id for d in shuffled]
    same = fidelity(scores, [again[s.doc_id] for s in scores])
    out["shuffled"] = {"order_kept": order_ok, "max_abs_dlogp_vs_in_order": same.max_abs_dlogp}
    if not order_ok:
        out["failures"].append("shuffled input: outputs not in input order")
    if same.failures():
        out["failures"].append(
            "shuffled input: scores differ from the in-order run beyond the fidelity bound"
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    ap.add_argument("--docs", type=int, default=2000, help="documents for the throughput runs")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()

    import torch

    from toedit_stats import read_corpus
    from toedit_stats.corpus import Document
    from toedit_stats.lm.hf import TransformersLM

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    sample = [d for p in SAMPLE for d in read_corpus(p)]
    bulk = list(read_corpus(OUTFOX, limit=args.docs)) if OUTFOX.exists() else (sample * 50)[: args.docs]
    if args.device == "cpu":  # dry run of this script: small sizes
        sample, bulk = sample[:6], bulk[:6]

    t0 = time.perf_counter()
    cpu = TransformersLM(args.model, device="cpu", dtype="float32").load()
    if args.device == "cpu":  # dry run: a short context, so that the long document stays short
        cpu.max_context = cpu._context = 512
    reference = list(cpu.score(sample, top_k=8))
    long_text = long_document(sample, 3 * cpu.context, cpu.count_tokens)
    long_reference = list(cpu.score([Document("long", long_text)], top_k=8))
    params = int(sum(p.numel() for p in cpu.model.parameters()))
    result: dict = {
        "model": args.model,
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu (dry run)",
        "torch": torch.__version__,
        "parameters": params,
        "sample_tokens": sum(len(s) for s in reference),
        "long_document_tokens": len(long_reference[0]),
        "reference_s": round(time.perf_counter() - t0, 1),
        "modes": [],
    }
    roofline = roofline_tflops(torch) if args.device.startswith("cuda") else None
    ctx = {"max_context": 512} if args.device == "cpu" else {}
    # (name, is it a default, backend): a default's fidelity miss fails the check
    modes = [
        (
            "transformers float32",
            True,
            TransformersLM(args.model, device=args.device, dtype="float32", **ctx),
        ),
        (
            "transformers bfloat16 + float32 head",
            False,
            TransformersLM(args.model, device=args.device, dtype="bfloat16", **ctx),
        ),
    ]
    try:
        import vllm  # noqa: F401

        from toedit_stats.lm.vllm import VLLMModel

        modes += [
            ("vllm float32", False, VLLMModel(args.model, dtype="float32")),
            ("vllm auto + float32 head", True, VLLMModel(args.model)),
        ]
    except ImportError:
        result["vllm"] = "not installed"
    for name, gate, lm in modes:
        try:
            r = check_mode(
                torch, name, gate, lm, sample, bulk, reference, long_text, long_reference, roofline, params
            )
        except Exception as exc:  # a mode that cannot run is a result, not the end of the check
            r = {"mode": name, "failures": [f"{type(exc).__name__}: {exc}".splitlines()[0]]}
        result["modes"].append(r)
        del lm
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    failures = [f"{m['mode']}: {f}" for m in result["modes"] for f in m["failures"]]
    result["passed"] = not failures
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    for m in result["modes"]:
        line = f"{m['mode']:<40}"
        if "k0" in m:
            line += f" {m['k0']['tokens_per_s']:>12,.0f} tok/s (k=0) {m['k8']['tokens_per_s']:>12,.0f} (k=8)"
            if "share_of_roofline_k0" in m:
                line += f"  {m['share_of_roofline_k0']:.1%} of {m['roofline_tflops']} TFLOP/s"
            f = m["fidelity"]
            line += (
                f"  |dlogp| {f['mean_abs_dlogp']:.4f}  selections unchanged {f['selections_unchanged']:.2%}"
            )
            line += (
                "  (default)"
                if m["default"]
                else ("  below the bound" if m["below_bound"] else "  meets the bound")
            )
        print(line)
    print(f"results: {args.out}  ({result['seconds']} s)")
    if failures:
        print("GPU CHECK FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
