"""The OpenCV window: show frames, poll keys, select a region with the mouse. Errors become DisplayError."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from ..errors import DisplayError


def _display_error(exc: cv2.error) -> DisplayError:
    message = str(exc).strip().splitlines()[-1] if str(exc).strip() else "cv2.error"
    return DisplayError(f"cannot open a window ({message}); use --no-display to run headless")


class Window:
    """One resizable window named ``title``."""

    def __init__(self, title: str) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise DisplayError("the webcam window needs a display (DISPLAY is not set); use --no-display")
        self.title = title
        self._opened = False
        for fonts in ("/usr/share/fonts/truetype", "/usr/share/fonts"):  # opencv-python's Qt ships no fonts
            if os.path.isdir(fonts):
                os.environ.setdefault("QT_QPA_FONTDIR", fonts)
                break

    def show(self, image: np.ndarray) -> None:
        try:
            if not self._opened:
                cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
                cv2.resizeWindow(self.title, int(image.shape[1]), int(image.shape[0]))
                self._opened = True
            cv2.imshow(self.title, image)
        except cv2.error as exc:
            raise _display_error(exc) from None

    def poll(self, wait_ms: int = 1) -> int:
        """The key pressed (OpenCV code) within ``wait_ms``, or -1; also lets the window repaint."""
        try:
            return cv2.waitKey(max(1, wait_ms)) if self._opened else -1
        except cv2.error as exc:
            raise _display_error(exc) from None

    def visible(self) -> bool:
        """False once the user closed the window."""
        if not self._opened:
            return True
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False

    def select_roi(self, image: np.ndarray) -> tuple[int, int, int, int]:
        """Drag a rectangle, Enter/Space to accept, c to cancel (an empty box)."""
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)  # OpenCV prints its instructions on stdout, which carries only readings
        try:
            x, y, w, h = cv2.selectROI(self.title, image, showCrosshair=True, fromCenter=False)
        except cv2.error as exc:
            raise _display_error(exc) from None
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        return int(x), int(y), int(w), int(h)

    def close(self) -> None:
        if self._opened:
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass
            self._opened = False
