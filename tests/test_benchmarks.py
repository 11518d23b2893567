"""The GPU check and the host benchmark run end to end (on CPU, small sizes), so that the
scripts a person with a GPU is asked to run do not rot. Slow: the default suite skips them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.model
def test_gpu_check_dry_run_on_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    default = next(m for m in result["modes"] if m["default"])
    assert default["fidelity"]["mean_abs_dlogp"] == 0.0  # float32 against float32 on the same CPU
    assert all(m["shuffled"]["order_kept"] for m in result["modes"])
    assert result["long_document_tokens"] > 3 * 512 - 1


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("style", ["transformers", "vllm"])
def test_host_benchmark_stand_ins_run_the_whole_pipeline(style):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_host
    finally:
        sys.path.pop(0)
    saved = {name: sys.modules.get(name) for name in ("vllm", "vllm.inputs")}
    try:  # the vLLM stand-in installs a fake vllm module: put back what was there
        for k in (0, 8):
            r = bench_host.worker(style, k, 5)
            assert r["tokens"] > 0 and r["tok_per_cpu_s"] > 0
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
