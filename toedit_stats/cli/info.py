"""`toedit-stats info` (what a corpus holds) and `list` (the registered plugins)."""

from __future__ import annotations

from typing import Any

import click

from .common import corpus_options, emit_json, open_corpora, show_table


@click.command()
@click.argument("corpora", nargs=-1, required=True, metavar="CORPUS...")
@corpus_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object and nothing else on stdout.")
def info(corpora: tuple[str, ...], as_json: bool, **opts: Any) -> None:
    """Documents, characters, words and length quantiles of each corpus."""
    import pandas as pd

    from ..summary import summarize

    summaries = [summarize(c) for c in open_corpora(corpora, opts)]
    if as_json:
        emit_json({"corpora": [s.to_dict() for s in summaries]})
        return
    show_table(pd.concat([s.to_frame() for s in summaries], ignore_index=True))


@click.command(name="list")
def list_plugins() -> None:
    """The registered analyzers and language-model backends (built in and from plugins)."""
    from ..registry import ANALYZERS, BACKENDS, analyzer_names, backend_names

    click.echo("analyzers:")
    for n in analyzer_names():
        click.echo(f"  {n:<14} {ANALYZERS[n]}")
    click.echo("backends:")
    for n in backend_names():
        click.echo(f"  {n:<14} {BACKENDS[n]}")
