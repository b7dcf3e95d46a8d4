"""Write the annotated frames to a video file with OpenCV's bundled FFmpeg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError

# Codecs that opencv-python's bundled FFmpeg can encode (H.264 is not in its wheels).
CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class Recorder:
    """Opens the writer on the first frame (the size is known then); every frame must have that size."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in CODECS:
            raise OutputError(f"cannot record to {self.path.name}: use one of {', '.join(sorted(CODECS))}")
        if not self.path.parent.is_dir():
            raise OutputError(f"cannot record to {self.path}: folder {self.path.parent} does not exist")
        self.fourcc = CODECS[suffix]
        self.fps = float(fps)
        self.frames = 0
        self._writer: Any = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray) -> None:
        import cv2

        size = (int(frame.shape[1]), int(frame.shape[0]))
        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, size)
            if not self._writer.isOpened():
                self._writer = None
                raise OutputError(f"cannot write video {self.path} (codec {self.fourcc})")
            self._size = size
        if size != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
