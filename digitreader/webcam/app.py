"""The webcam / video loop: read each frame (inside the region of interest), draw the overlay, report each new
stable reading once, record, and drive the window and its keys."""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from ..classify import Classifier
from ..draw import annotate_image
from ..errors import DigitReaderError, ExitCode, OutputError
from ..reader import DigitReader
from ..result import Result
from .capture import Frame, FrameSource, FrameTimeout
from .recorder import Recorder
from .stability import StabilityConfig, StabilityFilter
from .window import Window

log = logging.getLogger(__name__)
Box = tuple[int, int, int, int]
CONFIDENCE_STEP = 0.05
ROI_COLOUR = (255, 200, 0)  # BGR: light blue
KEY_QUIT = {ord("q"), ord("Q"), 27}
KEY_PAUSE = ord(" ")
KEY_SNAPSHOT = ord("s")
KEY_ROI = ord("r")
KEY_MORE = {ord("+"), ord("=")}
KEY_LESS = {ord("-"), ord("_")}
POLL_S = 0.05  # how often the window is serviced while waiting for a frame
MAX_REPEATS = 300  # a recorded live overlay stands for at most this many camera frames


class RoiError(DigitReaderError):
    """--roi lies outside the frame."""

    exit_code = ExitCode.USAGE


@dataclass
class WebcamOptions:
    """Everything the loop needs besides the reader and the source."""

    display: bool = True
    fmt: str = "json"  # how new stable readings are printed: json (one object a line) or text
    roi: Box | None = None
    stability: StabilityConfig = field(default_factory=StabilityConfig)
    record: Path | None = None
    snapshot_dir: Path = Path(".")
    max_frames: int | None = None
    title: str = "digitreader webcam"
    workers: int | None = None  # reading threads; default 2 for files (on 2+ cores), 1 for live sources
    scale: float = 1.0  # read frames resized by this factor (0.5: a quarter of the pixels, faster); boxes map back


def clip_roi(roi: Box, width: int, height: int) -> Box | None:
    """``roi`` clipped to the frame; None when nothing of it is inside."""
    x, y, w, h = roi
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def shift_result(result: Result, dx: int, dy: int, image_size: tuple[int, int], scale: float = 1.0) -> Result:
    """A result read inside a crop (resized by ``scale``), with boxes put back into full-frame coordinates."""
    def back(box: Box) -> Box:
        if scale == 1.0:
            return box[0] + dx, box[1] + dy, box[2], box[3]
        x0, y0 = round(box[0] / scale), round(box[1] / scale)
        x1, y1 = round((box[0] + box[2]) / scale), round((box[1] + box[3]) / scale)
        return x0 + dx, y0 + dy, max(1, x1 - x0), max(1, y1 - y0)

    digits = tuple(replace(d, box=back(d.box)) for d in result.digits)
    return replace(result, digits=digits, image_size=image_size)


class LockedClassifier:
    """A classifier shared by reading threads: one ``predict_proba`` at a time."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.name = classifier.name
        self._lock = threading.Lock()

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        with self._lock:
            return self.classifier.predict_proba(crops)


class FpsMeter:
    """Frames per second over a sliding window of the last ``size`` frames."""

    def __init__(self, size: int = 30) -> None:
        self.stamps: list[float] = []
        self.size = size

    def tick(self, now: float | None = None) -> float:
        self.stamps.append(time.monotonic() if now is None else now)
        del self.stamps[:-self.size]
        return self.value

    @property
    def value(self) -> float:
        if len(self.stamps) < 2 or self.stamps[-1] <= self.stamps[0]:
            return 0.0
        return (len(self.stamps) - 1) / (self.stamps[-1] - self.stamps[0])


class WebcamSession:
    """One run over one source. :meth:`run` returns the exit code; per-frame latencies (seconds from capture to
    the overlay drawn, or shown when there is a window) are kept in ``latencies`` for the benchmark."""

    def __init__(self, reader: DigitReader, source: FrameSource, options: WebcamOptions,
                 out: TextIO | None = None) -> None:
        self.reader = reader
        self.source = source
        self.options = options
        self.out = out or sys.stdout
        self.stability = StabilityFilter(options.stability)
        self.roi = options.roi
        self.fps = FpsMeter()
        self.paused = False
        self.running = True
        self.frames = 0
        self.latencies: list[float] = []
        self.readings: list[dict] = []
        self.last: tuple[Frame, Result, np.ndarray] | None = None
        self.window: Window | None = None
        self.recorder: Recorder | None = None
        self.source_ended = False
        self.record_start = 0  # index of the first frame recorded
        self._recorded_index = -1
        self.workers = options.workers or (1 if source.live else min(2, os.cpu_count() or 1))
        if self.workers > 1:  # segmentation runs in parallel; the classifier (OpenCV DNN) one call at a time
            self.reader = copy.copy(reader)
            self.reader.classifier = LockedClassifier(reader.classifier)

    # --- one frame ---------------------------------------------------------------------------------
    def read_frame(self, image: np.ndarray) -> Result:
        """Read the digits in ``image`` (only inside the region of interest, if one is set)."""
        height, width = image.shape[:2]
        scale = self.options.scale
        self.reader.working_scale = scale == 1.0  # a frame reduced for speed (--scale) is not enlarged again
        if self.roi is None and scale == 1.0:
            return self.reader.read(image, path=self.source.name)
        roi = (0, 0, width, height) if self.roi is None else clip_roi(self.roi, width, height)
        if roi is None:
            raise RoiError(f"region of interest {','.join(map(str, self.roi))} is outside the {width}x{height} frame")
        x, y, w, h = roi
        crop = image[y:y + h, x:x + w]
        if scale != 1.0:
            crop = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        result = self.reader.read(crop, path=self.source.name)
        return shift_result(result, x, y, (width, height), scale)

    def overlay(self, image: np.ndarray, result: Result, status: str = "") -> np.ndarray:
        """The frame with labelled boxes, the region of interest, and a band with the stable reading and FPS."""
        canvas = annotate_image(image, result)
        height, width = canvas.shape[:2]
        if self.roi is not None and (roi := clip_roi(self.roi, width, height)) is not None:
            x, y, w, h = roi
            cv2.rectangle(canvas, (x, y), (x + w - 1, y + h - 1), ROI_COLOUR, max(1, round(max(width, height) / 400)))
        band = max(24, height // 16)
        cv2.rectangle(canvas, (0, 0), (width - 1, band), (32, 32, 32), cv2.FILLED)
        stable = self.stability.current.replace("\n", " ") or "-"
        text = f"reading: {stable}   {self.fps.value:4.1f} fps   min conf {self.reader.min_confidence:.2f}"
        if status:
            text += f"   [{status}]"
        scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, int(band * 0.55), 1)
        cv2.putText(canvas, text, (6, int(band * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
        return canvas

    def record(self, frame: Frame, result: Result) -> dict:
        """The JSON record of a reading (see README "Webcam and video")."""
        stamp = datetime.fromtimestamp(frame.timestamp, UTC).isoformat(timespec="milliseconds")
        return {"timestamp": stamp.replace("+00:00", "Z"), "frame": frame.index,
                "video_time": None if frame.video_time is None else round(frame.video_time, 3),
                "source": self.source.name, "text": result.text, "lines": result.lines,
                "digits": [d.as_dict() for d in result.digits], "model": result.model,
                "roi": None if self.roi is None else list(self.roi)}

    def report(self, frame: Frame, result: Result) -> None:
        record = self.record(frame, result)
        self.readings.append(record)
        line = json.dumps(record, ensure_ascii=False) if self.options.fmt == "json" else " ".join(result.lines)
        self.out.write(line + "\n")
        self.out.flush()

    def step(self, frame: Frame, result: Result | None = None) -> np.ndarray:
        """Read (unless ``result`` is given), check stability, report, draw; returns the overlay."""
        result = self.read_frame(frame.image) if result is None else result
        if self.stability.update(result.text) is not None:
            self.report(frame, result)
        self.fps.tick()
        picture = self.overlay(frame.image, result)
        self.latencies.append(time.monotonic() - frame.captured)
        self.last = (frame, result, picture)
        self.frames += 1
        return picture

    # --- keys --------------------------------------------------------------------------------------
    def on_key(self, key: int) -> None:
        """React to one key code from the window (-1: none)."""
        if key < 0:
            return
        key &= 0xFF
        if key in KEY_QUIT:
            self.running = False
        elif key == KEY_PAUSE:
            self.paused = not self.paused
        elif key in (KEY_SNAPSHOT, ord("S")):
            self.snapshot()
        elif key in (KEY_ROI, ord("R")):
            self.select_roi()
        elif key in KEY_MORE | KEY_LESS:
            step = CONFIDENCE_STEP if key in KEY_MORE else -CONFIDENCE_STEP
            self.reader.min_confidence = round(min(1.0, max(0.0, self.reader.min_confidence + step)), 2)
            self.stability.reset()
            log.info("minimum confidence %.2f", self.reader.min_confidence)

    def snapshot(self) -> list[Path]:
        """Write the current annotated frame (PNG), the raw frame and its reading (JSON); returns the paths."""
        if self.last is None:
            return []
        from ..imageio import write_image

        frame, result, picture = self.last
        folder = self.options.snapshot_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None
        stem = folder / f"snapshot-{time.strftime('%Y%m%d-%H%M%S')}-{frame.index:06d}"
        paths = [stem.with_suffix(".png"), Path(f"{stem}.raw.png"), stem.with_suffix(".json")]
        write_image(paths[0], picture)
        write_image(paths[1], frame.image)
        record = {**self.record(frame, result), "stable": self.stability.current,
                  "min_confidence": self.reader.min_confidence, "image": paths[0].name, "raw_image": paths[1].name}
        partial = paths[2].with_suffix(".json.part")  # written whole, then renamed: readers never see half
        try:
            partial.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            os.replace(partial, paths[2])
        except OSError as exc:
            raise OutputError(f"cannot write {paths[2]}: {exc.strerror or exc}") from None
        log.info("snapshot %s", paths[0])
        return paths

    def select_roi(self) -> None:
        """Let the user drag a rectangle on the current frame; an empty selection clears the region."""
        if self.window is None or self.last is None:
            return
        box = self.window.select_roi(self.last[0].image)
        self.roi = box if box[2] > 0 and box[3] > 0 else None
        self.stability.reset()
        log.info("region of interest: %s", "whole frame" if self.roi is None else ",".join(map(str, self.roi)))

    # --- the loop ----------------------------------------------------------------------------------
    def _next_frame(self) -> Frame | None:
        """The next frame; with a window, keys are serviced while waiting (the stall time-out still holds)."""
        if self.window is None:
            return self.source.get()
        deadline = time.monotonic() + self.source.timeout
        while self.running:
            try:
                return self.source.get(timeout=min(POLL_S, max(0.0, deadline - time.monotonic())))
            except FrameTimeout:
                if time.monotonic() >= deadline:
                    raise
            self.on_key(self.window.poll())
        return None

    def _hold(self, status: str) -> None:
        """Keep showing the last overlay with ``status`` until a key resumes (pause) or quits."""
        assert self.window is not None
        settings = (self.roi, self.reader.min_confidence)
        while self.running and (self.paused or status != "paused"):
            if self.last is not None:
                frame, result, _ = self.last
                if (self.roi, self.reader.min_confidence) != settings:  # re-read the held frame after r, +, -
                    settings = (self.roi, self.reader.min_confidence)
                    result = self.read_frame(frame.image)
                    self.last = (frame, result, self.overlay(frame.image, result))
                self.window.show(self.overlay(frame.image, result, status))
            self.on_key(self.window.poll(30))
            if not self.window.visible():
                self.running = False

    def _results(self) -> Iterator[tuple[Frame, Result]]:
        """Frames and their readings, in order. With several workers (files), the next frames are read ahead
        in threads (OpenCV releases the GIL); a live source is read one newest frame at a time (lowest
        latency)."""
        limit = self.options.max_frames
        pending: deque[tuple[Frame, Future[Result]]] = deque()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="read") as pool:
            submitted = 0
            while True:
                while (not self.source_ended and len(pending) < self.workers and self.running
                       and (limit is None or submitted < limit)):
                    frame = self._next_frame()
                    if frame is None:
                        self.source_ended = self.running
                        break
                    pending.append((frame, pool.submit(self.read_frame, frame.image)))
                    submitted += 1
                if not pending or not self.running:
                    return
                frame, future = pending.popleft()
                yield frame, future.result()

    def _record(self, frame: Frame, picture: np.ndarray) -> None:
        """Write the overlay; for a live source once per camera frame since the last one written (dropped
        frames repeat the overlay), so the video plays in real time at the camera's rate."""
        assert self.recorder is not None
        if self.recorder.frames == 0:
            self.recorder.fps = self.source.fps or 30.0
            self.record_start = frame.index
            self._recorded_index = frame.index - 1
        repeats = 1 if not self.source.live else min(max(1, frame.index - self._recorded_index), MAX_REPEATS)
        for _ in range(repeats):
            self.recorder.write(picture)
        self._recorded_index = frame.index

    def run(self) -> int:
        """Process frames until the file ends, ``q``/Esc, the window closes or ``max_frames``."""
        if self.options.display:
            self.window = Window(self.options.title)
        if self.options.record is not None:
            self.recorder = Recorder(self.options.record, 30.0)
        try:
            with self.source:
                for frame, result in self._results():
                    picture = self.step(frame, result)
                    if self.recorder is not None:
                        self._record(frame, picture)
                    if self.window is not None:
                        self.window.show(picture)
                        self.on_key(self.window.poll())
                        self.latencies[-1] = time.monotonic() - frame.captured  # up to the overlay on screen
                        if self.paused:
                            self._hold("paused")
                        if not self.window.visible():
                            self.running = False
                    if not self.running:
                        break
                if self.source_ended and self.window is not None and self.running and self.last is not None:
                    self._hold("end of video: q to quit")
        finally:
            if self.recorder is not None:
                self.recorder.close()
            if self.window is not None:
                self.window.close()
        if self.source.dropped:
            log.debug("%s: %d stale frames dropped", self.source.name, self.source.dropped)
        return ExitCode.OK
