"""`toedit-stats edit`: the resumable, sharded edit job."""

from __future__ import annotations

import click

from ..errors import ConfigError
from ..lm.config import LMConfig
from ..options import from_options
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
)


@click.command()
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
@execution_options
@config_option
@click.option("--quiet", is_flag=True, help=QUIET_HELP)
def edit(input_path, output, quiet, **opts):
    """Edit a corpus with ToEdit (token-level resampling of over-confident tokens)."""
    from ..editing import run_edit_job
    from ..editing.job import check_edit_output

    try:
        i, n = (int(x) for x in str(opts.pop("shard")).split("/"))
    except ValueError:
        raise ConfigError("--shard expects I/N, e.g. --shard 0/4") from None
    cfg = make_edit_config(opts)
    lm_config = from_options(LMConfig, opts, prefix="lm_")
    executor = make_executor(opts)  # checked before anything is read
    (corpus,) = open_corpora([input_path], opts)
    check_edit_output(output, list(corpus.paths), resume=opts["resume"], overwrite=opts["overwrite"])
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
    _summary(result, cfg, quiet)


def _summary(result, cfg, quiet: bool) -> None:
    """What the job did, on stderr (with --quiet only a warning about dropped input)."""
    from .._io import visible

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
