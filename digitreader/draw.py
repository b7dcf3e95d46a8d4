"""Stage 4: draw labelled boxes on the original image, and show it in an OpenCV window."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from .errors import DisplayError
from .result import Result

HIGH, MID = 0.9, 0.6


def _colour(confidence: float) -> tuple[int, int, int]:
    if confidence >= HIGH:
        return (40, 170, 40)  # green (BGR)
    if confidence >= MID:
        return (0, 140, 255)  # orange
    return (40, 40, 220)  # red


def annotate_image(image: np.ndarray, result: Result) -> np.ndarray:
    """A BGR copy of ``image`` with each digit's box, value and confidence drawn on it."""
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if canvas.dtype != np.uint8:
        from .imageio import to_uint8_image

        canvas = to_uint8_image(canvas)
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for digit in result.digits:
        x, y, w, h = digit.box
        colour = _colour(digit.confidence)
        cv2.rectangle(canvas, (x, y), (x + w - 1, y + h - 1), colour, thickness)
        shown = str(digit.value) if digit.confidence >= result.min_confidence else "?"
        label = f"{shown} {digit.confidence:.2f}"
        scale = max(0.35, min(1.2, h / 90))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        ty = y - 3 if y - th - base - 3 >= 0 else min(canvas.shape[0] - 1, y + h + th + 3)
        cv2.rectangle(canvas, (x, ty - th - base), (x + tw + 2, ty + base // 2), colour, cv2.FILLED)
        cv2.putText(canvas, label, (x + 1, ty - base // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    thickness, cv2.LINE_AA)
    return canvas


def show_image(image: np.ndarray, title: str = "digitreader") -> None:
    """Open a window with ``image``; return when a key is pressed or the window is closed."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DisplayError("--show needs a display (DISPLAY is not set); use -o PATH to write the picture instead")
    try:
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        cv2.imshow(title, image)
        while cv2.waitKey(100) < 0:
            if cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                break
        cv2.destroyWindow(title)
    except cv2.error as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else "cv2.error"
        raise DisplayError(f"cannot open a window ({message}); OpenCV needs its GUI build and a display") from None
