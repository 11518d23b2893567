"""The ``toedit-stats`` command line: parse, call the public API, map errors to exit codes.

Exit status: 0 success, 2 bad input or usage (one line on stderr, no traceback), 130 on Ctrl-C.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from ._version import __version__
from .corpus import MAX_RECORD_BYTES
from .errors import ConfigError, InputError, ToeditError

# ---------------------------------------------------------------------------------------------
# plumbing


class _Group(click.Group):
    """Maps :class:`ToeditError` to one line on stderr and exit status 2; the analyzer
    subcommands come from the registry (made when listed or invoked)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from .registry import analyzer_names

        return [*super().list_commands(ctx), *[n for n in analyzer_names() if n not in self.commands]]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        from .registry import analyzer_names

        if name in analyzer_names():
            return analyzer_command(name)
        return None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ToeditError as exc:
            _error_line(str(exc))
            ctx.exit(2)
        except OSError as exc:
            # a full disk, a read-only filesystem, a vanished folder while writing: the
            # environment's fault, not a bug; one line naming the file
            if exc.errno not in _ENV_ERRNOS:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            _error_line(f"{where}{exc.strerror or exc}")
            ctx.exit(2)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see main)
            click.echo("interrupted" + (f"; {exc}" if str(exc) else ""), err=True)
            ctx.exit(130)


_ENV_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENOENT,
    errno.EEXIST,
    errno.ENAMETOOLONG,
}


def _error_line(message: str) -> None:
    """The one stderr line of a failed command: control and bidirectional characters (from file
    names, field names, corpus content) are written as visible escapes, newlines included."""
    from ._io import visible

    click.echo(f"error: {visible(message, newlines=True)}", err=True)


def corpus_options(fn: Callable) -> Callable:
    """The options shared by every subcommand that reads corpora."""
    options = [
        click.option(
            "--text-field", default="text", show_default=True, help="Record field holding the text."
        ),
        click.option("--id-field", default="id", show_default=True, help="Record field holding the id."),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["auto", "jsonl", "parquet", "txt", "hf"]),
            default="auto",
            show_default=True,
            help="Input format (auto: by extension).",
        ),
        click.option(
            "--txt-mode",
            type=click.Choice(["file", "lines", "blank-line"]),
            default="file",
            show_default=True,
            help="For .txt: one document per file, per line, or per blank-line block.",
        ),
        click.option("--limit", type=click.IntRange(min=1), help="Take the first N documents."),
        click.option(
            "--sample", type=click.IntRange(min=1), help="Take a seeded uniform sample of N documents."
        ),
        click.option(
            "--seed", type=int, default=0, show_default=True, help="Seed for sampling and everything random."
        ),
        click.option(
            "--where",
            multiple=True,
            metavar="K=V[,K=V]",
            help="Keep records whose field equals a value. Give it once for all corpora, or once per "
            "corpus in order (e.g. --where label=human --where label=synthetic on one paired file).",
        ),
        click.option(
            "--names", metavar="A,B", help="Comma-separated labels for the corpora (default: file stems)."
        ),
        click.option(
            "--errors",
            "utf8_errors",
            type=click.Choice(["strict", "replace"]),
            default="strict",
            show_default=True,
            help="Invalid UTF-8: a bad record (strict) or replaced and counted.",
        ),
        click.option("--skip-bad", is_flag=True, help="Skip and count bad records instead of failing."),
        click.option(
            "--max-bad-fraction",
            type=click.FloatRange(0, 1),
            default=0.01,
            show_default=True,
            help="With --skip-bad, fail anyway when more than this fraction of records is bad.",
        ),
        click.option(
            "--max-record-bytes",
            type=click.IntRange(min=1),
            default=MAX_RECORD_BYTES,
            show_default=True,
            help="A record (JSONL line, .txt document) longer than this many bytes is a bad record.",
        ),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def result_options(json_name: str) -> Callable:
    """``-o DIR``, ``--json`` and ``--quiet`` for the analyzer subcommands."""

    def deco(fn: Callable) -> Callable:
        options = [
            click.option(
                "-o",
                "--output",
                type=click.Path(file_okay=False),
                help=f"Write {json_name}, CSV tables and PNG figures here.",
            ),
            click.option("--overwrite", is_flag=True, help="Write into a non-empty -o folder."),
            click.option(
                "--json", "as_json", is_flag=True, help="Print one JSON object and nothing else on stdout."
            ),
            click.option("--quiet", is_flag=True, help="No progress bars."),
        ]
        for opt in reversed(options):
            fn = opt(fn)
        return fn

    return deco


_CORPUS_KEYS = (
    "text_field",
    "id_field",
    "fmt",
    "txt_mode",
    "limit",
    "sample",
    "seed",
    "where",
    "names",
    "utf8_errors",
    "skip_bad",
    "max_bad_fraction",
    "max_record_bytes",
)


def open_corpora(paths: Sequence[str], opts: dict[str, Any], *, default_names: Sequence[str] | None = None):
    """Build one corpus per path from the common options (pops them from ``opts``)."""
    from .corpus import read_corpus

    o = {k: opts.pop(k) for k in _CORPUS_KEYS if k in opts}
    wheres = list(o.get("where") or ())
    if len(wheres) > 1 and len(wheres) != len(paths):
        raise ConfigError(
            f"--where given {len(wheres)} times for {len(paths)} corpora: give it once (for all) "
            "or once per corpus"
        )
    names = [n.strip() for n in o["names"].split(",")] if o.get("names") else None
    if names is not None and len(names) != len(paths):
        raise ConfigError(f"--names has {len(names)} labels for {len(paths)} corpora")
    if names is None and default_names is not None:
        names = list(default_names)
    corpora = []
    for i, path in enumerate(paths):
        where = wheres[i] if len(wheres) > 1 else (wheres[0] if wheres else None)
        name = names[i] if names else None
        corpora.append(
            read_corpus(
                path,
                text_field=o["text_field"],
                id_field=o["id_field"],
                format=o["fmt"],
                txt_mode=o["txt_mode"],
                limit=o["limit"],
                sample=o["sample"],
                seed=o["seed"],
                where=where,
                name=name,
                errors=o["utf8_errors"],
                skip_bad=o["skip_bad"],
                max_bad_fraction=o["max_bad_fraction"],
                max_record_bytes=o.get("max_record_bytes", MAX_RECORD_BYTES),
            )
        )
    _dedupe_names(corpora)
    return corpora


def _dedupe_names(corpora) -> None:
    seen: dict[str, int] = {}
    for c in corpora:
        if c.name in seen:
            seen[c.name] += 1
            c.name = f"{c.name}-{seen[c.name]}"
        else:
            seen[c.name] = 1


def emit_json(obj: Any) -> None:
    """The one JSON object ``--json`` prints on stdout (C1 controls and bidirectional characters
    as ``\\uXXXX`` escapes: the same JSON, safe on a terminal)."""
    from ._io import dumps, json_safe_text

    click.echo(json_safe_text(dumps(obj)))


def check_result_dir(output: str | None, overwrite: bool, corpora: Sequence[Any] = ()) -> None:
    """Before any work: ``-o`` can be created and written, is not an input, and is empty
    unless ``--overwrite``."""
    if output:
        from ._io import check_output_location

        inputs = [p for c in corpora for p in c.paths]
        check_output_location(output, directory=True, overwrite=overwrite, inputs=inputs, replace=False)


def show_table(frame, title: str | None = None) -> None:
    """Print a pandas frame as plain text (the human-readable default)."""
    from ._io import visible

    if title:
        click.echo(visible(title))

    with _pd_display():
        click.echo(visible(frame.to_string(index=False, float_format=lambda x: f"{x:.4g}", na_rep="–")))


def _pd_display():
    import pandas as pd

    return pd.option_context("display.max_columns", 50, "display.width", 200, "display.precision", 4)


def progress_enabled(quiet: bool = False) -> bool:
    """Progress on unless ``--quiet``: bars on a terminal, periodic lines in a log
    (:func:`toedit_stats.progress.bar`)."""
    return not quiet


# ---------------------------------------------------------------------------------------------
# commands


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="toedit-stats")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads for this process's model and numpy work (torch, BLAS, n-gram counting, "
    "compression) [default: OMP_NUM_THREADS, else every CPU]. Goes before the command.",
)
def main(threads: int | None = None) -> None:
    """Audit synthetic text against human text, and edit it with ToEdit.

    Start with `toedit-stats report HUMAN SYNTHETIC`; every analyzer also runs on its own.
    """
    import signal

    def terminated(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM ends a run as Ctrl-C does: temp files removed, work kept

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, terminated)
    if threads is not None:
        from ._threads import set_threads

        set_threads(threads)


@main.command()
@click.argument("corpora", nargs=-1, required=True, metavar="CORPUS...")
@corpus_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object and nothing else on stdout.")
def info(corpora: tuple[str, ...], as_json: bool, **opts: Any) -> None:
    """Documents, characters, words and length quantiles of each corpus."""
    import pandas as pd

    from .summary import summarize

    summaries = [summarize(c) for c in open_corpora(corpora, opts)]
    if as_json:
        emit_json({"corpora": [s.to_dict() for s in summaries]})
        return
    show_table(pd.concat([s.to_frame() for s in summaries], ignore_index=True))


# ---------------------------------------------------------------------------------------------
# options from the dataclasses that declare them (toedit_stats.options)


def lm_options(fn: Callable) -> Callable:
    """The language model's options, from :class:`~toedit_stats.lm.config.LMConfig`."""
    from .lm.config import LMConfig
    from .options import click_options

    return click_options(LMConfig, prefix="lm_")(fn)


def make_lm(opts: dict[str, Any]):
    """Build the LM backend from :func:`lm_options` (pops them from ``opts``); validated first,
    loaded on first use."""
    from .lm.config import LMConfig
    from .options import from_options

    return from_options(LMConfig, opts, prefix="lm_").load()


def edit_options(fn: Callable) -> Callable:
    """The editor's options, from :class:`~toedit_stats.editing.EditConfig` (``--seed`` is the
    corpus options' one seed)."""
    from .editing import EditConfig
    from .options import click_options

    return click_options(EditConfig, prefix="e_", exclude=("seed",))(fn)


def make_edit_config(opts: dict[str, Any]):
    from .editing import EditConfig
    from .options import from_options

    return from_options(EditConfig, opts, prefix="e_", seed=opts["seed"])


_SHARED_FIELDS = ("seed", "max_docs", "progress", "model")


def _analyzer_prefix(name: str) -> str:
    return f"a_{name}_"


def analyzer_options(cls: Any, *, shared: bool = True) -> Callable:
    """One analyzer's own options; with ``shared`` also its ``--max-docs`` and ``--all-docs``."""
    from .options import click_options

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
    from .options import from_options

    if all_docs:
        opts[_analyzer_prefix(cls.name) + "max_docs"] = None
    return from_options(cls, opts, prefix=_analyzer_prefix(cls.name), seed=seed, **extra)


def analyzer_command(name: str) -> click.Command:
    """The subcommand of a registered analyzer: corpus options, its own options (and the model's
    when it needs one), ``-o``/``--json``/``--quiet``; made from the analyzer's declarations."""
    import dataclasses

    from .registry import get_analyzer

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
        engine="local",
        ray_address=None,
        ray_actors=1,
        ray_gpus=0.0,
        **opts,
    ):
        seed = opts["seed"]
        extra = {"progress": progress_enabled(quiet)} if "progress" in fields else {}
        analyzer = make_analyzer(cls, opts, seed=seed, all_docs=all_docs, **extra)
        if needs_lm:  # validated before anything is read or written; each worker loads its own
            from .lm.config import LMConfig
            from .options import from_options

            make_lm(opts)
            analyzer = dataclasses.replace(analyzer, model=from_options(LMConfig, dict(opts), prefix="lm_"))
        if "executor" in fields:
            analyzer = dataclasses.replace(
                analyzer, executor=make_executor(engine, ray_address, ray_actors, ray_gpus)
            )
        cs = open_corpora(corpora, opts)
        check_result_dir(output, overwrite, cs)
        if group_by:  # every corpus after the reference, one corpus per group
            from .report.groups import split_by

            cs = [cs[0]] + [g for c in cs[1:] for g in split_by(c, group_by)]
        result = analyzer.analyze(cs)
        if output:
            result.save(output, overwrite=overwrite, inputs=[p for c in cs for p in c.paths])
        if as_json:
            emit_json(result.to_dict())
            return
        show_result(result)

    doc = (cls.__doc__ or cls.title).strip().split("\n\n")[0].replace("\n", " ").replace("``", "")
    cmd: Callable = run
    cmd = result_options(f"{name}.json")(cmd)
    if "executor" in fields:
        cmd = ray_engine_options(
            "ray: score, embed or (ngrams --sketch) sketch on a Ray actor pool (extra `ray`); "
            "the statistics are computed here.",
            actors="With --engine ray: workers, each with its own model.",
            gpus="With --engine ray: GPUs per worker.",
        )(cmd)
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


def _config_callback(ctx: click.Context, param: click.Parameter, path: str | None) -> str | None:
    """``--config FILE`` (eager): the file's values become the command's defaults
    (``ctx.default_map``), so flags still win and every value is typed and validated exactly like
    a flag; wrong types or unknown keys are one-line errors naming the file."""
    if not path:
        return path
    import tomllib
    from pathlib import Path

    from .options import typed_value

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    by_flag: dict[str, click.Option] = {}
    for p in ctx.command.params:
        if isinstance(p, click.Option) and p.name != "config_file":
            for o in p.opts:
                by_flag[o.lstrip("-")] = p
    meta = _field_meta(ctx.command)
    defaults: dict[str, Any] = {}
    for key, value in flat.items():
        param = by_flag.get(key.replace("_", "-"))
        if param is None:
            raise ConfigError(f"{path}: unknown option {key!r} for `{ctx.command.name}`")
        where = f"{path}: {key}"
        if param.name in meta:
            value = typed_value(key, value, meta[param.name], path)
            if isinstance(value, tuple):
                value = [",".join(str(v) for v in value)]
        else:
            value = _typed_click_value(param, value, where)
        defaults[param.name] = value
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return path


def _field_meta(command: click.Command) -> dict[str, dict[str, Any]]:
    """Option metadata by click parameter name, for the options made from dataclass fields."""
    from .editing import EditConfig
    from .lm.config import LMConfig
    from .options import option_fields
    from .registry import analyzer_names, get_analyzer

    out = {f"lm_{f.name}": dict(f.metadata) for f in option_fields(LMConfig)}
    out.update({f"e_{f.name}": dict(f.metadata) for f in option_fields(EditConfig)})
    for name in analyzer_names():
        try:
            cls = get_analyzer(name)
        except Exception:  # a broken plugin does not break TOML reading of other commands
            continue
        out.update({_analyzer_prefix(name) + f.name: dict(f.metadata) for f in option_fields(cls)})
    return out


def _typed_click_value(param: click.Option, value: Any, where: str) -> Any:
    """A TOML value for an option not made from a dataclass field: its click type, strictly."""
    expects_str = isinstance(param.type, click.types.StringParamType | click.Choice)
    is_int = isinstance(param.type, click.types.IntParamType)
    is_float = isinstance(param.type, click.types.FloatParamType)
    is_bool = param.is_flag or isinstance(param.type, click.types.BoolParamType)
    if is_bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r}: true or false expected")
        return value
    if param.multiple:
        value = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} = {value!r}: strings expected")
        return value
    if isinstance(value, str) and not expects_str:
        raise ConfigError(
            f"{where} = {value!r} is a string; write it without quotes ({param.type.name} expected)"
        )
    if (
        isinstance(value, bool)
        or (is_int and not isinstance(value, int))
        or (is_float and not isinstance(value, (int, float)))
        or (expects_str and not isinstance(value, str))
    ):
        raise ConfigError(f"{where} = {value!r}: {param.type.name} expected")
    try:
        return param.type.convert(value, param, None)
    except click.BadParameter as exc:
        raise ConfigError(f"{where} = {value!r}: {exc.message}") from None


def config_option(fn: Callable) -> Callable:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=_config_callback,
        help="TOML job config (see editing/); its values are defaults that flags override.",
    )(fn)


# ---------------------------------------------------------------------------------------------
# report and edit


def _report_analyzer_options(fn: Callable) -> Callable:
    """Every registered analyzer's own options on `report` (without their --max-docs: the
    report samples once for all)."""
    from .registry import analyzer_names, get_analyzer

    for name in reversed(analyzer_names()):
        fn = analyzer_options(get_analyzer(name), shared=False)(fn)
    return fn


def _chosen_analyzers(analyzers: str | None, opts: dict[str, Any]) -> list[Any]:
    """The analyzers of `--analyzers` (default: all registered), built from their options; the
    options of analyzers not chosen are parsed and dropped (`report`, `sweep`)."""
    from .registry import analyzer_names, get_analyzer

    chosen = [a.strip() for a in analyzers.split(",") if a.strip()] if analyzers else analyzer_names()
    built = [make_analyzer(get_analyzer(n), opts, seed=opts["seed"]) for n in chosen]
    for n in analyzer_names():
        if n not in chosen:
            for key in [k for k in opts if k.startswith(_analyzer_prefix(n))]:
                opts.pop(key)
    return built


def _check_bootstrap(bootstrap: int) -> None:
    """`--bootstrap` checked before anything is read (the Report checks it again for Python)."""
    if bootstrap < 0:
        from .options import bad_value

        raise bad_value("bootstrap", "an integer >= 0", bootstrap)


def report_work_dir(out, settings: dict, inputs: list, *, resume: bool, overwrite: bool):
    """``OUTPUT.parts``: where a report keeps its scores and embeddings until it is saved. A left-over
    one needs ``--resume`` (same settings and inputs, else the settings that differ are named) or
    ``--overwrite`` (start over)."""
    import json
    import shutil
    from pathlib import Path

    from ._io import atomic_write_text, dumps, make_work_dir, read_marker, work_lock
    from ._provenance import file_facts
    from .editing.job import _fingerprint, config_differences

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


def ray_engine_options(engine: str, *, actors: str, gpus: str) -> Callable:
    """``--engine local|ray``, ``--ray-address``, ``--ray-actors`` and ``--ray-gpus`` (each command
    says what Ray does for it in ``engine``); read them with :func:`make_executor`."""

    def wrap(cmd: Callable) -> Callable:
        for opt in reversed(
            (
                click.option(
                    "--engine",
                    type=click.Choice(["local", "ray"]),
                    default="local",
                    show_default=True,
                    help=engine,
                ),
                click.option(
                    "--ray-address",
                    default=None,
                    help="With --engine ray: a cluster to join ('auto'); default a local one.",
                ),
                click.option(
                    "--ray-actors", type=click.IntRange(min=1), default=1, show_default=True, help=actors
                ),
                click.option("--ray-gpus", type=float, default=0.0, show_default=True, help=gpus),
            )
        ):
            cmd = opt(cmd)
        return cmd

    return wrap


def make_executor(engine: str, address: str | None, actors: int, gpus: float) -> Any:
    """The one place the command line turns ``--engine`` and ``--ray-*`` into an
    :class:`~toedit_stats.execution.Executor` (the ``--ray-*`` options without ``--engine ray``
    are a mistake)."""
    from .execution import LocalExecutor, RayExecutor

    if engine == "ray":
        return RayExecutor(address=address, actors=actors, num_gpus=gpus)
    if address or actors != 1 or gpus:
        raise ConfigError("--ray-address, --ray-actors and --ray-gpus need --engine ray")
    return LocalExecutor()


def _report_command() -> click.Command:
    @click.argument("human")
    @click.argument("synthetic")
    @corpus_options
    @lm_options
    @edit_options
    @_report_analyzer_options
    @click.option("--edited", type=click.Path(exists=False), help="An already edited corpus (skips editing).")
    @click.option("--no-edit", is_flag=True, help="Compare human and synthetic only.")
    @click.option(
        "-o",
        "--output",
        default="toedit-report",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Report folder (refused when it exists and is not empty, unless --overwrite).",
    )
    @click.option("--overwrite", is_flag=True, help="Replace an existing report folder.")
    @click.option(
        "--resume",
        is_flag=True,
        help="Continue a killed report from its OUTPUT.parts folder (scores and embeddings done so far).",
    )
    @click.option(
        "--max-docs",
        type=int,
        default=1000,
        show_default=True,
        help="Sample at most N documents per corpus (seeded); the report says 'sampled N of M'.",
    )
    @click.option(
        "--all-docs", is_flag=True, help="Use every document (overrides --max-docs; holds them in memory)."
    )
    @click.option(
        "--analyzers", default=None, help="Comma-separated subset of the registered analyzers (default: all)."
    )
    @click.option(
        "--bootstrap",
        type=int,
        default=1000,
        show_default=True,
        help="Bootstrap replicates behind every interval, and permutations of the paired test of each edit effect (0: neither).",
    )
    @click.option(
        "--sweep",
        "sweep_grid",
        is_flag=False,
        flag_value="default",
        default=None,
        metavar="[GRID]",
        help='Also sweep editor settings; alone, the grid "p=0.9,0.99;exclude_original=false,true".',
    )
    @click.option(
        "--select",
        type=click.Choice(["dsir"]),
        default=None,
        help="Add DSIR importance resampling of the synthetic sample beside editing (with a uniform control).",
    )
    @click.option(
        "--select-n", type=int, default=None, help="Documents to select (default: half the sample)."
    )
    @click.option("--no-scores", is_flag=True, help="Do not write per-document scores (scores.parquet).")
    @click.option(
        "--group-by",
        default=None,
        metavar="FIELD",
        help="Also run every analyzer per value of this metadata field (e.g. generator, domain); per-group "
        "tests Holm-corrected together.",
    )
    @ray_engine_options(
        "ray: score and embed the documents on a Ray Data actor pool (extra `ray`); the rest runs here.",
        actors="Actors.",
        gpus="GPUs per actor.",
    )
    @click.option("--quiet", is_flag=True, help="No progress bars and no summary table.")
    @config_option
    def report(
        human,
        synthetic,
        edited,
        no_edit,
        output,
        overwrite,
        resume,
        max_docs,
        all_docs,
        analyzers,
        bootstrap,
        sweep_grid,
        select,
        select_n,
        no_scores,
        group_by,
        engine,
        ray_address,
        ray_actors,
        ray_gpus,
        quiet,
        **opts,
    ):
        """Compare HUMAN with SYNTHETIC and its ToEdit variant; write report.html and metrics.json."""
        from pathlib import Path

        from ._io import check_output_location, work_lock
        from .report import Report

        # what decides the report's numbers: a resumed run must have the same (before opts are consumed)
        settings = {
            "human": human,
            "synthetic": synthetic,
            "edited": edited,
            "no_edit": no_edit,
            "max_docs": max_docs,
            "all_docs": all_docs,
            "analyzers": analyzers,
            "bootstrap": bootstrap,
            "sweep": sweep_grid,
            "select": select,
            "select_n": select_n,
            "scores": not no_scores,
            "group_by": group_by,
            **{k: v for k, v in opts.items() if k != "config"},
        }

        if edited and no_edit:
            raise ConfigError("--edited and --no-edit exclude each other")
        _check_bootstrap(bootstrap)
        if sweep_grid and (no_edit or edited):
            raise ConfigError("--sweep edits the synthetic corpus: it excludes --no-edit and --edited")
        if sweep_grid and sweep_grid != "default":
            from .report.sweep import parse_grid

            parse_grid(sweep_grid)  # validated before anything is read
        built = _chosen_analyzers(analyzers, opts)
        editor = None if (no_edit or edited) else make_edit_config(opts)
        if no_edit or edited:
            for key in [k for k in opts if k.startswith("e_")]:
                opts.pop(key)
        from .lm.config import LMConfig
        from .options import from_options

        lm_config = from_options(LMConfig, opts, prefix="lm_")
        executor = make_executor(engine, ray_address, ray_actors, ray_gpus)
        out = Path(output)
        paths = [human, synthetic] + ([edited] if edited else [])
        # before any work: the report folder can be written, is not an input, is empty or --overwrite
        check_output_location(out, directory=True, overwrite=overwrite, inputs=paths)
        import shutil

        fresh = overwrite or not Path(str(out) + ".parts").exists()
        work = report_work_dir(out, settings, paths, resume=resume, overwrite=overwrite)
        with work_lock(work):  # held until the report is saved: a second run on it is refused
            try:
                default_names = ["human", "synthetic", "edited"][: len(paths)]
                wheres = list(opts.get("where") or ())
                if edited and len(wheres) == 2:
                    opts["where"] = (*wheres, "")  # --where for the two inputs; the edited file is read whole
                seed = opts["seed"]
                cs = open_corpora(paths, opts, default_names=default_names)
                names = [c.name for c in cs] + (["edited"] if not edited else [])
                result = Report(
                    built,
                    editor,
                    lm=lm_config,
                    max_docs=None if all_docs else max_docs,
                    seed=seed,
                    names=names[:3],
                    bootstrap=bootstrap,
                    select=select,
                    select_n=select_n,
                    scores=not no_scores,
                    group_by=group_by,
                    work_dir=work,
                    progress=progress_enabled(quiet),
                    command="toedit-stats " + " ".join(sys.argv[1:]),
                    executor=executor,
                ).run(cs[0], cs[1], cs[2] if edited else None)
                if sweep_grid:  # on the report's sample and model: nothing is scored twice
                    from .report.sweep import add_sweep

                    add_sweep(result, True if sweep_grid == "default" else sweep_grid)
                result.save(out, overwrite=overwrite)
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
        if not quiet:
            frame = result.summary_frame()
            if not frame.empty:
                show_table(frame, "summary (see report.html for the full report)")
            click.echo()
            click.echo(result.verdict()["summary"])
        if not quiet:
            click.echo(
                f"wrote {out / 'report.html'} and {out / 'metrics.json'} in {result.timings['total']:.0f} s",
                err=True,
            )

    return click.command(name="report")(report)


main.add_command(_report_command())


@main.command()
@click.argument("input_path", metavar="INPUT")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file: .jsonl, .jsonl.gz, .jsonl.zst or .parquet.",
)
@corpus_options
@lm_options
@edit_options
@click.option(
    "--shard",
    default="0/1",
    show_default=True,
    metavar="I/N",
    help="Edit documents whose position is I mod N.",
)
@click.option("--resume", is_flag=True, help="Continue a killed run (refuses a different configuration).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--audit-positions", is_flag=True, help="Store every applied edit's position and texts.")
@click.option(
    "--chunk-docs",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Documents per output chunk.",
)
@ray_engine_options(
    "local: this process; ray: a Ray Data actor pool (extra `ray`), same output.",
    actors="Actors (one model each).",
    gpus="GPUs per actor (vLLM or CUDA).",
)
@config_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def edit(input_path, output, quiet, engine, ray_address, ray_actors, ray_gpus, **opts):
    """Edit a corpus with ToEdit (token-level resampling of over-confident tokens)."""
    from ._io import visible
    from .editing import run_edit_job
    from .editing.job import check_edit_output

    try:
        i, n = (int(x) for x in str(opts.pop("shard")).split("/"))
    except ValueError:
        raise ConfigError("--shard expects I/N, e.g. --shard 0/4") from None
    cfg = make_edit_config(opts)
    from .lm.config import LMConfig
    from .options import from_options

    lm_config = from_options(LMConfig, opts, prefix="lm_")
    (corpus,) = open_corpora([input_path], opts)
    check_edit_output(output, list(corpus.paths), resume=opts["resume"], overwrite=opts["overwrite"])
    executor = make_executor(engine, ray_address, ray_actors, ray_gpus)
    try:
        result = run_edit_job(
            corpus,
            output,
            model=lm_config,  # loaded here, or by each worker of the executor
            config=cfg,
            shard=(i, n),
            resume=opts.pop("resume"),
            audit_positions=opts.pop("audit_positions"),
            chunk_docs=opts.pop("chunk_docs"),
            progress=progress_enabled(quiet),
            overwrite=opts.pop("overwrite"),
            executor=executor,
        )
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"the chunks done so far are kept in {output}.parts: run the same command with --resume to continue"
        ) from None
    t = result.totals
    share = lambda x: f"{100 * x / t['tokens']:.3f}%" if t["tokens"] else "n/a"  # noqa: E731
    passed = (
        f" ({t['empty_passed_through']} empty, passed through unedited)"
        if t.get("empty_passed_through")
        else ""
    )
    bad = f"; skipped {t['skipped_bad']} bad records (see the manifest)" if t.get("skipped_bad") else ""
    if result.manifest.get("p_chosen") is not None:
        bad += f"; p = {result.manifest['p_chosen']:.6g} chosen for target_change_rate = {cfg.target_change_rate}"
    if quiet:
        if t.get("skipped_bad"):  # never silent about dropped input, even when quiet
            click.echo(f"warning: skipped {t['skipped_bad']} bad records (see the manifest)", err=True)
        return
    click.echo(
        f"wrote {t['documents']} documents{passed}, {t['tokens']} tokens: selected {t['selected']} "
        f"({share(t['selected'])}), changed {t['changed']} ({share(t['changed'])}; expected "
        f"{share(t.get('expected_changed', 0))}), deleted {t['deleted']} "
        f"({share(t['deleted'])}), skipped unsafe {t['skipped_unsafe']}{bad} -> {visible(str(result.output))}",
        err=True,
    )
    damage = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in t["damage"].items())
    protected = f"; protected {t['protected']} positions ({cfg.protect})" if cfg.protect else ""
    click.echo(f"edits by kind: {damage}{protected}", err=True)


def _sweep_command() -> click.Command:
    @click.argument("human")
    @click.argument("synthetic")
    @corpus_options
    @lm_options
    @_report_analyzer_options
    @click.option(
        "--grid",
        required=True,
        metavar='"p=0.9,0.99;k=8,64;beta=1,1.5;exclude_original=false,true"',
        help="Edit options and their values; every combination is a grid point.",
    )
    @click.option(
        "-o", "--output", default="toedit-sweep", show_default=True, type=click.Path(file_okay=False)
    )
    @click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
    @click.option("--max-docs", type=int, default=1000, show_default=True, help="Seeded sample per corpus.")
    @click.option("--all-docs", is_flag=True, help="Use every document.")
    @click.option("--analyzers", default=None, help="Comma-separated subset of the registered analyzers.")
    @click.option(
        "--bootstrap", type=int, default=1000, show_default=True, help="Bootstrap replicates per variant."
    )
    @click.option(
        "--token-fraction",
        type=float,
        default=None,
        help="Share of synthetic documents whose variants are scored for the token statistics and "
        "the fluency cost (seeded sample, the same for every grid point) [default: min(1, 3 / grid "
        "points); 1 = exact].",
    )
    @ray_engine_options(
        "ray: score the synthetic documents, the variants and the human documents on a Ray Data "
        "actor pool (extra `ray`; variants in full); editing and statistics run here.",
        actors="Actors.",
        gpus="GPUs per actor.",
    )
    @click.option("--quiet", is_flag=True, help="No table on stdout.")
    def sweep_cmd(
        human,
        synthetic,
        grid,
        output,
        overwrite,
        max_docs,
        all_docs,
        analyzers,
        bootstrap,
        token_fraction,
        engine,
        ray_address,
        ray_actors,
        ray_gpus,
        quiet,
        **opts,
    ):
        """Edit SYNTHETIC at every grid point from one scoring pass; measure each variant against HUMAN."""
        from ._io import (
            atomic_dir,
            atomic_write_bytes,
            atomic_write_text,
            check_output_location,
            dumps,
            to_csv,
        )
        from .lm.config import LMConfig
        from .options import from_options
        from .plotting import figure_png
        from .report.sweep import parse_grid, sweep

        built = _chosen_analyzers(analyzers, opts)
        configs = parse_grid(grid, seed=opts["seed"])
        _check_bootstrap(bootstrap)
        if token_fraction is not None and not 0 < token_fraction <= 1:
            raise ConfigError(f"--token-fraction must be in (0, 1], got {token_fraction}")
        lm_config = from_options(LMConfig, opts, prefix="lm_")
        executor = make_executor(engine, ray_address, ray_actors, ray_gpus)
        check_output_location(output, directory=True, overwrite=overwrite, inputs=[human, synthetic])
        seed = opts["seed"]
        cs = open_corpora([human, synthetic], opts, default_names=["human", "synthetic"])
        res = sweep(
            cs[0],
            cs[1],
            configs,
            lm=lm_config,
            analyzers=built,
            max_docs=None if all_docs else max_docs,
            seed=seed,
            bootstrap=bootstrap,
            token_fraction=token_fraction,
            executor=executor,
        )
        with atomic_dir(output, overwrite=overwrite, inputs=[human, synthetic]) as tmp:
            atomic_write_text(tmp / "sweep.json", dumps(res.to_dict()) + "\n")
            atomic_write_text(tmp / "sweep.csv", to_csv(res.to_frame()))
            atomic_write_text(tmp / "sweep_effects.csv", to_csv(res.effects_frame()))
            atomic_write_bytes(tmp / "frontier.png", figure_png(res.frontier(), dpi=110))
        if not quiet:
            cols = [
                c
                for c in (
                    "p",
                    "k",
                    "beta",
                    "exclude_original",
                    "p_used",
                    "changed_share",
                    "expected_share",
                    "delta_mean_logprob",
                    "delta_mean_logprob_low",
                    "delta_mean_logprob_high",
                    "word_internal_share",
                    "token_documents",
                    "distances_toward_human",
                    "distances_away_from_human",
                    "distances_no_detectable_change",
                )
                if c in res.to_frame()
            ]
            show_table(res.to_frame()[cols], "sweep (see sweep.csv and frontier.png)")
        if not quiet:
            click.echo(f"wrote {output}/sweep.csv, sweep_effects.csv, sweep.json and frontier.png", err=True)

    return click.command(name="sweep")(sweep_cmd)


main.add_command(_sweep_command())


@main.command(name="score")
@click.argument("corpora", nargs=-1, required=True, metavar="CORPUS...")
@corpus_options
@click.option(
    "--reference",
    help="A reference (human) corpus: adds DSIR weight, classifier probability, nearest distance.",
)
@click.option("--lm/--no-lm", "with_lm", default=True, show_default=True, help="Language-model columns.")
@lm_options
@click.option("--embedder", default="minilm", show_default=True, help="Embedder for the reference columns.")
@click.option("--max-docs", type=int, help="A seeded sample of at most N documents per corpus.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .parquet file.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--quiet", is_flag=True, help="No summary on stdout.")
def score_cmd(corpora, reference, with_lm, embedder, max_docs, output, overwrite, quiet, **opts):
    """Per-document audit scores (word, near-duplicate, LM and reference columns) into Parquet."""
    from ._io import atomic_file, check_output_location
    from .lm.config import LMConfig
    from .options import from_options
    from .scores import score

    if max_docs is not None and max_docs < 1:
        from .options import bad_value

        raise bad_value("max_docs", "an integer >= 1", max_docs)
    if not str(output).endswith(".parquet"):
        raise ConfigError(f"{output}: the scores are written as Parquet; name the file *.parquet")
    lm_config = from_options(LMConfig, opts, prefix="lm_")
    paths = [*corpora, *([reference] if reference else [])]
    check_output_location(output, overwrite=overwrite, inputs=paths)
    seed = opts["seed"]
    cs = open_corpora(paths, opts)
    ref = cs.pop() if reference else None
    frame = score(
        cs,
        reference=ref,
        model=lm_config.load() if with_lm else None,
        embedder=embedder,
        seed=seed,
        max_docs=max_docs,
    )
    with atomic_file(output) as tmp:
        frame.to_parquet(tmp, index=False)
    if not quiet:
        numeric = frame.drop(columns=["position", "near_dup_cluster"]).select_dtypes("number")
        summary = numeric.groupby(frame["corpus"]).describe(percentiles=[0.05, 0.5, 0.95])
        summary = summary.stack(0, future_stack=True)[["mean", "5%", "50%", "95%"]].reset_index()
        show_table(summary.rename(columns={"level_1": "column"}), "per-document scores (mean and quantiles)")
    if not quiet:
        click.echo(f"wrote {len(frame)} rows to {output}", err=True)


@main.command(name="select")
@click.argument("corpus", metavar="CORPUS")
@corpus_options
@click.option("--reference", required=True, help="The target corpus (human).")
@click.option("--n", "n", type=int, required=True, help="Documents to select.")
@click.option("--method", type=click.Choice(["dsir"]), default="dsir", show_default=True)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help=".jsonl, .jsonl.gz, .jsonl.zst or .parquet",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def select_cmd(corpus, reference, n, method, output, overwrite, **opts):
    """DSIR importance resampling: N documents of CORPUS that look like REFERENCE (seeded)."""
    from pathlib import Path

    import numpy as np

    from ._io import publish_with_manifest
    from ._provenance import file_facts, file_sha256
    from .corpus import output_format, write_records
    from .selection import dsir_features, dsir_log_weights, gumbel_top_k

    if n < 1:
        from .options import bad_value

        raise bad_value("n", "an integer >= 1", n)
    output_format(output)
    from ._io import check_output_location

    check_output_location(output, overwrite=overwrite, inputs=[corpus, reference])
    # the manifest is an output too (one without its output beside it is a killed run's: replaced)
    manifest_path = f"{output}.manifest.json"
    check_output_location(
        manifest_path, overwrite=overwrite or not Path(output).exists(), inputs=[corpus, reference]
    )
    seed = opts["seed"]
    src, ref = open_corpora([corpus, reference], opts)
    docs = list(src)
    weights = dsir_log_weights(dsir_features([d.text for d in docs]), dsir_features([d.text for d in ref]))
    chosen = gumbel_top_k(weights, n, seed=seed)
    records = [{**docs[i].metadata, src.text_field: docs[i].text, src.id_field: docs[i].id} for i in chosen]
    fmt = output_format(output)

    def manifest(tmp):
        return {
            "method": method,
            "n": len(chosen),
            "of": len(docs),
            "seed": seed,
            "features": "hashed unigrams and bigrams, 10,000 buckets (DSIR)",
            "inputs": {
                "corpus": [file_facts(f) for f in src.files],
                "reference": [file_facts(f) for f in ref.files],
            },
            "output_sha256": file_sha256(tmp),
            "log_weight_quantiles": {q: float(np.quantile(weights, q)) for q in (0.05, 0.5, 0.95)}
            if len(weights)
            else {},
        }

    # the manifest first, the selection renamed into place last: both appear, or neither
    publish_with_manifest(output, lambda tmp: write_records(records, tmp, fmt=fmt), manifest)
    click.echo(f"selected {len(chosen)} of {len(docs)} documents -> {output}", err=True)


@main.command(name="list")
def list_plugins() -> None:
    """The registered analyzers and language-model backends (built in and from plugins)."""
    from .registry import ANALYZERS, BACKENDS, analyzer_names, backend_names

    click.echo("analyzers:")
    for n in analyzer_names():
        click.echo(f"  {n:<14} {ANALYZERS[n]}")
    click.echo("backends:")
    for n in backend_names():
        click.echo(f"  {n:<14} {BACKENDS[n]}")


if __name__ == "__main__":  # pragma: no cover
    main()
