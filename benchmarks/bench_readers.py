"""Reader throughput on outfox-essays (4,000 documents) in every format, MB/s of uncompressed JSONL.

Usage: python benchmarks/bench_readers.py [path/to/outfox-essays/texts.jsonl]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from toedit_stats import read_corpus, write_records
from toedit_stats.tokenize import word_tokenize


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/outfox-essays/texts.jsonl")
    records = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    mb = src.stat().st_size / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for name in ("c.jsonl", "c.jsonl.gz", "c.jsonl.zst", "c.parquet"):
            write_records(records, t / name)
        (t / "txt").mkdir()
        for r in records:
            (t / "txt" / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
        print(f"{len(records)} documents, {mb:.1f} MB of JSONL")
        print(f"{'format':<12} {'read s':>7} {'MB/s':>7} {'docs/s':>8}")
        for name in ("c.jsonl", "c.jsonl.gz", "c.jsonl.zst", "c.parquet", "txt"):
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                n = sum(1 for _ in read_corpus(t / name))
                best = min(best, time.perf_counter() - t0)
            print(f"{name:<12} {best:7.3f} {mb / best:7.1f} {n / best:8.0f}")
        texts = [r["text"] for r in records]
        t0 = time.perf_counter()
        ntok = sum(len(word_tokenize(x)) for x in texts)
        dt = time.perf_counter() - t0
        print(f"word_tokenize: {ntok} tokens in {dt:.3f} s = {ntok / dt / 1e6:.2f} M tokens/s")


if __name__ == "__main__":
    main()
