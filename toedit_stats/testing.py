"""The analyzer contract as checks a plugin author can run (like scikit-learn's
``check_estimator``): :func:`check_analyzer` runs every check of :data:`CHECKS` on an analyzer
class (or a factory that builds one with cheap settings) over a small corpus pair, and raises
``AssertionError`` naming the first check that fails. The package's own tests run the same checks
on every registered analyzer.

>>> from toedit_stats.analyzers.lengths import LengthAnalyzer
>>> check_analyzer(LengthAnalyzer)  # doctest: +ELLIPSIS
['identical_corpora_give_identical_values', ...]
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from ._io import dumps
from .analyzers.base import FRAME_COLUMNS, KINDS, Analyzer, Metric, Result
from .corpus import Corpus, Document, MemoryCorpus
from .errors import ConfigError

__all__ = ["BACKEND_CHECKS", "CHECKS", "check_analyzer", "check_backend", "demo_pair"]

Factory = Callable[..., Analyzer]

_WORDS = [
    "the",
    "a",
    "of",
    "river",
    "city",
    "data",
    "model",
    "light",
    "stone",
    "winter",
    "garden",
    "market",
    "letter",
    "school",
    "song",
    "paper",
    "road",
    "quiet",
    "early",
    "bright",
    "slow",
    "green",
    "old",
    "new",
    "small",
    "long",
    "open",
    "under",
    "over",
    "near",
    "after",
    "before",
    "while",
]


def demo_pair(n: int = 40, seed: int = 0) -> tuple[Corpus, Corpus]:
    """Two small seeded corpora (``human``, ``synthetic``) of word-salad documents: the second
    draws from half the vocabulary, so the two differ."""
    rng = random.Random(seed)

    def doc(words: Sequence[str], i: int, prefix: str) -> Document:
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(5, 14))).capitalize() + "."
            for _ in range(rng.randint(2, 5))
        ]
        return Document(f"{prefix}-{i}", " ".join(sentences))

    human = MemoryCorpus([doc(_WORDS, i, "h") for i in range(n)], name="human")
    synthetic = MemoryCorpus([doc(_WORDS[: len(_WORDS) // 2], i, "s") for i in range(n)], name="synthetic")
    return human, synthetic


def _json(result: Result) -> str:
    return dumps(result.to_dict())


def check_identical_corpora_give_identical_values(make: Factory, pair: tuple[Corpus, Corpus]) -> None:
    """A corpus against a copy of itself: every distance with a declared identical value has it."""
    h, _ = pair
    res = make().analyze([h, MemoryCorpus(list(h), name="twin")])
    checked = 0
    for m in res.metrics():
        if m.kind == "distance" and m.identical is not None:
            assert math.isclose(m.value, m.identical, abs_tol=1e-6), (m.name, m.value, m.identical)
            checked += 1
    assert checked >= 1, "no distance declares its value for identical corpora"


def check_document_order_does_not_change_results(make: Factory, pair: tuple[Corpus, Corpus]) -> None:
    shuffled = []
    for c in pair:
        docs = list(c)
        random.Random(7).shuffle(docs)
        shuffled.append(MemoryCorpus(docs, name=c.name))
    assert _json(make().analyze(list(pair))) == _json(make().analyze(shuffled)), (
        "document order changed the result"
    )


def check_same_seed_same_output_and_sampling_is_seeded(make: Factory, pair: tuple[Corpus, Corpus]) -> None:
    a = make(seed=3, max_docs=8).analyze(list(pair))
    b = make(seed=3, max_docs=8).analyze(list(pair))
    assert _json(a) == _json(b), "the same seed gave different results"
    ns = {m.n for m in a.metrics() if m.kind == "per corpus"}
    assert max(ns) == 8, f"max_docs=8 but per-corpus metrics saw {sorted(ns)} documents"


def check_result_contract(make: Factory, pair: tuple[Corpus, Corpus]) -> None:
    """Typed metrics, a JSON round trip, a tidy frame, tables, figures and a short repr."""
    import matplotlib.pyplot as plt

    res = make().analyze(list(pair))
    name = make().name
    assert isinstance(res, Result) and res.analyzer == name, "analyze must return a Result of this analyzer"
    d = json.loads(_json(res))
    assert json.loads(dumps(d)) == d, "to_dict does not survive a JSON round trip"
    ms = res.metrics()
    assert ms and all(isinstance(m, Metric) and m.kind in KINDS and m.analyzer == name for m in ms)
    assert all(m.better in ("lower", "higher") for m in ms if m.kind == "distance")
    assert all(m.reference == "human" for m in ms if m.kind != "per corpus")
    assert any(m.headline for m in ms), "no headline metric"
    frame = res.to_frame()
    assert list(frame.columns) == list(FRAME_COLUMNS) and len(frame) == len(ms), "to_frame is not tidy"
    assert not frame.duplicated(["metric", "corpus", "reference"]).any()
    assert all(hasattr(t, "to_csv") for t in res.tables().values())
    figs = res.figures()
    assert figs and all(hasattr(f, "savefig") for f in figs.values()), "figures() must return figures"
    for f in figs.values():
        plt.close(f)
    one = res.plot()
    assert hasattr(one, "savefig")
    plt.close(one)
    try:
        res.plot("no-such-figure")
    except ConfigError as exc:
        assert "figure must be one of" in str(exc)
    else:
        raise AssertionError("plot() of an unknown figure must raise ConfigError")
    assert len(repr(res)) < 300, "repr too long"


def check_repr_html_escapes_hostile_names(make: Factory, pair: tuple[Corpus, Corpus]) -> None:
    h, s = pair
    evil = [
        MemoryCorpus(list(h), name="<script>alert(1)</script>"),
        MemoryCorpus(list(s), name="x\x1b]0;t\x07\u202ey"),
    ]
    html = make().analyze(evil)._repr_html_()
    assert "<script>" not in html and "\x1b" not in html and "\u202e" not in html, "unescaped corpus name"
    assert "&lt;script&gt;" in html and "<!DOCTYPE" not in html and "body {" not in html


def check_reference_argument_moves_the_reference_first(make: Factory, pair: tuple[Corpus, Corpus]) -> None:
    h, s = pair
    a = make().analyze([s, h], reference=1)
    assert {m.reference for m in a.metrics() if m.kind != "per corpus"} == {"human"}
    try:
        make().analyze([h, s], reference=5)
    except ConfigError as exc:
        assert "reference must be" in str(exc)
    else:
        raise AssertionError("reference=5 of two corpora must raise ConfigError")


def check_constructor_only_stores_and_validates(make: Factory, pair: tuple[Corpus, Corpus]) -> None:
    a = make()
    assert dataclasses.is_dataclass(a), "an analyzer is a dataclass"
    try:
        make(max_docs=0)
    except ConfigError as exc:
        assert "max_docs must be an integer >=" in str(exc)
    else:
        raise AssertionError("max_docs=0 must raise ConfigError")


CHECKS: dict[str, Callable[[Factory, tuple[Corpus, Corpus]], None]] = {
    name[len("check_") :]: fn
    for name, fn in dict(globals()).items()
    if name.startswith("check_") and name not in ("check_analyzer", "check_backend") and callable(fn)
}


def check_analyzer(
    analyzer: type[Analyzer] | Factory, corpora: tuple[Corpus, Corpus] | None = None, **settings: Any
) -> list[str]:
    """Run every check of the analyzer contract on ``analyzer`` (a class, or a factory taking
    keyword overrides), built with ``settings`` (cheap ones: e.g. ``model="fake"``), over
    ``corpora`` (default :func:`demo_pair`). Returns the names of the checks; the first failure
    raises ``AssertionError`` naming its check."""

    def make(**kw: Any) -> Analyzer:
        return analyzer(**{**settings, **kw})

    pair = corpora or demo_pair()
    for name, check in CHECKS.items():
        try:
            check(make, pair)
        except AssertionError as exc:
            raise AssertionError(f"{getattr(analyzer, '__name__', analyzer)} fails {name}: {exc}") from exc
    return list(CHECKS)


# ---------------------------------------------------------------------------------------------
# the language-model backend contract


def check_backend_offsets_cover_the_text(lm: Any, texts: Sequence[str], top_k: int) -> None:
    """Every token's span lies in the text, spans never overlap or go back, and the spans joined
    give the text back (byte pieces of one character: empty spans)."""
    import numpy as np

    for text, sc in zip(texts, lm.score(list(texts), top_k=top_k)):
        off = np.asarray(sc.offsets)
        assert off.shape == (len(sc), 2), f"offsets shape {off.shape} for {len(sc)} tokens"
        assert (off[:, 0] <= off[:, 1]).all() and (off >= 0).all() and (off <= len(text)).all()
        assert (off[1:, 0] >= off[:-1, 1]).all(), "token spans overlap or go back"
        assert "".join(text[s:e] for s, e in off.tolist()) == text, "the spans do not give the text back"


def check_backend_topk_shapes_and_order(lm: Any, texts: Sequence[str], top_k: int) -> None:
    """``(T, k)`` candidates by decreasing probability; log-probabilities <= 0; ranks >= 1; an actual
    token ranked within k is among the candidates, with the same log-probability."""
    import numpy as np

    for sc in lm.score(list(texts), top_k=top_k):
        n = len(sc)
        assert sc.topk_ids.shape == (n, top_k) and sc.topk_logprobs.shape == (n, top_k)
        assert sc.logprobs.shape == (n,) and sc.ranks.shape == (n,)
        assert (sc.logprobs <= 1e-6).all() and (sc.ranks >= 1).all()
        if n and top_k > 1:
            assert (np.diff(sc.topk_logprobs, axis=1) <= 1e-6).all(), "top-k not by decreasing probability"
        for j in np.flatnonzero(sc.ranks <= top_k):
            hit = np.flatnonzero(sc.topk_ids[j] == sc.token_ids[j])
            assert hit.size, f"position {j}: rank {sc.ranks[j]} <= k but the token is not a candidate"
            assert abs(sc.topk_logprobs[j, hit[0]] - sc.logprobs[j]) < 1e-4


def check_backend_scores_do_not_depend_on_batching(lm: Any, texts: Sequence[str], top_k: int) -> None:
    """Each text scored alone equals the texts scored together (float rounding only)."""
    import numpy as np

    together = list(lm.score(list(texts), top_k=top_k))
    for text, b in zip(texts, together):
        (a,) = list(lm.score([text], top_k=top_k))
        assert np.array_equal(a.token_ids, b.token_ids) and np.array_equal(a.offsets, b.offsets)
        assert np.allclose(a.logprobs, b.logprobs, atol=1e-4), "batching changed the log-probabilities"
        assert np.array_equal(a.topk_ids, b.topk_ids) or np.allclose(
            a.topk_logprobs, b.topk_logprobs, atol=1e-4
        )


def check_backend_long_texts_are_windowed_not_truncated(lm: Any, texts: Sequence[str], top_k: int) -> None:
    """A text longer than the model's context is scored whole (windows of at most the backend's
    limit: a backend that sends a longer one fails here), one score per token."""
    long = " ".join(texts) * 3
    (sc,) = list(lm.score([long], top_k=top_k))
    assert len(sc) == lm.count_tokens([long])[0], "tokens were dropped"


BACKEND_CHECKS: dict[str, Callable[[Any, Sequence[str], int], None]] = {
    name[len("check_backend_") :]: fn
    for name, fn in dict(globals()).items()
    if name.startswith("check_backend_")
}


def check_backend(lm: Any, texts: Sequence[str] | None = None, *, top_k: int = 4) -> list[str]:
    """Run every check of the language-model backend contract (:data:`BACKEND_CHECKS`) on the
    loaded backend ``lm`` over ``texts`` (default: the :func:`demo_pair` texts); the first failure
    raises ``AssertionError`` naming its check."""
    texts = list(texts) if texts is not None else [d.text for d in demo_pair(4)[0]]
    for name, check in BACKEND_CHECKS.items():
        try:
            check(lm, texts, top_k)
        except AssertionError as exc:
            raise AssertionError(f"{getattr(lm, 'backend', lm)} backend fails {name}: {exc}") from exc
    return list(BACKEND_CHECKS)
