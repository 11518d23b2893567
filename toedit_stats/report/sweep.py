"""A sweep over editor settings: which settings move a synthetic corpus toward human data, and at
what cost in fluency.

The synthetic corpus is scored **once**, with the largest ``k`` of the grid, into an in-memory
score cache that keeps the top-k candidates only at positions the smallest ``p`` of the grid can
select; every grid point then edits from those scores (the editor asks the cache for its own
``k``, served by slicing the stored top-k) — so each variant is byte-identical to a standalone
``edit`` with the same configuration and seed. Each variant is compared with the human corpus by
every analyzer through a :class:`~toedit_stats.report.Report` with the variant as the edited
corpus: the paired bootstrap gives the change of every headline distance with its interval.

Token statistics of a variant need its own scores. They are computed in the same pass, **from each
document's first changed token on** (:meth:`~toedit_stats.lm.base.LanguageModel.score_variants`:
a causal model's scores before that token are the document's, and the transformers backend reuses
the document's keys and values for the common prefix): while a batch of documents is in memory,
every grid point's edit of each document is made and its suffix scored. Documents a variant left
unchanged are the synthetic ones. Grid points with ``target_change_rate`` (their p is known only
after the whole corpus is scored) or several generations are rescored in full, and with a
``target_change_rate`` point the cache keeps every top-k row (choosing p reads them all).

**Token statistics on a sample of documents.** A grid of many points that change documents from
their first tokens (``exclude_original``, low ``p``) would rescore nearly the whole corpus once per
point. So the variants' token statistics (the ``tokens`` analyzer, or any analyzer that needs the
language model) and the fluency cost are computed on a seeded random sample of the synthetic
documents — the same documents for every grid point, chosen before the scoring pass, so only their
variants are scored — of ``token_fraction`` of the documents (default: ``min(1, 3 / grid points
edited in the pass)``: exact for grids of up to 3 points; a 16-point grid rescores at most three
corpora's worth of tokens — 2.1 measured on the bundled sample, where its scoring took 1.73x one
report's and the exact sweep's 5.1x). The distance's change is paired on those documents (``d(human,
edited sample) − d(human, synthetic sample)``, the whole human corpus as reference) and its
bootstrap interval, resampling the sampled documents, carries the sampling error; every other
analyzer, the changed shares and the edit counts use every document. ``token_fraction=1`` is exact
everywhere. Each row records ``token_documents`` (how many documents the token statistics used).

Fluency cost per variant: ``delta_mean_logprob`` — the change of the mean log-probability per token
of the corpus under the prior (edited minus synthetic; negative is less fluent), with its paired
95% bootstrap interval over documents (``delta_mean_logprob_low``/``_high``) — and
``word_internal_share`` — the share of applied edits whose token was a piece of a longer word
(a letter or digit touches the replaced span without a space), the edits that turn "1970s" into
"1972s" or "Walmart" into "WalmArt".
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..editing.toedit import EditConfig, inside_word
from ..errors import ConfigError
from ..execution import batched, resolve_executor
from ..lm.worker import ModelWorker, score_missing
from .config import DEFAULTS, SampleOptions

__all__ = ["DEFAULT_GRID", "SweepResult", "parse_grid", "sweep", "token_sample"]

DEFAULT_GRID = "p=0.9,0.99;exclude_original=false,true"  # the report's --sweep
TOKEN_BUDGET = 3.0  # default token_fraction = min(1, TOKEN_BUDGET / grid points edited in the pass)
PAPER = {"p": 0.99, "k": 8, "strategy": "up_revise", "exclude_original": False, "target_change_rate": None}


def parse_grid(grid: str | dict[str, Sequence[Any]], *, seed: int = 0) -> list[EditConfig]:
    """``"p=0.9,0.99;k=8,64;beta=1,1.5;exclude_original=false,true"`` (or a dict of lists) -> the
    cartesian product as :class:`EditConfig` objects, each value typed by its field and validated.

    >>> [ (c.p, c.k) for c in parse_grid("p=0.9,0.99;k=8") ]
    [(0.9, 8), (0.99, 8)]
    """
    from ..options import option_fields

    fields = {f.name: f for f in option_fields(EditConfig)}
    if isinstance(grid, str):
        axes: dict[str, list[str]] = {}
        for part in grid.split(";"):
            if not part.strip():
                continue
            if "=" not in part:
                raise ConfigError(f"grid: expected NAME=V1,V2 separated by ';', got {part.strip()!r}")
            name, values = part.split("=", 1)
            axes[name.strip().replace("-", "_")] = [v.strip() for v in values.split(",") if v.strip()]
        typed: dict[str, list[Any]] = {}
        for name, values in axes.items():
            f = fields.get(name)
            if f is None or name == "seed":
                raise ConfigError(
                    f"grid: unknown edit option {name!r}; choose from {', '.join(n for n in fields if n != 'seed')}"
                )
            typed[name] = [_typed(name, v, f.metadata["kind"]) for v in values]
    else:
        typed = {k: list(v) for k, v in grid.items()}
    if not typed or any(not v for v in typed.values()):
        raise ConfigError("grid: give at least one value for each option")
    names = list(typed)
    out = []
    for combo in itertools.product(*(typed[n] for n in names)):
        out.append(EditConfig(**dict(zip(names, combo)), seed=seed))
    return out


def _typed(name: str, value: str, kind: str) -> Any:
    try:
        if kind == "float":
            return None if value.lower() == "none" else float(value)
        if kind == "int":
            return int(value)
        if kind == "bool":
            if value.lower() not in ("true", "false"):
                raise ValueError
            return value.lower() == "true"
    except ValueError:
        raise ConfigError(f"grid: {name} = {value!r} is not a {kind}") from None
    return value


@dataclass
class SweepResult:
    """One row per grid point (``rows``), the edit-effect rows of each variant (``effects``),
    and the ``frontier()`` figure. ``to_frame()`` is the table."""

    rows: list[dict[str, Any]]
    effects: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)

    def effects_frame(self):
        import pandas as pd

        return pd.DataFrame(self.effects)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "effects": self.effects, "config": self.config}

    def frontier(self):
        """Changed share (x) against the relative change of the distance to human (y, % of the
        synthetic corpus's distance from identical; below 0 is toward human), one panel per
        analyzer, 95% intervals where the bootstrap gives them, colour = fluency cost (change of
        mean log-probability); the paper's setting is the star. Metrics whose distance is near
        its identical-corpora value have no relative change (see :func:`_effect_row`): they are
        left out of the panel's mean and named under it (their absolute Δ is in the table)."""
        from ..plotting import _lit, _plt

        plt = _plt()
        fams = sorted({e["analyzer"] for e in self.effects})
        fig, axes = plt.subplots(
            1,
            max(1, len(fams)),
            figsize=(4.2 * max(1, len(fams)) + 1.5, 4.4),
            squeeze=False,
            layout="constrained",
        )
        costs = [r["delta_mean_logprob"] for r in self.rows if math.isfinite(r["delta_mean_logprob"])]
        lo, hi = (min(costs), max(costs)) if costs else (-1, 0)
        norm = plt.Normalize(vmin=min(lo, -1e-6), vmax=max(hi, 0))
        cmap = plt.cm.viridis
        for ax, fam in zip(axes[0], fams):
            for r in self.rows:
                es = [e for e in self.effects if e["analyzer"] == fam and e["point"] == r["point"]]
                rel = [e for e in es if math.isfinite(e["relative"])]
                if not rel:
                    continue
                y = float(np.mean([e["relative"] for e in rel]))
                ylo = (
                    float(np.mean([e["relative_low"] for e in rel]))
                    if all(math.isfinite(e["relative_low"]) for e in rel)
                    else math.nan
                )
                yhi = (
                    float(np.mean([e["relative_high"] for e in rel]))
                    if all(math.isfinite(e["relative_high"]) for e in rel)
                    else math.nan
                )
                x = 100 * r["changed_share"]
                color = (
                    cmap(norm(r["delta_mean_logprob"])) if math.isfinite(r["delta_mean_logprob"]) else "#999"
                )
                if math.isfinite(ylo) and math.isfinite(yhi):
                    ax.plot([x, x], [ylo, yhi], color=color, lw=1.2, alpha=0.8)
                ax.scatter(
                    [x],
                    [y],
                    s=130 if r["paper"] else 40,
                    marker="*" if r["paper"] else "o",
                    color=color,
                    edgecolors="black" if r["paper"] else "none",
                    zorder=3,
                )
            near = sorted(
                {
                    e["label"]
                    for e in self.effects
                    if e["analyzer"] == fam and not math.isfinite(e["relative"])
                }
            )
            if near:
                ax.text(
                    0.01,
                    0.01,
                    "not shown (distance near its identical value; absolute Δ in the table):\n"
                    + "\n".join(_lit(x) for x in near),
                    transform=ax.transAxes,
                    fontsize=7,
                    va="bottom",
                    color="#555",
                )
            ax.axhline(0, color="#333", lw=1)
            ax.set_title(_lit(fam), fontsize=10)
            ax.set_xlabel("tokens changed (%)")
        axes[0][0].set_ylabel(
            "Δ distance to human, % of synthetic's distance\n(mean over the family's metrics)"
        )
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=axes[0].tolist(), label="Δ mean log-probability per token (fluency cost)")
        fig.suptitle(
            "Editor sweep: below 0 = toward human; star = the paper's setting (p 0.99, k 8, up_revise)"
        )
        return fig


def token_sample(n: int, fraction: float, seed: int) -> list[int]:
    """Positions (sorted) of the seeded sample of ``n`` documents on which a sweep computes its
    variants' token statistics: ``ceil(fraction * n)`` of them (at least 2, at most ``n``);
    every position when ``fraction >= 1``."""
    if fraction >= 1 or n <= 2:
        return list(range(n))
    m = min(n, max(2, math.ceil(fraction * n)))
    rng = np.random.default_rng([seed, 0x5EED, 12])
    return sorted(int(i) for i in rng.choice(n, size=m, replace=False))


def _fluency(synthetic, edited, replicates: int, seed: int) -> tuple[float, float, float]:
    """Change of the mean log-probability per token (edited minus synthetic, ratio of sums over
    the documents) and its 95% basic-bootstrap interval, resampling documents paired (the two
    stats hold the same documents in the same order); NaN interval without replicates."""
    from .effects import _basic

    def per_doc(stats):
        toks = np.asarray(stats.doc_tokens, np.float64)
        ppl = np.asarray(stats.doc_ppl, np.float64)
        ok = np.isfinite(ppl) & (toks > 0)
        return np.where(ok, toks, 0.0), np.where(ok, -toks * np.log(np.where(ok, ppl, 1.0)), 0.0)

    (ts, ls), (te, le) = per_doc(synthetic), per_doc(edited)
    if ts.size != te.size or not ts.sum() or not te.sum():
        return math.nan, math.nan, math.nan
    point = le.sum() / te.sum() - ls.sum() / ts.sum()
    if replicates < 1 or ts.size < 2:
        return float(point), math.nan, math.nan
    rng = np.random.default_rng([seed, 0xF1, 12])
    w = rng.multinomial(ts.size, np.full(ts.size, 1 / ts.size), size=replicates).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ le) / (w @ te) - (w @ ls) / (w @ ts)
    lo, hi = _basic(float(point), reps)
    return float(point), lo, hi


def _word_internal(edited) -> tuple[int, int]:
    """(applied replacements, those whose token was a piece of a longer word)."""
    n = inside = 0
    for e in edited:
        text = e.original
        for a in e.audits[:1]:
            for _, (s, t), old, new, _ in a.positions or []:
                if not new:
                    continue
                n += 1
                inside += inside_word(text, s, t, old)
    return n, inside


def _share_embedder(analyzer: Any, seed: int) -> Any:
    """An embedding analyzer with its embedder loaded once behind an in-memory cache, so that every
    variant embeds only the texts it changed (TF-IDF is refitted per comparison: left alone)."""
    from ..embed import CachedEmbedder, TfidfEmbedder, load_embedder

    if not any(f.name == "embedder" for f in dataclasses.fields(analyzer)):
        return analyzer
    emb = load_embedder(analyzer.embedder, seed=seed)
    if isinstance(getattr(emb, "inner", emb), TfidfEmbedder):
        return analyzer
    return dataclasses.replace(analyzer, embedder=CachedEmbedder(emb, memory=True), cache=False)


class VariantScoreWorker(ModelWorker):
    """Scores a batch of ``(position, document)`` with ``top_k`` candidates and, for the documents
    of the token sample (``sampled`` positions), the distinct texts each inline grid point
    (``configs``) makes of it, in one pass (a variant's shared prefix is not scored again).
    Returns ``(text, top_k, scores)`` for each document and variant."""

    def __init__(
        self, model: Any, configs: Sequence[EditConfig], top_k: int, sampled: set[int], *, loaded=None
    ):
        super().__init__(model, loaded=loaded)
        self.configs, self.top_k, self.sampled = list(configs), top_k, sampled

    def __call__(self, batch: Sequence[tuple[int, Any]]) -> list[tuple[str, int, Any]]:
        from ..editing.toedit import doc_rng, edit_scores

        token_text = self.lm.token_text
        positions = {id(d): pos for pos, d in batch}
        made: dict[int, list[str]] = {}

        def variants(doc: Any, scores: Any) -> list[str]:
            pos = positions.get(id(doc))
            if pos not in self.sampled:  # its variants are not scored: not in the token sample
                return []
            rng = lambda c: doc_rng(c.seed, doc.id, 0)  # noqa: E731
            texts = (edit_scores(doc.text, scores, c, token_text, rng(c))[0] for c in self.configs)
            made[pos] = list(dict.fromkeys(t for t in texts if t and t != doc.text))
            return made[pos]

        out: list[tuple[str, int, Any]] = []
        docs = [d for _, d in batch]
        for (pos, d), (sc, vs) in zip(batch, self.lm.score_variants(docs, variants, top_k=self.top_k)):
            out.append((d.text, self.top_k, sc))
            out.extend((t, 0, v) for t, v in zip(made.get(pos, []), vs))
        return out


def sweep(
    human: Any,
    synthetic: Any,
    grid: str | dict[str, Sequence[Any]] | Sequence[EditConfig],
    *,
    lm: Any = "smollm2-135m",
    analyzers: Sequence[Any] | None = None,
    max_docs: int | None = DEFAULTS.max_docs,
    seed: int = 0,
    bootstrap: int = DEFAULTS.bootstrap,
    token_fraction: float | None = None,
    executor: Any = None,
    progress: bool = False,
) -> SweepResult:
    """Edit ``synthetic`` at every grid point from one scoring pass and measure each variant
    against ``human`` (see the module docstring). ``grid`` is a grid string, a dict of value lists,
    or a list of :class:`EditConfig`. ``token_fraction`` (0 < f <= 1; ``None``: ``min(1, 3 / grid
    points edited in the pass)``) is the share of synthetic documents whose variants are scored for
    the token statistics and the fluency cost. The scoring runs on ``executor``'s workers (default:
    this process; on Ray each worker loads ``lm``, which must then be a name or an ``LMConfig``):
    the synthetic documents (largest k) with their inline variants in one pass
    (:class:`VariantScoreWorker`), then the human documents; everything else runs here from the
    cache."""
    configs = _grid_configs(grid, seed)
    SampleOptions(max_docs=max_docs, bootstrap=bootstrap)  # checked as the flags are
    if token_fraction is not None and (
        isinstance(token_fraction, bool)
        or not isinstance(token_fraction, (int, float))
        or not 0 < token_fraction <= 1
    ):
        raise ConfigError(f"token_fraction must be in (0, 1], got {token_fraction!r}")
    run = _SweepRun.prepare(
        human, synthetic, configs, lm, analyzers, max_docs, seed, bootstrap, token_fraction
    )
    run.executor = resolve_executor(executor)
    t0 = time.perf_counter()
    reused0 = getattr(run.shared.inner, "reused_tokens", 0)
    rescored0 = getattr(run.shared.inner, "rescored_tokens", 0)
    run.score_pass(configs)
    score_seconds = time.perf_counter() - t0
    rows, effects = [], []
    for i, cfg in enumerate(configs):
        row, point_effects = run.measure(i, cfg)
        rows.append(row)
        effects += point_effects
    shared = run.shared
    config = {
        "grid": [dataclasses.asdict(c) for c in configs],
        "max_docs": max_docs,
        "seed": seed,
        "bootstrap": bootstrap,
        "token_fraction": run.fraction,
        "token_documents": len(run.sampled) if run.scored else 0,
        "documents": len(run.docs),
        "engine": run.executor.manifest(),
        "model": shared.info(),
        "score_seconds": round(score_seconds, 2),
        "score_cache": {"hits": shared.hits, "misses": shared.misses},
        "topk_floor": shared.topk_floor,
        # variant tokens whose scores came from the synthetic document's pass, and those recomputed
        "suffix_rescoring": {
            "reused_tokens": getattr(shared.inner, "reused_tokens", 0) - reused0,
            "rescored_tokens": getattr(shared.inner, "rescored_tokens", 0) - rescored0,
        },
    }
    return SweepResult(rows, effects, config)


def _grid_configs(grid: Any, seed: int) -> list[EditConfig]:
    configs = (
        list(grid)
        if isinstance(grid, Sequence) and not isinstance(grid, str)
        else parse_grid(grid, seed=seed)
    )
    if not configs:
        raise ConfigError("grid: no grid points")
    return configs


@dataclass
class _SweepRun:
    """One sweep's shared state: the sampled corpora, the analyzers (those that score on the token
    sample apart), the model behind the sweep's score cache, the token sample."""

    lm: Any
    built: list[Any]
    scored: list[Any]
    shared: Any
    hs: Any
    ss: Any
    docs: list[Any]
    fraction: float
    sampled: list[int]
    seed: int
    bootstrap: int
    executor: Any = None

    @classmethod
    def prepare(cls, human, synthetic, configs, lm, analyzers, max_docs, seed, bootstrap, token_fraction):
        from ..analyzers.base import prepare_corpora
        from ..lm import load_lm
        from ..lm.cache import CachedLM
        from .inputs import as_corpus, make_analyzers

        built = [_share_embedder(a, seed) for a in make_analyzers(analyzers)]
        scored = [a for a in built if "lm" in a.needs]
        model = load_lm(lm)
        shared = model if isinstance(model, CachedLM) else CachedLM(model, memory=True)
        (hs, ss), _ = prepare_corpora(
            [as_corpus(human, "human"), as_corpus(synthetic, "synthetic")], 0, max_docs, seed
        )
        docs = list(ss)
        inline = _inline(configs)
        if not isinstance(model, CachedLM) and len(inline) == len(configs):
            revising = [c.p for c in configs if c.revises]
            shared.topk_floor = min(revising) if revising else None
        fraction = (
            float(token_fraction)
            if token_fraction is not None
            else min(1.0, TOKEN_BUDGET / max(1, len(inline)))
        )
        sampled = token_sample(len(docs), fraction, seed) if scored else list(range(len(docs)))
        return cls(lm, built, scored, shared, hs, ss, docs, fraction, sampled, seed, bootstrap)

    def score_pass(self, configs: list[EditConfig]) -> None:
        """The one scoring pass: every variant edits from it, and every inline variant of the token
        sample is scored in it; then the human documents."""
        kmax = max(c.k for c in configs)
        worker = VariantScoreWorker(self.lm, _inline(configs), kmax, set(self.sampled), loaded=self.shared)
        for texts_scores in self.executor.map_batches(worker, batched(list(enumerate(self.docs)), 256)):
            for text, top_k, sc in texts_scores:
                self.shared.add(text, sc, top_k)  # only what another process scored
        if self.scored:
            score_missing(self.shared, list(self.hs), 0, self.executor, self.lm, batch=256)

    def measure(self, i: int, cfg: EditConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Grid point ``i``: its variant edited from the cache and compared with the human corpus;
        its table row and its effects."""
        from ..corpus import Document
        from ..editing.toedit import edit, resolve_target

        t = time.perf_counter()
        cfg = resolve_target(self.docs, self.shared, cfg)
        edited = list(edit(self.docs, self.shared, cfg, audit_positions=True))
        variant_docs = [Document(e.doc.id, e.doc.text, e.doc.metadata) for e in edited]
        if self.scored:  # e.g. target_change_rate points: variants the pass did not score
            score_missing(self.shared, [variant_docs[j] for j in self.sampled], 0, self.executor, self.lm)
        reps = self._reports(variant_docs)
        row = self._row(i, cfg, edited, reps[-1])
        effects = [_effect_row(i, e) for r in reps for e in r.effects()["effects"]]
        verdicts = {"toward human": 0, "away from human": 0, "no detectable change": 0}
        for e in effects:
            if e["verdict"] in verdicts:
                verdicts[e["verdict"]] += 1
        row.update({f"distances_{k.replace(' ', '_')}": v for k, v in verdicts.items()})
        row["seconds"] = round(time.perf_counter() - t, 2)
        return row, effects

    def _reports(self, variant_docs: list[Any]) -> list[Any]:
        """The variant measured by a report: on every document, or (a token sample) the analyzers
        that score on the sample and the others on every document."""
        from ..corpus import MemoryCorpus
        from .build import Report

        def report(analyzers, s, v):
            return Report(
                analyzers, None, lm=self.shared, max_docs=None, seed=self.seed, bootstrap=self.bootstrap
            ).run(self.hs, s, v)

        variant = MemoryCorpus(variant_docs, name="edited")
        if len(self.sampled) == len(self.docs):
            return [report(self.built, self.ss, variant)]
        sub_s = MemoryCorpus([self.docs[j] for j in self.sampled], name=self.ss.name)
        sub_v = MemoryCorpus([variant_docs[j] for j in self.sampled], name="edited")
        groups = (
            ([a for a in self.built if a not in self.scored], self.ss, variant),
            (self.scored, sub_s, sub_v),
        )
        return [report(g, s, v) for g, s, v in groups if g]

    def _row(self, i: int, cfg: EditConfig, edited: list[Any], rep: Any) -> dict[str, Any]:
        tok = sum(e.audit.tokens for e in edited)
        changed = sum(e.audit.changed + e.audit.deleted for e in edited)
        n_rep, inside = _word_internal(edited)
        fluency = fluency_low = fluency_high = math.nan
        if "tokens" in rep.results:
            st = {c.name: c for c in rep.results["tokens"].corpora}
            fluency, fluency_low, fluency_high = _fluency(
                st["synthetic"], st["edited"], self.bootstrap, self.seed
            )
        return {
            "point": i,
            **{k: v for k, v in cfg.to_dict().items() if k not in ("seed", "generations")},
            "p_used": cfg.p,
            "paper": all(cfg.to_dict().get(k) == v for k, v in PAPER.items()) and cfg.effective_beta == 1.5,
            "tokens": tok,
            "selected": sum(e.audit.selected for e in edited),
            "changed": changed,
            "changed_share": changed / tok if tok else math.nan,
            "expected_share": sum(e.audit.expected_changed for e in edited) / tok if tok else math.nan,
            "documents_changed": sum(1 for e in edited if e.doc.text != e.original),
            "token_documents": len(self.sampled) if self.scored else 0,
            "delta_mean_logprob": fluency,
            "delta_mean_logprob_low": fluency_low,
            "delta_mean_logprob_high": fluency_high,
            "word_internal_share": inside / n_rep if n_rep else math.nan,
        }


def _inline(configs: list[EditConfig]) -> list[EditConfig]:
    """The grid points edited inside the scoring pass (p known up front, one generation)."""
    return [c for c in configs if c.target_change_rate is None and c.generations == 1]


RELATIVE_MIN_SE = 3.0  # a relative change only where the distance is this many SEs from identical


def _effect_row(i: int, e: dict[str, Any]) -> dict[str, Any]:
    """One effect of grid point ``i``, with its change relative to the synthetic corpus's
    distance from the value identical corpora give (negative: toward human) — only where that
    distance is far from it (at least :data:`RELATIVE_MIN_SE` bootstrap standard errors): near it,
    a relative change divides by almost nothing (a tiny absolute change reads as +50%), so it is
    left empty and the absolute ``delta`` with its interval is what the row says."""
    identical = e.get("identical", math.nan)
    gap = e["synthetic"] - (identical if math.isfinite(identical) else 0.0)
    se = e.get("base_se", math.nan)
    sign = 1 if e["better"] == "lower" else -1
    far = math.isfinite(se) and abs(gap) >= RELATIVE_MIN_SE * se and gap != 0

    def rel(x):
        return 100 * x / abs(gap) * sign if far else math.nan

    lo_hi = (
        sorted([rel(e["low"]), rel(e["high"])]) if math.isfinite(e["low"]) and far else [math.nan, math.nan]
    )
    return {
        "point": i,
        **{k: e[k] for k in ("analyzer", "metric", "label", "delta", "low", "high", "verdict")},
        "relative": rel(e["delta"]),
        "relative_low": lo_hi[0],
        "relative_high": lo_hi[1],
        "identical": identical,
        "synthetic_se": se,
    }


def add_sweep(report: Any, grid: Any = True) -> SweepResult:
    """Run a sweep over ``grid`` (a grid string, a dict, a list of configurations, or ``True`` for
    :data:`DEFAULT_GRID`) on a finished report's sample and model — the same sampled human and
    synthetic documents, the model behind the same score cache (nothing is scored twice), the
    report's analyzers, seed, bootstrap and executor — and attach it to the report (its section,
    table and frontier figure). Returns the sweep's result."""
    ctx = report.context
    if ctx is None:
        raise ConfigError("add_sweep needs a report that has run")
    configs = parse_grid(DEFAULT_GRID if grid is True else grid, seed=report.seed)
    t = time.perf_counter()
    n = report.names
    report.sweep_result = sweep(
        ctx.corpora[n["human"]],
        ctx.corpora[n["synthetic"]],
        configs,
        lm=ctx.lm if ctx.lm is not None else report.lm_spec,
        analyzers=report.analyzers,
        max_docs=None,
        seed=report.seed,
        bootstrap=report.bootstrap,
        executor=report.executor,
    )
    report.timings["sweep"] = round(time.perf_counter() - t, 3)
    report.timings["total"] = round(report.timings.get("total", 0.0) + report.timings["sweep"], 3)
    report._verdict = report._figures = report._pngs = report._effects = None
    return report.sweep_result
