"""One subcommand per registered analyzer (made from its declarations), and the analyzer
choice shared by `report` and `sweep`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .common import (
    _analyzer_prefix,
    check_result_dir,
    corpus_options,
    emit_json,
    execution_options,
    lm_options,
    make_executor,
    open_corpora,
    progress_enabled,
    result_options,
    show_table,
    terminal_help,
)

_SHARED_FIELDS = ("seed", "max_docs", "progress", "model")


def analyzer_options(cls: Any, *, shared: bool = True) -> Callable:
    """One analyzer's own options; with ``shared`` also its ``--max-docs`` and ``--all-docs``."""
    from ..options import click_options

    exclude = ("seed", "progress", "model") + (() if shared else ("max_docs",))

    def deco(fn: Callable) -> Callable:
        fn = click_options(cls, prefix=_analyzer_prefix(cls.name), exclude=exclude)(fn)
        if shared:
            fn = click.option("--all-docs", is_flag=True, help="Use every document (overrides --max-docs).")(
                fn
            )
        return fn

    return deco


def make_analyzer(cls: Any, opts: dict[str, Any], *, seed: int, all_docs: bool = False, **extra: Any):
    from ..options import from_options

    if all_docs:
        opts[_analyzer_prefix(cls.name) + "max_docs"] = None
    return from_options(cls, opts, prefix=_analyzer_prefix(cls.name), seed=seed, **extra)


def analyzer_command(name: str) -> click.Command:
    """The subcommand of a registered analyzer: corpus options, its own options (and the model's
    when it needs one), ``-o``/``--json``/``--quiet``; made from the analyzer's declarations."""
    import dataclasses

    from ..registry import get_analyzer

    cls = get_analyzer(name)
    needs_lm = "lm" in cls.needs
    fields = {f.name for f in dataclasses.fields(cls)}

    def run(
        corpora,
        output,
        overwrite,
        as_json,
        quiet,
        all_docs,
        group_by,
        **opts,
    ):
        seed = opts["seed"]
        extra = {"progress": progress_enabled(quiet)} if "progress" in fields else {}
        analyzer = make_analyzer(cls, opts, seed=seed, all_docs=all_docs, **extra)
        if needs_lm:  # validated before anything is read or written; each worker loads its own
            from ..lm.config import LMConfig
            from ..options import from_options

            lm_config = from_options(LMConfig, opts, prefix="lm_")
            lm_config.load()  # the backend built (not loaded): a wrong option fails here
            analyzer = dataclasses.replace(analyzer, model=lm_config)
        if "executor" in fields:
            analyzer = dataclasses.replace(analyzer, executor=make_executor(opts))
        cs = open_corpora(corpora, opts)
        check_result_dir(output, overwrite, cs)
        if group_by:  # every corpus after the reference, one corpus per group
            from ..report.groups import split_by

            cs = [cs[0]] + [g for c in cs[1:] for g in split_by(c, group_by)]
        result = analyzer.analyze(cs)
        if output:
            result.save(output, overwrite=overwrite, inputs=[p for c in cs for p in c.paths])
        if as_json:
            emit_json(result.to_dict())
        elif not quiet:
            show_result(result)

    doc = terminal_help((cls.__doc__ or cls.title).strip().split("\n\n")[0])
    cmd: Callable = run
    cmd = result_options(f"{name}.json")(cmd)
    if "executor" in fields:
        cmd = execution_options(cmd)
    cmd = click.option(
        "--group-by",
        default=None,
        metavar="FIELD",
        help="Split every corpus after the reference into one corpus per value of this metadata field.",
    )(cmd)
    cmd = analyzer_options(cls)(cmd)
    if needs_lm:
        cmd = lm_options(cmd)
    cmd = corpus_options(cmd)
    cmd = click.argument("corpora", nargs=-1, required=True, metavar="CORPUS...")(cmd)
    return click.command(name=name, help=doc + " The first corpus is the reference.")(cmd)


def show_result(result) -> None:
    """The terminal view of a result: every metric, one column per corpus."""
    frame = result.to_frame()
    if frame.empty:
        click.echo("no metrics")
        return
    for kind, title in (
        ("per corpus", "per corpus"),
        ("distance", "against the reference (first corpus)"),
        ("test", "tests against the reference (p-values)"),
    ):
        part = frame[frame["kind"] == kind]
        if part.empty:
            continue
        table = part.pivot_table(index="label", columns="corpus", values="value", aggfunc="first", sort=False)
        table = table[[c for c in dict.fromkeys(part["corpus"]) if c in table.columns]]
        show_table(table.reset_index().rename(columns={"label": "metric"}), f"{result.title}: {title}")
        click.echo()


# ---------------------------------------------------------------------------------------------
# TOML job files: typed values into click's default_map


# ---------------------------------------------------------------------------------------------
# report and edit


def _report_analyzer_options(fn: Callable) -> Callable:
    """Every registered analyzer's own options on `report` (without their --max-docs: the
    report samples once for all)."""
    from ..registry import analyzer_names, get_analyzer

    for name in reversed(analyzer_names()):
        fn = analyzer_options(get_analyzer(name), shared=False)(fn)
    return fn


def _chosen_analyzers(analyzers: str | None, opts: dict[str, Any]) -> list[Any]:
    """The analyzers of `--analyzers` (default: all registered), built from their options; the
    options of analyzers not chosen are parsed and dropped (`report`, `sweep`)."""
    from ..registry import analyzer_names, get_analyzer

    chosen = [a.strip() for a in analyzers.split(",") if a.strip()] if analyzers else analyzer_names()
    built = [make_analyzer(get_analyzer(n), opts, seed=opts["seed"]) for n in chosen]
    for n in analyzer_names():
        if n not in chosen:
            for key in [k for k in opts if k.startswith(_analyzer_prefix(n))]:
                opts.pop(key)
    return built


def mixture_command() -> click.Command:
    """`toedit-stats mixture CORPUS... --human H --synthetic S`: the synthetic share α of each
    corpus (the registered analyzer's own command, with the two references named)."""
    from ..analyzers.mixture import MixtureAnalyzer

    def run(corpora, human, synthetic, output, overwrite, as_json, quiet, all_docs, group_by, **opts):
        analyzer = make_analyzer(MixtureAnalyzer, opts, seed=opts["seed"], all_docs=all_docs)
        cs = open_corpora([human, synthetic, *corpora], opts)
        check_result_dir(output, overwrite, cs)
        refs, targets = cs[:2], cs[2:]
        if group_by:  # each target corpus split into one corpus per value; the references whole
            from ..report.groups import split_by

            targets = [g for c in targets for g in split_by(c, group_by)]
        result = analyzer.analyze([*refs, *targets])
        if output:
            result.save(output, overwrite=overwrite, inputs=[p for c in cs for p in c.paths])
        if as_json:
            emit_json(result.to_dict())
        elif not quiet:
            show_table(result.extra_tables()["mixture"], result.title)

    cmd: Callable = run
    cmd = result_options("mixture.json")(cmd)
    cmd = click.option(
        "--group-by",
        default=None,
        metavar="FIELD",
        help="Split every target corpus into one corpus per value of this metadata field.",
    )(cmd)
    cmd = analyzer_options(MixtureAnalyzer)(cmd)
    cmd = click.option("--synthetic", required=True, help="The synthetic reference corpus.")(cmd)
    cmd = click.option("--human", required=True, help="The human reference corpus.")(cmd)
    cmd = corpus_options(cmd)
    cmd = click.argument("corpora", nargs=-1, required=False, metavar="[CORPUS]...")(cmd)
    doc = (
        "The share α of each CORPUS that looks like the synthetic reference, by word occurrence "
        "(Liang et al. 2024), with a bootstrap interval; also α of each reference's held-out part "
        "(human near 0, synthetic near 1) as a check. Needs no model."
    )
    return click.command(name="mixture", help=doc)(cmd)
