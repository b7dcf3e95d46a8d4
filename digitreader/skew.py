"""The tilt of a skewed scan's printed lines: the degrees to turn the page by to level them.

Long straight Hough segments near level give a first tilt (their median; the sides of a row of separate boxes
where no line is long, when several agree); the sharpest profile of the ink's pixel rows near it makes it exact.
Plain functions on a binary mask (uint8, 255 = ink).
"""

from __future__ import annotations

import cv2
import numpy as np

from .inkmeasure import digit_height, stroke_width

SKEW_SIDE = 800  # px: skew is measured on a copy of the mask at most this wide
PAGE_LINE_RATIO = 0.5  # ... and on straight segments this share of the page wide, where no ink is 2 digit heights wide
SHORT_TILT_RATIO, TILT_AGREEMENT, MIN_AGREEING = 0.7, 0.5, 4  # box tops: 0.7 digit heights, 4 within 0.5 deg
MIN_SKEW, MAX_SKEW = 0.4, 15.0  # degrees: printed lines tilted within this range are levelled to be found
REFINE_REACH, REFINE_STEPS = 1.5, (0.25, 0.05)  # degrees: a Hough tilt is made exact within this reach, in these steps
MAX_REFINE_PIXELS = 200_000  # ink pixels (every n-th) the exact tilt is measured on
PROFILE_SMOOTHING = np.array([1, 4, 6, 4, 1]) / 16  # the rows' ink counts smoothed over about a pixel


def skew_angle(mask: np.ndarray) -> float:
    """Degrees to rotate the page by so that its long straight lines are level (0.0 when they already
    are, or when there are none): the median tilt of the long near-horizontal Hough segments, found
    on a copy at most ``SKEW_SIDE`` px wide and made exact (:func:`refined_tilt`); only pages with a piece of
    ink two digit heights or half the page wide are looked at."""
    tilt = long_line_tilt(mask)
    return tilt if tilt is not None and abs(tilt) >= MIN_SKEW else 0.0


def long_line_tilt(mask: np.ndarray) -> float | None:
    """The tilt of the long near-level Hough segments (see :func:`skew_angle`): their median, made exact by
    :func:`refined_tilt`; None if there are none. Long: two digit heights, or, where no piece of ink is that wide
    (rules across the page join every digit into one piece as tall as the page), ``PAGE_LINE_RATIO`` of the
    page's width."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    keep = stats[1:, cv2.CC_STAT_AREA] >= 4
    if not keep.any():
        return None
    ref = float(np.median(heights[keep][heights[keep] >= 0.5 * heights[keep].max()]))
    if ref > 0 and (widths >= 2 * ref).any():
        length = 2 * ref
    elif (widths >= PAGE_LINE_RATIO * mask.shape[1]).any():  # rules across the page, all the writing joined to them
        length = PAGE_LINE_RATIO * mask.shape[1]
    else:
        return None
    near = _near_level_tilts(mask, length)
    return refined_tilt(mask, float(np.median(near))) if len(near) else None


def refined_tilt(mask: np.ndarray, angle: float) -> float:
    """``angle`` (degrees to rotate the page by to level it, a Hough segments' median) made exact: of the angles
    within ``REFINE_REACH`` of it, the one at which the ink's pixel rows are most sharply peaked (the sum of the
    squared counts of ink pixels per pixel row of the page rotated by it: a straight line gathers into one or two
    rows at its level angle only), searched in ``REFINE_STEPS``. Hough segments give the tilt of a thin line to a
    few tenths of a degree, enough to smear a long line over several pixel rows once levelled, and see a thick
    line turned by a degree as level runs (each pixel row of it is a straight run hundreds of px long)."""
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return angle
    every = -(-len(ys) // MAX_REFINE_PIXELS)
    xs, ys = xs[::every] - mask.shape[1] / 2, ys[::every] - mask.shape[0] / 2

    def sharpness(degrees: float) -> float:
        radians = np.radians(degrees)
        rows = np.cos(radians) * ys - np.sin(radians) * xs
        rows -= rows.min()
        # Each pixel shared between the two rows it falls between, and the counts smoothed: otherwise at exactly
        # 0 degrees every pixel row of the page is one count, a spike that outweighs a line's true tilt.
        below = rows.astype(np.int64)
        part, size = rows - below, int(below.max()) + 2
        counts = np.bincount(below, 1.0 - part, size) + np.bincount(below + 1, part, size)
        return float(np.square(np.convolve(counts, PROFILE_SMOOTHING)).sum())

    reach = REFINE_REACH
    for step in REFINE_STEPS:
        candidates = angle + np.arange(-reach, reach + 1e-9, step)
        angle = float(candidates[int(np.argmax([sharpness(c) for c in candidates]))])
        reach = step
    return float(np.clip(angle, -MAX_SKEW, MAX_SKEW))


def box_row_tilt(mask: np.ndarray, ref: float | None = None, sides: bool = False,
                 ratio: float = SHORT_TILT_RATIO) -> float:
    """Degrees to rotate by to level a page whose printed lines are all short (the tops and bottoms of a row
    of separate boxes, no long rule): the median tilt of the straight near-level Hough segments at least
    ``SHORT_TILT_RATIO`` digit heights (``ref``, or measured in ``mask``) long, when ``MIN_AGREEING`` of them
    agree on it within ``TILT_AGREEMENT`` degrees (a digit's bar has a tilt of its own), made exact
    (:func:`refined_tilt`); 0.0 otherwise. ``sides``: the boxes' near-upright sides count too (turned by the
    same angle), for a ``mask`` of thin strokes, which holds no handwritten stem: boxes narrower than tall
    have tops shorter than ``SHORT_TILT_RATIO`` of their height."""
    ref = digit_height(mask) if ref is None else ref
    if ref <= 0:
        return 0.0
    near = _near_level_tilts(mask, ratio * ref, upright=sides)
    near = near[np.abs(near - np.median(near)) <= TILT_AGREEMENT] if len(near) else near
    if len(near) < MIN_AGREEING:
        return 0.0
    angle = refined_tilt(mask, float(np.median(near)))
    return angle if abs(angle) >= MIN_SKEW else 0.0


def thin_strokes(mask: np.ndarray) -> np.ndarray:
    """The ink of ``mask`` (uint8, 255) at most 2 px thick, or 3 px where the ink's strokes are 1.5 times that
    or thicker, and away from thicker strokes: thin printed lines without the handwriting, and few pixels to
    search for straight segments. (A 1 px line of a turned scan, anti-aliased, covers 3 pixel rows where it
    steps; the erosion takes every stroke 4 px or thicker.)"""
    thin = 3 if stroke_width(mask) >= 1.5 * 3 else 2
    core = cv2.erode(mask, np.ones((thin + 1, thin + 1), np.uint8))
    thick = cv2.dilate(core, np.ones((thin + 5, thin + 5), np.uint8))
    return cv2.subtract(mask, thick)


def _near_level_tilts(mask: np.ndarray, length: float, upright: bool = False) -> np.ndarray:
    """Tilts (degrees) of the straight Hough segments at least ``length`` px (of ``mask``) long within
    ``MAX_SKEW`` of level, searched on a copy at most ``SKEW_SIDE`` px wide; ``upright``: and of those within
    ``MAX_SKEW`` of upright, as the tilt that turns them upright (the same as a level line's beside them)."""
    scale = min(1.0, SKEW_SIDE / max(mask.shape))
    size = (max(1, round(mask.shape[1] * scale)), max(1, round(mask.shape[0] * scale)))
    small = mask if scale == 1.0 else cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    small = np.where(small > 64, 255, 0).astype(np.uint8)
    length = max(10, int(length * scale))
    segments = cv2.HoughLinesP(small, 1, np.pi / 720, threshold=length, minLineLength=length, maxLineGap=2)
    if segments is None:
        return np.zeros(0)
    segments = np.asarray(segments, np.float64).reshape(-1, 4)  # (N, 1, 4) or (N, 4) by OpenCV version
    x0, y0, x1, y1 = segments.T
    tilt = np.degrees(np.arctan2(y1 - y0, x1 - x0))
    tilt = np.where(tilt > 90, tilt - 180, np.where(tilt < -90, tilt + 180, tilt))
    level = tilt[np.abs(tilt) <= MAX_SKEW]
    if not upright:
        return level
    from_upright = np.where(tilt > 0, tilt - 90, tilt + 90)
    return np.concatenate([level, from_upright[np.abs(from_upright) <= MAX_SKEW]])
