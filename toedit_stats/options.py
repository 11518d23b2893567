"""Options declared once: on the dataclass that uses them.

A configuration dataclass (:class:`~toedit_stats.editing.EditConfig`,
:class:`~toedit_stats.lm.config.LMConfig`, every
analyzer) declares each parameter with :func:`option`: its default, kind, range, choices and help
text. From that one declaration come

- validation with one message template (:func:`check_fields`, called in ``__post_init__``):
  ``"<name> must be <what was expected>, got <what was got>"``;
- the command line's options (:func:`click_options`), so a flag, its type, default and help are
  never written twice;
- the typed reading of TOML job files (:func:`typed_value`), strict like the flags.

>>> from dataclasses import dataclass
>>> @dataclass
... class Demo:
...     k: int = option(8, min=1, help="Top-k.")
...     def __post_init__(self):
...         check_fields(self)
>>> Demo(k=0)
Traceback (most recent call last):
...
toedit_stats.errors.ConfigError: k must be an integer >= 1, got 0
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ConfigError

__all__ = ["bad_value", "check_fields", "click_options", "option", "option_fields", "typed_value"]

KINDS = ("float", "int", "bool", "str", "ints", "any")


def option(
    default: Any,
    *,
    help: str,
    kind: str | None = None,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    finite: bool = True,
    choices: Sequence[str] | None = None,
    optional: bool = False,
    cli: str | None = None,
    metavar: str | None = None,
) -> Any:
    """A dataclass field that is also a user-facing option.

    ``kind`` is inferred from ``default`` when not given (``float``, ``int``, ``bool``, ``str``;
    ``ints`` is a tuple of integers, written ``1,2,3`` on the command line; ``any`` is left to
    the owner to check, e.g. a model object or name). ``optional`` allows ``None``. ``cli`` is
    the flag when it is not ``--`` + the field name with dashes. ``cli=""`` keeps the option
    out of the command line (Python only).
    """
    if kind is None:
        kind = {bool: "bool", int: "int", float: "float", str: "str", tuple: "ints"}.get(type(default), "any")
    if kind not in KINDS:
        raise ValueError(f"unknown option kind {kind!r}")
    meta = {
        "option": True,
        "help": help,
        "kind": kind,
        "min": min,
        "max": max,
        "min_open": min_open,
        "finite": finite,
        "choices": tuple(choices) if choices else None,
        "optional": optional or default is None,
        "cli": cli,
        "metavar": metavar,
    }
    return dataclasses.field(default=default, metadata=meta)


def option_fields(cls_or_obj: Any) -> list[dataclasses.Field]:
    """The fields declared with :func:`option`, in declaration order."""
    return [f for f in dataclasses.fields(cls_or_obj) if f.metadata.get("option")]


def bad_value(name: str, expected: str, got: Any) -> ConfigError:
    """The one message template: ``<name> must be <expected>, got <got>``."""
    return ConfigError(f"{name} must be {expected}, got {got!r}")


def _expected(meta: dict[str, Any]) -> str:
    kind = meta["kind"]
    if meta["choices"]:
        return "one of " + ", ".join(meta["choices"])
    base = {
        "float": "a number",
        "int": "an integer",
        "bool": "true or false",
        "str": "a string",
        "ints": "integers",
    }.get(kind, "a value")
    lo, hi = meta["min"], meta["max"]
    if lo is not None and hi is not None:
        base += f" in {'(' if meta['min_open'] else '['}{lo:g}, {hi:g}]"
    elif lo is not None:
        base += f" {'>' if meta['min_open'] else '>='} {lo:g}"
    elif hi is not None:
        base += f" <= {hi:g}"
    if meta["optional"]:
        base += " (or none)"
    return base


def _check_number(name: str, value: Any, meta: dict[str, Any]) -> None:
    kind = meta["kind"]
    ok_type = not isinstance(value, bool) and isinstance(
        value, numbers.Integral if kind in ("int", "ints") else numbers.Real
    )
    if not ok_type:
        raise bad_value(name, _expected(meta), value)
    x = float(value)
    if kind == "float" and meta["finite"] and not math.isfinite(x):
        raise bad_value(name, _expected(meta), value)
    if math.isnan(x):
        raise bad_value(name, _expected(meta), value)
    lo, hi = meta["min"], meta["max"]
    if lo is not None and (x < lo or (meta["min_open"] and x == lo)):
        raise bad_value(name, _expected(meta), value)
    if hi is not None and x > hi:
        raise bad_value(name, _expected(meta), value)


def check_value(name: str, value: Any, meta: dict[str, Any]) -> None:
    """Raise the one-template :class:`ConfigError` when ``value`` does not fit ``meta``."""
    if value is None:
        if meta["optional"]:
            return
        raise bad_value(name, _expected(meta), value)
    kind = meta["kind"]
    if kind in ("float", "int"):
        _check_number(name, value, meta)
    elif kind == "ints":
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise bad_value(name, _expected(meta), value)
        for v in value:
            _check_number(name, v, meta)
    elif (kind == "bool" and not isinstance(value, bool)) or (
        kind == "str" and (not isinstance(value, str) or (meta["choices"] and value not in meta["choices"]))
    ):
        raise bad_value(name, _expected(meta), value)


def check_fields(obj: Any) -> None:
    """Validate every :func:`option` field of a dataclass instance (call in ``__post_init__``)."""
    for f in option_fields(obj):
        check_value(f.name, getattr(obj, f.name), f.metadata)


def typed_value(name: str, value: Any, meta: dict[str, Any], where: str) -> Any:
    """A value read from a typed file (TOML): right type or a one-line error naming the file.
    No casts from strings: ``p = "0.99"`` is a mistake in a typed file, not a number."""
    kind = meta["kind"]
    if kind == "ints" and isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, str) and kind not in ("str", "any"):
        raise ConfigError(
            f"{where}: {name} = {value!r} is a string; write it without quotes ({_expected(meta)} expected)"
        )
    try:
        check_value(name, value, meta)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return tuple(value) if kind == "ints" else value


def flag(f: dataclasses.Field) -> str | None:
    """The command-line flag of an option field (``None``: Python only)."""
    cli = f.metadata.get("cli")
    if cli == "":
        return None
    return cli or "--" + f.name.replace("_", "-")


def parse_ints(value: Any) -> tuple[int, ...] | None:
    """``"1,2 3"`` or a list of such -> ``(1, 2, 3)``."""
    if value is None or (isinstance(value, tuple) and all(isinstance(v, int) for v in value)):
        return value
    parts = [value] if isinstance(value, str) else list(value)
    out = []
    for p in parts:
        for piece in str(p).replace(" ", ",").split(","):
            if piece:
                try:
                    out.append(int(piece))
                except ValueError:
                    raise ConfigError(f"expected integers, got {piece!r}") from None
    return tuple(out)


def click_options(cls: Any, *, exclude: Sequence[str] = (), prefix: str = "") -> Callable:
    """A decorator adding one click option per :func:`option` field of ``cls``.

    The option's parameter name is ``prefix + field name``; click only parses (number, string,
    flag); ranges and choices are checked by the dataclass itself, so the CLI, Python and TOML
    files give the same message."""
    import click

    decorators = []
    for f in option_fields(cls):
        name = flag(f)
        if name is None or f.name in exclude:
            continue
        m = f.metadata
        default = f.default
        help_text = m["help"]
        kw: dict[str, Any] = {"help": help_text, "show_default": default is not None}
        if m["kind"] == "bool":
            decl = [f"{name}/--no-{name[2:]}", prefix + f.name] if default else [name, prefix + f.name]
            decorators.append(click.option(*decl, is_flag=True, default=bool(default), help=help_text))
            continue
        kind = m["kind"]
        ptype: Any = {"float": float, "int": int}.get(kind, str)
        metavar = m["metavar"]
        if m["choices"]:
            metavar = metavar or "[" + "|".join(m["choices"]) + "]"
        if kind == "ints":
            kw["multiple"] = True
            default = (",".join(str(x) for x in default),) if default else ()
            metavar = metavar or "1,2,3"
        decorators.append(
            click.option(name, prefix + f.name, type=ptype, default=default, metavar=metavar, **kw)
        )

    def deco(fn: Callable) -> Callable:
        for d in reversed(decorators):
            fn = d(fn)
        return fn

    return deco


def from_options(cls: Any, opts: dict[str, Any], *, prefix: str = "", **extra: Any) -> Any:
    """Build ``cls`` from parsed click options (popping them from ``opts``)."""
    kwargs: dict[str, Any] = {}
    for f in option_fields(cls):
        key = prefix + f.name
        if key in opts:
            value = opts.pop(key)
            if f.metadata["kind"] == "ints":
                value = parse_ints(value)
            kwargs[f.name] = value
    kwargs.update(extra)
    return cls(**kwargs)
