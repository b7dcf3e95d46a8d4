"""Digit strokes that ran along a printed line: where a digit's stroke lay on a box side or a rule, removing the
line took the stroke with it (a ``0`` in a comb's last cell loses the side along the frame and reads ``7``).

Plain functions on boolean masks. :func:`strokes_along_lines` gives back, as a candidate, the stretch of a removed
line between the first and the last place the digit meets it; the reader keeps it only when the digit is then read
much more surely (``reader.py``), so a digit that merely touches a line stays as it was.
"""

from __future__ import annotations

import cv2
import numpy as np

from .formlines import straight_runs

MIN_SPAN = 0.3  # the digit meets the line along at least this share of its own extent in the line's direction
REACH = 2  # px: digit ink this close to the removed band meets it
RUN_LENGTH = 0.4  # a line here is a straight run at least this share of the digit's extent long
CROSSING_REACH = 3  # px: contacts this close to where a stroke crosses the line (bridged over it) are that crossing


def strokes_along_lines(digit: np.ndarray, lines: np.ndarray, ink: np.ndarray) -> np.ndarray | None:
    """The pixels to give back to ``digit`` (bool (H, W), a window round one digit's ink after line removal): for
    each straight horizontal or vertical run of ``lines`` (bool, the printed lines removed in the window) that the
    digit meets over at least ``MIN_SPAN`` of its extent, the removed band's ``ink`` (bool, ink before removal)
    from the first place it meets it to the last, not counting where it crosses it. None when there is nothing to
    give back."""
    if not digit.any() or not lines.any():
        return None
    kernel = np.ones((3, 3), np.uint8)
    near = cv2.dilate(digit.astype(np.uint8), np.ones((2 * REACH + 1, 2 * REACH + 1), np.uint8)) > 0
    ys, xs = np.nonzero(digit)
    extents = {True: int(xs.max() - xs.min() + 1), False: int(ys.max() - ys.min() + 1)}
    out = np.zeros_like(digit)
    for horizontal in (True, False):
        length = max(3, int(RUN_LENGTH * extents[horizontal]))
        runs = straight_runs(lines.astype(np.uint8) * 255, horizontal, length)
        count, labels = cv2.connectedComponents(runs)
        for label in range(1, count):
            core = labels == label
            zone = (cv2.dilate(core.astype(np.uint8), kernel) > 0) & ink
            where = _stroke_ends(zone & near, digit & core, horizontal)
            if not len(where) or where[-1] - where[0] + 1 < MIN_SPAN * extents[horizontal]:
                continue
            stretch = np.zeros_like(digit)
            if horizontal:
                stretch[:, where[0]:where[-1] + 1] = True
            else:
                stretch[where[0]:where[-1] + 1] = True
            out |= zone & stretch
    out &= ~digit
    return out if out.any() else None


def _stroke_ends(contact: np.ndarray, crossing: np.ndarray, horizontal: bool) -> np.ndarray:
    """Positions along the line (columns of a horizontal one, rows of a vertical one) where the digit meets it
    (``contact``) but does not cross it: ``CROSSING_REACH`` px or more from where its ink lies on the line itself
    (``crossing``: a stroke across the line, bridged again after the line was removed)."""
    axis = 0 if horizontal else 1
    met, crossed = contact.any(axis=axis), crossing.any(axis=axis)
    if crossed.any():
        crossed = cv2.dilate(crossed.astype(np.uint8)[None], np.ones((1, 2 * CROSSING_REACH + 1), np.uint8))[0] > 0
    return np.nonzero(met & ~crossed)[0]
