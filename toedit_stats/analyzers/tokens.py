"""Per-token probabilities and per-document perplexity under a prior LM (the paper's Finding II).

Every real token of every document is scored once by a :class:`~toedit_stats.lm.LanguageModel`
(teacher forcing, see :mod:`toedit_stats.lm.hf`); ``p`` is the probability the model gives the
actual token. Per corpus:

``prob_hist10``
    shares of tokens in the paper's 10 equal bins ``[0, .1), ..., [.9, 1]`` (Table 6); sums to 1.
``prob_hist100``
    the same with 100 bins (for plots and the JS divergence).
``share_ge`` / ``share_le``
    shares of tokens with ``p >= t`` for t in 0.5, 0.9, 0.99, 0.999 (Table 15 uses 0.99) and
    ``p <= t`` for t in 0.01, 0.001. Exact comparisons, not read off a histogram.
``prob_quantiles``
    p25/p50/p75 of ``p`` over tokens (the paper's percentile lines), interpolated in a
    10,000-bin histogram (error below 1e-4).
``rank_buckets``
    GLTR's shares of tokens whose rank in the vocabulary is 1, 2–10, 11–100, 101–1000, >1000.
``ppl``
    quantiles p5/p25/p50/p75/p95 and mean of per-document perplexity ``exp(-mean log p)``.
``mean_entropy_nats``
    mean over tokens of the entropy of the predictive distribution (``None`` with vLLM).

Between the first corpus (the reference) and each other: the two-sample Kolmogorov–Smirnov
test on per-document perplexity (``ppl_ks_stat``, ``ppl_ks_pvalue``; scipy ``ks_2samp``), the
1-Wasserstein distance between the per-document log-perplexity distributions
(``log_ppl_wasserstein``, in nats), and the Jensen–Shannon divergence in bits between the
100-bin probability histograms (``prob_hist_js_bits``).

Statistics merge: :class:`TokenStats` objects add with ``+`` (fixed bins, counts, sums and the
list of per-document perplexities), so sharded or streamed scoring equals one-shot scoring.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..corpus import Corpus, reservoir_sample
from ..errors import ConfigError
from ..lm.base import TokenScores

__all__ = ["GE", "LE", "RANK_BUCKETS", "TokenPair", "TokenResult", "TokenStats", "analyze_tokens"]

FINE = 10_000
GE = (0.5, 0.9, 0.99, 0.999)
LE = (0.01, 0.001)
RANK_BUCKETS = ("1", "2-10", "11-100", "101-1000", ">1000")
_RANK_EDGES = np.array([1, 2, 11, 101, 1001])


@dataclass
class TokenStats:
    """Mergeable accumulator of one corpus's token statistics (see the module docstring)."""

    name: str
    documents: int = 0
    tokens: int = 0
    fine: np.ndarray = field(default_factory=lambda: np.zeros(FINE, np.int64))
    ge: np.ndarray = field(default_factory=lambda: np.zeros(len(GE), np.int64))
    le: np.ndarray = field(default_factory=lambda: np.zeros(len(LE), np.int64))
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(len(RANK_BUCKETS), np.int64))
    entropy_sum: float = 0.0
    entropy_tokens: int = 0
    doc_ids: list[str] = field(default_factory=list)
    doc_ppl: list[float] = field(default_factory=list)
    doc_tokens: list[int] = field(default_factory=list)

    def add(self, s: TokenScores) -> TokenStats:
        """Add one document's scores."""
        lp = s.logprobs.astype(np.float64)
        p = np.exp(lp)
        self.documents += 1
        self.tokens += p.size
        self.doc_ids.append(s.doc_id)
        self.doc_tokens.append(int(p.size))
        self.doc_ppl.append(float(np.exp(-lp.mean())) if p.size else math.nan)
        if p.size == 0:
            return self
        self.fine += np.bincount(np.minimum((p * FINE).astype(np.int64), FINE - 1), minlength=FINE)
        self.ge += np.array([(p >= t).sum() for t in GE])
        self.le += np.array([(p <= t).sum() for t in LE])
        self.ranks += np.bincount(np.searchsorted(_RANK_EDGES, s.ranks, side="right") - 1, minlength=5)[:5]
        if s.entropy is not None:
            self.entropy_sum += float(s.entropy.astype(np.float64).sum())
            self.entropy_tokens += p.size
        return self

    def __add__(self, other: TokenStats) -> TokenStats:
        return TokenStats(
            self.name,
            self.documents + other.documents,
            self.tokens + other.tokens,
            self.fine + other.fine,
            self.ge + other.ge,
            self.le + other.le,
            self.ranks + other.ranks,
            self.entropy_sum + other.entropy_sum,
            self.entropy_tokens + other.entropy_tokens,
            self.doc_ids + other.doc_ids,
            self.doc_ppl + other.doc_ppl,
            self.doc_tokens + other.doc_tokens,
        )

    # -- derived ------------------------------------------------------------------------------
    def _share(self, counts: np.ndarray) -> np.ndarray:
        return counts / self.tokens if self.tokens else np.zeros(counts.shape)

    @property
    def prob_hist10(self) -> np.ndarray:
        return self._share(self.fine.reshape(10, -1).sum(1))

    @property
    def prob_hist100(self) -> np.ndarray:
        return self._share(self.fine.reshape(100, -1).sum(1))

    def prob_quantile(self, q: float) -> float:
        if not self.tokens:
            return math.nan
        cum = np.cumsum(self.fine)
        target = q * self.tokens
        i = int(np.searchsorted(cum, target, side="left"))
        before = cum[i - 1] if i else 0
        inside = self.fine[i]
        frac = (target - before) / inside if inside else 0.0
        return float((i + frac) / FINE)

    @property
    def ppl(self) -> np.ndarray:
        a = np.asarray(self.doc_ppl, np.float64)
        return a[np.isfinite(a)]

    def to_dict(self) -> dict[str, Any]:
        ppl = self.ppl
        q = np.percentile(ppl, [5, 25, 50, 75, 95]) if ppl.size else [math.nan] * 5
        return {
            "name": self.name,
            "documents": self.documents,
            "tokens": self.tokens,
            "prob_hist10": self.prob_hist10.tolist(),
            "share_ge": {str(t): float(v) for t, v in zip(GE, self._share(self.ge))},
            "share_le": {str(t): float(v) for t, v in zip(LE, self._share(self.le))},
            "prob_quantiles": {f"p{int(x * 100)}": self.prob_quantile(x) for x in (0.25, 0.5, 0.75)},
            "rank_buckets": {k: float(v) for k, v in zip(RANK_BUCKETS, self._share(self.ranks))},
            "ppl": {
                "p5": float(q[0]),
                "p25": float(q[1]),
                "p50": float(q[2]),
                "p75": float(q[3]),
                "p95": float(q[4]),
                "mean": float(ppl.mean()) if ppl.size else math.nan,
            },
            "mean_entropy_nats": self.entropy_sum / self.entropy_tokens if self.entropy_tokens else None,
            "prob_hist100": self.prob_hist100.tolist(),
        }


@dataclass(frozen=True)
class TokenPair:
    a: str
    b: str
    ppl_ks_stat: float
    ppl_ks_pvalue: float
    log_ppl_wasserstein: float
    prob_hist_js_bits: float


def compare_token_stats(a: TokenStats, b: TokenStats) -> TokenPair:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp, wasserstein_distance

    pa, pb = a.ppl, b.ppl
    if pa.size and pb.size:
        ks = ks_2samp(pa, pb)
        stat, pval = float(ks.statistic), float(ks.pvalue)
        w = float(wasserstein_distance(np.log(pa), np.log(pb)))
    else:
        stat = pval = w = math.nan
    ha, hb = a.prob_hist100, b.prob_hist100
    js = float(jensenshannon(ha, hb, base=2) ** 2) if ha.sum() and hb.sum() else math.nan
    return TokenPair(a.name, b.name, stat, pval, w, js)


@dataclass(frozen=True)
class TokenResult:
    """Result of :func:`analyze_tokens`; ``to_dict()`` is what ``tokens --json`` prints."""

    model: dict[str, Any]
    corpora: list[TokenStats]
    pairs: list[TokenPair]
    sampling: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "corpora": [c.to_dict() for c in self.corpora],
            "pairs": [vars(p) for p in self.pairs],
            "sampling": self.sampling,
        }

    def to_frame(self):
        """One row per corpus: the scalar statistics, flattened (``share_ge_0.99``, ``ppl_p50``...)."""
        import pandas as pd

        rows = []
        for c in self.corpora:
            d = c.to_dict()
            row = {"corpus": d["name"], "documents": d["documents"], "tokens": d["tokens"]}
            for i, v in enumerate(d["prob_hist10"]):
                row[f"prob_bin_{i / 10:.1f}"] = v
            for group in ("share_ge", "share_le", "prob_quantiles", "rank_buckets", "ppl"):
                for k, v in d[group].items():
                    row[f"{group}_{k}"] = v
            row["mean_entropy_nats"] = d["mean_entropy_nats"]
            rows.append(row)
        return pd.DataFrame(rows)

    def pairs_frame(self):
        import pandas as pd

        return pd.DataFrame([vars(p) for p in self.pairs])

    def documents_frame(self):
        """One row per document: corpus, id, tokens, perplexity."""
        import pandas as pd

        return pd.DataFrame(
            [
                {"corpus": c.name, "id": i, "tokens": t, "perplexity": p}
                for c in self.corpora
                for i, t, p in zip(c.doc_ids, c.doc_tokens, c.doc_ppl)
            ]
        )

    def plot(self) -> dict[str, Any]:
        """Figures: ``prob_u_shape``, ``perplexity_hist``, ``rank_buckets``."""
        from ..plotting import token_figures

        return token_figures(self)

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, float_format=lambda x: f"{x:.4g}")


def token_stats(name: str, scores: Iterable[TokenScores]) -> TokenStats:
    acc = TokenStats(name)
    for s in scores:
        acc.add(s)
    return acc


def analyze_tokens(
    corpora: Sequence[Corpus] | Corpus,
    *,
    model: Any = "smollm2-135m",
    backend: str = "transformers",
    max_docs: int | None = 500,
    seed: int = 0,
    lm_kwargs: Mapping[str, Any] | None = None,
    precomputed: Mapping[str, TokenStats] | None = None,
    progress: bool = False,
) -> TokenResult:
    """Score each corpus with ``model`` and compare token statistics with the first corpus.

    Parameters
    ----------
    corpora : the first is the reference.
    model : a model name (``smollm2-135m``, hub id, path) or a loaded
        :class:`~toedit_stats.lm.LanguageModel`.
    max_docs : score a seeded uniform sample of at most this many documents per corpus
        (``None``: all); the result says "sampled N of M" in ``sampling``.
    precomputed : statistics already accumulated for some corpora (by name), e.g. by the
        editor's scoring pass; those corpora are not scored again.
    """
    from ..lm import load_lm

    if isinstance(corpora, Corpus):
        corpora = [corpora]
    if max_docs is not None and max_docs < 1:
        raise ConfigError(f"max_docs must be positive, got {max_docs}")
    precomputed = dict(precomputed or {})
    lm = None
    stats, sampling = [], {}
    for c in corpora:
        if c.name in precomputed:
            stats.append(precomputed[c.name])
            sampling[c.name] = {
                "scored": precomputed[c.name].documents,
                "of": None,
                "seed": seed,
                "note": "scored by an earlier pass",
            }
            continue
        if max_docs is not None:
            docs, total = reservoir_sample(iter(c), max_docs, seed)
        else:
            docs = list(c)
            total = len(docs)
        if lm is None:
            lm = load_lm(model, backend=backend, **dict(lm_kwargs or {}))
        scores = lm.score(docs)
        if progress:
            from tqdm.auto import tqdm

            scores = tqdm(scores, total=len(docs), desc=f"scoring {c.name}", unit="doc")
        stats.append(token_stats(c.name, scores))
        sampling[c.name] = {
            "scored": len(docs),
            "of": total,
            "seed": seed,
            "note": f"sampled {len(docs)} of {total}" if len(docs) < total else "all documents",
        }
    info: dict[str, Any] = {"name": model if isinstance(model, str) else getattr(model, "name", str(model))}
    if lm is not None:
        info["fingerprint"] = lm.fingerprint
        info["backend"] = getattr(lm, "backend", backend)
    elif not isinstance(model, str):
        info["fingerprint"] = model.fingerprint
    pairs = [compare_token_stats(stats[0], s) for s in stats[1:]]
    return TokenResult(info, stats, pairs, sampling)
