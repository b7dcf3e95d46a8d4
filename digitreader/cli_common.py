"""Options and logging set-up shared by every subcommand (click only: importing this stays cheap)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import click

from .imagesize import DEFAULT_MAX_PIXELS

FORMATS = ("text", "json", "csv")
POLARITIES = ("auto", "dark", "light")
CHARSETS = ("digits", "decimal")  # as digitreader.result.CHARSETS (not imported: keeps --help cheap)


def configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger("digitreader")
    root.handlers[:] = []
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s" if level >= logging.INFO else "%(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


def verbosity_options(func: Callable) -> Callable:
    func = click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")(func)
    return click.option("-v", "--verbose", count=True, help="More detail on stderr (tracebacks too).")(func)


def helper_model_options(func: Callable) -> Callable:
    """``--verifier``, ``--pair-reader`` and ``--run-reader PATH|auto|none``, shared by read, batch and webcam
    (passed to DigitReader as they are)."""
    func = click.option("--run-reader", default="auto", show_default=True, metavar="PATH|auto|none",
                        help="The model that reads a box of 1 to 4 touching digits whole, without cutting it, as "
                             "a second opinion on the cuts: auto (the shipped output/digit_runs.keras), a model "
                             "made by 'train --arch runs' (for batch: a path valid on every worker), or none.")(func)
    func = click.option("--pair-reader", default="auto", show_default=True, metavar="PATH|auto|none",
                        help="The model that reads two touching or overlapping digits together, where cutting "
                             "them apart leaves each with part of the other: auto (the shipped "
                             "output/digit_pairs.keras), a model made by 'train --arch pairs' (for batch: a "
                             "path valid on every worker), or none.")(func)
    return click.option("--verifier", default="auto", show_default=True, metavar="PATH|auto|none",
                        help="The single-digit verifier that helps decide where to cut touching digits: auto "
                             "(the shipped output/digit_verifier.keras), a model made by 'train --arch verifier' "
                             "(for batch: a path valid on every worker), or none.")(func)


def reading_options(func: Callable) -> Callable:
    """Options shared by the top-level ``digitreader -i IMAGE`` form and ``digitreader read``."""
    options = [
        click.option("-m", "--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="A .keras or .onnx model. Default: the shipped CNN (output/mnist_cnn.keras)."),
        helper_model_options,
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     envvar="DIGITREADER_CACHE_DIR", show_envvar=True,
                     help="Where converted (ONNX) models are cached. Default: ~/.cache/digitreader."),
        click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="text: one line per row; json: one object per image (JSON Lines); csv: a row per digit."),
        click.option("--polarity", type=click.Choice(POLARITIES), default="auto", show_default=True,
                     help="Ink polarity: dark ink on light paper, light on dark, or detect."),
        click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
                     metavar="P", help="Show digits whose confidence is below P as '?'."),
        click.option("-o", "--annotate", type=click.Path(path_type=Path), default=None, metavar="PATH",
                     help="Write the image with labelled boxes to PATH (a folder when reading several images)."),
        click.option("--show", is_flag=True, help="Show the annotated image in a window; any key closes it."),
        click.option("--max-pixels", type=click.IntRange(1), default=DEFAULT_MAX_PIXELS, show_default=True,
                     metavar="N", help="Refuse images whose header declares more than N pixels, before decoding "
                                       "them (decompression bombs)."),
        click.option("--charset", type=click.Choice(CHARSETS), default="digits", show_default=True,
                     help="decimal: also report the separators . , - written in amounts (text, and 'marks' in JSON)."),
        click.option("--debug-dir", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
                     help="Write the binarised image, the boxes before and after merging/splitting and every "
                          "28x28 crop with its prediction to DIR."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def update_verbosity(ctx: click.Context, verbose: int, quiet: bool) -> None:
    if verbose or quiet:
        ctx.obj.update(verbose=verbose or ctx.obj.get("verbose", 0), quiet=quiet)
        configure_logging(ctx.obj["verbose"], quiet)
