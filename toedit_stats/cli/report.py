"""`toedit-stats report`: the whole audit in one folder."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..errors import ConfigError, InputError
from .analyzers import _chosen_analyzers, _report_analyzer_options
from .common import (
    QUIET_HELP,
    config_option,
    corpus_options,
    edit_options,
    execution_options,
    lm_options,
    make_edit_config,
    make_executor,
    open_corpora,
    progress_enabled,
    sample_options,
    sample_settings,
    show_table,
)


def report_work_dir(out, settings: dict, inputs: list, *, resume: bool, overwrite: bool):
    """``OUTPUT.parts``: where a report keeps its scores and embeddings until it is saved. A left-over
    one needs ``--resume`` (same settings and inputs, else the settings that differ are named) or
    ``--overwrite`` (start over)."""
    import json
    import shutil
    from pathlib import Path

    from .._io import atomic_write_text, dumps, make_work_dir, read_marker, work_lock
    from .._provenance import file_facts
    from ..editing.job import _fingerprint, config_differences

    work = Path(str(out) + ".parts")
    config = json.loads(dumps({"settings": settings, "inputs": [file_facts(p) for p in inputs]}))
    fp = _fingerprint(config)
    manifest = work / "manifest.json"
    if work.exists():
        if not work.is_dir() or read_marker(work) is None:
            raise ConfigError(
                f"{work} exists and was not written by toedit-stats; move it away or choose another -o"
            )
        if overwrite:
            with work_lock(work):  # not while another run uses it
                pass
            shutil.rmtree(work)
        elif not resume:
            raise ConfigError(
                f"{work} holds the work of a report that did not finish; pass --resume to continue it, "
                "or --overwrite to start over"
            )
        else:
            try:
                old = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {"fingerprint": fp}  # killed before its manifest: nothing to compare
            if old.get("fingerprint") != fp:
                changed = config_differences(old.get("config"), config)
                raise ConfigError(
                    f"{work} was made with different settings ("
                    + ("; ".join(changed) if changed else "inputs or options changed")
                    + "); rerun with the same ones, or pass --overwrite to start over"
                )
    make_work_dir(work)
    atomic_write_text(manifest, dumps({"fingerprint": fp, "config": config}) + "\n")
    return work


def _report_options(fn: Callable) -> Callable:
    """Every option of `report`, in the order `--help` lists them."""
    for deco in reversed(
        [
            click.argument("human"),
            click.argument("synthetic"),
            corpus_options,
            lm_options,
            edit_options,
            _report_analyzer_options,
            click.option(
                "--edited", type=click.Path(exists=False), help="An already edited corpus (skips editing)."
            ),
            click.option("--no-edit", is_flag=True, help="Compare human and synthetic only."),
            click.option(
                "-o",
                "--output",
                default="toedit-report",
                show_default=True,
                type=click.Path(file_okay=False),
                help="Report folder (refused when it exists and is not empty, unless --overwrite).",
            ),
            click.option("--overwrite", is_flag=True, help="Replace an existing report folder."),
            click.option(
                "--resume",
                is_flag=True,
                help="Continue a killed report from its OUTPUT.parts folder (scores and embeddings done so far).",
            ),
            sample_options,
            click.option(
                "--all-docs",
                is_flag=True,
                help="Use every document (overrides --max-docs; holds them in memory).",
            ),
            click.option(
                "--analyzers",
                default=None,
                help="Comma-separated subset of the registered analyzers (default: all).",
            ),
            click.option(
                "--sweep",
                "sweep_grid",
                is_flag=False,
                flag_value="default",
                default=None,
                metavar="[GRID]",
                help='Also sweep editor settings; alone, the grid "p=0.9,0.99;exclude_original=false,true".',
            ),
            click.option(
                "--select",
                type=click.Choice(["dsir"]),
                default=None,
                help="Add DSIR importance resampling of the synthetic sample beside editing (with a uniform control).",
            ),
            click.option(
                "--select-n", type=int, default=None, help="Documents to select (default: half the sample)."
            ),
            click.option(
                "--no-scores", is_flag=True, help="Do not write per-document scores (scores.parquet)."
            ),
            click.option(
                "--group-by",
                default=None,
                metavar="FIELD",
                help="Also run every analyzer per value of this metadata field (e.g. generator, domain); per-group "
                "tests Holm-corrected together.",
            ),
            execution_options,
            click.option("--quiet", is_flag=True, help=QUIET_HELP),
            config_option,
        ]
    ):
        fn = deco(fn)
    return fn


def report_command() -> click.Command:
    @_report_options
    def report(human, synthetic, edited, no_edit, output, overwrite, resume, quiet, **opts):
        """Compare HUMAN with SYNTHETIC and its ToEdit variant; write report.html and metrics.json."""
        from pathlib import Path

        from .._io import check_output_location

        # what decides the report's numbers: a resumed run must have the same (before opts are consumed)
        settings = {"human": human, "synthetic": synthetic, "edited": edited, "no_edit": no_edit}
        settings.update({k: v for k, v in opts.items() if k != "config"})
        settings["scores"] = not settings.pop("no_scores")
        settings["sweep"] = settings.pop("sweep_grid")
        job = _report_job(edited, no_edit, quiet, opts)  # every option checked before anything is read
        out = Path(output)
        paths = [human, synthetic] + ([edited] if edited else [])
        # before any work: the report folder can be written, is not an input, is empty or --overwrite
        check_output_location(out, directory=True, overwrite=overwrite, inputs=paths)
        fresh = overwrite or not Path(str(out) + ".parts").exists()
        work = report_work_dir(out, settings, paths, resume=resume, overwrite=overwrite)
        if not quiet:  # what the first minutes go to, before any bar has something to show
            doing = "editing with" if job["editor"] is not None else "scoring with"
            click.echo(
                f"reading {', '.join(paths)}; then {doing} {job['lm'].model} and {len(job['analyzers'])} "
                f"analyzers ({', '.join(a.name for a in job['analyzers'])}); models load on first use",
                err=True,
            )
        result = _in_work_dir(
            work, fresh, lambda: _run_report(job, paths, edited, work, out, overwrite, opts)
        )
        if not quiet:
            for h in result.verdict().get("headline", []):
                click.echo(f"{h['question']} {h['answer']}")
            click.echo()
            frame = result.summary_frame()
            if not frame.empty:
                show_table(frame, "summary (see report.html for the full report)")
            click.echo()
            click.echo(result.verdict()["summary"])
            click.echo(
                f"wrote {out / 'report.html'} and {out / 'metrics.json'} in {result.timings['total']:.0f} s",
                err=True,
            )

    return click.command(name="report")(report)


def _report_job(edited: str | None, no_edit: bool, quiet: bool, opts: dict[str, Any]) -> dict[str, Any]:
    """The report's configuration from the flags (popped from ``opts``), every value checked."""
    from ..lm.config import LMConfig
    from ..options import from_options

    sweep_grid = opts.pop("sweep_grid")
    if edited and no_edit:
        raise ConfigError("--edited and --no-edit exclude each other")
    if sweep_grid and (no_edit or edited):
        raise ConfigError("--sweep edits the synthetic corpus: it excludes --no-edit and --edited")
    if sweep_grid and sweep_grid != "default":
        from ..report.sweep import parse_grid

        parse_grid(sweep_grid)  # validated before anything is read
    sample = sample_settings(opts)
    all_docs = opts.pop("all_docs")
    built = _chosen_analyzers(opts.pop("analyzers"), opts)
    editor = None if (no_edit or edited) else make_edit_config(opts)
    for key in [k for k in opts if k.startswith("e_")]:  # parsed, unused with --no-edit/--edited
        opts.pop(key)
    return {
        "analyzers": built,
        "editor": editor,
        "lm": from_options(LMConfig, opts, prefix="lm_"),
        "executor": make_executor(opts),
        "max_docs": None if all_docs else sample.max_docs,
        "bootstrap": sample.bootstrap,
        "select": opts.pop("select"),
        "select_n": opts.pop("select_n"),
        "scores": not opts.pop("no_scores"),
        "group_by": opts.pop("group_by"),
        "progress": progress_enabled(quiet),
        "sweep": True if sweep_grid == "default" else sweep_grid,
    }


def _run_report(job: dict[str, Any], paths: list[str], edited: str | None, work, out, overwrite, opts):
    """Read the corpora, run the report (and its sweep) with ``work`` as its cache folder, save it."""
    from ..report import Report

    wheres = list(opts.get("where") or ())
    if edited and len(wheres) == 2:
        opts["where"] = (*wheres, "")  # --where for the two inputs; the edited file is read whole
    seed = opts["seed"]
    cs = open_corpora(paths, opts, default_names=["human", "synthetic", "edited"][: len(paths)])
    names = [c.name for c in cs] + (["edited"] if not edited else [])
    sweep_grid = job.pop("sweep")
    result = Report(
        job.pop("analyzers"),
        job.pop("editor"),
        seed=seed,
        names=names[:3],
        work_dir=work,
        command="toedit-stats " + " ".join(sys.argv[1:]),
        **job,
    ).run(cs[0], cs[1], cs[2] if edited else None)
    if sweep_grid:  # on the report's sample and model: nothing is scored twice
        from ..report.sweep import add_sweep

        add_sweep(result, sweep_grid)
    result.save(out, overwrite=overwrite)
    return result


def _in_work_dir(work, fresh: bool, run: Callable[[], Any]) -> Any:
    """``run()`` holding the report's work folder: removed when the report is complete or (a new
    one) when the command or the input was wrong; kept, with a hint, when interrupted."""
    import shutil

    from .._io import work_lock

    with work_lock(work):  # held until the report is saved: a second run on it is refused
        try:
            result = run()
        except (ConfigError, InputError):
            # a mistake in the command or the input, not an interruption: nothing worth resuming
            if fresh:
                shutil.rmtree(work, ignore_errors=True)
            raise
        except KeyboardInterrupt:
            raise KeyboardInterrupt(
                f"the scores done so far are kept in {work}: run the same command with --resume to continue"
            ) from None
        shutil.rmtree(work, ignore_errors=True)  # the report is complete: its work folder goes
    return result
