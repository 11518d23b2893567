"""Mean-pooled last hidden states of the language-model backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["LMEmbedder"]


class LMEmbedder:
    """Mean-pooled last hidden states of a transformers causal LM (windows for long texts)."""

    def __init__(self, model: Any = "smollm2-135m"):
        self._lm_spec = model
        self._lm = None
        self.name = f"lm:{model if isinstance(model, str) else model.name}"

    def _load(self):
        if self._lm is None:
            from ..lm import load_lm

            self._lm = load_lm(self._lm_spec).load()
        return self._lm

    @property
    def dim(self) -> int:
        return int(self._load().model.config.hidden_size)

    @property
    def fingerprint(self) -> str:
        return f"lm-meanpool:{self._load().fingerprint}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        from ..lm.base import plan_windows

        lm = self._load()
        base = getattr(lm.model, lm.model.base_model_prefix)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, (ids, _) in enumerate(lm.tokenize(list(texts))):
            seq = np.concatenate([[lm.prefix], ids])
            total = np.zeros(self.dim, np.float64)
            count = 0
            for s, e, f in plan_windows(seq.size, lm.context):
                with torch.inference_mode():
                    h = base(input_ids=torch.from_numpy(seq[s:e])[None].to(lm._device)).last_hidden_state[0]
                # states of the real tokens this window owns (the prefix's own state excluded)
                part = h[f - s :].float().cpu().numpy()
                total += part.sum(0)
                count += part.shape[0]
            out[i] = total / max(count, 1)
        return out
