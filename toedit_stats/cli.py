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
from .errors import ConfigError, ToeditError

# ---------------------------------------------------------------------------------------------
# plumbing


class _Group(click.Group):
    """Maps :class:`ToeditError` to one line on stderr and exit status 2."""

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
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
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
        check_output_location(output, directory=True, overwrite=overwrite, inputs=inputs)


def parse_ints(values: Sequence[str], option: str) -> list[int]:
    """``--n 1,2 --n 3`` -> [1, 2, 3]."""
    out = []
    for v in values:
        for part in str(v).replace(" ", ",").split(","):
            if part:
                try:
                    out.append(int(part))
                except ValueError:
                    raise ConfigError(f"{option} expects integers, got {part!r}") from None
    return out


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
    return not quiet and sys.stderr.isatty()


# ---------------------------------------------------------------------------------------------
# commands


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="toedit-stats")
def main() -> None:
    """Audit synthetic text against human text, and edit it with ToEdit.

    Start with `toedit-stats report HUMAN SYNTHETIC`; every analyzer also runs on its own.
    """


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


@main.command()
@click.argument("corpora", nargs=-1, required=True, metavar="CORPUS...")
@corpus_options
@click.option(
    "--n",
    "ns",
    multiple=True,
    default=["1,2,3,4"],
    show_default=True,
    metavar="1,2,3,4",
    help="N-gram orders (comma-separated or repeated).",
)
@click.option(
    "--top", type=click.IntRange(min=1), default=40, show_default=True, help="Top n-grams kept for plots."
)
@click.option("--max-docs", type=click.IntRange(min=1), help="Read at most N documents per corpus.")
@click.option("--sketch", is_flag=True, help="Bounded-memory mode (HyperLogLog++ and Misra–Gries).")
@click.option(
    "--capacity",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="--sketch: heavy-hitter counters per n.",
)
@result_options("ngrams.json")
def ngrams(corpora, ns, top, max_docs, sketch, capacity, output, overwrite, as_json, quiet, **opts):
    """N-gram concentration per corpus and divergence from the first corpus (the reference)."""
    from .analyzers.ngrams import analyze_ngrams

    seed = opts["seed"]
    cs = open_corpora(corpora, opts)
    check_result_dir(output, overwrite, cs)
    orders = parse_ints(ns, "--n")
    if sketch:
        from .analyzers.ngram_sketch import analyze_ngrams_sketch

        result = analyze_ngrams_sketch(cs, n=orders, top=top, seed=seed, capacity=capacity, max_docs=max_docs)
    else:
        result = analyze_ngrams(cs, n=orders, top=top, seed=seed, max_docs=max_docs)
    if output:
        from ._io import write_result_dir

        tops = [
            {"corpus": c.name, "n": n, "rank": i + 1, "ngram": t, "count": k}
            for c in result.corpora
            for n, items in c.top.items()
            for i, (t, k) in enumerate(items)
        ]
        import pandas as pd

        write_result_dir(
            output,
            json_name="ngrams.json",
            payload=result.to_dict(),
            frames={
                "ngrams": result.to_frame(),
                "ngram_pairs": result.pairs_frame(),
                "top_ngrams": pd.DataFrame(tops),
            },
            figures=result.plot(top_k=top),
        )
    if as_json:
        emit_json(result.to_dict())
        return
    frame = result.to_frame()
    show_table(
        frame[frame["sample"] == "full"].drop(columns=["sample"]), "n-gram concentration (full corpora)"
    )
    if not result.pairs_frame().empty:
        click.echo()
        show_table(result.pairs_frame(), "divergence from the reference (first corpus)")


def lm_options(fn: Callable) -> Callable:
    """Options that choose and configure the language model."""
    options = [
        click.option(
            "--model",
            default="smollm2-135m",
            show_default=True,
            help="Embedded default, Hugging Face hub id, or local path.",
        ),
        click.option(
            "--backend",
            type=click.Choice(["transformers", "vllm"]),
            default="transformers",
            show_default=True,
        ),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N."),
        click.option(
            "--dtype",
            type=click.Choice(["auto", "float32", "bfloat16", "float16"]),
            default="auto",
            show_default=True,
            help="auto: bfloat16 on CUDA, float32 on CPU.",
        ),
        click.option(
            "--batch-tokens",
            type=click.IntRange(min=1),
            default=2048,
            show_default=True,
            help="Padded tokens per forward batch.",
        ),
        click.option("--trust-remote-code", is_flag=True, help="Allow the model repository's own code."),
        click.option(
            "--allow-pickle-weights",
            is_flag=True,
            help="Also load pickle (.bin) weights; by default only safetensors, as unpickling can run code.",
        ),
        click.option(
            "--score-cache",
            is_flag=True,
            help="Cache token scores on disk (keyed by model fingerprint and text hash) and reuse them.",
        ),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def make_lm(opts: dict[str, Any]):
    """Build the LM backend from :func:`lm_options` (pops them from ``opts``)."""
    from .lm import load_lm

    model, backend = opts.pop("model"), opts.pop("backend")
    device, dtype = opts.pop("device"), opts.pop("dtype")
    batch_tokens, trust = opts.pop("batch_tokens"), opts.pop("trust_remote_code")
    allow_pickle = opts.pop("allow_pickle_weights")
    cached = opts.pop("score_cache")
    if backend == "vllm":
        lm = load_lm(model, backend="vllm", dtype=dtype, trust_remote_code=trust)
    else:
        lm = load_lm(
            model,
            backend="transformers",
            device=device,
            dtype=dtype,
            batch_tokens=batch_tokens,
            trust_remote_code=trust,
            allow_pickle=allow_pickle,
        )
    if cached:
        from .lm.cache import CachedLM

        lm = CachedLM(lm)
    return lm


@main.command()
@click.argument("corpora", nargs=-1, required=True, metavar="CORPUS...")
@corpus_options
@lm_options
@click.option(
    "--max-docs",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Score a seeded sample of at most N documents per corpus.",
)
@click.option("--all-docs", is_flag=True, help="Score every document (overrides --max-docs).")
@result_options("tokens.json")
def tokens(corpora, max_docs, all_docs, output, overwrite, as_json, quiet, **opts):
    """Token-probability histograms, GLTR ranks and per-document perplexity under a prior LM."""
    from .analyzers.tokens import analyze_tokens

    seed = opts["seed"]
    cs = open_corpora(corpora, opts)
    check_result_dir(output, overwrite, cs)
    lm = make_lm(opts)
    result = analyze_tokens(
        cs, model=lm, max_docs=None if all_docs else max_docs, seed=seed, progress=progress_enabled(quiet)
    )
    if output:
        from ._io import write_result_dir

        write_result_dir(
            output,
            json_name="tokens.json",
            payload=result.to_dict(),
            frames={
                "tokens": result.to_frame(),
                "token_pairs": result.pairs_frame(),
                "token_documents": result.documents_frame(),
            },
            figures=result.plot(),
        )
    if as_json:
        emit_json(result.to_dict())
        return
    table = result.to_frame().set_index("corpus").T.rename_axis("statistic").reset_index()
    show_table(table, "token statistics")
    if result.pairs:
        click.echo()
        show_table(result.pairs_frame(), "against the reference (first corpus)")


@main.command()
@click.argument("corpora", nargs=-1, required=True, metavar="CORPUS...")
@corpus_options
@click.option(
    "--embedder",
    default="minilm",
    show_default=True,
    help="minilm, tfidf, lm, or a sentence-transformers model id or path.",
)
@click.option(
    "--max-docs",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Embed a seeded sample of at most N documents per corpus.",
)
@click.option("--map", "projection", type=click.Choice(["pca", "tsne"]), default="pca", show_default=True)
@click.option("--mauve-seeds", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--permutations",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="MMD permutation-test permutations.",
)
@click.option("--cache", is_flag=True, help="Cache embeddings on disk, keyed by embedder and text hash.")
@result_options("embed.json")
def embed(
    corpora,
    embedder,
    max_docs,
    projection,
    mauve_seeds,
    permutations,
    cache,
    output,
    overwrite,
    as_json,
    quiet,
    **opts,
):
    """Embedding distribution shift: MAUVE, Fréchet, MMD test, classifier test, PRDC, and a map."""
    from .analyzers.embeddings import analyze_embeddings

    seed = opts["seed"]
    cs = open_corpora(corpora, opts)
    check_result_dir(output, overwrite, cs)
    result = analyze_embeddings(
        cs,
        embedder=embedder,
        max_docs=max_docs,
        seed=seed,
        mauve_seeds=mauve_seeds,
        permutations=permutations,
        projection=projection,
        cache=cache,
        progress=progress_enabled(quiet),
    )
    if output:
        from ._io import write_result_dir

        write_result_dir(
            output,
            json_name="embed.json",
            payload=result.to_dict(),
            frames={"embed_pairs": result.to_frame(), "embed_corpora": result.corpora_frame()},
            figures=result.plot(),
        )
    if as_json:
        emit_json(result.to_dict())
        return
    show_table(result.corpora_frame(), f"embedder {result.embedder['name']} ({result.embedder['dim']}-d)")
    if result.pairs:
        click.echo()
        show_table(
            result.to_frame().drop(columns=["mauve_runs"], errors="ignore"),
            "against the reference (first corpus)",
        )


@main.command()
@click.argument("human")
@click.argument("synthetic")
@corpus_options
@lm_options
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
    "--embedder",
    default="minilm",
    show_default=True,
    help="minilm, tfidf, lm, or a sentence-transformers id.",
)
@click.option(
    "--max-docs",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Sample at most N documents per corpus (seeded); the report says 'sampled N of M'.",
)
@click.option(
    "--all-docs", is_flag=True, help="Use every document (overrides --max-docs; holds them in memory)."
)
@click.option("--p", "p", type=float, default=0.99, show_default=True)
@click.option("--k", "k", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--beta", type=float, default=None, help="Default 1.5 (1.0 for low_drop_up_revise).")
@click.option(
    "--strategy",
    type=click.Choice(["up_revise", "low_drop_up_revise", "filtering"]),
    default="up_revise",
    show_default=True,
)
@click.option("--drop-below", type=float, default=0.001, show_default=True)
@click.option("--analyzers", default="ngrams,tokens,embed", show_default=True, help="Comma-separated subset.")
@click.option("--mauve-seeds", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--permutations", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars and no summary table.")
def report(
    human,
    synthetic,
    edited,
    no_edit,
    output,
    overwrite,
    embedder,
    max_docs,
    all_docs,
    p,
    k,
    beta,
    strategy,
    drop_below,
    analyzers,
    mauve_seeds,
    permutations,
    quiet,
    **opts,
):
    """Compare HUMAN with SYNTHETIC and its ToEdit variant; write report.html and metrics.json."""
    from pathlib import Path

    from .report import compare

    if edited and no_edit:
        raise ConfigError("--edited and --no-edit exclude each other")
    out = Path(output)
    paths = [human, synthetic] + ([edited] if edited else [])
    from ._io import check_output_location

    # before any work: the report folder can be written, is not an input, is empty or --overwrite
    check_output_location(out, directory=True, overwrite=overwrite, inputs=paths)
    default_names = ["human", "synthetic", "edited"][: len(paths)]
    wheres = list(opts.get("where") or ())
    if edited and len(wheres) == 2:
        opts["where"] = (*wheres, "")  # --where for the two inputs; the edited file is read whole
    seed = opts["seed"]
    cs = open_corpora(paths, opts, default_names=default_names)
    names = [c.name for c in cs] + (["edited"] if not edited else [])
    lm = make_lm(opts)
    result = compare(
        cs[0],
        cs[1],
        cs[2] if edited else None,
        edit=not no_edit,
        names=names[:3],
        model=lm,
        embedder=embedder,
        max_docs=None if all_docs else max_docs,
        seed=seed,
        p=p,
        k=k,
        beta=beta,
        strategy=strategy,
        drop_below=drop_below,
        analyzers=[a.strip() for a in analyzers.split(",") if a.strip()],
        mauve_seeds=mauve_seeds,
        permutations=permutations,
        progress=progress_enabled(quiet),
        command="toedit-stats " + " ".join(sys.argv[1:]),
    )
    result.save(out, overwrite=overwrite)
    if not quiet:
        frame = result.to_frame()
        if not frame.empty:
            table = frame.pivot_table(
                index=["family", "metric"], columns="corpus", values="value", aggfunc="first", sort=False
            )
            show_table(table.reset_index(), "summary (see report.html for the full report)")
        click.echo()
        click.echo(result.verdict()["summary"])
    click.echo(
        f"wrote {out / 'report.html'} and {out / 'metrics.json'} in {result.timings['total']:.0f} s", err=True
    )


def _apply_config_file(ctx: click.Context, path: str | None, opts: dict[str, Any]) -> None:
    """Fill options the user did not pass from a TOML job config (``editing/*.toml``)."""
    if not path:
        return
    import tomllib
    from pathlib import Path

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    params = {p.name: p for p in ctx.command.params}
    for key, value in flat.items():
        name = key.replace("-", "_")
        if name not in opts or name not in params:
            raise ConfigError(f"{path}: unknown option {key!r}")
        if ctx.get_parameter_source(name) == click.core.ParameterSource.DEFAULT:
            # the option's own type checks the value, as on the command line; no silent casts
            # from strings: `p = "0.99"` is a mistake in a typed file
            param = params[name]
            expects_str = isinstance(param.type, click.types.StringParamType | click.Choice)
            if isinstance(value, str) and not expects_str and not param.multiple:
                raise ConfigError(
                    f"{path}: {key} = {value!r} is a string; write it without quotes ({param.type.name} expected)"
                )
            is_int = isinstance(param.type, click.types.IntParamType)
            is_bool = isinstance(param.type, click.types.BoolParamType)
            if is_bool and not isinstance(value, bool):
                raise ConfigError(f"{path}: {key} = {value!r}: true or false expected")
            if (isinstance(value, bool) and not is_bool) or (is_int and isinstance(value, float)):
                raise ConfigError(f"{path}: {key} = {value!r}: {param.type.name} expected")
            try:
                opts[name] = param.type_cast_value(ctx, value)
            except click.BadParameter as exc:
                raise ConfigError(f"{path}: {key} = {value!r}: {exc.message}") from None
            except (TypeError, ValueError, AttributeError):
                raise ConfigError(f"{path}: {key} = {value!r}: {param.type.name} expected") from None


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
@click.option(
    "--p", "p", type=float, default=0.99, show_default=True, help="Select tokens with probability >= p."
)
@click.option(
    "--k", "k", type=click.IntRange(min=1), default=8, show_default=True, help="Resample from the top-k."
)
@click.option(
    "--beta", type=float, default=None, help="Sampling temperature (default 1.5; 1.0 for low_drop_up_revise)."
)
@click.option(
    "--strategy",
    type=click.Choice(["up_revise", "low_drop_up_revise", "filtering"]),
    default="up_revise",
    show_default=True,
)
@click.option(
    "--drop-below",
    type=float,
    default=0.001,
    show_default=True,
    help="Delete tokens with p < this (drop strategies).",
)
@click.option(
    "--generations", type=click.IntRange(min=1), default=1, show_default=True, help="Edit G times in a row."
)
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
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="TOML job config (see editing/)."
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def edit(ctx, input_path, output, config_file, quiet, **opts):
    """Edit a corpus with ToEdit (token-level resampling of over-confident tokens)."""
    from ._io import visible
    from .editing import EditConfig, run_edit_job
    from .editing.job import check_edit_output

    _apply_config_file(ctx, config_file, opts)
    try:
        i, n = (int(x) for x in str(opts.pop("shard")).split("/"))
    except ValueError:
        raise ConfigError("--shard expects I/N, e.g. --shard 0/4") from None
    cfg = EditConfig(
        p=opts.pop("p"),
        k=opts.pop("k"),
        beta=opts.pop("beta"),
        strategy=opts.pop("strategy"),
        drop_below=opts.pop("drop_below"),
        seed=opts["seed"],
        generations=opts.pop("generations"),
    )
    (corpus,) = open_corpora([input_path], opts)
    check_edit_output(output, list(corpus.paths), resume=opts["resume"], overwrite=opts["overwrite"])
    lm = make_lm(opts)
    result = run_edit_job(
        corpus,
        output,
        model=lm,
        config=cfg,
        shard=(i, n),
        resume=opts.pop("resume"),
        audit_positions=opts.pop("audit_positions"),
        chunk_docs=opts.pop("chunk_docs"),
        progress=progress_enabled(quiet),
        overwrite=opts.pop("overwrite"),
    )
    t = result.totals
    share = lambda x: f"{100 * x / t['tokens']:.3f}%" if t["tokens"] else "n/a"  # noqa: E731
    passed = (
        f" ({t['empty_passed_through']} empty, passed through unedited)"
        if t.get("empty_passed_through")
        else ""
    )
    bad = f"; skipped {t['skipped_bad']} bad records (see the manifest)" if t.get("skipped_bad") else ""
    click.echo(
        f"wrote {t['documents']} documents{passed}, {t['tokens']} tokens: selected {t['selected']} "
        f"({share(t['selected'])}), changed {t['changed']} ({share(t['changed'])}), deleted {t['deleted']} "
        f"({share(t['deleted'])}), skipped unsafe {t['skipped_unsafe']}{bad} -> {visible(str(result.output))}",
        err=True,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
