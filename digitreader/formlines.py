"""Printed ruled lines and box borders: find them by morphology and remove them, keeping the digits.

Plain functions on a binary mask (uint8, 255 = ink). A candidate is a straight horizontal or vertical
run (morphological opening) whose ink lies in one band that is full along its length, no thicker than
the handwriting and not buried in a thicker stroke. It is a printed line when it is thinner than the
handwriting and longer than ``LINE_LENGTH_RATIO`` digit heights, or ``RULE_LENGTH_RATIO`` digit heights
long whatever its thickness, or part of a printed structure: a side taller than the writing that meets
a horizontal at a corner, or a short piece (the top of one box, a comb tick) meeting an accepted line.
A 7's or 5's thin bar is none of these, so it stays. The digit height is measured again without the
runs when they form a structure (boxes make the writing look as tall as the form). Lines tilted by a
skewed scan are found on the mask levelled by their tilt (``skew.py``). Where a stroke of a digit crosses
a removed line it is bridged again (a closing across the line), so a digit written over a rule comes out whole.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from . import skew
from .inkmeasure import digit_height, stroke_width

LINE_LENGTH_RATIO = 1.5  # a lone printed rule is at least this many digit heights long
SIDE_LENGTH_RATIO = 1.1  # the side of a box is taller than the writing (and meets the box's top or bottom)
SHORT_LINE_RATIO = 0.4  # a supported piece of a printed structure is at least this many
STRICT_THINNESS = 0.75  # a lone long line is thinner than this x the handwriting's stroke width
STRUCTURE_THINNESS = 1.1  # a piece of a printed structure (boxes, combs) is no thicker than this
ALIGNED_THICKNESS = (0.75, 1.3, 2.4)  # aligned sides: thinner than the first or between the others (double)
ALIGN_TOLERANCE = 2  # px: sides of one row of printed boxes start and end together
ALIGNED_LENGTH_RATIO = 0.9  # ... and are about as tall as the writing in them, or taller
SIDE_TILT_RATIO = 0.5  # box sides and tops give a tilt from this many box heights long (Hough: thick ink in pieces)
BOX_HOLES, BOX_HOLE_SIDE, BOX_HOLE_COVER = 2, 0.4, 0.6  # ... looked for only where the ink holds such box-like holes
BOX_HOLE_SIZES, BOX_HOLE_TURNS = 0.1, 1.5  # ... of one size (this share) and turned alike (degrees)
SIDE_SHIFTS = (0, -1, 1)  # px: a missing side of a row of boxes is looked for this far from where its spacing puts it
RULE_LENGTH_RATIO = 3.0  # a straight run this many digit heights long is printed, however thick
CLOSED_COVERAGE = 0.8  # a closed box of faint printed lines has ink along this share of each edge
FULL_RUN = 0.6  # a faint printed line's pixel rows filled this much; rows within 2 px of one, less filled, are strokes
TWIN_SPACING_RATIO = 0.45  # twin sides or ticks are at least a cell apart: this many digit heights
TICK_SPACING_TOLERANCE = 0.15  # comb ticks' gaps are whole numbers of cells, within this share of one
ALONG_DEPTH = 3.0  # a stroke lying along a line goes on beside it for at most this many line thicknesses
MAX_EDGE_STROKE = 0.25  # a box's top or bottom along which a stroke runs this much of the way is not completed


class Piece(NamedTuple):
    """A straight run of ink: its box, thickness, its pixels in the box, and whether it is free (not
    buried in thicker ink; only the aligned-sides rule may use a buried one)."""

    horizontal: bool
    x: int
    y: int
    w: int
    h: int
    thickness: float
    pixels: np.ndarray
    free: bool


def straight_runs(mask: np.ndarray, horizontal: bool, length: int) -> np.ndarray:
    """The ink of ``mask`` in straight horizontal (or vertical) runs at least ``length`` px long (an opening)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1) if horizontal else (1, length))
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)


MAX_EXACT_REACH = 63  # px: wider round dilations run at reduced scale


def _dilate_round(image: np.ndarray, reach: int) -> np.ndarray:
    """Grey dilation by a ``reach``-wide disc. Its cost grows with the disc's area, so a disc wider than
    ``MAX_EXACT_REACH`` (a "stroke" hundreds of px wide: a page that is nearly all ink) is applied at a
    scale where it is that wide, after max-pooling, and the result scaled back: the same up to one
    pooling block at the disc's edge, and under a second instead of four minutes on a 2000 x 2000 page."""
    if reach <= MAX_EXACT_REACH:
        return cv2.dilate(image, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
    h, w = image.shape
    f = -(-reach // MAX_EXACT_REACH)
    padded = cv2.copyMakeBorder(image, 0, -h % f, 0, -w % f, cv2.BORDER_REPLICATE)
    pooled = padded.reshape(padded.shape[0] // f, f, padded.shape[1] // f, f).max(axis=(1, 3))
    small = int(-(-reach // f)) | 1
    grown = cv2.dilate(pooled, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (small, small)))
    return np.repeat(np.repeat(grown, f, axis=0), f, axis=1)[:h, :w]


def line_pieces(mask: np.ndarray, short: int, loose: float = 1.0) -> tuple[list[Piece], float]:
    """Straight runs at least ``short`` px long, no thicker than ``loose`` x the handwriting's
    stroke width and not buried in thicker ink; and the handwriting's stroke width."""
    h, w = mask.shape
    short = max(12, short)
    runs = [(horizontal, straight_runs(mask, horizontal, short)) for horizontal in (True, False)
            if short < (w if horizontal else h)]
    if not any(r.any() for _, r in runs):
        return [], 0.0
    without_runs = mask.copy()
    for _, r in runs:
        without_runs = cv2.subtract(without_runs, r)
    stroke = max(2.5 / STRICT_THINNESS, stroke_width(mask), stroke_width(without_runs))
    thin = loose * stroke
    # A mask with no background at all gets FLT_MAX everywhere (its median overflowed with a warning): clamp.
    depth = np.minimum(cv2.distanceTransform(mask, cv2.DIST_L2, 3), float(h + w))
    depth = _dilate_round(depth, int(2 * stroke) | 1)
    pieces: list[Piece] = []
    for horizontal, r in runs:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(r, connectivity=8)
        for i in range(1, count):
            x, y, pw, ph, _ = (int(v) for v in stats[i])
            pixels = labels[y:y + ph, x:x + pw] == i
            across = pixels.sum(axis=0 if horizontal else 1)
            thickness = float(np.median(across))  # robust to strokes that run along the line for a while
            if thickness > thin:
                continue
            pixels = _line_core(pixels, horizontal, thickness, 3 * short)
            if pixels is None:
                continue
            # Not buried in thicker ink along most of it, or (a rule under a row of thick digits) along
            # a stretch longer than any digit stroke.
            free = depth[y:y + ph, x:x + pw][pixels] <= max(1.5, STRUCTURE_THINNESS * stroke / 2 + 0.5,
                                                            thickness / 2 + 0.5)
            is_free = bool(free.mean() >= 0.5 or free.sum() >= 3 * short * max(1.0, thickness))
            if is_free or not horizontal:
                pieces.append(Piece(horizontal, x, y, pw, ph, thickness, pixels, is_free))
    return pieces, stroke


def _line_core(pixels: np.ndarray, horizontal: bool, thickness: float, long: int) -> np.ndarray | None:
    """The pixels of a ruled line in a straight run, or None when the run is no line.

    A ruled line's ink lies in one band of rows (columns for a vertical line) about as thick as the
    line, and that band is full along the whole length; a curved stroke's lens-shaped run fills no band
    end to end. Digit strokes crossing or lying along the line add ink outside the band, so the line is
    the band alone and the strokes stay (a 2's base half on a rule keeps its upper half; removing the
    whole run took it: form pages 74.0 -> 82.0 %). When the strokes add most of the run's ink (a rule
    under a whole row of digits with flat tops, a vertical rule through digits' sides), the run is a line
    only if the band is at least ``long`` px.
    """
    oriented = pixels if horizontal else pixels.T
    profile = oriented.sum(axis=1).astype(np.float64)
    band = max(1, int(round(thickness)) + 1)
    if len(profile) <= band:
        start = 0
    else:
        start = int(np.argmax(np.convolve(profile, np.ones(band), mode="valid")))
    core = oriented[start:start + band]
    coverage = np.mean(core.sum(axis=0) >= max(1.0, thickness - 1))
    if coverage < 0.8:
        return None
    if core.sum() < 0.6 * max(1.0, profile.sum()) and oriented.shape[1] < long:
        return None
    only_core = np.zeros_like(oriented)
    only_core[start:start + band] = core
    return only_core if horizontal else only_core.T


def _corner(a: Piece, b: Piece) -> bool:
    """A horizontal and a vertical piece whose ends (or an end and a side) meet."""
    if a[0] == b[0]:
        return False
    hz, vt = (a, b) if a[0] else (b, a)
    tolerance = 3 + max(a[5], b[5])
    x_hit = hz[1] - tolerance <= vt[1] + vt[3] / 2 <= hz[1] + hz[3] + tolerance
    y_hit = vt[2] - tolerance <= hz[2] + hz[4] / 2 <= vt[2] + vt[4] + tolerance
    at_end = (abs(vt[2] - hz[2]) <= tolerance or abs(vt[2] + vt[4] - hz[2] - hz[4]) <= tolerance
              or abs(hz[1] - vt[1]) <= tolerance or abs(hz[1] + hz[3] - vt[1] - vt[3]) <= tolerance)
    return x_hit and y_hit and at_end


def _joins_as_edge(piece: Piece, other: Piece) -> bool:
    """Whether ``piece``, meeting ``other`` at a corner, can be an edge of the structure ``other`` belongs to.
    A horizontal piece joins a vertical side at the side's top or bottom, as a box's top and bottom do; a
    digit's bar (a 7's top, a 2's base, a 5's bar) that touches a box's side halfway up is a stroke."""
    if not piece.horizontal or other.horizontal:
        return True
    tolerance = 3 + max(piece.thickness, other.thickness)
    centre = piece.y + piece.h / 2
    return abs(other.y - centre) <= tolerance or abs(other.y + other.h - centre) <= tolerance


def _held_at_both_ends(side: Piece, pieces: list[Piece], loose: float) -> bool:
    """Whether thin free horizontal pieces meet a vertical ``side`` at its top and at its bottom, as a box's
    top and bottom meet its sides. A straight ``1`` written on a rule meets it at one end only."""
    tolerance = 3 + side.thickness
    reach = tolerance + 0.2 * side.h  # sideways: a corner may be rounded or broken in the scan
    centre = side.x + side.w / 2

    def met(y: float) -> bool:
        return any(p.horizontal and p.free and p.thickness <= loose
                   and p.x - reach <= centre <= p.x + p.w + reach
                   and abs(p.y + p.h / 2 - y) <= tolerance + p.thickness / 2 for p in pieces)

    return met(side.y) and met(side.y + side.h)


def _has_twin(side: Piece, pieces: list[Piece], loose: float, apart: float) -> bool:
    """Whether another thin vertical at least ``apart`` px away starts and ends with ``side``: a box has two
    sides, a comb several ticks alike, a cell's width apart; a digit's stem standing on a rule, or reaching
    from one rule to the next, has no twin, and the straight sides of a narrow 0 or 8 on a box's bottom are
    closer together than any cell is wide."""
    tolerance = 3 + side.thickness
    centre = side.x + side.w / 2
    return any(not p.horizontal and p is not side and p.thickness <= loose and abs(p.y - side.y) <= tolerance
               and abs(p.y + p.h - side.y - side.h) <= tolerance and abs(p.x + p.w / 2 - centre) >= apart
               for p in pieces)


def printed_lines(mask: np.ndarray, faint: np.ndarray | None = None) -> np.ndarray:
    """uint8 mask (255) of the printed lines in an ink mask (see the module's rules and
    :func:`find_printed_lines`)."""
    return find_printed_lines(mask, faint)[0]


def find_printed_lines(mask: np.ndarray, faint: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(lines, tilt): the printed lines in an ink mask (uint8, 255), and the degrees the page was rotated by
    to find them (0.0 when they were found as they are). On a skewed page (long straight segments tilted by
    ``skew.MIN_SKEW`` to ``skew.MAX_SKEW`` degrees) they are found on the mask rotated level and rotated back.

    ``faint`` (optional) is a fuller mask of the same page that also holds faint ink. The tilt is measured
    on it, and a tilted page's lines are found in it: a thin printed line is whole there, while the
    speck-free ``mask`` keeps only the dashes where a tilted line steps from one pixel row to the next. Where
    none is found there, they are looked for in ``mask``: lines as thick as the handwriting, whose faint rims
    join the digits touching them, are found in the strong ink only."""
    search = mask if faint is None else faint
    tilt = skew.long_line_tilt(search)
    angle = tilt if tilt is not None and abs(tilt) >= skew.MIN_SKEW else 0.0
    if angle == 0.0:
        lines = _level_printed_lines(mask)
        if lines.any() or faint is None:
            # No long line: the short sides of a row of tilted boxes?
            angle = skew.box_row_tilt(search) if lines.any() and tilt is None else 0.0
            if angle == 0.0:
                return lines, 0.0
        else:
            # No line found at all: thin lines that ``mask`` broke into dashes? The tops, bottoms and sides of a
            # row of tilted boxes among the thin strokes of the faint ink, or in all of it (boxes as thick as the
            # writing, whose tops are shorter than they are tall); else one level frame (a box round an amount).
            height = digit_height(faint)
            thin = skew.thin_strokes(faint)
            angle = skew.box_row_tilt(thin, height) if tilt is None else 0.0
            if angle:
                return _found_turned(mask, faint, angle)[0], angle
            # Boxes as thick as the writing, or narrower than tall: their sides and shorter tops, taken only if a
            # row of boxes is then found (stems slanted alike agree on a tilt too). Looked for only where the ink
            # holds two box-like holes (cheap): most pages without lines have none.
            boxes_maybe = tilt is None and _box_like_holes(mask, height)
            for ink, ratio in ((thin, skew.SHORT_TILT_RATIO), (faint, SIDE_TILT_RATIO)) if boxes_maybe else ():
                angle = skew.box_row_tilt(ink, height, sides=True, ratio=ratio)
                if angle:
                    lines, level = _found_turned(mask, faint, angle)
                    if _box_row(level, height):
                        return lines, angle
            return _printed_in_faint(faint, height, digit_height(mask)), 0.0
    return _found_turned(mask, search, angle)[0], angle


def _box_like_holes(mask: np.ndarray, height: float) -> bool:
    """Whether ``mask`` holds ``BOX_HOLES`` holes or more that could be the insides of a row of boxes: each at
    least ``BOX_HOLE_SIDE`` x ``height`` across both ways, its turned bounding rectangle within ``skew.MAX_SKEW``
    of level and its outline running along ``BOX_HOLE_COVER`` of that rectangle's sides (a digit touching a box's
    inside bites a little off that), the holes of one size (``BOX_HOLE_SIZES``) turned alike
    (``BOX_HOLE_TURNS`` degrees). A written loop is seldom turned nearly level, filled to its corners, and the
    twin of another."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return False
    holes = []
    for contour, (_, _, _, parent) in zip(contours, hierarchy[0]):
        if parent < 0 or len(contour) < 4:
            continue
        rect = cv2.minAreaRect(contour)
        (w, h), turn = rect[1], rect[2] % 90.0
        turn = turn - 90.0 if turn > 45.0 else turn
        if w > h:
            w, h = h, w
        if (w >= BOX_HOLE_SIDE * height and abs(turn) <= skew.MAX_SKEW
                and _rectangle_cover(contour, rect) >= BOX_HOLE_COVER):
            holes.append((w, h, turn))
    twins = [sum(abs(a[2] - b[2]) <= BOX_HOLE_TURNS and abs(a[0] - b[0]) <= BOX_HOLE_SIZES * b[0]
                 and abs(a[1] - b[1]) <= BOX_HOLE_SIZES * b[1] for b in holes) for a in holes]
    return max(twins, default=0) >= BOX_HOLES


def _rectangle_cover(contour: np.ndarray, rect: tuple) -> float:
    """The share of the sides of ``rect`` (a turned rectangle, ``cv2.minAreaRect``) that ``contour`` runs along,
    within 2 px."""
    x, y, w, h = cv2.boundingRect(contour)
    near = np.zeros((h + 6, w + 6), np.uint8)
    cv2.polylines(near, [contour - (x - 3, y - 3)], True, 255, 5)
    corners = cv2.boxPoints(rect) - (x - 3, y - 3)
    samples = np.concatenate([np.linspace(a, b, max(2, int(np.hypot(*(b - a)))), endpoint=False)
                              for a, b in zip(corners, np.roll(corners, -1, axis=0))])
    cols = np.clip(np.rint(samples[:, 0]).astype(int), 0, w + 5)
    rows = np.clip(np.rint(samples[:, 1]).astype(int), 0, h + 5)
    return float((near[rows, cols] > 0).mean())


def _box_row(lines: np.ndarray, height: float) -> bool:
    """Whether level ``lines`` hold a row of boxes: two sides or more as tall as the boxes (``height``,
    ``ALIGNED_LENGTH_RATIO``) and a top or bottom ``SIDE_TILT_RATIO`` of it long."""
    sides = cv2.connectedComponents(straight_runs(lines, False, max(2, int(ALIGNED_LENGTH_RATIO * height))))[0] - 1
    return sides >= 2 and bool(straight_runs(lines, True, max(2, int(SIDE_TILT_RATIO * height))).any())


def _found_turned(mask: np.ndarray, search: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The printed lines of a page tilted by ``angle`` (degrees), found on ``search`` (or, where none is found
    there, on ``mask``: lines as thick as the writing show in the strong ink only) turned level, and turned back;
    and as found, level."""
    h, w = mask.shape
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    lines = np.zeros_like(mask)
    for ink in (search, mask) if search is not mask else (mask,):  # thick lines may be found in the strong ink only
        lines = _level_printed_lines(cv2.warpAffine(ink, rotation, (w, h), flags=cv2.INTER_NEAREST, borderValue=0))
        if lines.any():
            break
    back = cv2.warpAffine(lines, cv2.invertAffineTransform(rotation), (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    return cv2.bitwise_and(cv2.dilate(back, np.ones((3, 3), np.uint8)), ink), lines


def _printed_in_faint(faint: np.ndarray, height: float, writing: float) -> np.ndarray:
    """The level printed lines too faint to stay whole in the strong mask: a box round an amount on a cheque,
    boxes or rules printed in a light colour. They are the printed lines found in faint ink that join into a
    structure at least as wide and as tall as the writing (``height``, :func:`digit_height` of ``faint``), a
    rule ``RULE_LENGTH_RATIO`` x the writing in the strong mask (``writing``; ``height`` when 0) long, or a
    closed box as tall as that writing. Straight strokes of digits found there (a 1's stem, a 7's bar) join
    into none. A pixel row of a structure beside one it fills (``FULL_RUN``), itself far from full, is a stroke
    lying along a line there (a 2's base on a rule), no line; a tilted line fills no row and is kept whole."""
    writing = writing if writing > 0 else height

    def structures(lines: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, list[int]]:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
        return labels, stats, [i for i in range(1, count) if _printed_structure(
            labels[_slices(stats[i])] == i, height * scale, writing * scale)]

    # Cheap first, on a half-size copy: straight runs across and down that may make such a structure.
    if int(height) // 2 < 6:
        return np.zeros_like(faint)
    small = cv2.resize(faint, (max(1, faint.shape[1] // 2), max(1, faint.shape[0] // 2)), interpolation=cv2.INTER_AREA)
    small = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY)[1]
    across = max(3, int(min(height, SHORT_LINE_RATIO * writing)) // 2)
    if not structures(cv2.bitwise_or(straight_runs(small, True, across), straight_runs(small, False, int(height) // 2)),
                      0.5)[2]:
        return np.zeros_like(faint)
    labels, stats, found = structures(_level_printed_lines(faint), 1.0)
    out = np.zeros_like(faint)
    for i in found:  # a pixel row beside a full one, itself far from full, is a stroke lying along the line
        box = _slices(stats[i])
        piece = labels[box] == i
        full = piece.mean(axis=1) >= FULL_RUN
        beside = cv2.dilate(full.astype(np.uint8)[:, None], np.ones((5, 1), np.uint8))[:, 0] > 0
        out[box][piece & ~(beside & ~full)[:, None]] = 255
    return out


def _printed_structure(piece: np.ndarray, height: float, writing: float) -> bool:
    """Whether a structure of straight runs (bool, cut to its bounding box) is printed: as wide and as tall as
    ``height``, a rule ``RULE_LENGTH_RATIO`` x ``writing`` long, or a closed box as tall as the writing."""
    h, w = piece.shape
    return (min(w, h) >= height or w >= RULE_LENGTH_RATIO * writing
            or (h >= ALIGNED_LENGTH_RATIO * writing and _closed_box(piece)))


def _slices(stat: np.ndarray) -> tuple[slice, slice]:
    x, y, w, h = (int(v) for v in stat[:4])
    return slice(y, y + h), slice(x, x + w)


def _closed_box(piece: np.ndarray) -> bool:
    """Whether a structure of printed lines (bool, cut to its bounding box) is a closed box: ink along
    ``CLOSED_COVERAGE`` of each of its four edges."""
    h, w = piece.shape
    band = max(2, min(h, w) // 8)
    return w >= 3 and h >= 3 and min(piece[:band].any(axis=0).mean(), piece[-band:].any(axis=0).mean(),
                                     piece[:, :band].any(axis=1).mean(), piece[:, -band:].any(axis=1).mean()) \
        >= CLOSED_COVERAGE


def _level_printed_lines(mask: np.ndarray) -> np.ndarray:
    lines = np.zeros_like(mask)
    ref, first, measured = _writing_height(mask)
    if ref <= 0:
        return lines
    if int(SHORT_LINE_RATIO * ref) == int(SHORT_LINE_RATIO * first):
        pieces, stroke = measured  # the same search _writing_height ran: reuse it
    else:
        pieces, stroke = line_pieces(mask, int(SHORT_LINE_RATIO * ref), loose=ALIGNED_THICKNESS[2])
    strict, loose = STRICT_THINNESS * stroke, STRUCTURE_THINNESS * stroke
    accepted = _aligned_sides(pieces, stroke, ref)
    # A vertical may join a structure through a corner only as a box's side (taller than the writing: its top
    # and bottom meet it, and it has a twin, the box's other side) or a comb's tick (with twins): a 1, or a
    # digit's stem, standing on a rule is neither.
    structural = [p.horizontal or (_has_twin(p, pieces, loose, TWIN_SPACING_RATIO * ref) and (
        p.h < SIDE_LENGTH_RATIO * ref or _held_at_both_ends(p, pieces, loose))) for p in pieces]
    for k, (horizontal, _, _, pw, ph, thickness, _, free) in enumerate(pieces):
        if not free:
            continue
        extent = pw if horizontal else ph
        if thickness <= strict and extent >= LINE_LENGTH_RATIO * ref:  # longer than any stroke of a digit
            accepted[k] = True
        elif thickness <= loose and extent >= RULE_LENGTH_RATIO * ref:  # no stroke is that long and straight
            accepted[k] = True
        elif thickness <= loose and not horizontal and ph >= SIDE_LENGTH_RATIO * ref:
            accepted[k] = accepted[k] or (structural[k] and any(_corner(pieces[k], other) for other in pieces
                                                                if other.thickness <= loose and other.free))
    # Short pieces of a structure (tops of boxes, comb ticks) meet an accepted line at a corner; what they
    # make acceptable in turn is too (a rule accepts a box's sides, the sides accept its top).
    grown = True
    while grown:
        grown = False
        for k, piece in enumerate(pieces):
            if accepted[k] or piece.thickness > loose or not piece.free or not structural[k]:
                continue
            if any(accepted[j] and _corner(piece, other) and _joins_as_edge(piece, other)
                   for j, other in enumerate(pieces)):
                accepted[k] = grown = True
    for k in _evenly_spaced_ticks(pieces, accepted, loose, ref):
        accepted[k] = True
    for piece, keep in zip(pieces, accepted):
        if keep:
            lines[piece.y:piece.y + piece.h, piece.x:piece.x + piece.w][piece.pixels] = 255
    sides = [p for p, keep in zip(pieces, accepted) if keep and not p.horizontal]
    sides += _add_missing_sides(mask, sides, lines)
    _add_missing_edges(mask, sides, lines)
    return lines


def _evenly_spaced_ticks(pieces: list[Piece], accepted: list[bool], loose: float, ref: float) -> list[int]:
    """Indexes of a comb's ticks that digits lean on (not free): verticals shorter than a box's side that end on
    an accepted line, three or more starting and ending together (``ALIGN_TOLERANCE``) at even spacing, a cell
    (``TWIN_SPACING_RATIO`` digit heights) or more apart, each gap a whole number of cells
    (``TICK_SPACING_TOLERANCE``): printed. Straight strokes of digits on one rule are neither aligned so
    closely nor evenly spaced."""
    rules = [q for q, keep in zip(pieces, accepted) if keep and q.horizontal]
    ticks = {id(p): k for k, p in enumerate(pieces) if not p.horizontal and p.thickness <= loose
             and p.h < SIDE_LENGTH_RATIO * ref and any(_corner(p, q) for q in rules)}
    found = []
    for row in _rows_of_sides([pieces[k] for k in ticks.values()]).values():
        gaps = np.diff(sorted(p.x + p.w / 2 for p in row))
        if gaps.min() < TWIN_SPACING_RATIO * ref:
            continue
        cells = gaps / gaps.min()
        if np.all(np.abs(cells - np.round(cells)) <= TICK_SPACING_TOLERANCE):
            found += [ticks[id(p)] for p in row if not accepted[ticks[id(p)]]]
    return found


def _add_missing_sides(mask: np.ndarray, sides: list[Piece], lines: np.ndarray) -> list[Piece]:
    """Complete a row of printed boxes: where the row's own spacing puts a side that was not found (a
    digit written over it merged the two, so no thin straight run was left) and the mask is full along
    that side's whole height, that column band is a line too (added to ``lines`` in place, and returned).

    The sides of one row start and end together (``ALIGN_TOLERANCE``); a side is expected one observed
    spacing (side to side) away from a found or added one, so a run of several lost sides (comb ticks that
    digits lean on) is followed step by step. A digit's stroke alone does not fill a band as tall as the box
    at exactly that place."""
    added = []
    for (top, bottom), group in _rows_of_sides(sides).items():
        width = max(1, int(round(float(np.median([s.thickness for s in group])))))
        centres = sorted(s.x + s.w / 2 for s in group)
        spacings = {round(b - a) for a, b in zip(centres, centres[1:]) if b - a > 2 * ALIGN_TOLERANCE}
        expected = _expected_sides(centres, centres, spacings)
        while expected:
            found = []
            for x in sorted(expected):
                for shift in SIDE_SHIFTS:  # the spacing is a mean, and a levelled copy's sides sit a pixel off it
                    x0 = int(round(x - width / 2)) + shift
                    if x0 < 0 or x0 + width > mask.shape[1]:
                        continue
                    band = mask[top:bottom, x0:x0 + width] > 0
                    # Its core full: a side smeared by levelling wobbles by a pixel at its rims.
                    if band[:, (width > 2):width - (width > 3)].all(axis=1).mean() >= 0.9:
                        lines[top:bottom, x0:x0 + width][band] = 255
                        added.append(Piece(False, x0, top, width, bottom - top, float(width), band, False))
                        found.append(x + shift)
                        break
            centres += found
            expected = _expected_sides(found, centres, spacings)
    return added


def _rows_of_sides(sides: list[Piece]) -> dict[tuple[int, int], list[Piece]]:
    """Sides that start and end together (``ALIGN_TOLERANCE``), three or more: rows of printed boxes, by their
    top and bottom."""
    groups: dict[tuple[int, int], list[Piece]] = {}
    for side in sides:
        key = next((k for k in groups if abs(k[0] - side.y) <= ALIGN_TOLERANCE
                    and abs(k[1] - side.y - side.h) <= ALIGN_TOLERANCE), (side.y, side.y + side.h))
        groups.setdefault(key, []).append(side)
    return {key: group for key, group in groups.items() if len(group) >= 3}


def _add_missing_edges(mask: np.ndarray, sides: list[Piece], lines: np.ndarray) -> None:
    """Complete a row of printed boxes: between two neighbouring sides of a row, the box's top and bottom
    where the mask is full along the whole stretch at the sides' ends are lines too (added to ``lines`` in
    place), found even where a digit touching it buried it in thicker ink. The neighbours along an edge are
    all the sides that end at it: a comb's end cells lie between a tick and the frame's taller side. Not
    where a stroke runs along it for ``MAX_EDGE_STROKE`` of the stretch or more (a 7's bar written on its
    box's top): that edge is left as the pieces found it."""
    for (top, bottom), group in _rows_of_sides(sides).items():
        width = max(1, int(round(float(np.median([s.thickness for s in group])))))
        for edge, at_bottom in ((top, False), (bottom - width, True)):
            ends = [s.y + s.h - width if at_bottom else s.y for s in sides]
            along = sorted((s for s, end in zip(sides, ends) if abs(end - edge) <= ALIGN_TOLERANCE), key=lambda s: s.x)
            for left, right in zip(along, along[1:]):
                x0, x1 = left.x + left.w, right.x
                if x1 > x0:  # not sides found overlapping (a side and one added beside it)
                    _add_edge(mask, lines, edge, width, x0, x1, (left.x - 3, right.x + right.w))


def _add_edge(mask: np.ndarray, lines: np.ndarray, edge: int, width: int, x0: int, x1: int,
              outside: tuple[int, int]) -> None:
    """Add the rows near ``edge`` full along ``x0:x1`` to ``lines`` (see :func:`_add_missing_edges`)."""
    y0 = max(0, edge - 1)
    full = np.flatnonzero((mask[y0:edge + width + 1, x0:x1] > 0).mean(axis=1) >= 0.95) + y0
    if not len(full):
        return
    top_row, bottom_row = _full_band(mask, full[0], full[-1], x0, x1, outside, 2 * width + 2)
    if _lying_along(mask, top_row, bottom_row, x0, x1) < MAX_EDGE_STROKE:
        lines[full, x0:x1] = 255
        lines[top_row:full[0], x0:x1] = lines[full[-1] + 1:bottom_row + 1, x0:x1] = 255


def _full_band(mask: np.ndarray, top: int, bottom: int, x0: int, x1: int, outside: tuple[int, int],
               most: int) -> tuple[int, int]:
    """Rows ``top..bottom`` grown up and down while the next row is inked along the whole stretch ``x0:x1``, to
    at most ``most`` rows, when some row of that band goes on past one of the sides (3 px just outside them:
    ``outside``): a box's bottom that the scan's blur joined to a rule just under it is one band, not an edge
    with a stroke along it. A 7's bar lying along its box's top from side to side ends at the sides."""
    def full(y: int) -> bool:
        return 0 <= y < mask.shape[0] and float((mask[y, x0:x1] > 0).mean()) >= 0.95

    def goes_on(y: int) -> bool:
        return any(0 <= x and x + 3 <= mask.shape[1] and bool((mask[y, x:x + 3] > 0).all()) for x in outside)

    low, high = top, bottom
    while high - low + 1 < most and (full(low - 1) or full(high + 1)):
        if full(high + 1):
            high += 1
        else:
            low -= 1
    grown = (low, high) != (top, bottom)
    return (low, high) if grown and any(goes_on(y) for y in range(low, high + 1)) else (top, bottom)


def _lying_along(mask: np.ndarray, top: int, bottom: int, x0: int, x1: int, extra: int = 2) -> float:
    """The share of the columns ``x0:x1`` where a stroke lies along the line through rows ``top..bottom``: its ink
    goes on above and below the line, together, for more than ``extra`` px but no more than ``ALONG_DEPTH`` x the
    line's thickness (a 7's bar written on its box's top). A stroke that reaches the line and goes on (a 4's
    arms touching its box's top) does not count."""
    reach = int(ALONG_DEPTH * (bottom - top + 1))
    columns = mask[:, x0:x1] > 0
    depth = np.zeros(x1 - x0, int)
    for rows in (range(top - 1, top - 2 - reach, -1), range(bottom + 1, bottom + 2 + reach)):
        inked = np.ones(x1 - x0, bool)
        for y in rows:
            inked &= columns[y] if 0 <= y < len(columns) else False
            depth += inked
    return float(((depth > extra) & (depth <= reach)).mean())


def _expected_sides(starts: list[float], centres: list[float], spacings: set[int]) -> set[float]:
    """Where a row's spacings (between consecutive found sides) put a side next to one of ``starts`` that is
    not one of its ``centres`` yet."""
    expected = {c + sign * step for c in starts for step in spacings for sign in (-1, 1)}
    return {x for x in expected if min(abs(x - c) for c in centres) > 2 * ALIGN_TOLERANCE}


def _aligned_sides(pieces: list[Piece], stroke: float, ref: float) -> list[bool]:
    """Vertical pieces at least ``ALIGNED_LENGTH_RATIO`` x the writing's height that start and end
    within ``ALIGN_TOLERANCE`` px of two others: the sides of a row of printed boxes, found even where
    the boxes' faint tops were lost, and even where digits lean on them for a while (not free). Only
    pieces thinner than handwriting, or clearly thicker (double borders of adjacent boxes), or taller
    than the writing: a row of straight handwritten 1s has the handwriting's own width and height, and
    the straight bits of digits on one baseline are shorter than the digits."""
    thin, low, high = (t * stroke for t in ALIGNED_THICKNESS)
    ends = np.array([(p.y, p.y + p.h) for p in pieces], float).reshape(-1, 2)
    taller = SIDE_LENGTH_RATIO * ref  # sides taller than the writing may be as thick as it, too

    def is_candidate(p: Piece) -> bool:
        if p.horizontal or p.h < ALIGNED_LENGTH_RATIO * ref:
            return False
        if p.thickness <= thin or low <= p.thickness <= high:
            return True
        return p.thickness <= high and (_height_off_lines(p, pieces) >= taller
                                        or _held_at_both_ends(p, pieces, STRUCTURE_THINNESS * stroke))

    candidate = np.array([is_candidate(p) for p in pieces], bool)
    accepted = [False] * len(pieces)
    for k in np.flatnonzero(candidate):
        near = np.abs(ends - ends[k]).max(axis=1) <= ALIGN_TOLERANCE
        accepted[k] = int((near & candidate).sum()) >= 3
    return accepted


def _height_off_lines(side: Piece, pieces: list[Piece]) -> int:
    """The height of a vertical ``side`` without the rows of a horizontal line that crosses it at one end (runs on
    past it on both sides). A digit's straight stem standing on a rule runs on into the rule, and with the rule's
    rows it is taller than the writing; without them it is not. (Three such stems on one rule, as a printed 4 and 8
    have, were taken for a row of box sides and removed.) A box's top or bottom meeting its side at a corner is not
    across it, and a side crossed at both ends (the inner sides of a row of joined boxes) keeps all its height."""
    rows = np.ones(side.h, bool)
    for p in pieces:
        if p.horizontal and p.x < side.x - side.w and p.x + p.w > side.x + 2 * side.w:
            y0, y1 = max(p.y, side.y), min(p.y + p.h, side.y + side.h)
            rows[max(0, y0 - side.y):max(0, y1 - side.y)] = False
    return side.h if not rows[0] and not rows[-1] else int(rows.sum())


def _writing_height(mask: np.ndarray) -> tuple[float, float, tuple[list[Piece], float]]:
    """The digit height, measured on the mask without its straight thin runs (box borders and rules
    would otherwise make the writing look as tall as the form); also the first estimate (with them) and
    the line pieces found for it, which the caller reuses."""
    first = digit_height(mask)
    if first <= 0:
        return 0.0, 0.0, ([], 0.0)
    measured = line_pieces(mask, int(SHORT_LINE_RATIO * first), loose=ALIGNED_THICKNESS[2])
    all_pieces, stroke = measured
    pieces = [p for p in all_pieces if p.thickness <= STRICT_THINNESS * stroke + 1 and p.free]
    if not pieces:
        return first, first, measured
    rest = mask.copy()
    for piece in pieces:
        local = np.pad(piece.pixels, 1).astype(np.uint8)
        x0, y0 = piece.x - 1, piece.y - 1
        grown = cv2.dilate(local, np.ones((3, 3), np.uint8)) > 0
        cx0, cy0 = max(0, x0), max(0, y0)
        cx1, cy1 = min(rest.shape[1], x0 + grown.shape[1]), min(rest.shape[0], y0 + grown.shape[0])
        rest[cy0:cy1, cx0:cx1][grown[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]] = 0
    second = digit_height(rest)
    if second <= 0:
        return first, first, measured
    # Use the second estimate only when the runs really form a printed structure: a line much longer
    # than the writing, or the corners of boxes. Otherwise the runs were strokes of the digits. A run that is a
    # component of its own, no longer than the writing as first measured, is a straight digit (a 1), not a line:
    # taking the runs out cuts the other digits' straight stretches too, and against the writing so measured a
    # 1 looked "much longer" (a clean page 132 looked 27 px tall instead of 61, and its 1 was removed: 32).
    lines = [p for p in pieces if not _lone_stroke(mask, p, first)]
    longest = max((max(p[3], p[4]) for p in lines), default=0)
    corners = sum(_corner(a, b) for i, a in enumerate(pieces) for b in pieces[i + 1:])
    return (second if longest >= LINE_LENGTH_RATIO * second or corners >= 4 else first), first, measured


def _lone_stroke(mask: np.ndarray, piece: Piece, writing: float) -> bool:
    """Whether ``piece`` is no longer than ``writing`` (2 px of slack) and no ink of ``mask`` lies on the border of
    its box grown by 3 px: the whole of its own component."""
    if max(piece.w, piece.h) > writing + 2:
        return False
    h, w = mask.shape
    x0, y0 = max(0, piece.x - 3), max(0, piece.y - 3)
    x1, y1 = min(w, piece.x + piece.w + 3), min(h, piece.y + piece.h + 3)
    window = mask[y0:y1, x0:x1]
    return not (window[0].any() or window[-1].any() or window[:, 0].any() or window[:, -1].any())


def remove_lines(mask: np.ndarray, lines: np.ndarray | None = None) -> np.ndarray:
    """The ink mask without printed lines (``lines``, or those found in ``mask``); digit strokes that
    crossed a line are bridged again."""
    if not mask.any():
        return mask
    lines = printed_lines(mask) if lines is None else lines
    return _bridge(mask, lines) if lines.any() else mask


def _bridge(mask: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Remove ``lines`` (and their anti-aliased rim) from ``mask``, then close the gaps they leave
    in strokes that cross them: across horizontal lines vertically, across vertical ones sideways."""
    band = cv2.dilate(lines, np.ones((3, 3), np.uint8))
    rest = cv2.subtract(mask, band)
    horizontal = straight_runs(lines, True, 9)
    vertical = cv2.subtract(lines, horizontal)
    out = rest.copy()
    for part, kernel_shape in ((horizontal, (1, 0)), (vertical, (0, 1))):
        if not part.any():
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(part, connectivity=8)
        thickness = int(np.ceil(max(stats[i, cv2.CC_STAT_AREA] / max(stats[i, 2], stats[i, 3])
                                    for i in range(1, count))))
        span = thickness + 5
        size = (1, span) if kernel_shape == (1, 0) else (span, 1)
        closed = cv2.morphologyEx(rest, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, size))
        zone = cv2.dilate(part, np.ones((3, 3), np.uint8))
        out = cv2.bitwise_or(out, cv2.bitwise_and(closed, zone))
    return out
