"""Host ceiling of scoring and editing (issue 29): the whole pipeline — reading buffers,
tokenising, windows and batches, the backend's conversion of the model's outputs, stitching, and
then the token statistics (``top_k = 0``) or ToEdit's selection, sampling and splicing
(``top_k = 8``) — with a zero-cost stand-in for the forward pass, so the figure is everything
but the model. Tokens per CPU-second of this process (all its threads: "per host core"), for
transformers-style outputs (per-position arrays, as ``TransformersLM._forward`` returns them)
and vLLM-style outputs (``RequestOutput.prompt_logprobs`` as vLLM 0.34's ``FlatLogprobs``
columns, built once and replayed by a fake ``vllm.LLM``).

Before/after in one run: ``--before PATH`` names a checkout of an older commit (``git worktree
add /tmp/before 9ccb25b``); each measurement runs in a fresh process, the two trees alternating,
and the table gives medians and the ratio (the machines are shared and noisy: read the ratios).

Usage: python benchmarks/bench_host.py [--docs 400] [--rounds 3] [--before PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "outfox-essays" / "texts.jsonl"
CASES = [("transformers", 0), ("transformers", 8), ("vllm", 0), ("vllm", 8)]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _docs(n: int):
    from toedit_stats import read_corpus

    path = CORPUS if CORPUS.exists() else ROOT / "examples" / "synthetic.jsonl"
    return list(read_corpus(path, limit=n))


class _Pool:
    """Per-position outputs of a model that costs nothing: about a quarter of the tokens at
    p >= 0.99 (the share ToEdit selects from on synthetic text), the actual token ranked first
    there and the other candidates sharing the remaining ~1% (so that, as with a real model, a
    resampled position mostly keeps its token), ranks, entropies and a top-k."""

    def __init__(self, n: int = 1 << 20, k: int = 8, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.lp = np.where(rng.random(n) < 0.25, -rng.exponential(0.002, n), -rng.exponential(3.0, n)).astype(
            np.float32
        )
        self.rk = np.where(self.lp > -0.01, 0, rng.integers(1, 1000, n)).astype(
            np.int32
        )  # 0-based, as the head
        self.ent = rng.exponential(2.0, n).astype(np.float32)
        # k distinct candidates per position, as a model's top-k are
        self.tki = (rng.integers(0, 49152, (n, 1)) + 6007 * np.arange(k)) % 49152
        self.tkl = np.sort(-rng.exponential(2.0, (n, k)), axis=1)[:, ::-1].astype(np.float32)
        top = self.rk == 0
        self.tkl[top, 0] = self.lp[top]
        self.tkl[top, 1:] = np.log(0.01 / k) - np.arange(k - 1) * 0.5
        self.n, self.at = n, 0

    def take(self, targets: np.ndarray):
        """Outputs for ``targets`` (the actual tokens): where the actual token ranks first it is
        the first candidate (the one fix-up a stand-in needs to look like a model)."""
        m = int(targets.size)
        if self.at + m > self.n:
            self.at = 0
        sl = slice(self.at, self.at + m)
        self.at += m
        tki = self.tki[sl].copy()
        top = self.rk[sl] == 0
        tki[top, 0] = targets[top]
        return self.lp[sl], self.rk[sl], self.ent[sl], tki, self.tkl[sl]


def transformers_model():
    """``TransformersLM`` on CPU with its device side replaced: ``_forward`` (or, in a checkout
    from before it existed, ``_score_batch`` with the old host preparation and conversion)."""
    import torch

    from toedit_stats.lm import hf

    torch.set_num_threads(1)
    lm = hf.TransformersLM(device="cpu", dtype="float32").load()
    pool = _Pool()
    if hasattr(lm, "_forward"):

        def forward(torch, input_ids, rows, cols, targets, counts, top_k, keep_cache):
            arrays = [torch.from_numpy(a) for a in pool.take(targets)]
            return hf._HostCopy(torch, arrays, top_k, counts), None

        lm._forward = forward
    else:  # before: the same host work as the old _score_batch and _head, without the model

        def score_batch(torch, seqs, batch, top_k, keep_cache=False):
            B, L = len(batch), max(e - s for _, _, s, e, _ in batch)
            input_ids = torch.full((B, L), lm._prefix, dtype=torch.long)
            rows, cols, targets, counts = [], [], [], []
            for r, (di, _, s, e, f) in enumerate(batch):
                seq = seqs[di]
                input_ids[r, : e - s] = torch.from_numpy(seq[s:e])
                pos = np.arange(f, e)
                rows.append(np.full(pos.size, r))
                cols.append(pos - s - 1)
                targets.append(seq[pos])
                counts.append(pos.size)
            np.concatenate(rows), np.concatenate(cols)
            tgt = np.concatenate(targets)
            n = int(tgt.size)
            lp, rk, ent, ti, tl = (torch.from_numpy(a) for a in pool.take(tgt))
            arrays = (
                lp.cpu().numpy(),
                rk.cpu().numpy().astype(np.int64) + 1,
                ent.cpu().numpy(),
                ti.cpu().numpy()[:, :top_k] if top_k else np.zeros((n, 0), np.int64),
                tl.cpu().numpy()[:, :top_k] if top_k else np.zeros((n, 0), np.float32),
            )
            return hf._split(arrays, counts), None

        lm._score_batch = score_batch
    return lm


@dataclass
class FlatLogprobs:  # vllm.logprobs.FlatLogprobs
    start_indices: list = field(default_factory=list)
    end_indices: list = field(default_factory=list)
    token_ids: list = field(default_factory=list)
    logprobs: list = field(default_factory=list)
    ranks: list = field(default_factory=list)
    decoded_tokens: list = field(default_factory=list)


@dataclass
class RequestOutput:  # vllm.outputs.RequestOutput, the fields the backend reads
    prompt_token_ids: list
    prompt_logprobs: FlatLogprobs


def _flat(ids: list[int], k: int, pool: _Pool) -> FlatLogprobs:
    """vLLM's layout: position 0 empty; then the actual token with its rank, and the top-k by
    rank (the actual token again when it is among them)."""
    m = len(ids) - 1
    actual = np.asarray(ids[1:], np.int64)
    lp, rk, _, tki, tkl = pool.take(actual)
    rank = rk.astype(np.int64) + 1
    top, top_lp = tki[:, :k], tkl[:, :k]
    if k:  # the actual token is among the top-k only where it ranks first
        rank = np.where((rank > 1) & (rank <= k), k + 1, rank)
    w = k + 1
    cols_ids = np.column_stack([actual, top]).ravel()
    cols_lp = np.column_stack([lp, top_lp]).ravel().astype(np.float64)
    cols_rk = np.column_stack([rank, np.broadcast_to(np.arange(1, k + 1), (m, k))]).ravel()
    starts = [0, *range(0, m * w, w)]
    ends = [0, *range(w, m * w + 1, w)]
    n = m * w
    return FlatLogprobs(starts, ends, cols_ids.tolist(), cols_lp.tolist(), cols_rk.tolist(), [None] * n)


class ReplayEngine:
    """``vllm.LLM.generate`` returning outputs built once per prompt (the warm-up builds them)."""

    def __init__(self):
        self.pool, self.memo = _Pool(), {}

    def generate(self, prompts, params, use_tqdm=False):
        bar = use_tqdm(total=len(prompts)) if callable(use_tqdm) else None
        out = []
        for p in prompts:
            ids = p["prompt_token_ids"]
            key = (params.prompt_logprobs, tuple(ids))
            if key not in self.memo:
                self.memo[key] = RequestOutput(list(ids), _flat(list(ids), params.prompt_logprobs, self.pool))
            out.append(self.memo[key])
            if bar is not None:
                bar.update(1)
        return out


class SamplingParams:  # vllm.SamplingParams, as the backend builds it
    def __init__(
        self, max_tokens=1, temperature=1.0, prompt_logprobs=0, detokenize=False, flat_logprobs=False
    ):
        self.prompt_logprobs = prompt_logprobs


def vllm_model():
    import transformers

    from toedit_stats.lm.base import choose_prefix_token
    from toedit_stats.lm.models import resolve_model
    from toedit_stats.lm.vllm import VLLMModel

    fake = types.ModuleType("vllm")
    fake.SamplingParams = SamplingParams
    fake.__version__ = "0.34.0"
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = dict
    sys.modules.update({"vllm": fake, "vllm.inputs": inputs})
    src = resolve_model("smollm2-135m")
    path = src.path if not src.gguf_file else resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct").path
    lm = VLLMModel("smollm2-135m", max_model_len=8192)
    lm._vllm_version = fake.__version__
    lm._tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    lm._llm = ReplayEngine()
    lm._source = src
    lm._prefix = choose_prefix_token(lm._tokenizer)
    lm._context = 8191
    return lm


class _Memo:
    """A tokenizer (or ``tokenize`` method) answering repeated calls from memory: the
    "tokenised" columns measure the pipeline without the tokenizer's own cost."""

    def __init__(self, inner):
        self.inner, self.memo = inner, {}

    def __call__(self, texts, **kw):
        key = tuple(texts)
        if key not in self.memo:
            self.memo[key] = self.inner(texts, **kw)
        return self.memo[key]

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __len__(self):
        return len(self.inner)


def worker(style: str, k: int, n_docs: int, pretokenized: bool = False) -> dict:
    from toedit_stats.analyzers.tokens import token_stats
    from toedit_stats.editing import EditConfig, edit

    docs = _docs(n_docs)
    lm = transformers_model() if style == "transformers" else vllm_model()
    if pretokenized and style == "transformers":
        lm.tokenize = _Memo(lm.tokenize)
    elif pretokenized:
        lm._tokenizer = _Memo(lm._tokenizer)

    def run():
        if k == 0:
            return token_stats("bench", lm.score(docs, top_k=0)).tokens
        return sum(e.audits[0].tokens for e in edit(docs, lm, EditConfig(k=k, seed=0)))

    run()  # warm-up: imports, first calls, the vLLM outputs built once
    cpu, wall = _cpu(), time.perf_counter()
    tokens = run()
    cpu, wall = _cpu() - cpu, time.perf_counter() - wall
    return {"tokens": tokens, "cpu_s": cpu, "wall_s": wall, "tok_per_cpu_s": tokens / cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", type=Path, help="a checkout of the older commit to compare with")
    ap.add_argument("--worker", nargs=3, metavar=("STYLE", "K", "TOKENISED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.docs, args.worker[2] == "1")))
        return
    trees = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    results: dict[tuple, list[float]] = {}
    for _ in range(args.rounds):
        for style, k in CASES:
            for tokenised in ("0", "1"):
                for label, tree in trees.items():  # alternating, each in a fresh process
                    # one thread everywhere (torch, BLAS, the tokenizer's rayon pool): per host core
                    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1", RAYON_NUM_THREADS="1")
                    cmd = [
                        sys.executable,
                        __file__,
                        "--worker",
                        style,
                        str(k),
                        tokenised,
                        "--docs",
                        str(args.docs),
                    ]
                    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
                    r = json.loads(out.strip().splitlines()[-1])
                    results.setdefault((style, k, tokenised, label), []).append(r["tok_per_cpu_s"])
    med = {key: statistics.median(v) for key, v in results.items()}
    print(f"{args.docs} OUTFOX essays, median of {args.rounds} rounds, tokens per CPU-second, one thread;")
    print("'whole' = the pipeline, 'no tokenizer' = the same with tokenisation answered from memory")
    cols = ["whole", "no tokenizer"]
    head = f"{'outputs':<13}{'k':>3}" + "".join(
        f"{c + (' ' + lab if args.before else ''):>22}" for c in cols for lab in trees
    )
    print(head + ("".join(f"{'ratio ' + c:>20}" for c in cols) if args.before else ""))
    for style, k in CASES:
        line = f"{style:<13}{k:>3}"
        line += "".join(f"{med[(style, k, t, lab)]:>22,.0f}" for t in ("0", "1") for lab in trees)
        if args.before:
            line += "".join(
                f"{med[(style, k, t, 'after')] / med[(style, k, t, 'before')]:>19.2f}x" for t in ("0", "1")
            )
        print(line)


if __name__ == "__main__":
    main()
