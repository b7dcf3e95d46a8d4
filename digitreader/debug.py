"""``--debug-dir``: the intermediate pictures of one read, so a user can see why a digit was misread.

For an image with stem ``S`` it writes ``S.1-binarised.png`` (the ink mask the digits were found in,
after printed-line removal), ``S.2-boxes-segmented.png`` (the boxes as segmented, before recognition-
guided merging and splitting), ``S.3-boxes-final.png`` (the boxes read, each with its value and
confidence) and ``S.crop-NNN-lineL-V-C.png`` for every normalised 28x28 crop the classifier saw last
(NNN its index in reading order, V the value read, C the confidence).
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from .errors import OutputError

Box = tuple[int, int, int, int]


def debug_stem(path: str, index: int) -> str:
    """A file-name stem for an input: its own stem, made safe, prefixed with its index among the inputs."""
    stem = Path(path).stem if path and not path.startswith("<") else "image"
    return f"{index:04d}-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or "image")


def _boxes_picture(image: np.ndarray, boxes: list[Box], labels: list[str] | None, colour: tuple) -> np.ndarray:
    picture = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[..., :3].copy()
    picture = np.ascontiguousarray(picture)
    scale = max(0.4, min(picture.shape[:2]) / 400)
    for k, (x, y, w, h) in enumerate(boxes):
        cv2.rectangle(picture, (x, y), (x + w - 1, y + h - 1), colour, max(1, round(scale * 2)))
        if labels:
            cv2.putText(picture, labels[k], (x, max(12, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, colour,
                        max(1, round(scale)), cv2.LINE_AA)
    return picture


def write_debug(directory: Path, stem: str, image: np.ndarray, mask: np.ndarray, segmented: list[Box],
                final: list[Box], lines: list[int], crops: np.ndarray, probabilities: np.ndarray) -> list[Path]:
    """Write the debug pictures of one image; returns the paths written. Raises OutputError."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {directory}: {exc}") from None
    image8 = image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)
    labels = [f"{int(p.argmax())} {float(p.max()):.2f}" for p in probabilities]
    files = {
        f"{stem}.1-binarised.png": mask,
        f"{stem}.2-boxes-segmented.png": _boxes_picture(image8, segmented, None, (255, 128, 0)),
        f"{stem}.3-boxes-final.png": _boxes_picture(image8, final, labels, (0, 160, 0)),
    }
    for k, (crop, p, line) in enumerate(zip(crops, probabilities, lines)):
        name = f"{stem}.crop-{k:03d}-line{line}-{int(p.argmax())}-{float(p.max()):.3f}.png"
        files[name] = (np.clip(crop, 0, 1) * 255 + 0.5).astype(np.uint8)
    written = []
    for name, picture in files.items():
        target = directory / name
        if not cv2.imwrite(str(target), picture):
            raise OutputError(f"cannot write {target}")
        written.append(target)
    return written
