from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toedit_stats.tokenize import count_words, word_tokenize


def test_examples():
    assert word_tokenize("Don't stop—now!!") == ["don", "'", "t", "stop", "—", "now", "!!"]
    assert word_tokenize("") == []
    assert word_tokenize("Ünïcödé 日本語 text") == ["ünïcödé", "日本語", "text"]
    assert count_words("a b, c") == 4


def test_matches_nltk_wordpunct(essays_records):
    nltk = pytest.importorskip("nltk.tokenize")
    tok = nltk.WordPunctTokenizer()
    for rec in essays_records[:50]:
        assert word_tokenize(rec["text"]) == tok.tokenize(rec["text"].lower())


# Recent NLTK compiles through the `regex` engine, whose \w differs from Python's `re` on
# combining marks (M*), non-decimal numerals (No, Nl), connector punctuation other than "_"
# (Pc, e.g. U+203F), unassigned code points and the control characters \x1c-\x1f: compare on the
# categories where both agree, and check the whitespace property on any text.
_AGREE = st.characters(
    categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Pd", "Ps", "Pe", "Po", "Sm", "Sc", "Zs"),
    include_characters="_",
)


@settings(deadline=None)
@given(st.text(alphabet=_AGREE, max_size=200), st.text(max_size=100))
def test_property_nltk_and_no_whitespace(text, anything):
    nltk = pytest.importorskip("nltk.tokenize")
    # lower-casing can create combining marks ("İ".lower() == "i\u0307"): outside the agreement
    assume(not any(unicodedata.category(c).startswith("M") for c in text.lower()))
    assert word_tokenize(text) == nltk.WordPunctTokenizer().tokenize(text.lower())
    toks = word_tokenize(anything)
    assert all(t and not any(c.isspace() for c in t) for t in toks)
    assert "".join(toks) == "".join(anything.lower().split())
    assert count_words(anything.lower()) == len(toks)


@pytest.mark.parametrize("chunk", [1, 7, 1 << 18])
def test_encode_texts_equals_factorising_all_words(chunk, monkeypatch):
    """Streaming ids (a chunk of words at a time) equal pandas' factorisation of every word at
    once, with either tokenizer, on text with other scripts, superscripts and empty documents."""
    import numpy as np
    import pandas as pd

    from toedit_stats import tokenize
    from toedit_stats.selection import DSIR_WORDS

    texts = ["The cat, the CAT!", "", "co² and x\u200dy; 東京 the end", "…", "cat the"] * 3
    monkeypatch.setattr(tokenize, "ENCODE_CHUNK", chunk)
    for findall in (tokenize.WORD_PATTERN.findall, DSIR_WORDS.findall):
        words = [findall(t.lower()) for t in texts]
        codes, uniques = pd.factorize(np.array([w for ws in words for w in ws], dtype=object))
        vocab, got, lengths = tokenize.encode_texts(texts, findall)
        assert vocab == list(uniques) and got.dtype == np.int32 and np.array_equal(got, codes)
        assert lengths.tolist() == [len(w) for w in words]
    assert tokenize.encode_texts([])[1].size == 0
