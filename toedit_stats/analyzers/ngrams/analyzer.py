"""The exact n-gram analyzer (:class:`NgramAnalyzer`): counting in memory, or the bounded-memory
sketch with ``sketch=True`` (see :mod:`toedit_stats.analyzers.ngrams`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from ...corpus import Corpus
from ...execution import LocalExecutor, resolve_executor
from ...options import option
from ..base import Analyzer, prepare_corpora
from .bootstrap import _contributions
from .counting import _Counter, _tokenize_all
from .exact import _analyze_tokenized, _equal_size
from .result import NgramResult, replace_top_k
from .sketch import analyze_ngrams_sketch


@dataclass(kw_only=True)
class NgramAnalyzer(Analyzer):
    """N-gram concentration of each corpus and divergences from the reference (module docstring).

    >>> from toedit_stats import Corpus
    >>> res = NgramAnalyzer(n=(1,)).analyze([Corpus.from_documents(["a b a b"]), Corpus.from_documents(["a b c"])])
    >>> round(res.corpora[0].by_n[0].entropy_bits, 3), res.pairs[0].coverage
    (1.0, 0.6666666666666666)
    """

    name: ClassVar[str] = "ngrams"
    title: ClassVar[str] = "N-gram concentration"

    n: tuple[int, ...] = option(
        (1, 2, 3, 4), min=1, max=8, cli="--n", help="N-gram orders (comma-separated or repeated)."
    )
    top: int = option(40, min=1, help="Most frequent n-grams kept per corpus and n (for plots and tables).")
    equal_size: bool = option(
        True, help="Also compute everything on equal token budgets (the headline numbers)."
    )
    sketch: bool = option(False, help="Bounded-memory mode (HyperLogLog++ and Misra–Gries).")
    capacity: int = option(10_000, min=1, help="With --sketch: heavy-hitter counters per n.")
    distinctive_min_count: int = option(
        5, min=1, help="Distinctive bigrams: seen at least this often in the two corpora together."
    )
    distinctive_punctuation: bool = option(
        False, help="Distinctive bigrams may contain punctuation-only words."
    )
    distinctive_min_docs: int = option(
        3,
        min=1,
        help="Distinctive bigrams: found in at least this many documents of the corpus where they are "
        "over-represented (one document repeating a phrase is not distinctive).",
    )
    js_permutations: int = option(
        1000,
        min=0,
        help="Relabellings behind the permutation test of the bigram JS divergence (0: no test).",
    )
    diversity_docs: int = option(
        1000,
        min=0,
        help="Self-BLEU and self-repetition on a seeded sample of this many documents per corpus "
        "(the same number for every corpus; 0: not computed).",
    )
    # with ``sketch``: where runs of documents are sketched (an
    # :class:`~toedit_stats.execution.Executor`; merged here); the exact mode runs in this process
    executor: Any = dataclasses.field(
        default_factory=LocalExecutor, repr=False, compare=False, metadata={"execution": True}
    )

    def analyze(self, corpora: Sequence[Corpus] | Corpus, reference: int = 0) -> NgramResult:
        ns = tuple(sorted({int(x) for x in self.n}))
        if self.sketch:
            if isinstance(corpora, Corpus):
                corpora = [corpora]
            corpora = list(corpora)
            corpora.insert(0, corpora.pop(reference))
            res = analyze_ngrams_sketch(
                corpora,
                n=ns,
                top=self.top,
                seed=self.seed,
                capacity=self.capacity,
                max_docs=self.max_docs,
                executor=self.executor,
            )
            return replace_top_k(res, self.top)
        # the exact mode holds every n-gram in one process
        resolve_executor(self.executor).require_one_process("ngrams without --sketch")
        prepared, _ = prepare_corpora(corpora, reference, self.max_docs, self.seed)
        toks, vocab = _tokenize_all(prepared)
        counter = _Counter(vocab)
        bigrams: list[np.ndarray] = []
        full = _analyze_tokenized(
            toks,
            counter,
            ns,
            self.top,
            self.seed,
            distinctive=(self.distinctive_min_count, self.distinctive_punctuation, self.distinctive_min_docs),
            bigrams_out=bigrams,
        )
        diversity = homogenisation(toks, self.diversity_docs, self.seed)
        if not self.equal_size or len(toks) < 2:
            res = replace(full, top_k=self.top, contrib=_contributions(toks, counter, bigrams))
            return replace(
                res,
                js_pvalues=res.js_permutation_pvalues(self.js_permutations, self.seed),
                js_permutations=self.js_permutations,
                diversity=diversity,
            )
        small, target = _equal_size(toks, self.seed)
        bigrams = []
        eq = _analyze_tokenized(small, counter, ns, self.top, self.seed, bigrams_out=bigrams)
        eq = NgramResult(
            eq.corpora, eq.pairs, eq.hashed_pairs, ns, self.seed, tokens_per_corpus=target, top_k=self.top
        )
        res = NgramResult(
            full.corpora,
            full.pairs,
            full.hashed_pairs,
            ns,
            self.seed,
            equal_size=eq,
            top_k=self.top,
            distinctive=full.distinctive,
            contrib=_contributions(small, counter, bigrams),
        )
        return replace(
            res,
            js_pvalues=res.js_permutation_pvalues(self.js_permutations, self.seed),
            js_permutations=self.js_permutations,
            diversity=diversity,
        )


def homogenisation(toks: Sequence[Any], docs: int, seed: int) -> dict[str, dict[str, Any]]:
    """Self-BLEU and self-repetition (:mod:`.diversity`) of each tokenised corpus on a seeded
    sample (by id) of the same number of documents, at most ``docs``: per corpus the two means,
    the sample size and the per-document scores with their ids (for the bootstrap)."""
    from ...stats import id_order
    from .diversity import self_bleu_scores, self_repetition_scores

    n = min([len(t.ids) for t in toks] + [docs])
    if n < 2:
        return {}
    out = {}
    for t in toks:
        cuts = np.cumsum(t.lengths)[:-1]
        per_doc = np.split(t.codes, cuts)
        rows = id_order(t.ids, seed)[:n]
        sample = [per_doc[j] for j in rows]
        sb, sr = self_bleu_scores(sample), self_repetition_scores(sample)
        out[t.name] = {
            "documents": n,
            "self_bleu": float(sb.mean()),
            "self_repetition": float(sr.mean()),
            "ids": [t.ids[j] for j in rows],
            "per_doc": {"self_bleu": sb, "self_repetition": sr},
        }
    return out


def analyze_ngrams(
    corpora: Sequence[Corpus] | Corpus,
    *,
    n: Sequence[int] = (1, 2, 3, 4),
    top: int = 40,
    seed: int = 0,
    equal_size: bool = True,
    max_docs: int | None = None,
) -> NgramResult:
    """N-gram concentration of each corpus, and divergences from the first (the reference):
    ``NgramAnalyzer(...).analyze(corpora)`` as one call.

    Parameters
    ----------
    corpora : corpora to compare; the first is the reference (usually human).
    n : n-gram orders to report (any of 1..8).
    top : how many of the most frequent n-grams to keep per corpus and n (for plots).
    seed : seeds the MinHash permutations, the equal-size subsample and ``max_docs`` sampling.
    equal_size : also compute everything on equal token budgets (``result.equal_size``).
    max_docs : a seeded sample of at most this many documents per corpus.

    Example
    -------
    >>> from toedit_stats import Corpus
    >>> res = analyze_ngrams([Corpus.from_documents(["a b a b"]), Corpus.from_documents(["a b c"])], n=[1])
    >>> round(res.corpora[0].by_n[0].entropy_bits, 3), res.pairs[0].coverage
    (1.0, 0.6666666666666666)
    """
    return NgramAnalyzer(n=tuple(n), top=top, seed=seed, equal_size=equal_size, max_docs=max_docs).analyze(
        corpora
    )
