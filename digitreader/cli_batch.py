"""The ``digitreader batch`` subcommand: a thin click layer over :func:`digitreader.batch.run_batch`."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .cli_common import POLARITIES, helper_model_options, update_verbosity, verbosity_options
from .errors import ModelError
from .imagesize import DEFAULT_MAX_PIXELS

log = logging.getLogger("digitreader")
SINK_FORMATS = ("jsonl", "csv", "sqlite")


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--out", required=True, metavar="FILE|URL",
              help="Results: .jsonl (JSON Lines), .csv (a row per digit) or .sqlite (tables images, digits); "
                   "re-running resumes it. A local path or an fsspec URL.")
@click.option("--format", "fmt", type=click.Choice(SINK_FORMATS), default=None,
              help="Output format when --out's extension does not say.")
@click.option("-j", "--jobs", type=click.IntRange(0), default=None, metavar="N",
              help="Worker processes, each loading the model once. Default: the number of cores; 0: this process.")
@click.option("--glob", metavar="PATTERN", default=None,
              help="Only files in folders matching PATTERN (e.g. '*.png'; with a '/', matched on the path "
                   "relative to the folder).")
@click.option("--ext", "extensions", metavar="LIST", default=None,
              help="Extensions taken from folders, case-insensitive (e.g. 'png,jpg'). Default: every image type.")
@click.option("--overwrite", is_flag=True, help="Start again: discard the existing output instead of resuming it.")
@click.option("--annotate-dir", metavar="DIR", default=None,
              help="Write each annotated image to DIR, mirroring the input tree (NAME.annotated.png).")
@click.option("-m", "--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A .keras or .onnx model (a path valid on every worker). Default: the shipped CNN.")
@helper_model_options
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="DIGITREADER_CACHE_DIR", show_envvar=True,
              help="Where converted (ONNX) models are cached. Default: ~/.cache/digitreader.")
@click.option("--polarity", type=click.Choice(POLARITIES), default="auto", show_default=True,
              help="Ink polarity: dark ink on light paper, light on dark, or detect.")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True, metavar="P",
              help="Show digits whose confidence is below P as '?' in text and lines.")
@click.option("--max-pixels", type=click.IntRange(1), default=DEFAULT_MAX_PIXELS, show_default=True, metavar="N",
              help="Refuse images whose header declares more than N pixels (recorded as failed).")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=16, show_default=True, metavar="N",
              help="Images per classifier call (and per unit of work sent to a worker).")
@click.option("--scheduler", metavar="tcp://HOST:PORT", default=None,
              help="Run on this Dask distributed cluster (pip install 'digitreader[dask]').")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr. Default: only when stderr is a terminal.")
@verbosity_options
@click.pass_context
def batch_cmd(ctx: click.Context, inputs: tuple[str, ...], verbose: int, quiet: bool, **opts: Any) -> None:
    """Read folders of scans into one resumable output, exactly once per image.

    INPUT is a folder (read recursively), an image file, an fsspec URL, or @LIST (a file with one
    input per line). Re-running the same command skips what is already in --out and reads the rest.
    Exit code 0: every image read; 10: some images failed (their records carry the error);
    130: interrupted (re-run to resume); 7: the output cannot be written.

    \b
    digitreader batch scans/ --out results.jsonl -j 2
    digitreader batch scans/ --glob '*.tif' --out results.sqlite --annotate-dir annotated/
    digitreader batch @todo.txt --out results.csv --scheduler tcp://10.0.0.5:8786
    """
    update_verbosity(ctx, verbose, quiet)
    from .batch.progress import stderr_is_terminal
    from .batch.runner import BatchOptions, default_jobs, run_batch
    from .batch.sinks import format_for

    try:
        fmt = format_for(opts["out"], opts["fmt"])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--out") from None
    model = opts["model"]
    if model is not None and opts["scheduler"] is None and not model.is_file():
        raise ModelError(f"model not found: {model}")
    quiet = bool(ctx.obj.get("quiet"))
    options = BatchOptions(
        inputs=list(inputs), out=opts["out"], fmt=fmt,
        jobs=default_jobs() if opts["jobs"] is None else opts["jobs"],
        glob=opts["glob"], extensions=opts["extensions"], overwrite=opts["overwrite"],
        annotate_dir=opts["annotate_dir"], model=str(model) if model else None,
        cache_dir=str(opts["cache_dir"]) if opts["cache_dir"] else None, polarity=opts["polarity"],
        min_confidence=opts["min_confidence"], max_pixels=opts["max_pixels"], batch_size=opts["batch_size"],
        verifier=opts["verifier"], pair_reader=opts["pair_reader"], run_reader=opts["run_reader"],
        scheduler=opts["scheduler"],
        progress=(stderr_is_terminal() and not quiet) if opts["progress"] is None else opts["progress"],
    )
    with _sigterm_as_interrupt():
        summary = run_batch(options)
    started = summary.done or summary.failed or summary.skipped or summary.interrupted
    if (not quiet or summary.interrupted or summary.fatal) and (started or summary.fatal is None):
        click.echo(summary.line(), err=True)  # not for an error before any work: its one line says it all
    if summary.fatal is not None:
        raise summary.fatal
    ctx.exit(summary.exit_code)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler, ``kill``) stops the batch as cleanly as Ctrl-C."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
