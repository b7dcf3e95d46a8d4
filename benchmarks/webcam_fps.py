"""Webcam / video speed (issue 6): frames per second processed headless at 640x480 on a video file, and
frame-to-overlay latency on a live-like source (a thread delivering frames at a fixed rate, like a camera).

    python benchmarks/webcam_fps.py [--frames 300] [--live-fps 30] [--model output/mnist_cnn.keras] [--display]

Latency is from the moment the capture thread has a frame to the overlay drawn (headless) or handed to the
window (--display: imshow + waitKey included).

CPU milliseconds per frame (process time, all threads) are printed beside the wall-clock rates: on a
shared machine they say what a quiet one would do better than frames/s do. The *_scale_0.5 runs read each
frame at half size (`digitreader webcam --scale 0.5`), beside, not instead of, the full-size target runs.

The clip is written to bench-data/webcam/ (gitignored): frames cycle through drawn numbers and the committed
MNIST-derived samples (no MNIST download needed), with jitter and noise, as MJPG at 30 fps. The reader is the
same ``WebcamSession`` the ``digitreader webcam`` command runs, with whatever ``load_classifier`` returns.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digitreader.reader import DigitReader  # noqa: E402
from digitreader.webcam.app import WebcamOptions, WebcamSession  # noqa: E402
from digitreader.webcam.capture import FrameSource, SourceSpec  # noqa: E402
from digitreader.webcam.stability import StabilityConfig  # noqa: E402

W, H = 640, 480
SAMPLES = ["one_row_651778970.png", "uneven_light_51935331.png", "noisy_skewed_03496749.png"]
DRAWN = ["42", "137", "2024", "9", "58306"]


def _drawn(text: str, height: int = 90) -> np.ndarray:
    """``text`` in a thick Hershey font, dark on light paper (like tests/conftest.py's draw_number)."""
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, max(2, height // 10)
    scale = cv2.getFontScaleFromHeight(font, height, thickness)
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    tile = np.full((h + base + 40, w + 40, 3), 232, np.uint8)
    cv2.putText(tile, text, (20, h + 20), font, scale, (20, 20, 20), thickness, cv2.LINE_AA)
    return tile


def scenes() -> list[np.ndarray]:
    pictures = [cv2.imread(str(REPO / "samples" / name)) for name in SAMPLES]
    return [p for p in pictures if p is not None] + [_drawn(t) for t in DRAWN]


def frame_for(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    page = np.full((H, W, 3), 232, np.uint8)
    if picture.shape[1] > W - 40 or picture.shape[0] > H - 40:
        scale = min((W - 40) / picture.shape[1], (H - 40) / picture.shape[0])
        picture = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    y = (H - picture.shape[0]) // 2 + int(rng.integers(-6, 7))
    x = (W - picture.shape[1]) // 2 + int(rng.integers(-6, 7))
    page[y:y + picture.shape[0], x:x + picture.shape[1]] = picture
    return np.clip(page + rng.normal(0, 4, page.shape), 0, 255).astype(np.uint8)


def make_frames(count: int, seed: int = 0, hold: int = 15) -> list[np.ndarray]:
    """``count`` frames; each scene is held for ``hold`` frames (half a second at 30 fps)."""
    rng, pictures = np.random.default_rng(seed), scenes()
    return [frame_for(pictures[(i // hold) % len(pictures)], rng) for i in range(count)]


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    for frame in frames:
        writer.write(frame)
    writer.release()


class LiveCapture:
    """A camera stand-in: ``read()`` returns the next frame (cycling) at its ``fps`` tick, blocking until then."""

    def __init__(self, frames: list[np.ndarray], fps: float) -> None:
        self.frames, self.period, self.index = frames, 1.0 / fps, 0
        self.start = time.monotonic()

    def isOpened(self) -> bool:  # noqa: N802
        return True

    def read(self):
        delay = self.start + self.index * self.period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.index += 1
        return True, self.frames[(self.index - 1) % len(self.frames)]

    def get(self, prop: int) -> float:
        return 1.0 / self.period if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        pass


def run_session(reader: DigitReader, source: FrameSource, frames: int, record: Path | None = None,
                workers: int | None = None, display: bool = False, scale: float = 1.0) -> dict:
    options = WebcamOptions(display=display, stability=StabilityConfig("consecutive", 3), record=record,
                            max_frames=frames, workers=workers, scale=scale)
    session = WebcamSession(reader, source, options, out=io.StringIO())
    start, cpu = time.monotonic(), time.process_time()
    session.run()
    seconds, cpu = time.monotonic() - start, time.process_time() - cpu
    out = {"frames": session.frames, "seconds": round(seconds, 3), "fps": round(session.frames / seconds, 1),
           "cpu_ms_per_frame": round(1000 * cpu / max(1, session.frames), 1),
           "workers": session.workers, "dropped": source.dropped, "stable_readings": len(session.readings),
           "texts": [r["text"] for r in session.readings]}
    if source.live:  # for a file, "latency" is only time spent queued behind the reader
        latencies = sorted(session.latencies)
        out.update(latency_ms_median=round(1000 * statistics.median(latencies), 1),
                   latency_ms_p95=round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1),
                   latency_ms_max=round(1000 * latencies[-1], 1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300, help="frames per measurement (default 300)")
    parser.add_argument("--live-fps", type=float, default=30.0, help="rate of the live-like source")
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped CNN")
    parser.add_argument("--live-workers", type=int, default=None,
                        help="reading threads for the live-like source (default: as digitreader webcam, 1)")
    parser.add_argument("--display", action="store_true",
                        help="also run the live-like source with the window (needs $DISPLAY, e.g. Xvfb)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "bench-data" / "webcam")
    args = parser.parse_args(argv)

    frames = make_frames(args.frames)
    clip = args.out_dir / "clip_640x480.avi"
    write_clip(clip, frames)
    t0 = time.monotonic()
    reader = DigitReader(args.model)
    load_s = time.monotonic() - t0
    reader.read(frames[0])  # warm-up (first call builds the graph / session)

    per_frame, cpu = [], time.process_time()
    for frame in frames[:60]:
        t = time.perf_counter()
        reader.read(frame)
        per_frame.append(time.perf_counter() - t)
    read_cpu_ms = 1000 * (time.process_time() - cpu) / 60

    file_run = run_session(reader, FrameSource.from_spec(SourceSpec(location=str(clip))), args.frames)
    file_one = run_session(reader, FrameSource.from_spec(SourceSpec(location=str(clip))), args.frames, workers=1)
    record_run = run_session(reader, FrameSource.from_spec(SourceSpec(location=str(clip))), args.frames,
                             record=args.out_dir / "annotated.mp4")
    live = FrameSource(lambda: LiveCapture(frames, args.live_fps), live=True, name="live-like", timeout=10)
    live_run = run_session(reader, live, args.frames, workers=args.live_workers)
    half_run = run_session(reader, FrameSource.from_spec(SourceSpec(location=str(clip))), args.frames, scale=0.5)
    half_run["same_readings_as_full_size"] = half_run["texts"] == file_run["texts"]
    live = FrameSource(lambda: LiveCapture(frames, args.live_fps), live=True, name="live-like", timeout=10)
    half_live = run_session(reader, live, args.frames, scale=0.5)
    if args.display:
        live = FrameSource(lambda: LiveCapture(frames, args.live_fps), live=True, name="live-like", timeout=10)
        window_run = run_session(reader, live, args.frames, display=True)

    report = {
        "classifier": f"{reader.classifier.name} ({type(reader.classifier).__name__})",
        "model_load_s": round(load_s, 2),
        "read_ms_per_frame_median": round(1000 * statistics.median(per_frame), 1),
        "read_cpu_ms_per_frame": round(read_cpu_ms, 1),
        "file_headless": file_run, "file_headless_one_worker": file_one, "file_headless_record_mp4": record_run,
        f"live_{args.live_fps:g}fps": live_run,
        "file_headless_scale_0.5": half_run, f"live_{args.live_fps:g}fps_scale_0.5": half_live,
        **({f"live_{args.live_fps:g}fps_window": window_run} if args.display else {}),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
                   f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}",
    }
    for run in report.values():
        if isinstance(run, dict) and run not in (file_run, half_run):
            run.pop("texts", None)
    print(json.dumps(report, indent=1))
    print(f"file headless: {file_run['fps']} frames/s (target >= 30); live {args.live_fps:g} fps source: "
          f"median latency {live_run['latency_ms_median']} ms, p95 {live_run['latency_ms_p95']} ms (target <= 50)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
