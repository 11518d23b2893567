"""Which language model to load and how: :class:`LMConfig`, the options every command that loads
a model shares (declared once with :func:`~toedit_stats.options.option`), and :func:`load_lm`,
which builds the backend a name or a configuration names."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import ConfigError
from ..options import bad_value, check_fields, flag, option, option_fields
from ..registry import BACKENDS, backend_names, get_backend
from .cache import CachedLM
from .fake import FakeLM
from .models import DEFAULT_MODEL

__all__ = ["LMConfig", "load_lm"]


@dataclasses.dataclass(frozen=True)
class LMConfig:
    """Which language model to load and how. Backends declare which of these they use
    (:mod:`toedit_stats.registry`); setting one a backend does not use is an error, not a
    silent no-op."""

    model: str = option("smollm2-135m", help="Embedded default, Hugging Face hub id, or local path.")
    backend: str = option("transformers", help="Language-model backend (see `toedit-stats list`).")
    device: str = option("auto", help="auto, cpu, cuda, cuda:N, mps.")
    dtype: str = option(
        "auto",
        choices=("auto", "float32", "bfloat16", "float16", "mixed"),
        help="auto: float32 (CPU and CUDA: no lower precision has met the fidelity bound yet); bfloat16 and "
        "float16 keep a float32 LM head; mixed: bfloat16 matmuls inside the decoder blocks, "
        "float32 residual stream, norms and head (1.35x float32 on CPU, ~0.01 nats).",
    )
    batch_tokens: int | None = option(
        None,
        kind="int",
        min=1,
        help="Padded tokens per forward batch (transformers; default 2048 on CPU, 32768 on CUDA).",
    )
    trust_remote_code: bool = option(False, help="Allow the model repository's own code.")
    allow_pickle_weights: bool = option(
        False,
        help="Also load pickle (.bin) weights; by default only safetensors, as unpickling can run code.",
    )
    score_cache: bool = option(
        False, help="Cache token scores on disk (keyed by model fingerprint and text hash) and reuse them."
    )

    def __post_init__(self):
        check_fields(self)
        if self.backend not in backend_names():
            raise bad_value("backend", "one of " + ", ".join(backend_names()), self.backend)

    def load(self):
        """The backend, unloaded (it loads on first use), wrapped in the score cache if asked."""
        lm = load_lm(self)
        if self.score_cache:
            lm = CachedLM(lm)
        return lm


def load_lm(model: Any = DEFAULT_MODEL, *, backend: str | None = None, **kwargs: Any):
    """A language-model backend, unloaded (it loads on first use).

    ``model`` is a name (with ``backend``, default ``transformers``, and the backend's own
    keyword arguments), an :class:`LMConfig`, or an object that already is
    a :class:`LanguageModel` (returned as is). Backends come from :mod:`toedit_stats.registry`.
    """
    if isinstance(model, LMConfig):
        return _from_config(model)
    if not isinstance(model, str):
        return model
    if model == "fake":  # deterministic stand-in for plumbing tests, see lm/fake.py
        return FakeLM()
    return get_backend(backend or "transformers")(model, **kwargs)


def _from_config(cfg: Any):
    """Build the backend named by an LMConfig, passing the fields it declares it uses
    (``config_fields``); a field set away from its default that the backend does not use is an
    error, never silently dropped."""
    if cfg.model == "fake":
        return FakeLM()
    cls = get_backend(cfg.backend)
    uses = getattr(cls, "config_fields", {})
    kwargs: dict[str, Any] = {}
    for f in option_fields(cfg):
        if f.name in ("model", "backend", "score_cache"):
            continue
        value = getattr(cfg, f.name)
        if f.name in uses:
            if value is not None:
                kwargs[uses[f.name]] = value
        elif value != f.default:
            raise ConfigError(
                f"the {cfg.backend} backend does not use {flag(f)} ({f.name} = {value!r}); remove it"
                + (
                    f" or use a backend that does ({', '.join(_backends_using(f.name))})"
                    if _backends_using(f.name)
                    else ""
                )
            )
    return cls(cfg.model, **kwargs)


def _backends_using(field_name: str) -> list[str]:
    out = []
    for name in BACKENDS:
        try:
            if field_name in getattr(get_backend(name), "config_fields", {}):
                out.append(name)
        except Exception:  # a broken plugin must not hide the real error
            continue
    return out
