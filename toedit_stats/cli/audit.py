"""`toedit-stats score` (per-document audit scores) and `select` (DSIR selection)."""

from __future__ import annotations

import click

from ..errors import ConfigError
from .common import (
    _CORPUS_KEYS,
    QUIET_HELP,
    corpus_options,
    execution_options,
    lm_options,
    make_executor,
    open_corpora,
    show_table,
)


@click.command(name="score")
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
@execution_options
@click.option("--quiet", is_flag=True, help=QUIET_HELP)
def score_cmd(corpora, reference, with_lm, embedder, max_docs, output, overwrite, quiet, **opts):
    """Per-document audit scores (word, near-duplicate, LM and reference columns) into Parquet."""
    from .._io import atomic_file, check_output_location
    from ..lm.config import LMConfig
    from ..options import from_options
    from ..scores import score

    if max_docs is not None and max_docs < 1:
        from ..options import bad_value

        raise bad_value("max_docs", "an integer >= 1", max_docs)
    if not str(output).endswith(".parquet"):
        raise ConfigError(f"{output}: the scores are written as Parquet; name the file *.parquet")
    lm_config = from_options(LMConfig, opts, prefix="lm_")
    executor = make_executor(opts)
    paths = [*corpora, *([reference] if reference else [])]
    check_output_location(output, overwrite=overwrite, inputs=paths)
    seed = opts["seed"]
    if not quiet:  # which column sets load which model (issue 30: --no-lm still loads the embedder)
        parts = ["word and near-duplicate columns (no model)"]
        parts.append(
            f"language-model columns: loads {lm_config.model}" if with_lm else "no language-model columns"
        )
        if reference:
            parts.append(f"reference columns: loads the embedder {embedder} (and DSIR, no model)")
        click.echo("score: " + "; ".join(parts), err=True)
    cs = open_corpora(paths, opts)
    ref = cs.pop() if reference else None
    frame = score(
        cs,
        reference=ref,
        model=lm_config if with_lm else None,
        embedder=embedder,
        seed=seed,
        max_docs=max_docs,
        executor=executor,
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


@click.command(name="select")
@click.argument("corpus", metavar="CORPUS")
@corpus_options
@click.option("--reference", required=True, help="The target corpus (human).")
@click.option("--n", "n", type=int, required=True, help="Documents to select.")
@click.option("--method", type=click.Choice(["dsir"]), default="dsir", show_default=True)
@click.option(
    "--weights",
    "weighting",
    type=click.Choice(["per-document", "per-token"]),
    default="per-document",
    show_default=True,
    help="DSIR's log weights as they are (they grow with document length, so long documents win) or "
    "per token: divided by the document's length and multiplied by the pool's mean length (the same "
    "scale, without the length advantage). Recorded in the manifest.",
)
@click.option(
    "--by",
    "by_field",
    default=None,
    metavar="FIELD",
    help="Also show (and record) the share of each value of this metadata field, pool vs selection.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help=".jsonl, .jsonl.gz, .jsonl.zst or .parquet",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--quiet", is_flag=True, help=QUIET_HELP)
def select_cmd(corpus, reference, n, method, weighting, by_field, output, overwrite, quiet, **opts):
    """DSIR importance resampling: N documents of CORPUS that look like REFERENCE (seeded)."""
    from pathlib import Path

    import numpy as np

    from .._io import publish_with_manifest
    from .._provenance import file_facts, file_sha256
    from ..corpus import output_format, write_records
    from ..selection import dsir_features, dsir_log_weights, gumbel_top_k

    if n < 1:
        from ..options import bad_value

        raise bad_value("n", "an integer >= 1", n)
    output_format(output)
    from .._io import check_output_location

    check_output_location(output, overwrite=overwrite, inputs=[corpus, reference])
    # the manifest is an output too (one without its output beside it is a killed run's: replaced)
    manifest_path = f"{output}.manifest.json"
    check_output_location(
        manifest_path, overwrite=overwrite or not Path(output).exists(), inputs=[corpus, reference]
    )
    seed = opts["seed"]
    # how the inputs were read, for the manifest: the selection is reproducible from it
    reading = {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items() if k in _CORPUS_KEYS}
    src, ref = open_corpora([corpus, reference], opts)
    docs = list(src)
    features = dsir_features([d.text for d in docs])
    weights = dsir_log_weights(features, dsir_features([d.text for d in ref]))
    if weighting == "per-token":  # per feature (unigrams + bigrams), at the pool's mean length
        per_doc = np.maximum(1.0, np.asarray(features.sum(1)).ravel())
        weights = weights / per_doc * per_doc.mean()
    chosen = gumbel_top_k(weights, n, seed=seed)
    make_up = selection_make_up(docs, chosen, by_field)
    records = [{**docs[i].metadata, src.text_field: docs[i].text, src.id_field: docs[i].id} for i in chosen]
    fmt = output_format(output)

    def manifest(tmp):
        return {
            "method": method,
            "n": len(chosen),
            "of": len(docs),
            "seed": seed,
            "features": "hashed unigrams and bigrams, 10,000 buckets (DSIR)",
            "weights": weighting,
            "reading": reading,
            "make_up": make_up,
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
    if not quiet:
        import pandas as pd

        rows = [{"": k, **v} for k, v in make_up["words"].items()]
        show_table(pd.DataFrame(rows), "words per document: pool vs selection")
        if make_up.get("by"):
            show_table(pd.DataFrame(make_up["by"]), f"share by {by_field}: pool vs selection")
        click.echo(
            f"selected {len(chosen)} of {len(docs)} documents ({weighting} weights) -> {output}", err=True
        )


def selection_make_up(docs, chosen, by_field: str | None) -> dict:
    """What a selection took next to its pool: words per document (p5, p50, p95, mean) and, with
    ``by_field``, each value's share (DSIR's log weights grow with length: the table shows it)."""
    import numpy as np

    from ..tokenize import words

    lengths = np.array([len(words(d.text)) for d in docs], np.float64)

    def summary(x):
        if not x.size:
            return {"documents": 0}
        p5, p50, p95 = np.percentile(x, [5, 50, 95])
        return {
            "documents": int(x.size),
            "p5": float(p5),
            "p50": float(p50),
            "p95": float(p95),
            "mean": float(x.mean()),
        }

    out: dict = {"words": {"pool": summary(lengths), "selection": summary(lengths[np.asarray(chosen, int)])}}
    if by_field:
        values = [str(d.metadata.get(by_field)) for d in docs]
        picked = [values[i] for i in chosen]
        out["by"] = [
            {
                by_field: v,
                "pool": values.count(v) / len(values),
                "selection": picked.count(v) / max(1, len(picked)),
            }
            for v in sorted(set(values))
        ]
    return out
