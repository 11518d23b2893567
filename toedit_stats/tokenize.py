"""Word tokenisation shared by the model-free analyzers.

Lower-cased text split by the regular expression ``\\w+|[^\\w\\s]+``: runs of word characters
and runs of punctuation. This is NLTK's ``WordPunctTokenizer`` (which DSIR and the paper use)
applied to lower-cased text; ``\\w`` is Unicode-aware, so CJK, accents and digits count as
word characters. (NLTK now compiles through the ``regex`` engine, whose ``\\w`` also covers
combining marks and connector punctuation such as "‿", and treats non-decimal numerals such as
"¼" differently; on letters, decimal
digits, punctuation and symbols the two agree, which the tests check.) One compiled regex runs over whole documents (no per-character Python).

>>> word_tokenize("Hello, World!! It's 2025.")
['hello', ',', 'world', '!!', 'it', "'", 's', '2025', '.']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np

__all__ = ["WORD_PATTERN", "WordEncoder", "count_words", "encode_texts", "word_tokenize", "words"]

ENCODE_CHUNK = 1 << 18  # words held as Python strings at a time while encoding

WORD_PATTERN = re.compile(r"\w+|[^\w\s]+")
_HAS_ALNUM = re.compile(r"[^\W_]")


def word_tokenize(text: str) -> list[str]:
    """Lower-cased WordPunct tokens of ``text``."""
    return WORD_PATTERN.findall(text.lower())


def words(text: str) -> list[str]:
    """Lower-cased WordPunct tokens that contain a letter or digit (punctuation runs dropped):
    the words of the length and mixture analyzers.

    >>> words("Hello, World!! It's 2025.")
    ['hello', 'world', 'it', 's', '2025']
    """
    return [w for w in WORD_PATTERN.findall(text.lower()) if _HAS_ALNUM.search(w)]


def count_words(text: str) -> int:
    """Number of WordPunct tokens of ``text``."""
    return len(WORD_PATTERN.findall(text))


class WordEncoder:
    """Integer ids for words from one vocabulary (in order of first occurrence) shared by every
    call: a chunk of words is encoded by Arrow's hash-based ``dictionary_encode`` (about twice
    as fast as ``pandas.factorize``) and its chunk dictionary merged into the shared one, so the
    caller holds ids, never the words (4 bytes a word as int32)."""

    def __init__(self, dtype: type = np.int32):
        self.dtype = dtype
        self.ids_of: dict[str, int] = {}
        self.vocab: list[str] = []

    def encode(self, words: list[str]) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not words:
            return np.zeros(0, self.dtype)
        encoded = pc.dictionary_encode(pa.array(words, type=pa.large_string()))
        local = encoded.indices.to_numpy(zero_copy_only=False)
        mapping = np.empty(len(encoded.dictionary), self.dtype)
        ids_of, vocab = self.ids_of, self.vocab
        for j, w in enumerate(encoded.dictionary.to_pylist()):
            i = ids_of.get(w)
            if i is None:
                i = ids_of[w] = len(vocab)
                vocab.append(w)
            mapping[j] = i
        return mapping[local]


def encode_texts(
    texts: Iterable[str],
    findall: Callable[[str], list[str]] = WORD_PATTERN.findall,
    encoder: WordEncoder | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(vocabulary, codes, lengths)`` of the lower-cased ``findall`` words of ``texts``: the
    distinct words in order of first occurrence, every word's int32 id (documents concatenated)
    and the words per document — the same as factorising all words at once, streaming: at most
    :data:`ENCODE_CHUNK` words are held as strings. Pass one ``encoder`` to several calls for
    ids from one shared vocabulary (its ``vocab`` is the one returned).

    >>> encode_texts(["A b a", "c B"])[0], encode_texts(["A b a", "c B"])[1].tolist()
    (['a', 'b', 'c'], [0, 1, 0, 2, 1])
    """
    enc = WordEncoder() if encoder is None else encoder
    lengths: list[int] = []
    parts: list[np.ndarray] = []
    pending: list[str] = []
    for t in texts:
        toks = findall(t.lower())
        pending.extend(toks)
        lengths.append(len(toks))
        if len(pending) >= ENCODE_CHUNK:
            parts.append(enc.encode(pending))
            pending = []
    parts.append(enc.encode(pending))
    codes = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return enc.vocab, codes, np.asarray(lengths, np.int64)
