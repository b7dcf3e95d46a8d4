"""Rows of printed boxes: digits written in one row of boxes belong to one number.

On a form, one digit may sit high in its box and the next low (a ``4`` touching the box's top, a ``3`` on its
bottom), so far apart in height that the rows, chained from neighbour to neighbour, part between them and
one number comes out as two. The printed boxes say otherwise: rows whose digits each sit in a box of one
row of boxes (cells between two box sides that start and end together), none sharing a box with the other
row, are joined; so are rows sharing boxes too low to hold two lines of writing (a comb's frame, whose ticks
are shorter than the writing). Two lines of digits written inside one taller frame stay apart. Plain functions
on the printed-lines mask (``formlines.py``) and the segmentation's groups, no Keras.
"""

from __future__ import annotations

import cv2
import numpy as np

from .formlines import straight_runs

Box = tuple[int, int, int, int]  # x, y, w, h
Group = tuple[Box, list[int]]
Cell = tuple[int, int, float, float]  # left side, right side (indices), top, bottom

CELL_SIDE_RATIO = 1.0  # a box's side is at least as tall as the writing (x digit height): comb ticks are not
BAND_TOLERANCE = 0.25  # boxes of one row start and end together, within this x their height
ONE_LINE_RATIO = 1.8  # a box less tall than this x the digit height holds one line of writing


def box_sides(lines: np.ndarray, digit_height: float) -> np.ndarray:
    """The vertical printed lines at least ``CELL_SIDE_RATIO`` digit heights tall: (n, 3) of x, top, bottom.
    A side tilted by a pixel or two over its height is still found whole (widened by a pixel each way)."""
    length = max(3, round(CELL_SIDE_RATIO * digit_height))
    if length >= lines.shape[0]:
        return np.zeros((0, 3))
    runs = straight_runs(cv2.dilate(lines, np.ones((1, 3), np.uint8)), False, length)
    count, _, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    return np.array([(x + w / 2, y, y + h) for x, y, w, h, _ in stats[1:count]], float).reshape(-1, 3)


def cell_of(box: Box, sides: np.ndarray) -> Cell | None:
    """The box ``box``'s centre lies in: the nearest sides left and right of it that reach its height."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    reach = (sides[:, 1] <= cy) & (cy <= sides[:, 2])
    left = np.flatnonzero(reach & (sides[:, 0] < cx))
    right = np.flatnonzero(reach & (sides[:, 0] > cx))
    if not len(left) or not len(right):
        return None
    a, b = left[sides[left, 0].argmax()], right[sides[right, 0].argmin()]
    return int(a), int(b), max(sides[a, 1], sides[b, 1]), min(sides[a, 2], sides[b, 2])


def _one_row_of_boxes(cells: list[Cell]) -> bool:
    tops, bottoms = [c[2] for c in cells], [c[3] for c in cells]
    tolerance = BAND_TOLERANCE * min(b - t for t, b in zip(tops, bottoms))
    return max(tops) - min(tops) <= tolerance and max(bottoms) - min(bottoms) <= tolerance


def join_rows_in_cells(rows: list[list[Group]], lines: np.ndarray, digit_height: float) -> list[list[Group]]:
    """``rows`` with those joined (each left to right) whose digits all sit in boxes of one row of printed boxes,
    no two rows in one box unless it is under ``ONE_LINE_RATIO`` digit heights tall; rows with a digit outside
    such boxes as they are."""
    sides = box_sides(lines, digit_height)
    if len(sides) < 2 or len(rows) < 2:
        return rows
    cells = [[cell_of(box, sides) for box, _ in row] for row in rows]
    joined: list[tuple[list[Group], list[Cell]]] = []
    for row, row_cells in zip(rows, cells):
        if any(c is None for c in row_cells):
            joined.append((list(row), []))
            continue
        for other, other_cells in joined:
            if (other_cells and _one_row_of_boxes(other_cells + row_cells)
                    and (not {c[:2] for c in other_cells} & {c[:2] for c in row_cells}
                         or max(c[3] - c[2] for c in other_cells + row_cells) < ONE_LINE_RATIO * digit_height)):
                other.extend(row)
                other.sort(key=lambda g: (g[0], g[1]))
                other_cells.extend(row_cells)
                break
        else:
            joined.append((list(row), list(row_cells)))
    return [row for row, _ in joined]
