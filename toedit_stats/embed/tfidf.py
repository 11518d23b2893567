"""TF-IDF + TruncatedSVD embedder fitted on the corpora being compared (no model needed)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["TfidfEmbedder"]


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
