"""Self-BLEU and self-repetition (issue 32): hand cases, NLTK's sentence_bleu and the diversity
package's self_repetition_score as references, and the n-gram analyzer's equal-size samples."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toedit_stats.analyzers.ngrams import NgramAnalyzer
from toedit_stats.analyzers.ngrams.diversity import self_bleu_scores, self_repetition_scores
from toedit_stats.corpus import Document, MemoryCorpus

docs_strategy = st.lists(st.lists(st.integers(0, 4), max_size=12), min_size=2, max_size=6)


def test_hand_cases():
    same = [np.array([1, 2, 3, 4, 5])] * 3
    assert self_bleu_scores(same) == pytest.approx([1.0, 1.0, 1.0])  # every document is the others
    # 4-grams: each of the 3 copies shares its 2 distinct 4-grams with 2 other documents
    assert self_repetition_scores(same) == pytest.approx([np.log(5)] * 3)
    apart = [np.array([1, 2, 3, 4]), np.array([5, 6, 7, 8])]
    assert self_repetition_scores(apart).tolist() == [0.0, 0.0]
    assert self_bleu_scores(apart).tolist() == [0.0, 0.0]  # no unigram in common: NLTK's 0
    assert np.isnan(self_bleu_scores([np.array([1, 2])])).all()  # one document: no references


@settings(max_examples=150, deadline=None)
@given(docs_strategy)
def test_self_bleu_equals_nltk_sentence_bleu(docs):
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    arrays = [np.array(d, np.int64) for d in docs]
    got = self_bleu_scores(arrays)
    smooth = SmoothingFunction().method1
    for i, d in enumerate(docs):
        refs = [[str(x) for x in o] for j, o in enumerate(docs) if j != i]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NLTK warns about short hypotheses
            want = sentence_bleu(refs, [str(x) for x in d], weights=(0.25,) * 4, smoothing_function=smooth)
        assert got[i] == pytest.approx(want, abs=1e-12)


def _diversity_self_repetition():
    spec = importlib.util.find_spec("diversity")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the diversity package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "self_repetition.py"
    mod_spec = importlib.util.spec_from_file_location("_diversity_self_repetition", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)  # needs only nltk, numpy and tqdm
    return mod.self_repetition_score


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), max_size=15), min_size=1, max_size=6))
def test_self_repetition_equals_the_diversity_package(docs):
    reference = _diversity_self_repetition()
    arrays = [np.array(d, np.int64) for d in docs]
    texts = [" ".join(f"w{x}" for x in d) for d in docs]
    assert self_repetition_scores(arrays).mean() == pytest.approx(
        reference(texts, n=4, verbose=False), abs=1e-12
    )


def test_the_analyzer_measures_every_corpus_on_the_same_documents_count():
    rng = np.random.default_rng(0)
    words = ["the", "a", "of", "cat", "dog", "sat", "ran", "on", "mat", "log", "red", "blue"]

    def corpus(name, n, k):
        return MemoryCorpus(
            [Document(f"{name}{i}", " ".join(rng.choice(words[:k], 20))) for i in range(n)], name=name
        )

    human, synthetic = corpus("h", 30, 12), corpus("s", 50, 4)
    r = NgramAnalyzer(n=(1, 2), js_permutations=0, diversity_docs=25).analyze([human, synthetic])
    d = r.to_dict()["homogenisation"]
    assert d["h"]["documents"] == d["s"]["documents"] == 25
    assert d["s"]["self_bleu"] > d["h"]["self_bleu"]  # a four-word vocabulary repeats itself
    by = {(m.name, m.corpus): m for m in r.metrics()}
    assert by[("self_bleu_gap", "s")].value == pytest.approx(abs(d["s"]["self_bleu"] - d["h"]["self_bleu"]))
    twin = NgramAnalyzer(n=(1, 2), js_permutations=0).analyze([human, MemoryCorpus(list(human), name="twin")])
    assert {m.value for m in twin.metrics() if m.name.endswith("_gap")} == {0.0}
