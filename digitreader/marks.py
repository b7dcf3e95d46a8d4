"""Separators in amounts: which small non-digit marks are a decimal point, a comma or a dash.

Plain functions on boxes (no Keras). A mark is judged against the digits of its own row around it
(their top, bottom and height): a dot is small, roundish and sits on the baseline; a comma is a dot
with a tail reaching below the baseline; a dash is a flat stroke around mid-height. Specks (too
small), ticks, underlines (below the digits or longer than one and a half digits) and marks outside
the row's span are rejected, never forced into a digit or a separator.
"""

from __future__ import annotations

Box = tuple[int, int, int, int]
MIN_SIZE = 0.08  # a mark smaller than this x the digit height (both sides) is a speck
TRAILING_REACH = 3.0  # marks up to this many digit heights after a row's last digit belong to it ("1,--")


def classify_mark(box: Box, top: float, bottom: float) -> str | None:
    """'.', ',' or '-' for a mark with ink box ``box`` beside digits spanning ``top``..``bottom``."""
    x, y, w, h = box
    height = bottom - top
    if height <= 0 or max(w, h) < max(3.0, MIN_SIZE * height):
        return None
    centre = y + h / 2
    if w >= 1.6 * h and 0.2 * height <= w <= 1.5 * height and h <= 0.35 * height:
        return "-" if top + 0.2 * height <= centre <= top + 0.85 * height else None
    if max(w, h) > 0.45 * height or w > 2.5 * h:
        return None
    low = y >= top + 0.5 * height and y + h >= bottom - 0.1 * height  # in the lower half, down to the baseline
    if low and h >= 1.3 * w and (y + h > bottom + 0.03 * height or h >= 1.8 * w):
        return ","  # a tail below the baseline, or a tall mark on it
    if max(w, h) <= 0.35 * height and h <= 2.5 * w and centre >= top + 0.7 * height:
        return "."
    return None


def place_marks(marks: list[Box], boxes: list[Box], lines: list[int]) -> list[tuple[str, Box, int]]:
    """The separators among ``marks``: (char, box, line) for each, judged against the nearest digits
    of the row it belongs to (the row whose neighbouring digits' vertical span holds its centre)."""
    placed = []
    for mark in marks:
        cx, cy = mark[0] + mark[2] / 2, mark[1] + mark[3] / 2
        best = None
        for line in sorted(set(lines)):
            row = [b for b, n in zip(boxes, lines) if n == line]
            left = [b for b in row if b[0] + b[2] / 2 <= cx]
            right = [b for b in row if b[0] + b[2] / 2 > cx]
            near = [max(left, key=lambda b: b[0])] if left else []
            near += [min(right, key=lambda b: b[0])] if right else []
            if not near:
                continue
            top = min(b[1] for b in near)
            bottom = max(b[1] + b[3] for b in near)
            height = bottom - top
            reach = max(b[0] + b[2] for b in row) + TRAILING_REACH * height  # trailing dashes after the last digit
            if not left or cx > reach or not top - 0.2 * height <= cy <= bottom + 0.4 * height:
                continue
            distance = abs(cy - (top + bottom) / 2)
            if best is None or distance < best[0]:
                best = (distance, line, top, bottom)
        if best is None:
            continue
        char = classify_mark(mark, best[2], best[3])
        if char is not None:
            placed.append((char, mark, best[1]))
    return placed
