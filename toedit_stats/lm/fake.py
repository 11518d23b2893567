"""A deterministic, instant language model for plumbing tests (the model name ``"fake"``).

It is not a language model: tokens are whitespace-led words, and each token's probability is a
fixed function of a hash of (previous token, token), so that a good share of tokens gets
p >= 0.99 and some p < 0.001. Its top-k candidates are the actual token and a fixed list of
common words. Scores do not depend on batching or order, like a real backend's. Use it to test
editing jobs, resume and sharding quickly; every numeric claim is tested with the real model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..corpus import Document
from .base import TokenScores, score_variants_in_full

_PIECE = re.compile(r"\s*\S+|\s+")
_COMMON = [" the", " a", " of", " and", " to", " in", " is", " that", " it", " with", " as", " for"]


def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest(), "big")


class FakeLM:
    backend = "fake"
    name = "fake"
    fingerprint = "fake:v1"

    def __init__(self, **_: object):
        self._vocab: dict[int, str] = {_h(w) % (1 << 31): w for w in _COMMON}

    vocab_size = 1 << 31

    def load(self) -> FakeLM:
        return self

    def info(self) -> dict:
        return {"backend": "fake", "name": "fake", "fingerprint": self.fingerprint}

    def _id(self, piece: str) -> int:
        i = _h(piece) % (1 << 31)
        self._vocab[i] = piece
        return i

    def token_text(self, token_ids: Sequence[int]) -> list[str]:
        return [self._vocab[int(t)] for t in token_ids]

    def observe(self, text: str, scores: TokenScores) -> None:
        """Learn the pieces of ``text`` from scores read back from a cache (another process
        scored it): the fake model's vocabulary is built as it tokenises, so without this a
        resumed job could not name the tokens of its cached documents."""
        for i, (a, b) in zip(scores.token_ids.tolist(), scores.offsets.tolist()):
            self._vocab.setdefault(int(i), text[a:b])
        for j in range(max(scores.topk_ids.shape[1] if scores.topk_ids.ndim == 2 else 0, 0)):
            self._id(f" pad{j}")

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [sum(1 for _ in _PIECE.finditer(t)) for t in texts]

    def score_variants(self, docs, variants, **kw) -> Iterator[tuple[TokenScores, list[TokenScores]]]:
        """Documents, then their variants, scored in full (:func:`score_variants_in_full`)."""
        return score_variants_in_full(self, docs, variants, **kw)

    def score(
        self, docs: Iterable[Document | str], *, top_k: int = 0, on_tokens: Any = None, **_: object
    ) -> Iterator[TokenScores]:
        common = [self._id(w) for w in _COMMON]
        pad = [self._id(f" pad{j}") for j in range(max(0, top_k))]
        for n, d in enumerate(docs):
            doc = d if isinstance(d, Document) else Document(str(n), d)
            pieces = [(m.group(), m.start(), m.end()) for m in _PIECE.finditer(doc.text)]
            ids = np.array([self._id(p) for p, _, _ in pieces], np.int64)
            off = np.array([(s, e) for _, s, e in pieces], np.int64).reshape(-1, 2)
            prev = [""] + [p for p, _, _ in pieces[:-1]]
            u = np.array([(_h(a, b) % 10_000) / 10_000 for a, (b, _, _) in zip(prev, pieces)])
            # a third of tokens near-certain, a tenth very unlikely, the rest in between
            p = np.where(u < 0.33, 0.995, np.where(u > 0.9, 0.0005, 0.05 + 0.9 * u))
            T = ids.size
            k = top_k
            tki = np.zeros((T, k), np.int64)
            tkl = np.zeros((T, k), np.float32)
            ranks = np.ones(T, np.int64)
            for t in range(T):
                # one fixed ranking per position, so that top-k is a prefix of top-(k+m) as with a
                # real model (the sweep slices stored top-k); padded with tiny-probability pieces
                others = [c for c in common if c != ids[t]]
                rest = (1 - p[t]) / len(others)
                norm = sum(0.9**i for i in range(len(others)))
                cand = [(p[t], int(ids[t]))] + [
                    (rest * (0.9**j) / norm * len(others), c) for j, c in enumerate(others)
                ]
                cand.sort(key=lambda x: -x[0])
                cand += [(1e-9, pad[j]) for j in range(max(0, k - len(cand)))]
                ranks[t] = 1 + next(j for j, (_, c) in enumerate(cand) if c == ids[t])
                for j in range(k):
                    tkl[t, j] = np.log(cand[j][0])
                    tki[t, j] = cand[j][1]
            lp = np.log(p).astype(np.float32)
            if on_tokens is not None:
                on_tokens(T)
            yield TokenScores(doc.id, ids, off, lp, ranks, np.full(T, 1.0, np.float32), tki, tkl)
