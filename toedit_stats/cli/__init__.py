"""The ``toedit-stats`` command line: parse, call the public API, map errors to exit codes.

Exit status: 0 success, 2 bad input or usage (one line on stderr, no traceback), 130 on Ctrl-C.
"""

from __future__ import annotations

from typing import Any

import click

from .._version import __version__
from ..errors import ToeditError
from .analyzers import analyzer_command, mixture_command
from .audit import score_cmd, select_cmd
from .common import _ENV_ERRNOS, _error_line
from .edit import edit
from .info import info, list_plugins
from .report import report_command
from .sweep import sweep_command

__all__ = ["main"]


class _Group(click.Group):
    """Maps :class:`ToeditError` to one line on stderr and exit status 2; the analyzer
    subcommands come from the registry (made when listed or invoked)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from ..registry import analyzer_names

        return [*super().list_commands(ctx), *[n for n in analyzer_names() if n not in self.commands]]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        from ..registry import analyzer_names

        if name in analyzer_names():
            return analyzer_command(name)
        return None

    def invoke(self, ctx: click.Context) -> Any:
        from .common import OPENED, replaced_notes

        OPENED.clear()  # this command's corpora only (a process may run several: tests, notebooks)
        try:
            result = super().invoke(ctx)
            for line in replaced_notes():
                click.echo(line, err=True)
            return result
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
        from .._threads import set_threads

        set_threads(threads)


for _cmd in (
    info,
    report_command(),
    edit,
    sweep_command(),
    score_cmd,
    select_cmd,
    mixture_command(),
    list_plugins,
):
    main.add_command(_cmd)
