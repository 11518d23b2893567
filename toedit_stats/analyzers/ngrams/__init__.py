"""N-gram concentration: how much of a corpus's mass sits on a few n-grams (the paper's Finding III).

Words are the lower-cased WordPunct tokens of :mod:`toedit_stats.tokenize`; n-grams never
cross document boundaries. Per corpus and per ``n``:

``total``
    n-gram occurrences.
``distinct``
    distinct n-grams.
``distinct_ratio``
    ``distinct / total`` over the **whole corpus** (corpus-level distinct-n, as in Li et al.
    2016 applied to the concatenation of documents). This is *not* the mean of per-document
    distinct-n, which is much higher for short documents; the two are often confused.
``entropy_bits``
    Shannon entropy (base 2) of the n-gram frequency distribution ``c_i / total``.
``normalized_entropy``
    ``entropy_bits / log2(distinct)`` in [0, 1]; 0 when ``distinct <= 1``.
``top1pct_mass``, ``top100_mass``, ``top1000_mass``
    share of all occurrences taken by the ``ceil(1% of distinct)``, 100 and 1,000 most frequent
    n-grams (all of them when there are fewer).
``gini``
    Gini coefficient of the frequency distribution over distinct n-grams:
    ``sum_i (2i - d - 1) x_(i) / (d * sum x)`` with counts sorted ascending; 0 when all counts
    are equal, towards 1 when one n-gram takes everything.
``zipf_slope``
    least-squares slope of ``log(frequency)`` against ``log(rank)`` over ranks 1..min(10,000,
    distinct); ``None`` when fewer than 2 distinct n-grams.

Per corpus (once):

``hashed``
    the paper's Fig. 11 featurisation, as DSIR defines it: every unigram and bigram (bigram
    string = the two words joined by a space) hashed by ``int(sha256(utf8).hexdigest(), 16) %
    10000`` into 10,000 buckets; its ``entropy_bits`` and ``top1pct_mass`` (share of occurrences
    in the 100 fullest buckets). sha256 makes it identical across processes and machines.
``compression_ratio``
    ``len(b) / len(gzip.compress(b, compresslevel=9, mtime=0))`` with ``b`` the UTF-8 bytes of
    the documents joined by single spaces (beyond 8 MiB, ``b`` is gzipped in 8 MiB chunks, in
    parallel, and the compressed sizes summed: deflate looks back at most 32 KiB, so only each
    chunk's first 32 KiB loses context — the ratio moves by well under 1%: −0.035% on
    outfox-essays, 9 MiB, and −0.037% on four copies of it — and on up to 8 MiB it is the
    whole-corpus value exactly): the definition of the ``diversity`` package's
    ``compression_ratio(data, "gzip")`` (original size / compressed size of ``" ".join(data)``),
    without its double compression (it writes ``gzip.compress(b)`` into a second gzip file: on
    natural text the two agree within 1%, on very repetitive text theirs comes out larger).
``near_duplicate_rate``
    share of documents with at least one other document whose MinHash (128 permutations,
    seeded) estimated Jaccard similarity of word 5-shingles is ≥ 0.8, found with
    ``datasketch.MinHashLSH`` (threshold 0.8) and confirmed on the MinHash estimate. Documents
    shorter than 5 words are one shingle.

Between the first corpus (the reference) and each other one, per ``n``:
``js_divergence_bits`` (Jensen–Shannon divergence, base 2, between the two n-gram distributions:
0 for identical, 1 for disjoint) and ``coverage`` (share of the second corpus's occurrences whose
n-gram occurs in the first); and ``hashed_pairs`` with the JS divergence between the 10,000-bucket
distributions.

Because larger corpora have more distinct n-grams, everything is also computed in
``equal_size``: each corpus is cut to a seeded random subset of its documents whose token count is
at most the smallest corpus's token count.

Counting is exact: words get ids from one vocabulary shared by all corpora, and an n-gram's key
is its ids in base ``V`` (unique; when ``V**n`` does not fit 64 bits a 64-bit hash of the ids
is used instead, with collision probability about ``distinct**2 / 2**65``). Unigrams are counted
with ``bincount`` and longer n-grams by sorting the keys. For corpora that do not fit in memory use
:mod:`toedit_stats.analyzers.ngrams.sketch` (``--sketch``).

Files: ``analyzer.py`` (the analyzer, exact or sketched), ``exact.py`` (the exact analysis of
tokenised corpora, distinctive bigrams, equal-size subsets), ``counting.py`` (one vocabulary, n-gram
keys, sorted runs, DSIR buckets, word hashes), ``divergence.py`` (concentration metrics, JS,
coverage), ``compression.py`` (gzip ratio), ``near_duplicates.py`` (shingles, MinHash LSH),
``bootstrap.py`` (per-document bigram counts for resampling), ``records.py`` and ``result.py``
(the result types, metrics, tables and figures), ``sketch.py`` (the bounded-memory sketch).
"""

from __future__ import annotations

from .analyzer import NgramAnalyzer, analyze_ngrams
from .bootstrap import _sparse_counts
from .compression import ChunkedGzip, compression_ratio
from .counting import _Counter, _tokenize_all, dsir_bucket, word_hashes
from .divergence import ngram_metrics
from .near_duplicates import (
    _identity,
    _signature_update,
    near_duplicate_pairs,
    near_duplicate_rate,
    shingle_hashes,
)
from .records import N_BUCKETS, CorpusNgrams, HashedBuckets, NgramPair, NgramStats
from .result import NgramResult
from .sketch import MisraGries, SketchWorker, analyze_ngrams_sketch

__all__ = [
    "ChunkedGzip",
    "CorpusNgrams",
    "HashedBuckets",
    "MisraGries",
    "N_BUCKETS",
    "NgramAnalyzer",
    "NgramPair",
    "NgramResult",
    "NgramStats",
    "SketchWorker",
    "analyze_ngrams",
    "analyze_ngrams_sketch",
    "compression_ratio",
    "dsir_bucket",
    "near_duplicate_pairs",
    "near_duplicate_rate",
    "ngram_metrics",
    "shingle_hashes",
    "word_hashes",
]
_PRIVATE_FOR_TESTS = (_Counter, _identity, _signature_update, _sparse_counts, _tokenize_all)
