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

__all__ = ["WORD_PATTERN", "count_words", "word_tokenize", "words"]

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
