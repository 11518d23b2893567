"""The report as stages over one context: read/sample → select → edit → analyze → groups →
per-document scores → provenance. :meth:`~toedit_stats.report.Report.run` runs them in order; each
is a function ``stage(report, ctx)`` that reads the report's configuration, works on the
:class:`RunContext` (the sampled corpora, the one loaded model behind its score cache, the shared
embedders, the executor) and writes its part of the result onto the report. The sweep runs after
the report, on the same context (:func:`toedit_stats.report.sweep.add_sweep`)."""

from __future__ import annotations

import dataclasses
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._faults import checkpoint
from .._provenance import file_facts, package_versions
from ..analyzers.base import Analyzer, prepare_corpora
from ..corpus import Corpus, Document, MemoryCorpus
from ..editing.job import EditWorker, check_k, edit_job_config, edit_totals
from ..editing.toedit import resolve_target
from ..embed.cache import CachedEmbedder
from ..embed.loading import load_embedder
from ..embed.worker import embed_count, embed_texts
from ..errors import ConfigError
from ..execution import batched
from ..lm.cache import CachedLM
from ..lm.config import LMConfig, load_lm
from ..lm.worker import score_missing
from ..progress import TokenProgress
from ..progress import bar as progress_bar
from .inputs import SELECTED, UNIFORM, as_corpus, default_model, derived_source

Report = Any  # a toedit_stats.report.Report (which imports this module)
__all__ = ["STAGES", "RunContext"]


@dataclass
class RunContext:
    """What the stages of one report run share: the corpora (by the report's names, sampled), how
    many documents each had before sampling, the one model per spec behind its score cache, the
    embedders (each text embedded once), and the executor of the model work."""

    names: dict[str, str]
    sources: dict[str, Corpus]
    corpora: dict[str, Corpus]
    totals: dict[str, int]
    edited_given: bool
    executor: Any
    work_dir: Any = None
    models: dict[Any, Any] = field(default_factory=dict)
    lm: Any = None
    embedders: dict[Any, Any] = field(default_factory=dict)

    def model_for(self, spec: Any) -> CachedLM:
        """One loaded model per spec, behind a score cache (in memory, or in the work folder so
        that a resumed report reuses every score)."""
        plain = isinstance(spec, (str, tuple)) or dataclasses.is_dataclass(spec)
        key = repr(spec) if plain else id(spec)
        if key not in self.models:
            lm = spec.load() if isinstance(spec, LMConfig) else load_lm(spec)
            if not isinstance(lm, CachedLM):
                lm = (
                    CachedLM(lm, Path(self.work_dir) / "scores")
                    if self.work_dir
                    else CachedLM(lm, memory=True)
                )
            self.models[key] = lm
        return self.models[key]

    def ordered(self) -> list[str]:
        """The corpora's names in the report's order (the human one first)."""
        n = self.names
        return [x for x in (n["human"], n["synthetic"], n["edited"], SELECTED, UNIFORM) if x in self.corpora]


def read_stage(report: Report, human: Any, synthetic: Any, edited: Any) -> RunContext:
    """The corpora, each sampled once (seeded; stratified by ``group_by``) and named by the report."""
    names = report.names
    src = {
        names["human"]: as_corpus(human, names["human"]),
        names["synthetic"]: as_corpus(synthetic, names["synthetic"]),
    }
    if edited is not None:
        src[names["edited"]] = as_corpus(edited, names["edited"])
    prepared, totals = prepare_corpora(
        list(src.values()), 0, report.max_docs, report.seed, stratify=report.group_by
    )
    totals = {key: totals[mc.name] for key, mc in zip(src, prepared)}
    for key, mc in zip(src, prepared):  # the analyzers label corpora by the report's names
        mc.name = key
    ctx = RunContext(
        names, src, dict(zip(src, prepared)), totals, edited is not None, report.executor, report.work_dir
    )
    report._synthetic_docs = list(ctx.corpora[names["synthetic"]])
    editing = report.editor is not None and edited is None
    if editing or any("lm" in a.needs for a in report.analyzers):
        ctx.lm = ctx.model_for(report.lm_spec)
    return ctx


def select_stage(report: Report, ctx: RunContext) -> bool:
    """DSIR-select ``select_n`` synthetic documents with the human sample as target, and as many
    uniformly at random as the control (both seeded). Before any model work: a ``select_n`` the
    sample cannot give fails at once."""
    if not report.select:
        return False
    import numpy as np

    from ..selection import dsir_features, dsir_log_weights, gumbel_top_k

    docs = list(ctx.corpora[report.names["synthetic"]])
    n = report.select_n if report.select_n is not None else len(docs) // 2
    if not 2 <= n < len(docs):
        raise ConfigError(
            f"select_n must be at least 2 and smaller than the synthetic sample ({len(docs)} documents), got {n}"
        )
    weights = dsir_log_weights(
        dsir_features([d.text for d in docs]),
        dsir_features([d.text for d in ctx.corpora[report.names["human"]]]),
    )
    chosen = gumbel_top_k(weights, n, seed=report.seed)
    uniform = np.sort(np.random.default_rng(report.seed).choice(len(docs), n, replace=False))
    for name, idx in ((SELECTED, chosen), (UNIFORM, uniform)):
        ctx.corpora[name] = MemoryCorpus([docs[i] for i in idx], name=name)
        ctx.corpora[name]._canonical = True
        ctx.totals[name] = len(docs)
    report.selection = {
        "method": report.select,
        "n": int(n),
        "of": len(docs),
        "seed": report.seed,
        "selected_ids": [docs[i].id for i in chosen],
        "uniform_ids": [docs[i].id for i in uniform],
        "overlap": int(np.intersect1d(chosen, uniform).size),
        "log_weights": {d.id: float(w) for d, w in zip(docs, weights)},
    }
    return True


def edit_stage(report: Report, ctx: RunContext) -> bool:
    """ToEdit on the synthetic sample by the executor's workers (:class:`EditWorker`, in the
    editor's buffers of 64 documents), each original's scores and each edited text's (from its first
    changed token on, in the same pass) put into the score cache for the token analyzer."""
    if report.editor is None or ctx.edited_given:
        return False
    lm, n_s, n_e = ctx.lm, report.names["synthetic"], report.names["edited"]
    check_k(lm, report.editor)
    docs = list(ctx.corpora[n_s])
    if report.editor.target_change_rate is not None:  # p from one scoring pass over the sample
        k = report.editor.k if report.editor.revises else 0
        score_missing(lm, docs, k, ctx.executor, report.lm_spec, batch=64)
        report.editor = resolve_target(docs, lm, report.editor)
    rescore = any("lm" in a.needs and getattr(a, "model", None) == default_model(a) for a in report.analyzers)
    worker = EditWorker(report.lm_spec, report.editor, score_edited=rescore, loaded=lm)
    bar = TokenProgress(
        chars_total=sum(len(d.text) for d in docs),
        documents=len(docs),
        desc=f"editing {n_s}",
        enabled=report.progress,
    )
    if report.progress:
        worker.on_tokens, worker.on_document = bar.on_tokens, bar.document_done
    report.edited_docs = []
    # the editor's buffers: 64 documents, more on a GPU (TransformersLM.edit_buffer_docs)
    for part in ctx.executor.map_batches(worker, batched(docs, getattr(lm, "edit_buffer_docs", 64))):
        for ed in part:
            _cache_edit_scores(lm, ed, report.editor)
        report.edited_docs += part
        bar.batch_done(
            chars=sum(len(e.original) for e in part),
            tokens=sum(e.audits[0].tokens for e in part if e.audits),
            documents=len(part),
        )
    bar.close()
    report.edited_records = [e.record() for e in report.edited_docs]
    ctx.corpora[n_e] = MemoryCorpus(
        [Document(e.doc.id, e.doc.text, e.doc.metadata) for e in report.edited_docs], name=n_e
    )
    ctx.corpora[n_e]._canonical = True
    ctx.totals[n_e] = len(report.edited_docs)
    report.edit = {**edit_totals(report.edited_docs), "config": report.editor.to_dict()}
    checkpoint("report-edited")
    return True


def _cache_edit_scores(lm: CachedLM, ed: Any, editor: Any) -> None:
    """Scores an editing worker computed elsewhere, into the score cache (here they are already)."""
    k = editor.k if editor.revises else 0
    if ed.scores is not None and ed.original:
        lm.add(ed.original, ed.scores, k)
    if ed.edited_scores is not None and ed.doc.text:
        lm.add(ed.doc.text, ed.edited_scores)


def _run_changes(report: Report, ctx: RunContext, a: Analyzer) -> dict[str, Any]:
    """How the report runs analyzer ``a``: its seed, every sampled document, the shared model."""
    names = {f.name for f in dataclasses.fields(a)}
    changes: dict[str, Any] = {"seed": report.seed, "max_docs": None}
    if "progress" in names:
        changes["progress"] = report.progress
    if "lm" in a.needs and "model" in names:
        own = a.model
        changes["model"] = ctx.lm if isinstance(own, str) and own == default_model(a) else ctx.model_for(own)
    return changes


def _embedder_changes(report: Report, ctx: RunContext, a: Analyzer, ordered: list[Corpus]) -> dict[str, Any]:
    """Vectors of every text, embedded once by the executor's workers (here through one embedder
    cached in memory or in the work folder): the analyzer and the per-document scores read them."""
    embedder = getattr(a, "embedder", None)
    if not isinstance(embedder, str):
        return {}
    if embedder == "tfidf":
        ctx.embedders["tfidf"] = "tfidf"  # fitted on the texts at hand: nothing to share
        return {}
    if embedder not in ctx.embedders:
        cache = getattr(a, "cache", False)
        groups = [[d.text for d in c] for c in ordered]
        bar = (
            progress_bar(total=embed_count(groups, embedder), desc="embedding", unit="doc")
            if report.progress
            else None
        )
        ctx.embedders[embedder] = embed_texts(
            groups,
            embedder,
            ctx.executor,
            seed=report.seed,
            cache=cache,
            loaded=_shared_embedder(embedder, report.seed, cache, report.work_dir),
            progress=bar.update if bar is not None else None,
        )
        if bar is not None:
            bar.close()
    return {"embedder": ctx.embedders[embedder], "cache": False}


def analyze_stage(report: Report, ctx: RunContext) -> bool:
    """Every analyzer on every corpus, the human one as reference; each model-work text scored by
    the executor's workers first (each text once)."""
    ordered = [ctx.corpora[n] for n in ctx.ordered()]
    if ctx.lm is not None and any("lm" in a.needs for a in report.analyzers):
        # in the backends' buffers of 256 documents, as an analyzer scoring a corpus would
        score_missing(ctx.lm, [d for c in ordered for d in c], 0, ctx.executor, report.lm_spec, batch=256)
    stages = (
        progress_bar(total=len(report.analyzers), desc="analyzers", unit="analyzer")
        if report.progress
        else None
    )
    report._effective, report._used = {}, {}
    for a in report.analyzers:
        t = time.perf_counter()
        changes = _run_changes(report, ctx, a)
        report._used[a.name] = dataclasses.replace(a, **changes).params()
        effective = dataclasses.replace(a, **changes, **_embedder_changes(report, ctx, a, ordered))
        report._effective[a.name] = (
            dataclasses.replace(effective, progress=False) if "progress" in changes else effective
        )
        report.results[a.name] = effective.analyze(ordered, reference=0)
        report.timings[a.name] = time.perf_counter() - t
        checkpoint("report-analyzer")
        if stages is not None:
            stages.update(1)
    if stages is not None:
        stages.close()
    return False  # timed per analyzer


def groups_stage(report: Report, ctx: RunContext) -> bool:
    """Every analyzer per value of ``group_by``, the per-group tests Holm-corrected together."""
    if not report.group_by:
        return False
    from .groups import run_groups

    report.groups = run_groups(report, ctx.corpora, report.group_by)
    return True


def scores_stage(report: Report, ctx: RunContext) -> bool:
    """Per-document audit scores of the human, synthetic and edited corpora (the embeddings reused)."""
    if not (report.want_scores and ctx.embedders):
        return False
    n = report.names
    report.scores = _report_scores(
        ctx.corpora[n["human"]],
        [ctx.corpora[x] for x in (n["synthetic"], n["edited"]) if x in ctx.corpora],
        ctx.lm,
        next(iter(ctx.embedders.values())),
        report.seed,
    )
    if report.selection is not None:
        chosen = set(report.selection["selected_ids"])
        report.scores["dsir_selected"] = (report.scores["corpus"] == n["synthetic"]) & report.scores[
            "id"
        ].isin(chosen)
    return True


def provenance_stage(report: Report, ctx: RunContext) -> bool:
    """What was compared (sources, sizes, sampling), how (the configuration as run) and with what
    (versions, model, caches); the edit's manifest in the edit job's format."""
    report.corpora = [_corpus_facts(ctx, name) for name in ctx.ordered()]
    lm = ctx.lm
    report.config = {
        "names": ctx.ordered(),
        "analyzers": report._used,  # as run: the report samples once, so each analyzer sees every sampled document
        "seed": report.seed,
        "max_docs": report.max_docs,
        "model": getattr(lm, "name", None) if lm is not None else None,
        "backend": getattr(lm, "backend", None) if lm is not None else None,
        "edit": report.editor.to_dict() if report.edit else None,
        "edited_given": ctx.edited_given,
        "select": {"method": report.select, "n": report.selection["n"]} if report.selection else None,
        "group_by": report.group_by,
    }
    model_info = lm.info() if lm is not None else None
    report.provenance = {
        "command": report.command or " ".join(sys.argv),
        "versions": package_versions(),
        "model": model_info,
        "platform": platform.platform(),
        "caches": {
            "scores": {"hits": lm.hits, "misses": lm.misses, "on_disk": lm.directory is not None}
            if lm is not None
            else None,
            "work_dir": str(report.work_dir) if report.work_dir is not None else None,
        },
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if report.edit:
        n_s = report.names["synthetic"]
        report.edit_manifest = {
            "config": edit_job_config(
                ctx.sources[n_s],
                model_info,
                report.editor,
                shard=(0, 1),
                chunk_docs=None,
                audit_positions=False,
            ),
            "versions": report.provenance["versions"],
            "complete": True,
            "totals": {k: v for k, v in report.edit.items() if k != "config"},
            "sample": {
                "max_docs": report.max_docs,
                "seed": report.seed,
                "documents": len(ctx.corpora[n_s]),
                "of": ctx.totals[n_s],
            },
        }
    return False


def _corpus_facts(ctx: RunContext, name: str) -> dict[str, Any]:
    c, docs = ctx.sources.get(name), ctx.corpora[name]
    return {
        "name": name,
        "documents": len(docs),
        "of": ctx.totals[name],
        "sampled": len(docs) < ctx.totals[name],
        "characters": sum(len(d.text) for d in docs),
        "source": derived_source(name)
        if c is None
        else [str(p) for p in getattr(c, "paths", ())] or "in memory",
        "files": [] if c is None else [file_facts(f) for f in getattr(c, "files", [])],
    }


def _report_scores(human: Corpus, others: list[Corpus], lm: Any, embedder: Any, seed: int):
    """Per-document scores of the human corpus and each other corpus, each other corpus scored
    against the human one on its own (the edited corpus is near-identical to the synthetic one: pooled,
    each document's twin would sit in the classifier's training folds). Near-duplicate cluster ids
    stay row numbers of the returned frame."""
    import pandas as pd

    from ..scores import score as score_documents

    frames = []
    n_h = len(human)
    for i, c in enumerate(others):
        f = score_documents([c], reference=human, model=lm, embedder=embedder, seed=seed)
        if i:
            f = f.iloc[n_h:].copy()
            offset = sum(len(x) for x in frames) - n_h
            linked = f["near_dup_cluster"] >= n_h
            f.loc[linked, "near_dup_cluster"] += offset
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def _shared_embedder(name: str, seed: int, disk: bool, work_dir: Any = None) -> Any:
    emb = load_embedder(name, seed=seed, cache=disk and work_dir is None)
    if isinstance(emb, CachedEmbedder):
        return emb
    if work_dir is not None:
        return CachedEmbedder(emb, Path(work_dir) / "embeddings")
    return CachedEmbedder(emb, memory=True)


# (timing key, stage): the order a report runs in; a stage returns whether it ran (and so is timed)
STAGES: list[tuple[str, Callable[[Any, RunContext], bool]]] = [
    ("select", select_stage),
    ("edit", edit_stage),
    ("analyze", analyze_stage),
    ("groups", groups_stage),
    ("scores", scores_stage),
    ("provenance", provenance_stage),
]
