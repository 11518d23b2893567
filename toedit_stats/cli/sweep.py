"""`toedit-stats sweep`: editor settings against the human corpus."""

from __future__ import annotations

import click

from .analyzers import _chosen_analyzers, _report_analyzer_options
from .common import (
    QUIET_HELP,
    corpus_options,
    execution_options,
    lm_options,
    make_executor,
    open_corpora,
    sample_options,
    sample_settings,
    show_table,
)


def sweep_command() -> click.Command:
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
    @sample_options
    @click.option("--all-docs", is_flag=True, help="Use every document.")
    @click.option("--analyzers", default=None, help="Comma-separated subset of the registered analyzers.")
    @click.option(
        "--token-fraction",
        type=float,
        default=None,
        help="Share of synthetic documents whose variants are scored for the token statistics and "
        "the fluency cost (seeded sample, the same for every grid point) [default: min(1, 3 / grid "
        "points); 1 = exact].",
    )
    @execution_options
    @click.option("--quiet", is_flag=True, help=QUIET_HELP)
    def sweep_cmd(
        human, synthetic, grid, output, overwrite, all_docs, analyzers, token_fraction, quiet, **opts
    ):
        """Edit SYNTHETIC at every grid point from one scoring pass; measure each variant against HUMAN."""
        from .._io import check_output_location
        from ..lm.config import LMConfig
        from ..options import from_options
        from ..report.sweep import parse_grid, sweep

        seed = opts["seed"]
        built = _chosen_analyzers(analyzers, opts)
        configs = parse_grid(grid, seed=seed)
        sample = sample_settings(opts)
        lm_config = from_options(LMConfig, opts, prefix="lm_")
        executor = make_executor(opts)
        check_output_location(output, directory=True, overwrite=overwrite, inputs=[human, synthetic])
        cs = open_corpora([human, synthetic], opts, default_names=["human", "synthetic"])
        res = sweep(
            cs[0],
            cs[1],
            configs,
            lm=lm_config,
            analyzers=built,
            max_docs=None if all_docs else sample.max_docs,
            seed=seed,
            bootstrap=sample.bootstrap,
            token_fraction=token_fraction,
            executor=executor,
        )
        _save(res, output, overwrite, [human, synthetic])
        if not quiet:
            _show(res)
            click.echo(f"wrote {output}/sweep.csv, sweep_effects.csv, sweep.json and frontier.png", err=True)

    return click.command(name="sweep")(sweep_cmd)


_SHOWN = (
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


def _save(res, output: str, overwrite: bool, inputs: list[str]) -> None:
    """sweep.json, sweep.csv, sweep_effects.csv and frontier.png, all or nothing."""
    from .._io import atomic_dir, atomic_write_bytes, atomic_write_text, dumps, to_csv
    from ..plotting import figure_png

    with atomic_dir(output, overwrite=overwrite, inputs=inputs) as tmp:
        atomic_write_text(tmp / "sweep.json", dumps(res.to_dict()) + "\n")
        atomic_write_text(tmp / "sweep.csv", to_csv(res.to_frame()))
        atomic_write_text(tmp / "sweep_effects.csv", to_csv(res.effects_frame()))
        atomic_write_bytes(tmp / "frontier.png", figure_png(res.frontier(), dpi=110))


def _show(res) -> None:
    frame = res.to_frame()
    show_table(frame[[c for c in _SHOWN if c in frame]], "sweep (see sweep.csv and frontier.png)")
