"""Frames from a camera, a video file or a stream URL, read in their own thread.

A live source (camera, URL) keeps only the newest frame: the reader never falls behind the camera and stale
frames are dropped (counted in :attr:`FrameSource.dropped`). A file source hands over every frame in order
through a small bounded queue (the capture thread waits for the reader; nothing is dropped), as fast as the
reader takes them or, with ``realtime``, at the file's own frame rate.

Errors never hang: the source cannot be opened, the first frame does not come within ``timeout`` seconds, a
live source stops giving frames for ``timeout`` seconds or ends → :class:`~digitreader.errors.CameraError`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import CameraError, InputNotFoundError

log = logging.getLogger(__name__)
FILE_QUEUE = 4
READ_FAILURES_TOLERATED = 5  # a live source may fail a read or two before it is declared dropped


class FrameTimeout(CameraError):
    """No frame came in time (first frame, or a live source stalled)."""

    @property
    def name(self) -> str:
        return "CameraError"


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` used here (tests and benchmarks pass their own)."""

    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


@dataclass
class Frame:
    """One captured frame: its index in the source (dropped frames count), wall-clock time of capture,
    a monotonic stamp for latency, and its position in a file (seconds, None for live sources)."""

    index: int
    image: np.ndarray
    timestamp: float
    captured: float
    video_time: float | None = None


@dataclass
class SourceSpec:
    """What to open: a camera index or a file path / URL, and a display name for messages."""

    camera: int | None = None
    location: str | None = None

    @property
    def is_url(self) -> bool:
        return self.location is not None and "://" in self.location

    @property
    def live(self) -> bool:
        """Cameras and URLs are live (drop stale frames); files are read completely."""
        return self.camera is not None or self.is_url

    @property
    def name(self) -> str:
        return f"camera {self.camera}" if self.camera is not None else str(self.location)

    def check(self) -> None:
        """Fail early on a file path that does not exist."""
        if self.location is not None and not self.is_url:
            path = Path(self.location)
            if not path.exists():
                raise InputNotFoundError(f"video file not found: {self.location}")
            if not path.is_file():
                raise InputNotFoundError(f"not a file: {self.location}")


def quiet_opencv() -> None:
    """OpenCV's own warnings (``[ WARN:0] can't open camera by index``) duplicate our one-line errors."""
    import cv2

    if not log.isEnabledFor(logging.DEBUG):
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own messages (read on its first use)
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR if log.isEnabledFor(logging.DEBUG)
                                      else cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # pragma: no cover - very old OpenCV builds
        pass


def open_capture(spec: SourceSpec, timeout: float) -> Capture:
    """``cv2.VideoCapture`` for ``spec`` (URLs with FFmpeg open/read time-outs). May block: call it from the
    capture thread."""
    import cv2

    quiet_opencv()
    if spec.camera is not None:
        return cv2.VideoCapture(spec.camera)
    if spec.is_url:
        ms = int(timeout * 1000)
        return cv2.VideoCapture(spec.location, cv2.CAP_FFMPEG,
                                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
    return cv2.VideoCapture(str(spec.location))


class FrameSource:
    """Threaded frame reader. ``opener`` returns an opened-or-not capture; it runs in the capture thread.

    Use as a context manager, or :meth:`start` / :meth:`close`; :meth:`get` returns the next frame, or None
    at the end of a file.
    """

    def __init__(self, opener: Callable[[], Capture], *, live: bool, name: str, timeout: float = 10.0,
                 realtime: bool = False) -> None:
        self.opener = opener
        self.live = live
        self.name = name
        self.timeout = float(timeout)
        self.realtime = realtime
        self.fps: float | None = None  # the source's nominal frame rate, once opened
        self.frame_size: tuple[int, int] | None = None  # (width, height) of the first frame
        self.dropped = 0
        self.captured = 0
        self._frames: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ended = False
        self._error: CameraError | None = None
        self._delivered = 0
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture {name}", daemon=True)

    @classmethod
    def from_spec(cls, spec: SourceSpec, *, timeout: float = 10.0, realtime: bool = False) -> FrameSource:
        spec.check()
        return cls(lambda: open_capture(spec, timeout), live=spec.live, name=spec.name, timeout=timeout,
                   realtime=realtime)

    def __enter__(self) -> FrameSource:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        """Start the capture thread (once; later calls do nothing)."""
        if self._thread.ident is None:
            self._thread.start()

    def wait_opened(self) -> None:
        """Start if needed and wait until the source is open; raises CameraError if it cannot be (or within the
        time-out)."""
        self.start()
        if not self._opened.wait(self.timeout):
            raise FrameTimeout(f"cannot open {self.name}: no answer within {self.timeout:g} s")
        with self._cond:
            if self._error is not None and not self._frames:
                raise self._error

    def close(self) -> None:
        """Stop the thread; a capture call blocked in OpenCV is abandoned (the thread is a daemon)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    # --- reader side -------------------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> Frame | None:
        """The next frame (the newest one for a live source); None when a file has ended.

        Raises CameraError when the source failed, or when no frame came within ``timeout`` seconds
        (default: the source's timeout).
        """
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._frames:
                if self._error is not None:
                    raise self._error
                if self._ended:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FrameTimeout(self._timeout_message(wait))
                self._cond.wait(left)
            frame = self._frames.popleft()
            self._delivered += 1
            self._cond.notify_all()
            return frame

    def _timeout_message(self, wait: float) -> str:
        if self._delivered == 0 and self.captured == 0:
            return f"{self.name}: no frame within {wait:g} s (is the camera in use or the stream down?)"
        return f"{self.name}: stalled, no new frame for {wait:g} s"

    # --- capture thread ----------------------------------------------------------------------------
    def _fail(self, message: str) -> None:
        with self._cond:
            self._error = CameraError(message)
            self._cond.notify_all()
        self._opened.set()

    def _run(self) -> None:
        try:
            capture = self.opener()
        except Exception as exc:  # OpenCV raises cv2.error for some bad sources
            self._fail(f"cannot open {self.name}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}")
            return
        try:
            if not capture.isOpened():
                what = "camera" if self.name.startswith("camera ") else "video source"
                self._fail(f"cannot open {what} {self.name.removeprefix('camera ')}"
                           + (" (no such camera, or it is in use)" if what == "camera" else
                              " (not a video OpenCV can decode, or unreachable)"))
                return
            self._opened.set()
            self._read_loop(capture)
        except Exception as exc:  # never let the thread die silently: the reader would wait for nothing
            self._fail(f"{self.name}: capture failed: {type(exc).__name__}: {exc}")
        finally:
            try:
                capture.release()
            except Exception:  # noqa: BLE001 - releasing a broken capture must not mask the real error
                pass

    def _read_loop(self, capture: Capture) -> None:
        import cv2

        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        self.fps = fps if 0 < fps < 1000 else None
        failures, index, started = 0, 0, time.monotonic()
        while not self._stop.is_set():
            ok, image = capture.read()
            if not ok or image is None:
                if not self.live:
                    break
                failures += 1
                if failures > READ_FAILURES_TOLERATED:
                    self._fail(f"{self.name}: the stream ended or dropped after {index} frames")
                    return
                time.sleep(0.02)
                continue
            failures = 0
            now_wall, now = time.time(), time.monotonic()
            video_time = None if self.live else (index / self.fps if self.fps else None)
            if self.frame_size is None:
                self.frame_size = (int(image.shape[1]), int(image.shape[0]))
            frame = Frame(index, image, now_wall, now, video_time)
            if not self.live and self.realtime and self.fps:
                pause = started + index / self.fps - time.monotonic()
                if pause > 0 and self._stop.wait(pause):
                    break
                frame.captured = time.monotonic()
            index += 1
            self._deliver(frame)
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _deliver(self, frame: Frame) -> None:
        with self._cond:
            if self.live:
                if self._frames:
                    self.dropped += len(self._frames)
                    self._frames.clear()
            else:
                while len(self._frames) >= FILE_QUEUE and not self._stop.is_set():
                    self._cond.wait(0.1)
            self._frames.append(frame)
            self.captured += 1
            self._cond.notify_all()
