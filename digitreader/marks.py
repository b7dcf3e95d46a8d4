"""Separators in amounts: which small non-digit marks are a decimal point, a comma or a dash.

Plain functions on boxes (no Keras). A mark is judged against the digits of its own row around it
(their top, bottom and height): a dot is small, roundish and sits on the baseline; a comma is a dot
with a tail reaching below the baseline; a dash is a flat stroke around mid-height. Specks (too
small), ticks, underlines (below the digits or longer than one and a half digits) and marks outside
the row's span are rejected, never forced into a digit or a separator.
A mark lying against a digit may instead be a piece broken off it (a 2's base): see
:func:`broken_piece_candidates`; the reader's classifier decides. A comma written large enough to pass for a
digit by its height alone is told by where it sits in its row: see :func:`hanging_marks`.
"""

from __future__ import annotations

Box = tuple[int, int, int, int]
MIN_SIZE = 0.08  # a mark smaller than this x the digit height (both sides) is a speck
TRAILING_REACH = 3.0  # marks up to this many digit heights after a row's last digit belong to it ("1,--")
PIECE_MIN_SIZE = 0.2  # a mark at least this long (x the row's digit height) may be a piece of a broken digit
PIECE_REACH = 0.15  # ... when it lies this close to the digit (x the digit height)
PIECE_UNION_HEIGHT, PIECE_UNION_ASPECT = 1.15, 1.3  # ... and the two together stay digit-shaped
# A whole component read as a digit is a mark hanging as a comma does when it is shorter than HANGING_HEIGHT x the
# span of the digits on either side, its top lies below HANGING_TOP of that span, and its bottom reaches
# HANGING_DROP of it below their baseline (benchmarks/RESULTS.md, "Twenty-fifth pass").
HANGING_HEIGHT, HANGING_TOP, HANGING_DROP = 0.55, 0.45, 0.02
COMMA_ASPECT, COMMA_DROP = 1.1, 0.1  # a mark a little taller than wide, reaching 0.1 digit heights below the baseline


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
    if low and h >= COMMA_ASPECT * w and y + h >= bottom + COMMA_DROP * height:
        return ","  # a short tail, far below the baseline: no point reaches down there
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
            band = _neighbour_band(row, cx)
            if band is None:
                continue
            top, bottom = band
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


def _neighbour_band(row: list[Box], cx: float) -> tuple[int, int] | None:
    """The top and bottom of the digits of ``row`` nearest to x = ``cx`` on its left and on its right (either may be
    missing); None when the row has neither."""
    left = [b for b in row if b[0] + b[2] / 2 <= cx]
    right = [b for b in row if b[0] + b[2] / 2 > cx]
    near = ([max(left, key=lambda b: b[0])] if left else []) + ([min(right, key=lambda b: b[0])] if right else [])
    if not near:
        return None
    return min(b[1] for b in near), max(b[1] + b[3] for b in near)


def hanging_marks(boxes: list[Box], lines: list[int], whole: list[bool]) -> list[int]:
    """Indices of the boxes read as digits that hang in their row as a comma does: each a ``whole`` component (not a
    piece cut from a blob of touching digits) that :func:`hangs_beside` the nearest digit on either side in its
    row. A digit written small sits on the baseline or above it; a comma's tail hangs below it, and once scaled to
    MNIST's 20 px a comma reads as a sure ``1``."""
    hanging = []
    for k, (box, line, is_whole) in enumerate(zip(boxes, lines, whole)):
        row = [b for j, (b, n) in enumerate(zip(boxes, lines)) if n == line and j != k]
        if is_whole and hangs_beside(box, row):
            hanging.append(k)
    return hanging


def hangs_beside(box: Box, row: list[Box]) -> bool:
    """Whether ``box`` hangs as a comma does beside the digits of ``row`` nearest to it on either side: shorter than
    ``HANGING_HEIGHT`` times their span, its top below ``HANGING_TOP`` of it, its bottom at least ``HANGING_DROP`` of
    it below their baseline."""
    x, y, w, h = box
    band = _neighbour_band(row, x + w / 2)
    if band is None:
        return False
    top, bottom = band
    span = bottom - top
    return (span > 0 and h < HANGING_HEIGHT * span and y > top + HANGING_TOP * span
            and y + h >= bottom + HANGING_DROP * span)


def broken_piece_candidates(marks: list[Box], boxes: list[Box], lines: list[int],
                            ref: float) -> list[tuple[int, int]]:
    """(mark, digit) index pairs where a mark may be a piece broken off the digit beside it (a 2's base or a
    5's bar left apart by a faint stroke): the mark is no speck and no decimal point or comma (a dash may be a
    2's base; see :func:`place_marks`, rows in ``lines``), lies within ``PIECE_REACH`` digit heights of
    the digit's box and inside its vertical span, and the two together are no taller than ``PIECE_UNION_HEIGHT``
    times the digit (or the row's height ``ref``) and no wider than ``PIECE_UNION_ASPECT`` times their height (or
    ``ref``). The classifier decides."""
    points = {box for char, box, _ in place_marks(marks, boxes, lines) if char in ".,"}
    pairs = []
    for m, (x, y, w, h) in enumerate(marks):
        if max(w, h) < PIECE_MIN_SIZE * ref or (x, y, w, h) in points:
            continue
        for k, (dx, dy, dw, dh) in enumerate(boxes):
            height = max(dh, ref)
            gap = max(x - dx - dw, dx - x - w, y - dy - dh, dy - y - h)
            ux0, uy0 = min(x, dx), min(y, dy)
            uw, uh = max(x + w, dx + dw) - ux0, max(y + h, dy + dh) - uy0
            inside = dy - 0.1 * height <= y + h / 2 <= dy + 1.1 * height
            shaped = uh <= PIECE_UNION_HEIGHT * height and uw <= PIECE_UNION_ASPECT * max(uh, ref)
            if gap <= PIECE_REACH * height and inside and shaped:
                pairs.append((m, k))
    return pairs
