"""The command line: a thin click layer over the library API. Only the cli*.py modules parse arguments."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .cli_batch import batch_cmd
from .cli_common import configure_logging, reading_options, update_verbosity, verbosity_options
from .cli_webcam import webcam_cmd
from .errors import EXIT_CODE_TABLE, DigitReaderError, ExitCode, OutputError

log = logging.getLogger("digitreader")


class DefaultGroup(click.Group):
    """A group that also reads images itself: ``digitreader -i form.png`` works without a subcommand."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Exit codes"):
            formatter.write_dl([(str(int(code)), f"{name}: {meaning}") for code, name, meaning in EXIT_CODE_TABLE])


@click.group(cls=DefaultGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="digitreader")
@click.option("-i", "--image", "images", multiple=True, metavar="IMAGE",
              help="Image to read (PNG, JPEG, BMP, TIFF, WebP...); '-' reads stdin. Repeatable.")
@reading_options
@verbosity_options
@click.pass_context
def main_group(ctx: click.Context, images: tuple[str, ...], verbose: int, quiet: bool, **options: Any) -> None:
    """Read multi-digit handwritten numbers from images.

    \b
    digitreader -i form.png -m output/mnist_cnn.keras
    digitreader read scans/*.png --format json
    digitreader train --arch cnn --data mnist.npz --out my_cnn.keras
    """
    ctx.ensure_object(dict)
    ctx.obj.update(verbose=verbose, quiet=quiet)
    configure_logging(verbose, quiet)
    if ctx.invoked_subcommand is not None:
        if images:
            raise click.UsageError("-i/--image cannot be combined with a subcommand")
        return
    if not images:
        click.echo(ctx.get_help(), err=True)
        ctx.exit(ExitCode.USAGE)
    ctx.exit(_read_command(list(images), **options))


@main_group.command("read")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@reading_options
@verbosity_options
@click.pass_context
def read_cmd(ctx: click.Context, images: tuple[str, ...], verbose: int, quiet: bool, **options: Any) -> None:
    """Read one or more images in one process ('-' reads stdin)."""
    update_verbosity(ctx, verbose, quiet)
    ctx.exit(_read_command(list(images), **options))


def _read_command(images: list[str], model: Path | None, cache_dir: Path | None, fmt: str, polarity: str,
                  min_confidence: float, annotate: Path | None, show: bool, max_pixels: int,
                  charset: str = "digits", debug_dir: Path | None = None, verifier: str = "auto",
                  pair_reader: str = "auto", run_reader: str = "auto") -> int:
    from .draw import annotate_image
    from .imageio import write_image
    from .reader import DigitReader
    from .result import to_csv, to_json_lines, to_text

    reader = DigitReader(model, polarity=polarity, min_confidence=min_confidence, cache_dir=cache_dir,
                         max_pixels=max_pixels, quick_start=len(images) == 1, charset=charset, debug_dir=debug_dir,
                         verifier=verifier, pair_reader=pair_reader, run_reader=run_reader)
    several = len(images) > 1
    if several and annotate is not None:
        try:
            annotate.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {annotate}: {exc}") from None
    results, failures = [], []
    for item in reader.read_paths(images):
        path, result, image = item.path, item.result, item.image
        results.append(result)
        if item.exception is not None:
            failures.append(result)
            if not several:
                raise item.exception
            log.error("%s: %s", item.exception.name, result.error)
            continue
        if annotate is not None or show:
            picture = annotate_image(image, result)
            if annotate is not None:
                target = annotate / f"{_stem_for(path, len(results))}.annotated.png" if several else annotate
                write_image(target, picture)
            if show:
                from .draw import show_image

                show_image(picture, title=f"digitreader: {path}")
    if fmt == "json":
        sys.stdout.write(to_json_lines(results))
    elif fmt == "csv":
        sys.stdout.write(to_csv(results))
    else:
        sys.stdout.write(to_text(results, with_paths=several))
    sys.stdout.flush()
    return ExitCode.PARTIAL if failures else ExitCode.OK


def _command_line(ctx: click.Context) -> str:
    """The command as typed, recorded in a model's metadata."""
    return "digitreader " + " ".join(shlex.quote(a) for a in ctx.obj.get("argv", sys.argv[1:]))


def _stem_for(path: str, index: int) -> str:
    stem = "stdin" if path == "-" else Path(path).stem
    return f"{index:04d}_{stem}"


@main_group.command("train")
@click.option("--arch", type=click.Choice(("mlp", "cnn", "verifier", "pairs", "runs")), default=None,
              help="Architecture (required unless --init-model gives it). verifier: the single-digit verifier "
                   "(one whole digit, or merged digits / part of a digit?) used when splitting touching digits; "
                   "pairs: the pair reader (two touching or overlapping digits read together: 100 pairs, and "
                   "one, three or four digits); runs: the run reader (1 to 4 touching digits read whole, a CRNN "
                   "trained with CTC loss).")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="mnist.npz, a folder of IDX files, CSV, class folders 0/…9/, or USPS .h5. "
                   "Default: keras.datasets.mnist (needs network).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the model (.keras); reports and metadata go beside it.")
@click.option("--epochs", type=click.IntRange(1), default=None,
              help="Maximum epochs (default: mlp 40, cnn 30, verifier 6, pairs 20, runs 8).")
@click.option("--batch-size", type=click.IntRange(1), default=128, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--init-model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Start from an existing .keras model (fine-tuning).")
@click.option("--average-init", is_flag=True,
              help="With --init-model: save the average of the fine-tuned weights and the starting model's "
                   "(a weight-space ensemble; the shipped pair reader was made so, see benchmarks/RESULTS.md).")
@click.option("--learning-rate", type=click.FloatRange(0, min_open=True), default=None,
              help="Peak learning rate (default 1e-3; 3e-4 with --init-model).")
@click.option("--val-split", type=click.FloatRange(0, 0.5), default=0.05, show_default=True,
              help="Fraction of the training split held out for early stopping.")
@click.option("--patience", type=click.IntRange(1), default=8, show_default=True,
              help="Early stopping: epochs without validation improvement.")
@click.option("--no-augment", is_flag=True, help="Train on the digits as they are.")
@click.option("--crop-augment", is_flag=True,
              help="Also train on imperfect crops: slivers of a neighbour at a digit's edge, and merged "
                   "digits with a 'not sure' (uniform) target. Reads more touching digits; costs MNIST accuracy "
                   "(see benchmarks/RESULTS.md).")
@click.option("--extra-crops", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also train (mlp or cnn) on these ready-made crops, as they are: an npz with x (N, 28, 28) "
                   "uint8 and y, such as benchmarks/page_crops.py writes from pages of training digits.")
@click.option("--max-samples", type=click.IntRange(1), default=None,
              help="Use only the first N train and N test samples (quick experiments, tests).")
@verbosity_options
@click.pass_context
def train_cmd(ctx: click.Context, verbose: int, quiet: bool, **options: Any) -> None:
    """Train an MLP or CNN (or the verifier) and write MODEL, MODEL's .meta.json and report PNGs."""
    update_verbosity(ctx, verbose, quiet)
    from .augment import CROP_AUGMENT, AugmentConfig
    from .train import TrainConfig, train

    if options["average_init"] and options["init_model"] is None:
        raise click.UsageError("--average-init needs --init-model (the weights to average with)")
    config = TrainConfig(
        augment_config=CROP_AUGMENT if options["crop_augment"] else AugmentConfig(),
        out=options["out"], arch=options["arch"], data=options["data"], epochs=options["epochs"],
        batch_size=options["batch_size"], seed=options["seed"], init_model=options["init_model"],
        learning_rate=options["learning_rate"], val_fraction=options["val_split"], patience=options["patience"],
        augment=not options["no_augment"], max_samples=options["max_samples"],
        average_init=options["average_init"], extra_crops=options["extra_crops"],
        command=_command_line(ctx),
    )
    summary = train(config)
    log.info("saved %s: test accuracy %.2f %% (%d errors), %d epochs, %.0f s", summary["model"],
             summary["test_accuracy"] * 100, summary["test_errors"], summary["epochs_run"], summary["seconds"])
    click.echo(summary["model"])


@main_group.command("evaluate")
@click.option("-m", "--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A .keras model. Default: the shipped CNN.")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Dataset (same formats as train).")
@click.option("-f", "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@verbosity_options
@click.pass_context
def evaluate_cmd(ctx: click.Context, model: Path | None, data: Path, fmt: str, verbose: int, quiet: bool) -> None:
    """Accuracy, per-class precision/recall and confusion matrix on the test split of DATA."""
    update_verbosity(ctx, verbose, quiet)
    import json

    from .classify import load_classifier
    from .datasets import load_dataset
    from .evaluate import evaluate_classifier, format_metrics
    from .paths import default_model_path

    model = model or default_model_path()
    dataset = load_dataset(data)
    classifier = load_classifier(model)
    metrics, _ = evaluate_classifier(classifier, dataset.x_test, dataset.y_test)
    if fmt == "json":
        click.echo(json.dumps({"model": str(model), "data": str(data), "dataset_sha256": dataset.sha256, **metrics}))
    else:
        click.echo(format_metrics(metrics, str(model), dataset.summary()))


@main_group.command("ensemble")
@click.argument("members", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the combined model (.keras); its metadata and test reports go beside it.")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Dataset whose test split scores the combined model (same formats as train).")
@verbosity_options
@click.pass_context
def ensemble_cmd(ctx: click.Context, members: tuple[Path, ...], out: Path, data: Path | None, verbose: int,
                 quiet: bool) -> None:
    """Combine two or more trained digit classifiers (MEMBERS, .keras) into one model that averages their
    probabilities. Two CNNs of different seeds misread 28 MNIST test digits together against 33 and 30 alone,
    but no fewer benchmark pages (benchmarks/RESULTS.md, "Twelfth pass")."""
    update_verbosity(ctx, verbose, quiet)
    if len(members) < 2:
        raise click.UsageError("an ensemble needs two or more member models")
    from .ensemble import make_ensemble

    summary = make_ensemble(list(members), out, data, command=_command_line(ctx))
    log.info("saved %s: %d members, test accuracy %.2f %% (%d errors)", summary["model"], summary["members"],
             summary["test_accuracy"] * 100, summary["test_errors"])
    click.echo(summary["model"])


main_group.add_command(batch_cmd)
main_group.add_command(webcam_cmd)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, map errors to one stderr line and an exit code. Returns the code."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args)
    try:
        code = main_group.main(args=args, prog_name="digitreader", standalone_mode=False, obj={"argv": args})
        return int(code) if isinstance(code, int) else ExitCode.OK
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Interrupted", err=True)
        return ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        click.echo("Interrupted", err=True)
        return ExitCode.INTERRUPTED
    except DigitReaderError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        click.echo(f"{exc.name}: {exc}", err=True)
        return int(exc.exit_code)
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:  # a bug: say so plainly, traceback only with -v
        if verbose:
            import traceback

            traceback.print_exc()
        click.echo(f"InternalError: {type(exc).__name__}: {exc} (rerun with -v for the traceback)", err=True)
        return ExitCode.INTERNAL


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())
