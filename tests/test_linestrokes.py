"""Digit strokes that ran along a printed line, given back (``linestrokes.py``): plain masks, no model."""

import cv2
import numpy as np

from digitreader.linestrokes import strokes_along_lines

LINE_X = 60  # a box's right side, 3 px thick: columns 59-61


def _window(digit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(digit after line removal, lines, ink before removal) for ``digit`` drawn beside a vertical line."""
    lines = np.zeros(digit.shape, bool)
    lines[:, LINE_X - 1:LINE_X + 2] = True
    ink = digit | lines
    band = cv2.dilate(lines.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return digit & ~band, lines, ink


def _zero(right: int) -> np.ndarray:
    digit = np.zeros((80, 80), np.uint8)
    cv2.ellipse(digit, (right - 14, 40), (14, 26), 0, 0, 360, 1, 4)
    return digit > 0


def test_a_zeros_side_lying_along_a_box_side_is_given_back():
    digit, lines, ink = _window(_zero(right=LINE_X))  # the 0's right side is the box's side
    assert not digit[35:45, 50:].any()  # removing the line opened the 0
    given = strokes_along_lines(digit, lines, ink)
    assert given is not None
    assert given[30:50, LINE_X].all()  # the side between the arc's two ends comes back
    assert not given[:8].any() and not given[72:].any()  # ... and the line beyond them does not


def test_a_digit_that_only_touches_a_line_gets_nothing():
    digit = np.zeros((80, 80), np.uint8)
    cv2.line(digit, (20, 10), (LINE_X - 3, 40), 1, 4)  # a stroke that ends on the line
    cv2.line(digit, (LINE_X - 3, 40), (20, 70), 1, 4)
    assert strokes_along_lines(*_window(digit > 0)) is None


def test_a_digit_written_across_a_line_gets_nothing():
    digit = np.zeros((80, 80), np.uint8)
    cv2.line(digit, (40, 12), (75, 12), 1, 4)  # a bar across the line near the top ...
    cv2.line(digit, (40, 12), (40, 68), 1, 4)
    cv2.line(digit, (40, 68), (75, 68), 1, 4)  # ... and another near the bottom: bridged again, so whole
    digit = digit > 0
    _, lines, ink = _window(digit)
    assert strokes_along_lines(digit, lines, ink) is None
