"""The ``digitreader webcam`` subcommand (click only at import: the heavy modules load when it runs)."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import POLARITIES, helper_model_options, update_verbosity, verbosity_options


def _parse_roi(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    try:
        x, y, w, h = (int(v) for v in value.replace(" ", "").split(","))
    except ValueError:
        raise click.BadParameter("expected x,y,w,h in pixels, e.g. 100,80,400,200") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise click.BadParameter("x and y must be >= 0, w and h > 0")
    return x, y, w, h


@click.command("webcam")
@click.option("--camera", type=click.IntRange(0), default=None, metavar="N",
              help="Camera index (default 0 when no --source).")
@click.option("--source", default=None, metavar="FILE_OR_URL",
              help="A video file (every frame is read) or a stream URL (rtsp://, http://; live, like a camera).")
@click.option("-m", "--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A .keras or .onnx model. Default: the shipped CNN.")
@helper_model_options
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="DIGITREADER_CACHE_DIR", help="Where converted (ONNX) models are cached.")
@click.option("--polarity", type=click.Choice(POLARITIES), default="auto", show_default=True,
              help="Ink polarity: dark ink on light paper, light on dark, or detect per frame.")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True, metavar="P",
              help="Show digits below confidence P as '?' (+/- change it in the window).")
@click.option("--roi", callback=_parse_roi, default=None, metavar="X,Y,W,H",
              help="Read only inside this rectangle of the frame (r selects one with the mouse).")
@click.option("--stable-frames", type=click.IntRange(1), default=3, show_default=True, metavar="K",
              help="A reading is stable once K frames in a row agree.")
@click.option("--vote", type=click.IntRange(1), default=None, metavar="N",
              help="Instead: a reading is stable when it wins a strict majority of the last N frames.")
@click.option("--no-display", is_flag=True, help="Headless: no window; new stable readings on stdout.")
@click.option("-f", "--format", "fmt", type=click.Choice(("json", "text")), default=None,
              help="How new stable readings are printed: JSON lines (default with --no-display) or text.")
@click.option("--realtime", is_flag=True, help="Play a video file at its own frame rate (default: as fast as "
                                               "frames can be read).")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="OUT.mp4",
              help="Write the annotated video (.mp4/.mov/.m4v: mp4v; .avi/.mkv: MJPG).")
@click.option("--snapshot-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where the s key saves snapshots (annotated PNG, raw PNG, JSON).")
@click.option("--timeout", type=click.FloatRange(0.1), default=10.0, show_default=True, metavar="S",
              help="Give up when the source opens or sends no frame for S seconds.")
@click.option("--scale", type=click.FloatRange(0.1, 1.0), default=1.0, show_default=True, metavar="F",
              help="Read each frame resized by F (0.5: four times fewer pixels, faster; digits must stay over "
                   "~20 px tall: a reduced frame is not enlarged again). Boxes are reported in full-frame pixels.")
@click.option("--workers", type=click.IntRange(1, 8), default=None, metavar="N",
              help="Reading threads (default: 2 for a file on 2+ cores, 1 for a live source: lowest latency).")
@click.option("--max-frames", type=click.IntRange(1), default=None, metavar="N", help="Stop after N frames.")
@verbosity_options
@click.pass_context
def webcam_cmd(ctx: click.Context, camera: int | None, source: str | None, model: Path | None, verifier: str,
               pair_reader: str, run_reader: str,
               cache_dir: Path | None, polarity: str, min_confidence: float, roi: tuple[int, int, int, int] | None,
               stable_frames: int, vote: int | None, no_display: bool, fmt: str | None, realtime: bool,
               record: Path | None, snapshot_dir: Path, timeout: float, scale: float, workers: int | None,
               max_frames: int | None, verbose: int, quiet: bool) -> None:
    """Read numbers live from a camera, a video file or a stream.

    \b
    Window keys: q/Esc quit, space pause, s snapshot, r select a region with
    the mouse (Enter accepts, c clears), +/- minimum confidence.
    Each new stable reading is printed once (a JSON line with --no-display).

    \b
    digitreader webcam                        # camera 0, with a window
    digitreader webcam --source clip.mp4 --no-display --record out.mp4
    """
    update_verbosity(ctx, verbose, quiet)
    if camera is not None and source is not None:
        raise click.UsageError("use --camera or --source, not both")
    if realtime and source is None:
        raise click.UsageError("--realtime applies to a --source video file")
    from .webcam.app import WebcamOptions, WebcamSession
    from .webcam.capture import FrameSource, SourceSpec
    from .webcam.recorder import Recorder
    from .webcam.stability import StabilityConfig
    from .webcam.window import Window

    spec = SourceSpec(camera=camera if source is None else None, location=source)
    if spec.camera is None and spec.location is None:
        spec.camera = 0
    options = WebcamOptions(
        display=not no_display, fmt=fmt or ("json" if no_display else "text"), roi=roi,
        stability=StabilityConfig("vote", vote) if vote else StabilityConfig("consecutive", stable_frames),
        record=record, snapshot_dir=snapshot_dir, max_frames=max_frames, scale=scale, workers=workers,
        title=f"digitreader webcam: {spec.name}")
    if options.display:
        Window(options.title)  # no display: fail now, before opening the camera or loading the model
    if record is not None:
        Recorder(record, 30.0)  # a bad extension or folder fails now
    frames = FrameSource.from_spec(spec, timeout=timeout, realtime=realtime)
    try:
        frames.wait_opened()  # a bad camera fails before the model loads
        from .reader import DigitReader

        reader = DigitReader(model, polarity=polarity, min_confidence=min_confidence, cache_dir=cache_dir,
                             verifier=verifier, pair_reader=pair_reader, run_reader=run_reader)
        ctx.exit(WebcamSession(reader, frames, options).run())
    finally:
        frames.close()
