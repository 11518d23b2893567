"""Plumbing shared by the commands: corpus options and reading, output checks, tables, JSON,
progress, the model and editor options, TOML job files, and the executor options."""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Sequence
from typing import Any

import click

from ..corpus import MAX_RECORD_BYTES
from ..errors import ConfigError

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


# one meaning of --quiet in every command (README): nothing on success
QUIET_HELP = (
    "Print nothing on success (no progress, no tables; errors and warnings about dropped input still print)."
)


def terminal_help(text: str) -> str:
    """A docstring paragraph as terminal help: reST roles and literals as plain words, no pointers
    to a module docstring the terminal cannot show."""
    text = re.sub(
        r":\w+:`(~?)([^`]+)`", lambda m: m.group(2).rsplit(".", 1)[-1] if m.group(1) else m.group(2), text
    )
    text = text.replace("``", "")
    text = re.sub(r"\s*\((?:see )?(?:the )?module docstring\)", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _error_line(message: str) -> None:
    """The one stderr line of a failed command: control and bidirectional characters (from file
    names, field names, corpus content) are written as visible escapes, newlines included."""
    from .._io import visible

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
            click.option("--quiet", is_flag=True, help=QUIET_HELP),
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
    from ..corpus import read_corpus

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
    OPENED.extend(corpora)
    return corpora


OPENED: list = []  # the corpora this command opened, for the notes after it (replaced_notes)


def replaced_notes() -> list[str]:
    """One line per corpus whose invalid UTF-8 was replaced (``--errors replace``): the input was
    changed on the way in, which a user must hear of even with ``--quiet``."""
    out = []
    for c in OPENED:
        st = getattr(c, "stats", None)
        if st is not None and st.replaced_utf8:
            out.append(
                f"warning: {c.name}: invalid UTF-8 replaced by U+FFFD in {st.replaced_utf8:,} records "
                f"({st.replacements:,} replacements; --errors replace)"
            )
    return out


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
    from .._io import dumps, json_safe_text

    click.echo(json_safe_text(dumps(obj)))


def check_result_dir(output: str | None, overwrite: bool, corpora: Sequence[Any] = ()) -> None:
    """Before any work: ``-o`` can be created and written, is not an input, and is empty
    unless ``--overwrite``."""
    if output:
        from .._io import check_output_location

        inputs = [p for c in corpora for p in c.paths]
        check_output_location(output, directory=True, overwrite=overwrite, inputs=inputs, replace=False)


def show_table(frame, title: str | None = None) -> None:
    """Print a pandas frame as plain text (the human-readable default)."""
    from .._io import visible

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
# options from the dataclasses that declare them (toedit_stats.options)


def lm_options(fn: Callable) -> Callable:
    """The language model's options, from :class:`~toedit_stats.lm.config.LMConfig`."""
    from ..lm.config import LMConfig
    from ..options import click_options

    return click_options(LMConfig, prefix="lm_")(fn)


def edit_options(fn: Callable) -> Callable:
    """The editor's options, from :class:`~toedit_stats.editing.EditConfig` (``--seed`` is the
    corpus options' one seed)."""
    from ..editing import EditConfig
    from ..options import click_options

    return click_options(EditConfig, prefix="e_", exclude=("seed",))(fn)


def make_edit_config(opts: dict[str, Any]):
    from ..editing import EditConfig
    from ..options import from_options

    return from_options(EditConfig, opts, prefix="e_", seed=opts["seed"])


def _config_callback(ctx: click.Context, param: click.Parameter, path: str | None) -> str | None:
    """``--config FILE`` (eager): the file's values become the command's defaults
    (``ctx.default_map``), so flags still win and every value is typed and validated exactly like
    a flag; wrong types or unknown keys are one-line errors naming the file."""
    if not path:
        return path
    import tomllib
    from pathlib import Path

    from ..options import typed_value

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    by_flag: dict[str, click.Option] = {}
    for p in ctx.command.params:
        if isinstance(p, click.Option) and p.name != "config_file":
            for o in p.opts:
                by_flag[o.lstrip("-")] = p
    flat = _toml_entries(path, data, by_flag, ctx.command.name or "")
    meta = _field_meta(ctx.command)
    defaults: dict[str, Any] = {}
    for key, param, value in flat:
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


def _section_of(param: click.Option) -> str:
    """The TOML table an option belongs in: ``model`` (the language model's), ``edit`` (the
    editor's), the analyzer's name (its own options), or the command's own (any other)."""
    name = param.name or ""
    if name.startswith("lm_"):
        return "model"
    if name.startswith("e_"):
        return "edit"
    if name.startswith("a_"):
        from ..registry import analyzer_names

        for a in analyzer_names():
            if name.startswith(_analyzer_prefix(a)):
                return a
    return ""


def _toml_entries(
    path: str, data: dict[str, Any], by_flag: dict[str, click.Option], command: str
) -> list[tuple[str, click.Option, Any]]:
    """The job file's keys with the option each sets: a top-level key may set any option of the
    command; a key in a table must be an option of that table (``[model]``, ``[edit]``, an
    analyzer's name, or the command's name and ``[job]`` for the command's own options, which
    ``[edit]`` also takes). An unknown table, a key in the wrong table or an option set twice is an
    error naming the file and the key."""
    from ..registry import analyzer_names

    known = {"model", "edit", "job", command, *analyzer_names()}
    out: list[tuple[str, click.Option, Any]] = []
    for key, value in data.items():
        table = key if isinstance(value, dict) else None
        if table is not None and table not in known:
            raise ConfigError(
                f"{path}: unknown table [{table}] for `{command}` (known: {', '.join(sorted(known))})"
            )
        for k, v in value.items() if table is not None else [(key, value)]:
            where = f"[{table}] {k}" if table else k
            if isinstance(v, dict):
                raise ConfigError(f"{path}: {where}: nested tables are not options")
            param = by_flag.get(k.replace("_", "-"))
            if param is None:
                raise ConfigError(f"{path}: unknown option {k!r} for `{command}`")
            home = _section_of(param)
            if table is not None and home != table and not (home == "" and table in ("edit", "job", command)):
                raise ConfigError(f"{path}: {where}: {k!r} belongs in [{home or command}], not [{table}]")
            if param.name in {p.name for _, p, _ in out}:
                raise ConfigError(f"{path}: {k!r} is set twice")
            out.append((k, param, v))
    return out


def _field_meta(command: click.Command) -> dict[str, dict[str, Any]]:
    """Option metadata by click parameter name, for the options made from dataclass fields."""
    from ..editing import EditConfig
    from ..lm.config import LMConfig
    from ..options import option_fields
    from ..registry import analyzer_names, get_analyzer

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


def execution_options(fn: Callable) -> Callable:
    """``--engine local|ray``, ``--ray-address``, ``--ray-actors``, ``--ray-gpus``: from
    :class:`~toedit_stats.execution.ExecutionOptions`; read them with :func:`make_executor`."""
    from ..execution import ExecutionOptions
    from ..options import click_options

    return click_options(ExecutionOptions)(fn)


def make_executor(opts: dict[str, Any]) -> Any:
    """The one place the command line builds an :class:`~toedit_stats.execution.Executor` (pops
    the :func:`execution_options` from ``opts``)."""
    from ..execution import ExecutionOptions
    from ..options import from_options

    return from_options(ExecutionOptions, opts).executor()


def sample_options(fn: Callable) -> Callable:
    """``--max-docs`` and ``--bootstrap`` of `report` and `sweep`, from
    :class:`~toedit_stats.report.config.SampleOptions` (the Python defaults too)."""
    from ..options import click_options
    from ..report.config import SampleOptions

    return click_options(SampleOptions)(fn)


def sample_settings(opts: dict[str, Any]) -> Any:
    """The :class:`~toedit_stats.report.config.SampleOptions` of the flags (popped from ``opts``),
    checked before anything is read."""
    from ..options import from_options
    from ..report.config import SampleOptions

    return from_options(SampleOptions, opts)


def _analyzer_prefix(name: str) -> str:
    """The parameter-name prefix of an analyzer's own options."""
    return f"a_{name}_"
