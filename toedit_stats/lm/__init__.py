"""Language-model backends behind one protocol (:class:`LanguageModel`).

``load_lm("smollm2-135m", backend="transformers")`` returns an unloaded backend; it loads on
first use. ``backend="vllm"`` needs the ``vllm`` extra and a GPU.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import LanguageModel, TokenScores, normalize_offsets, plan_windows
from .models import DEFAULT_MODEL, resolve_model

__all__ = [
    "DEFAULT_MODEL",
    "LanguageModel",
    "TokenScores",
    "load_lm",
    "normalize_offsets",
    "plan_windows",
    "resolve_model",
]


def load_lm(model: Any = DEFAULT_MODEL, *, backend: str | None = None, **kwargs: Any):
    """A language-model backend, unloaded (it loads on first use).

    ``model`` is a name (with ``backend``, default ``transformers``, and the backend's own
    keyword arguments), an :class:`~toedit_stats.options.LMConfig`, or an object that already is
    a :class:`LanguageModel` (returned as is). Backends come from :mod:`toedit_stats.registry`.
    """
    from ..options import LMConfig

    if isinstance(model, LMConfig):
        return _from_config(model)
    if not isinstance(model, str):
        return model
    if model == "fake":  # deterministic stand-in for plumbing tests, see lm/fake.py
        from .fake import FakeLM

        return FakeLM()
    from ..registry import get_backend

    return get_backend(backend or "transformers")(model, **kwargs)


def _from_config(cfg: Any):
    """Build the backend named by an LMConfig, passing the fields it declares it uses
    (``config_fields``); a field set away from its default that the backend does not use is an
    error, never silently dropped."""
    from ..options import flag, option_fields
    from ..registry import get_backend

    if cfg.model == "fake":
        from .fake import FakeLM

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
    from ..registry import BACKENDS, get_backend

    out = []
    for name in BACKENDS:
        try:
            if field_name in getattr(get_backend(name), "config_fields", {}):
                out.append(name)
        except Exception:  # a broken plugin must not hide the real error
            continue
    return out
