"""Stage 2: find the digits. Plain functions on NumPy arrays, no Keras.

grey -> polarity -> background flattening (handles uneven light) -> denoise -> Otsu on the
flattened ink (strong ink) -> printed lines and box borders removed (``formlines.py``), or, on pages
without them, strong ink grown into fainter ink (hysteresis) -> connected components -> merge
fragments of one digit -> set aside marks too short for a digit (specks, dots, commas, dashes: kept
in ``Segmentation.marks`` for ``marks.py``) -> rows in reading order. Touching digits are split later,
with the classifier (``split.py``, ``reader.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import cv2
import numpy as np

from .cells import join_rows_in_cells
from .formlines import find_printed_lines, remove_lines
from .imageio import to_grey
from .inkmeasure import stroke_width
from .marks import hangs_beside
from .normalise import crops_for_boxes
from .skew import MIN_SKEW

__all__ = ["Segmentation", "binarise", "detect_polarity", "ink_intensity", "remove_lines", "segment", "stroke_width"]

Box = tuple[int, int, int, int]  # x, y, w, h
MIN_INK_CONTRAST = 0.18  # flattened ink below this is paper texture, not writing
MAX_COMPONENTS = 3000  # more ink pieces than this (halftone, noise): only the biggest are considered
MIN_PAPER_LEVEL = 32.0  # paper darker than this (grey levels) is not paper: ink is measured against at least this
HYSTERESIS_STEPS = 2
LINE_RIM = 3  # px: a printed line's grey rim, where no faint stroke part is looked for
WEAK_RATIO = 0.75  # hysteresis: faint ink down to this x the threshold is kept when it touches strong ink
WORKING_HEIGHTS = (36.0, 110.0)  # px: digits this tall are segmented as they are ...
WORKING_HEIGHT = 64.0  # ... others on a copy resized to make them this tall
MAX_WORKING_PIXELS = 12_000_000  # ... at most this big
MIN_SHEET_TILT = 1.0  # degrees: a sheet found turned this much is levelled (its tilt is measured to ~0.1 degree)
SMALLEST_DIGIT = 12.0  # px: "digits" shorter than this are specks; the page is not enlarged for them
CHAIN_HEIGHT = 0.6  # a row is continued from its last member this tall (x its tallest), too
STRAY_GAP_RATIO = 1.5  # a lone digit joins a row when it is this close (x row height) to a member's box
SPECK_HEIGHT_RATIO = 0.4  # components shorter than this x the row's digit height are not digits
EDGE_FRAGMENT_RATIO = 0.7  # ... nor pieces this short cut off by the image's edge, alone in their row
EDGE_SOLID_FILL = 0.65  # ... nor blobs at the edge this full of ink (a shadow in a corner), alone in their row
MERGE_GAP_RATIO = 0.3  # vertical gap (x digit height) across which fragments of one digit merge
# Two thin pieces of one straight stroke broken by a gap (a slanted 1 in two, each piece too short for a digit, the
# upper one beside the lower one's top rather than over it) merge when they continue one another: each at least
# BROKEN_STROKE_ELONGATION times as long as wide and BROKEN_STROKE_PART[0] to [1] digit heights long, their directions
# and the line between their centres within BROKEN_STROKE_ANGLE degrees of each other, their nearest ends at most
# BROKEN_STROKE_GAP digit heights apart (benchmarks/RESULTS.md, "Twenty-fifth pass").
BROKEN_STROKE_ELONGATION, BROKEN_STROKE_ANGLE, BROKEN_STROKE_GAP, BROKEN_STROKE_PART = 2.5, 25.0, 0.25, (0.25, 0.8)
# Two pieces one above the other, each this tall (x digit height), may make a digit 1.5 x as wide as tall
STACKED_PIECE_HEIGHTS = (0.35, 0.8)
# A bar beside the top of a piece (a 5's floating bar) does not join a piece under these heights and widths (x
# digit height), the size of a comma: a comma with a dash after it (",-" in amounts) is no 5
COMMA_SIZE = (0.5, 0.25)
LINE_FRAGMENT_HEIGHT = 0.2  # a piece by a removed line this tall (x digit height) may be part of a digit
# Two pieces by removed printed lines up to this far apart (x digit height), no printed line between them, may be one
# digit broken where its stroke ran along a line; the classifier decides (reader.py). Seed-5 form 0098 (a 6 in two
# pieces read 11) +1 page, six sets otherwise unchanged (benchmarks/RESULTS.md, "Twentieth pass").
LINE_BREAK_GAP = 0.25
# A piece no taller than SHORT_PIECE x its neighbour (the left stroke of a 4 written in two strokes, read 1) is
# offered to the classifier with it across a gap of up to SHORT_PIECE_GAP digit heights, the two together up to
# SHORT_PIECE_ASPECT times as wide as tall (benchmarks/RESULTS.md, "Twenty-fifth pass").
SHORT_PIECE, SHORT_PIECE_GAP, SHORT_PIECE_ASPECT = 0.75, 0.3, 1.5


@dataclass
class Segmentation:
    """Digit boxes in reading order, with the ink image the crops are cut from."""

    boxes: list[Box]
    lines: list[int]
    ink: np.ndarray  # float32 (H, W) in [0, 1]: ink bright, paper 0
    mask: np.ndarray  # uint8 (H, W): 255 where ink after line removal
    labels: np.ndarray  # int32 connected-component labels of ``mask``
    members: list[list[int]] = field(default_factory=list)  # component labels of each box
    polarity: str = "dark"
    masks: list[np.ndarray | None] = field(default_factory=list)  # explicit (h, w) bool pixels of a box, or None
    marks: list[tuple[Box, list[int]]] = field(default_factory=list)  # small non-digit marks set aside
    image_size: tuple[int, int] | None = None  # (width, height) of the image read, when segmented on a copy
    to_image: np.ndarray | None = None  # ... and the 2x3 affine map from the copy's pixels to the image's
    printed: bool = False  # printed lines were found (and removed from ``mask``, not from ``ink``)
    # Pieces of ink left beside a removed printed line, too short for a digit but no flat remnant of the line:
    # the part of a digit cut off where its stroke ran along the line (a 6's loop on a ruled line). The reader
    # gives each to the neighbouring digit whose reading it keeps or improves (``reader.py``).
    line_fragments: list[tuple[Box, list[int]]] = field(default_factory=list)
    tilt: float = 0.0  # degrees the printed lines were levelled by to be found (0.0: found as they are)
    printed_lines: np.ndarray | None = None  # uint8 (H, W): the printed lines removed from ``mask``, when ``printed``
    printed_ink: np.ndarray | None = None  # uint8 (H, W): the strong ink they were removed from, when ``printed``

    @property
    def scale(self) -> float:
        """How many times the size of the image read the arrays and boxes are (1.0: the image itself)."""
        return 1.0 if self.to_image is None else 1.0 / math.hypot(self.to_image[0, 0], self.to_image[1, 0])

    def image_matrix(self) -> np.ndarray:
        """The 2x3 affine map from the arrays' pixels to the image read's."""
        return np.eye(2, 3) if self.to_image is None else self.to_image

    def image_box(self, box: Box) -> Box:
        """``box`` (of the copy segmented) in the coordinates of the image read: the box around its corners."""
        if self.image_size is None or self.to_image is None:
            return box
        width, height = self.image_size
        x, y, w, h = box
        corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], float) @ self.image_matrix().T
        x0, y0 = (max(0, math.floor(v + 1e-6)) for v in corners.min(axis=0))
        x1, y1 = math.ceil(corners[:, 0].max() - 1e-6), math.ceil(corners[:, 1].max() - 1e-6)
        x1, y1 = min(width, x1), min(height, y1)
        return x0, y0, max(1, x1 - x0), max(1, y1 - y0)

    def __post_init__(self) -> None:
        if len(self.masks) != len(self.boxes):
            self.masks = [None] * len(self.boxes)

    def crops(self, boxes: list[Box] | None = None, members: list[list[int]] | None = None,
              masks: list[np.ndarray | None] | None = None) -> np.ndarray:
        """(N, 28, 28) MNIST crops of ``boxes`` (default: this segmentation's own) cut from ``ink``; see
        :func:`normalise.crops_for_boxes`. Faint stroke parts are recovered, except round printed lines."""
        if boxes is None:
            boxes, members, masks = self.boxes, self.members, self.masks
        if members is None or len(members) != len(boxes):
            raise ValueError("crops() needs one list of component labels (members) per box")
        return crops_for_boxes(self.ink, self.labels, boxes, members, masks, faint=True, blocked=self.near_lines)

    @cached_property
    def near_lines(self) -> np.ndarray | None:
        """uint8 (H, W): the printed lines and ``LINE_RIM`` px round them (their grey rims), or None."""
        if self.printed_lines is None:
            return None
        return cv2.dilate(self.printed_lines, np.ones((2 * LINE_RIM + 1, 2 * LINE_RIM + 1), np.uint8))

    def box_mask(self, index: int) -> np.ndarray:
        """(h, w) bool: the pixels of box ``index`` (its explicit mask, or its components' pixels)."""
        if self.masks[index] is not None:
            return self.masks[index]
        x, y, w, h = self.boxes[index]
        return np.isin(self.labels[y:y + h, x:x + w], self.members[index])

    def set_aside(self, index: int) -> None:
        """Make box ``index`` (a whole component or components) a mark instead of a digit."""
        self.marks.append((self.boxes[index], self.members[index]))
        del self.boxes[index], self.lines[index], self.members[index], self.masks[index]

    def replace(self, index: int, boxes: list[Box], masks: list[np.ndarray]) -> None:
        """Put several boxes (pieces of box ``index``, left to right) in its place, same row."""
        line, ids = self.lines[index], self.members[index]
        self.boxes[index:index + 1] = boxes
        self.lines[index:index + 1] = [line] * len(boxes)
        self.members[index:index + 1] = [list(ids) for _ in boxes]
        self.masks[index:index + 1] = masks


def detect_polarity(grey: np.ndarray) -> str:
    """'dark' (dark ink on light paper) or 'light' (light ink on dark).

    The paper is the border's median grey; the ink is whichever histogram tail reaches farther
    from it. Ties (blank or pure-noise pages) default to dark ink.
    """
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    paper = float(np.median(border))
    low, high = _percentiles(grey, (0.5, 99.5))
    dark_reach, light_reach = paper - low, high - paper
    return "light" if light_reach > 1.2 * dark_reach + 2 else "dark"


def _percentiles(grey: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """``np.percentile(grey, q)`` (linear interpolation) for each q; for uint8 from a histogram (O(n), no sort)."""
    if grey.dtype != np.uint8 or grey.size == 0:
        return [float(np.percentile(grey, q)) for q in qs]
    cumulative = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    out = []
    for q in qs:
        position = q / 100.0 * (grey.size - 1)
        below = int(np.floor(position))
        lower, upper = np.searchsorted(cumulative, [below + 1, min(below + 2, grey.size)])
        out.append(float(lower + (position - below) * (upper - lower)))
    return out


def ink_intensity(grey: np.ndarray, polarity: str) -> np.ndarray:
    """Float ink image in [0, 1] (ink bright) after dividing out the paper's illumination."""
    paper_bright = grey if polarity == "dark" else 255 - grey
    background = estimate_background(paper_bright)
    # 1 - pixel / paper, but never relative to near-black "paper": on a black page nothing is ink
    return np.clip((background - paper_bright) / np.maximum(background, MIN_PAPER_LEVEL), 0.0, 1.0)


def estimate_background(paper_bright: np.ndarray) -> np.ndarray:
    """Paper brightness everywhere: a closing wider than any stroke, smoothed, at reduced scale."""
    h, w = paper_bright.shape
    scale = min(1.0, 400.0 / max(h, w))
    small = cv2.resize(paper_bright, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else paper_bright
    size = max(7, int(max(small.shape) / 8) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    closed = cv2.GaussianBlur(closed.astype(np.float32), (0, 0), size / 3)
    return cv2.resize(closed, (w, h), interpolation=cv2.INTER_LINEAR) if scale < 1 else closed


def binarise(ink: np.ndarray) -> np.ndarray:
    """uint8 mask (255 = ink) by hysteresis on the flattened ink (see :func:`ink_levels`)."""
    return hysteresis(*ink_levels(ink))


def ink_levels(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(strong, weak) uint8 masks (255 = ink) of the flattened ink.

    Strong ink: a median-filtered (speck-free) copy above Otsu's threshold, never below a contrast
    floor. Weak ink: a lightly smoothed copy above ``WEAK_RATIO`` x that threshold (thin and faint
    stroke parts: a hairline 1, the fading end of a 7's bar), which :func:`hysteresis` keeps only next
    to strong ink, so isolated faint texture and noise are dropped.
    """
    ink8 = (ink * 255.0 + 0.5).astype(np.uint8)
    smooth = cv2.GaussianBlur(ink8, (3, 3), 0)
    clean = cv2.GaussianBlur(cv2.medianBlur(ink8, 3), (3, 3), 0)
    otsu, _ = cv2.threshold(clean, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    threshold = max(otsu, MIN_INK_CONTRAST * 255)
    strong = clean > threshold
    weak = (smooth > WEAK_RATIO * threshold) | strong
    return np.where(strong, 255, 0).astype(np.uint8), np.where(weak, 255, 0).astype(np.uint8)


def hysteresis(strong: np.ndarray, weak: np.ndarray, steps: int = HYSTERESIS_STEPS) -> np.ndarray:
    """Strong ink grown ``steps`` pixels into the weak ink around it (uint8, 255 = ink): bridges the
    short faint gaps of a thin stroke without letting faint texture or a line's rim reach far."""
    kept = strong.copy()
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(steps):
        kept = cv2.bitwise_or(kept, cv2.bitwise_and(weak, cv2.dilate(kept, kernel)))
    return kept


def segment_at_working_scale(image: np.ndarray, polarity: str = "auto", sheet_tilt: float = 0.0) -> Segmentation:
    """:func:`segment`, again on a copy when the page is skewed or its digits are not ``WORKING_HEIGHTS`` px
    tall. A page whose printed lines were found tilted (``Segmentation.tilt``) is segmented again rotated
    level (:func:`deskewed`). Digits not ``WORKING_HEIGHTS`` px tall (the heights every size rule here was made
    for: a 150 dpi scan's digits may be 20 px tall, a 600 dpi scan's 200 px) and not specks (under
    ``SMALLEST_DIGIT``) are segmented again on a copy that puts them at ``WORKING_HEIGHT``, within
    ``MAX_WORKING_PIXELS``. The result's ``image_size`` and ``to_image`` say how to map its boxes back
    (:meth:`Segmentation.image_box`). ``sheet_tilt``: the degrees the sheet of paper in a photo is turned by
    (``page.sheet_tilt``); from ``MIN_SHEET_TILT`` on, the image is levelled by it before anything else (its
    printed boxes and rows are then level, whether or not a printed line shows the tilt)."""
    h, w = image.shape[:2]
    to_image = np.eye(2, 3)
    if abs(sheet_tilt) >= MIN_SHEET_TILT:  # a photographed sheet turned: its surround is its paper, continued
        tilt, replicate = sheet_tilt, True
    else:  # printed lines found tilted
        seg = segment(image, polarity)
        tilt, replicate, polarity = seg.tilt, False, seg.polarity
    levelled = abs(tilt) >= MIN_SKEW
    if levelled:
        image, to_image = deskewed(image, tilt, replicate=replicate)
        seg = _on_copy(segment(image, polarity, levelled=True), (w, h), to_image)
    if not seg.boxes:
        return seg
    height = reference_height(seg.boxes)
    if WORKING_HEIGHTS[0] <= height <= WORKING_HEIGHTS[1] or height < SMALLEST_DIGIT:
        return seg  # in range, or specks (halftone, noise): no digit is readable that small
    copy_h, copy_w = image.shape[:2]
    factor = min(WORKING_HEIGHT / height, math.sqrt(MAX_WORKING_PIXELS / (copy_h * copy_w)))
    size = (max(1, round(copy_w * factor)), max(1, round(copy_h * factor)))
    if abs(factor - 1.0) < 0.1 or min(size) < 16:
        return seg
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    shrink = copy_w / size[0]  # the copy's pixels per resized pixel
    copy = segment(resized, seg.polarity, levelled=levelled)  # a levelled copy's lines are smeared in it too
    return _on_copy(copy, (w, h), to_image @ np.diag([shrink, shrink, 1.0]))


def deskewed(image: np.ndarray, degrees: float, corner_grey: float | None = None,
             replicate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(copy, to_image): the image rotated by ``degrees`` on a canvas that holds all of it (the corners in
    ``corner_grey``, or the paper's median colour; ``replicate``: the image's edge pixels continued, for an image
    whose edge is paper of uneven light), and the 2x3 map from the copy's pixels back to the image's. Bicubic: a
    thin printed line stays thinner and darker than bilinear resampling leaves it, so it is found and removed."""
    h, w = image.shape[:2]
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(rotation[0, 0]), abs(rotation[0, 1])
    new_w, new_h = int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin))
    rotation[0, 2] += new_w / 2 - w / 2
    rotation[1, 2] += new_h / 2 - h / 2
    channels = image.shape[2] if image.ndim == 3 else 1
    paper = np.median(image.reshape(-1, channels), axis=0) if corner_grey is None else np.full(channels, corner_grey)
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
    copy = cv2.warpAffine(image, rotation, (new_w, new_h), flags=cv2.INTER_CUBIC, borderMode=border,
                          borderValue=tuple(float(v) for v in paper))
    return copy, cv2.invertAffineTransform(rotation)


def _on_copy(seg: Segmentation, image_size: tuple[int, int], to_image: np.ndarray) -> Segmentation:
    seg.image_size, seg.to_image = image_size, to_image
    return seg


def segment(image: np.ndarray, polarity: str = "auto", remove_form_lines: bool = True,
            levelled: bool = False) -> Segmentation:
    """Find digit boxes in reading order in a grey or BGR uint8 image. ``levelled``: the image is a skewed
    page's copy rotated level (see :func:`segment_at_working_scale`), or that copy resized; its printed lines are
    looked for in faint ink first, then (thick lines) in strong ink."""
    grey = to_grey(image)
    if polarity == "auto":
        polarity = detect_polarity(grey)
    ink = ink_intensity(grey, polarity)
    strong, weak = ink_levels(ink)
    if not remove_form_lines:
        printed_lines, tilt = None, 0.0
    elif levelled:  # a copy rotated level: its printed lines, smeared by the rotation, are whole in faint ink only
        printed_lines, tilt = find_printed_lines(weak)[0], 0.0
        if not printed_lines.any():  # ... or thick ones, too thick among the faint ink's strokes, in strong ink
            printed_lines = find_printed_lines(strong, weak)[0]
    else:
        printed_lines, tilt = find_printed_lines(strong, weak)
    printed = printed_lines is not None and bool(printed_lines.any())
    printed_lines = printed_lines if printed else None
    tilt = tilt if printed else 0.0  # a page is levelled for its printed lines only
    if printed:
        # A printed form: faint ink would join the lines' blurred rims to the digits; keep strong ink only.
        mask = remove_lines(strong, printed_lines)
    else:
        mask = hysteresis(strong, weak)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    components = [(i, tuple(int(v) for v in stats[i, :4])) for i in range(1, count) if stats[i, 4] >= 4]
    if len(components) > MAX_COMPONENTS:  # halftone or noise: keep the biggest pieces (in label order)
        components = sorted(sorted(components, key=lambda c: -stats[c[0], 4])[:MAX_COMPONENTS])
    groups = _merge_fragments(components, labels)
    groups, marks = _split_off_marks(groups)
    groups = _drop_edge_fragments(groups, mask.shape, stats[:, cv2.CC_STAT_AREA])
    fragments = []
    ref = _reference_height(groups)
    if printed:  # bits of ink left along a removed printed line are no separators
        near = [_near_lines(m[0], printed_lines) for m in marks]
        fragments = [m for m, is_near in zip(marks, near) if is_near and m[0][3] >= LINE_FRAGMENT_HEIGHT * ref]
        marks = [m for m, is_near in zip(marks, near) if not is_near]
    rows = _reading_order(groups)
    if printed:  # one row of printed boxes holds one number, however high or low each digit sits in its box
        rows = sorted(join_rows_in_cells(rows, printed_lines, ref), key=_row_centre)
    boxes, lines, members = [], [], []
    for line, row in enumerate(rows):
        for box, ids in row:
            boxes.append(box)
            lines.append(line)
            members.append(ids)
    return Segmentation(boxes, lines, ink, mask, labels, members, polarity, marks=marks, printed=printed, tilt=tilt,
                        line_fragments=fragments, printed_lines=printed_lines,
                        printed_ink=strong if printed else None)


# ---------------------------------------------------------------- grouping rules

Group = tuple[Box, list[int]]


def union_box(a: Box, b: Box) -> Box:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return x0, y0, x1 - x0, y1 - y0


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def reference_height(boxes: list[Box]) -> float:
    """The page's digit height: the median height of the boxes at least half as tall as the tallest."""
    return _reference_height([(b, []) for b in boxes])


def _reference_height(groups: list[Group]) -> float:
    heights = np.array([g[0][3] for g in groups], float)
    if not len(heights):
        return 0.0
    big = heights[heights >= 0.5 * heights.max()]
    return float(np.median(big))


def _merge_fragments(components: list[tuple[int, Box]], labels: np.ndarray | None = None) -> list[Group]:
    """Merge the pieces of each digit (see :func:`_same_digit`, and with the component ``labels``
    :func:`_one_broken_stroke`) until no pair qualifies.

    The result is that of repeatedly merging the first qualifying pair (a, b) in index order, but a pair
    is tested again only when one of its groups grew, and only pairs whose union could be digit-sized are
    tested at all: pages of thousands of specks (halftone, noise) stay fast.
    """
    groups: list[Group] = [(box, [i]) for i, box in components]
    ref = _reference_height(groups)
    if ref <= 0:
        return groups
    boxes = np.array([box for box, _ in groups], np.int64).reshape(-1, 4)

    def candidates(a: int, others: np.ndarray) -> np.ndarray:
        """``others`` whose union with group ``a`` is at most 1.5 ref tall and 1.5 x as wide as tall."""
        x0, y0 = np.minimum(boxes[others, 0], boxes[a, 0]), np.minimum(boxes[others, 1], boxes[a, 1])
        x1 = np.maximum(boxes[others, 0] + boxes[others, 2], boxes[a, 0] + boxes[a, 2])
        y1 = np.maximum(boxes[others, 1] + boxes[others, 3], boxes[a, 1] + boxes[a, 3])
        return others[(y1 - y0 <= 1.5 * ref) & (x1 - x0 <= 1.5 * (y1 - y0))]

    axes: dict[int, StrokeAxis | None] = {}

    def same(a: int, b: int) -> bool:
        (box_a, ids_a), (box_b, ids_b) = groups[a], groups[b]
        if _same_digit(box_a, box_b, ref):
            return True
        if labels is None or len(ids_a) != 1 or len(ids_b) != 1:
            return False
        for label, box in ((ids_a[0], box_a), (ids_b[0], box_b)):
            if label not in axes:
                axes[label] = _stroke_axis(labels, label, box, ref)
        return _one_broken_stroke(axes[ids_a[0]], axes[ids_b[0]], ref)

    def merge(a: int, b: int) -> None:
        nonlocal boxes
        groups[a] = (union_box(groups[a][0], groups[b][0]), groups[a][1] + groups[b][1])
        boxes[a] = groups[a][0]
        del groups[b]
        boxes = np.delete(boxes, b, axis=0)

    a = 0
    while a < len(groups):
        b = next((int(b) for b in candidates(a, np.arange(a + 1, len(groups))) if same(a, int(b))), None)
        if b is None:
            a += 1
            continue
        merge(a, b)
        while True:  # the grown group may now pair with an earlier one: that pair comes first in index order
            p = next((int(p) for p in candidates(a, np.arange(a)) if same(int(p), a)), None)
            if p is None:
                break
            merge(p, a)
            a = p
    return groups


def _same_digit(a: Box, b: Box, ref: float) -> bool:
    """Whether two pieces are one digit, given the image's digit height ``ref``.

    Two big pieces must overlap horizontally by half the narrower one. A short piece that is still a
    stroke, not a speck, needs a quarter of its own width; at the top of the digit (a 5's detached
    bar, the bar of a broken 7) it may even sit a little beside it. Mid-height dashes and baseline
    dots stay separate. The union must stay digit-sized and not much wider than tall; a flat upper piece
    (a 5's bar drawn thick and long) may make it 1.5 times as wide as tall.
    """
    union = union_box(a, b)
    x_overlap = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])  # negative: a gap
    y_gap = max(a[1], b[1]) - min(a[1] + a[3], b[1] + b[3])
    needed, widest = 0.5 * min(a[2], b[2]), 1.2
    fragment, body = (a, b) if a[3] < b[3] else (b, a)
    if fragment[3] < 0.5 * ref and max(fragment[2], fragment[3]) >= 0.25 * ref:
        needed = 0.25 * fragment[2]
        if fragment[1] + fragment[3] / 2 <= union[1] + 0.4 * union[3] and not _comma_sized(body, ref):
            needed, widest = -0.15 * ref, 1.5
    low, high = STACKED_PIECE_HEIGHTS
    if x_overlap >= 0.5 * min(a[2], b[2]) and low * ref <= min(a[3], b[3]) and max(a[3], b[3]) < high * ref:
        widest = 1.5  # the halves of a wide digit broken across (a flat 0 in two arcs), one above the other
    upper = a if a[1] + a[3] / 2 < b[1] + b[3] / 2 else b
    if upper[2] >= 1.5 * upper[3] and upper[3] < 0.6 * ref and upper[1] + upper[3] / 2 <= union[1] + 0.4 * union[3]:
        widest = 1.5  # a 5's thick flat top stroke over the rest of the 5
    return (x_overlap >= needed and y_gap <= MERGE_GAP_RATIO * ref
            and union[3] <= 1.5 * ref and union[2] <= widest * union[3])


class StrokeAxis(NamedTuple):
    """A thin piece of ink as a segment: its centre (x, y), unit direction, and extent along the direction."""

    centre: np.ndarray
    direction: np.ndarray
    start: float
    end: float


def _stroke_axis(labels: np.ndarray, label: int, box: Box, ref: float) -> StrokeAxis | None:
    """The axis of component ``label`` (in ``box``) when it is a thin straight stroke (``BROKEN_STROKE_ELONGATION``
    times as long as wide) from ``BROKEN_STROKE_PART[0]`` to ``BROKEN_STROKE_PART[1]`` digit heights long; else None."""
    x, y, w, h = box
    if not BROKEN_STROKE_PART[0] * ref <= max(w, h) <= BROKEN_STROKE_PART[1] * ref:
        return None
    ys, xs = np.nonzero(labels[y:y + h, x:x + w] == label)
    if len(xs) < 3:
        return None
    points = np.stack([xs + x, ys + y], axis=1).astype(np.float64)
    centre = points.mean(axis=0)
    variances, vectors = np.linalg.eigh(np.cov((points - centre).T))
    if variances[1] < BROKEN_STROKE_ELONGATION ** 2 * max(variances[0], 0.25):
        return None
    direction = vectors[:, 1]
    along = (points - centre) @ direction
    return StrokeAxis(centre, direction, float(along.min()), float(along.max()))


def _one_broken_stroke(a: StrokeAxis | None, b: StrokeAxis | None, ref: float) -> bool:
    """Whether two thin straight pieces continue one another across a short gap (see ``BROKEN_STROKE_*``): their
    directions agree, the line from one's centre to the other's runs along them (two 1s side by side do not), and
    their nearest ends are close. The two halves of a ``1`` a gap broke sit beside each other as much as above."""
    if a is None or b is None:
        return False
    agreement = float(a.direction @ b.direction)
    limit = math.cos(math.radians(BROKEN_STROKE_ANGLE))
    if abs(agreement) < limit:
        return False
    mean = a.direction + math.copysign(1.0, agreement) * b.direction
    mean /= np.linalg.norm(mean)
    between = b.centre - a.centre
    distance = float(np.linalg.norm(between))
    if distance == 0 or abs(float(between @ mean)) < limit * distance:
        return False
    ends_a = [a.centre + t * a.direction for t in (a.start, a.end)]
    ends_b = [b.centre + t * b.direction for t in (b.start, b.end)]
    gap = min(float(np.linalg.norm(p - q)) for p in ends_a for q in ends_b)
    return gap <= BROKEN_STROKE_GAP * ref


def _comma_sized(box: Box, ref: float) -> bool:
    """Whether a piece is no bigger than a comma (``COMMA_SIZE``) in an image whose digits are ``ref`` tall."""
    return box[3] < COMMA_SIZE[0] * ref and box[2] < COMMA_SIZE[1] * ref


def _near_lines(box: Box, lines: np.ndarray, reach: int = 3) -> bool:
    x, y, w, h = box
    return bool(lines[max(0, y - reach):y + h + reach, max(0, x - reach):x + w + reach].any())


def _drop_edge_fragments(groups: list[Group], shape: tuple[int, ...], areas: np.ndarray) -> list[Group]:
    """Without the pieces cut off by the image's edge that are shorter than ``EDGE_FRAGMENT_RATIO``
    digit heights and share no row with a whole digit: a scanner's dark edge, a shadow in a corner, or
    the half of a neighbouring field's digit that a tight crop caught; nor the blobs at the edge at least
    half as wide as tall whose components (``areas``: pixel counts by label) fill ``EDGE_SOLID_FILL`` of
    their box, a dark corner as tall as a digit. (A digit cut by the edge of a row of whole digits stays:
    it is in their row.)"""
    ref = _reference_height(groups)
    h, w = shape[:2]

    def at_edge(box: Box) -> bool:
        x, y, bw, bh = box
        return x == 0 or y == 0 or x + bw >= w or y + bh >= h

    def solid(group: Group) -> bool:
        (_, _, bw, bh), ids = group
        return bw >= 0.5 * bh and sum(int(areas[i]) for i in ids) >= EDGE_SOLID_FILL * bw * bh

    def cut_off(group: Group) -> bool:
        box = group[0]
        return at_edge(box) and (box[3] < EDGE_FRAGMENT_RATIO * ref or solid(group))

    whole = [g[0] for g in groups if not cut_off(g)]
    return [g for g in groups if not cut_off(g)
            or any(_overlap(g[0][1], g[0][1] + g[0][3], b[1], b[1] + b[3]) > 0.5 * g[0][3] for b in whole)]


def _split_off_marks(groups: list[Group]) -> tuple[list[Group], list[Group]]:
    """Digits, and the rest (specks, dots, commas, dashes: too short for a digit of this image's size)."""
    ref = _reference_height(groups)
    digits = [g for g in groups if g[0][3] >= SPECK_HEIGHT_RATIO * ref and g[0][2] * g[0][3] >= 16]
    return digits, [g for g in groups if g[0][3] < SPECK_HEIGHT_RATIO * ref or g[0][2] * g[0][3] < 16]


def _reading_order(groups: list[Group]) -> list[list[Group]]:
    """Rows top to bottom, digits left to right; a row follows its own slope (chained by neighbours)."""
    rows: list[list[Group]] = []
    tallest: list[int] = []  # each row's tallest member's height
    for group in sorted(groups, key=lambda g: (g[0], g[1])):  # x first; the rest breaks ties: a total order
        box = group[0]
        best, best_overlap = None, 0.0
        for r, row in enumerate(rows):
            overlap = max(_overlap(box[1], box[1] + box[3], end[1], end[1] + end[3]) / min(box[3], end[3])
                          for end in _chain_ends(row, tallest[r]))
            if overlap > best_overlap:
                best, best_overlap = r, overlap
        if best is not None and best_overlap >= 0.4:
            rows[best].append(group)
            tallest[best] = max(tallest[best], box[3])
        else:
            rows.append([group])
            tallest.append(box[3])
    rows = _absorb_strays(rows)
    rows.sort(key=_row_centre)
    return rows


def _row_centre(row: list[Group]) -> float:
    return float(np.mean([g[0][1] + g[0][3] / 2 for g in row]))


def _chain_ends(row: list[Group], tallest: int) -> list[Box]:
    """The boxes a row is continued from: its last member, and its last member of full height (at least
    ``CHAIN_HEIGHT`` x its ``tallest`` member's): a short piece (the lower half of a broken 1) does not steer the
    row."""
    full = next(g[0] for g in reversed(row) if g[0][3] >= CHAIN_HEIGHT * tallest)
    return [row[-1][0]] if full == row[-1][0] else [row[-1][0], full]


def _stray_band(stray: Box, row: list[Group]) -> tuple[float, float] | None:
    """The vertical band of ``row`` at ``stray``'s place: from the top to the bottom of its nearest members
    on the left and right, if one is within ``STRAY_GAP_RATIO`` row heights and ``stray`` overlaps none."""
    x0, x1 = stray[0], stray[0] + stray[2]
    if any(_overlap(x0, x1, g[0][0], g[0][0] + g[0][2]) > 0.5 * min(stray[2], g[0][2]) for g in row):
        return None
    left = [g[0] for g in row if g[0][0] + g[0][2] / 2 < x0 + stray[2] / 2]
    right = [g[0] for g in row if g[0][0] + g[0][2] / 2 >= x0 + stray[2] / 2]
    near = ([max(left, key=lambda b: b[0])] if left else []) + ([min(right, key=lambda b: b[0])] if right else [])
    height = float(np.median([g[0][3] for g in row]))
    if not any(max(b[0] - x1, x0 - b[0] - b[2]) <= STRAY_GAP_RATIO * height for b in near):
        return None
    return min(b[1] for b in near), max(b[1] + b[3] for b in near)


def _absorb_strays(rows: list[list[Group]]) -> list[list[Group]]:
    """A row of one digit joins a longer row when its centre lies in that row's band at its place: a short
    ``1`` written high in its box, or a digit lifted off the baseline, is part of the number beside it."""
    for stray_row in [r for r in rows if len(r) == 1]:
        box = stray_row[0][0]
        centre = box[1] + box[3] / 2
        best, best_distance = None, np.inf
        for row in rows:
            band = _stray_band(box, row) if len(row) > 1 else None
            if band is not None and band[0] <= centre <= band[1] and abs(centre - sum(band) / 2) < best_distance:
                best, best_distance = row, abs(centre - sum(band) / 2)
        if best is not None:
            best.append(stray_row[0])
            best.sort(key=lambda g: (g[0], g[1]))
            stray_row.clear()
    return [r for r in rows if r]


def close_pairs(seg: Segmentation) -> list[tuple[int, int]]:
    """Neighbours in a row that may be one broken digit: together they are no wider than a digit, and

    - their gap is far below the row's usual gap;
    - or a removed printed line broke them apart (:func:`_broken_by_line`);
    - or one is much shorter than the other (``SHORT_PIECE``: the left stroke of a 4 written in two strokes, but not
      a comma hanging in the row, :func:`marks.hangs_beside`), their gap is at most ``SHORT_PIECE_GAP`` digit heights
      and no printed line runs down it (the two together may then be a little wider: ``SHORT_PIECE_ASPECT``).

    The classifier decides (``repairs.merge_broken_digits``)."""
    pairs = []
    ref = _reference_height([(b, []) for b in seg.boxes])
    for line in sorted(set(seg.lines)):
        idx = [i for i, row in enumerate(seg.lines) if row == line]
        gaps = [seg.boxes[b][0] - (seg.boxes[a][0] + seg.boxes[a][2]) for a, b in zip(idx, idx[1:])]
        positive = [g for g in gaps if g > 0]
        usual = float(np.median(positive)) if len(positive) >= 2 else 0.4 * ref
        for (a, b), gap in zip(zip(idx, idx[1:]), gaps):
            union = union_box(seg.boxes[a], seg.boxes[b])
            low, high = sorted((a, b), key=lambda k: seg.boxes[k][3])
            short = (seg.boxes[low][3] <= SHORT_PIECE * seg.boxes[high][3]
                     and not hangs_beside(seg.boxes[low], [seg.boxes[i] for i in idx if i != low]))
            if union[2] > (SHORT_PIECE_ASPECT if short else 1.3) * union[3] or union[3] > 1.5 * ref:
                continue
            if (gap <= min(0.3 * usual, 0.15 * ref) or _broken_by_line(seg, a, b, gap, ref)
                    or (short and gap <= SHORT_PIECE_GAP * ref and not _line_between(seg, a, b, gap))):
                pairs.append((a, b))
    return pairs


def _broken_by_line(seg: Segmentation, a: int, b: int, gap: int, ref: float) -> bool:
    """Boxes ``a`` and ``b`` may be one digit that removing a printed line broke apart (a 6 whose stroke ran along
    a ruled line): both touch a removed line, they are at most ``LINE_BREAK_GAP`` digit heights apart, and no
    printed line runs between them (two digits in neighbouring boxes of a comb have a box side or tick there)."""
    lines = seg.printed_lines
    if lines is None or gap > LINE_BREAK_GAP * ref:
        return False
    if not (_near_lines(seg.boxes[a], lines) and _near_lines(seg.boxes[b], lines)):
        return False
    return not _line_between(seg, a, b, gap)


def _line_between(seg: Segmentation, a: int, b: int, gap: int) -> bool:
    """Whether a removed printed line runs down the ``gap`` between boxes ``a`` and ``b`` (left to right), away from
    their tops and bottoms: a box side or a comb's tick parting two cells."""
    lines = seg.printed_lines
    if lines is None or gap <= 0:
        return False
    x0 = seg.boxes[a][0] + seg.boxes[a][2]
    union = union_box(seg.boxes[a], seg.boxes[b])
    margin = int(0.15 * union[3])
    return bool(lines[union[1] + margin:union[1] + union[3] - margin, x0:x0 + gap].any())


def merge_pair(seg: Segmentation, a: int, b: int) -> None:
    """Make boxes ``a`` and ``b`` (neighbours in one row) a single digit, in place."""
    union = union_box(seg.boxes[a], seg.boxes[b])
    if seg.masks[a] is not None or seg.masks[b] is not None:
        mask = np.zeros((union[3], union[2]), bool)
        for k in (a, b):
            x, y, w, h = seg.boxes[k]
            mask[y - union[1]:y - union[1] + h, x - union[0]:x - union[0] + w] |= seg.box_mask(k)
        seg.masks[a] = mask
    seg.boxes[a] = union
    seg.members[a] = seg.members[a] + seg.members[b]
    del seg.boxes[b], seg.lines[b], seg.members[b], seg.masks[b]
