"""Stage 0: find the sheet of paper in a photo or a skewed scan, and blank out what lies around it.

A page photographed on a desk, or scanned askew onto a dark lid, has a surround (the desk, the lid, a
rotated scan's filled corners). Its edge would read as ink, and its colour would fool the polarity test
(which takes the image's border for paper). The sheet is the largest four-cornered contour of the coarse
edge map whose sides are step edges (one grey inside, another outside), not printed lines (the same paper
on both sides); outside it the image is filled with the paper's own grey, continued smoothly from inside.
Where the photo's frame cuts the sheet's corners off, the frame's border closes its outline (sides along the
border are not tested, and do not count for its tilt); where ruled lines run to the sheet's edges and cut the
edge map's outline into strips, the outline of the sheet's tone (its light or dark region) is tried too.
Plain functions on NumPy arrays.
"""

from __future__ import annotations

import cv2
import numpy as np

COARSE_SIDE = 400  # px: the sheet is looked for on a copy this big (paper texture and handwriting blur away)
MIN_PAGE_AREA = 0.2  # a sheet covers at least this fraction of the image ...
MAX_PAGE_AREA = 0.97  # ... and less than this: a sheet filling the frame has no surround worth blanking
MIN_STEP = 25.0  # grey levels: median difference across the sheet's edge (a printed line's is about 0)
PAPER_BIN = 9  # grey levels: the sheet's paper is its commonest grey, counted in bins this wide
STEP_GAP = 4  # coarse px each side of the edge left out of the comparison (a printed line's own width) ...
STEP_BAND = 6  # ... and the width of the bands compared beyond it
MIN_EDGE_SUPPORT = 0.7  # fraction of each side with an edge under it ...
EDGE_REACH = 3  # ... within this many coarse px (the outline simplified to four corners strays a little)
BORDER_SIDE = 4  # coarse px: a side this near the image's border is the frame's, not the sheet's
MARGIN = 3  # coarse px of the sheet's rim blanked with the surround (its shadow, the scanner's glare)
MAX_CORNERS = 8  # a sheet's outline with the frame's border where the frame cuts it off: four sides, four cut
OUTLINE_TOLERANCES = (0.02, 0.01)  # x the outline's length: how far its corners-only version may stray
TONE_CLOSING = 9  # coarse px: printed lines and handwriting this thick are closed over in the sheet's tone
CANDIDATES = 8  # the largest outlines (edge map and tone) tried as the sheet's


def find_page(grey: np.ndarray) -> np.ndarray | None:
    """(N, 2) float32 corners of the sheet in image pixels, in order around it, or None where no sheet with a
    surround is seen. N is 4, or up to ``MAX_CORNERS`` where the frame cuts the sheet off (a corner outside the
    photo): the frame's border then closes the outline, and those corners lie on it."""
    small, factor = _coarse_copy(grey)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    edges = cv2.Canny(small, 30, 90)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    h, w = small.shape
    framed = edges.copy()
    cv2.rectangle(framed, (0, 0), (w - 1, h - 1), 255, 1)  # closes the outline of a sheet the frame cuts off
    contours, _ = cv2.findContours(framed, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    contours = [*contours, *_tone_outlines(small)]
    near_edges = cv2.dilate(edges, np.ones((2 * EDGE_REACH + 1,) * 2, np.uint8))
    area = float(h * w)
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:CANDIDATES]:
        hull = cv2.convexHull(contour)
        hull_area = cv2.contourArea(hull)
        if not MIN_PAGE_AREA * area <= hull_area <= MAX_PAGE_AREA * area:
            continue
        for tolerance in OUTLINE_TOLERANCES:  # finer where the frame cuts a corner off by a little
            corners = cv2.approxPolyDP(hull, tolerance * cv2.arcLength(hull, True), True)
            corners = corners.reshape(-1, 2).astype(np.float32)
            if _sheet_shaped(corners, w, h) and _step_edge(small, near_edges, corners):
                corners = _refined(contour.reshape(-1, 2).astype(np.float32), corners)
                return (corners / factor).astype(np.float32)
    return None


def _tone_outlines(small: np.ndarray) -> list[np.ndarray]:
    """The outlines of the largest light and the largest dark region (Otsu's split of the coarse copy, closed
    over printed lines and handwriting): a sheet's outline where ruled lines running to its edges cut the edge
    map's outline of it into strips."""
    _, light = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (TONE_CLOSING, TONE_CLOSING))
    outlines = []
    for mask in (light, 255 - light):
        closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        found, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if found:
            outlines.append(max(found, key=cv2.contourArea))
    return outlines


def _sheet_shaped(corners: np.ndarray, w: int, h: int) -> bool:
    """Four corners, or more where sides along the frame's border stand in for the sheet's cut-off part: a
    sheet has at most four sides of its own."""
    if not 4 <= len(corners) <= MAX_CORNERS:
        return False
    own = sum(not _along_border(a, b, w, h) for a, b in zip(corners, np.roll(corners, -1, axis=0)))
    return (own == len(corners) == 4) or (2 <= own <= 4 and own < len(corners))


def _refined(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The corners again, where the sheet's sides cross: each side a straight line fitted to the outline's points
    along its middle (the outline simplified to four corners cuts the rounded corners of the edge map, which
    turned a level sheet's short side by a degree)."""
    lines = []
    for a, b in zip(corners, np.roll(corners, -1, axis=0)):
        direction = b - a
        length = float(np.hypot(*direction))
        offset = points - a
        along = offset @ direction / max(length, 1e-6) ** 2
        across = np.abs(direction[0] * offset[:, 1] - direction[1] * offset[:, 0]) / max(length, 1e-6)
        middle = points[(along > 0.15) & (along < 0.85) & (across <= EDGE_REACH)]
        if len(middle) >= 2:
            vx, vy, x0, y0 = cv2.fitLine(middle, cv2.DIST_L2, 0, 0.01, 0.01).ravel()
            lines.append((np.array([x0, y0]), np.array([vx, vy])))
        else:
            lines.append((a, direction / max(length, 1e-6)))
    refined = []
    for (p1, d1), (p2, d2) in zip(lines[-1:] + lines[:-1], lines):
        denominator = _cross(d1, d2)
        if abs(denominator) < 1e-6:
            return corners
        refined.append(p1 + d1 * _cross(p2 - p1, d2) / denominator)
    return np.array(refined, np.float32)


def _cross(u: np.ndarray, v: np.ndarray) -> float:
    return float(u[0] * v[1] - u[1] * v[0])


def _coarse_copy(image: np.ndarray) -> tuple[np.ndarray, float]:
    """(copy at most ``COARSE_SIDE`` px across, area resampling; its size / the image's)."""
    h, w = image.shape[:2]
    factor = min(1.0, COARSE_SIDE / max(h, w))
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), factor


def _step_edge(small: np.ndarray, edges: np.ndarray, corners: np.ndarray) -> bool:
    """Whether every side of the quadrilateral is a sheet's edge: an edge of the edge map runs along it, and
    the grey STEP_GAP to STEP_GAP + STEP_BAND px inside differs from the grey as far outside (a printed frame
    has the same paper on both sides; a side drawn across the sheet has no edge under it). A side along the
    image's border (a sheet cut off by the frame) is not tested."""
    h, w = small.shape
    if not _apart(small, corners):
        return False
    centre = corners.mean(axis=0)
    offsets = np.arange(STEP_GAP + 1, STEP_GAP + STEP_BAND + 1, dtype=np.float32)
    for a, b in zip(corners, np.roll(corners, -1, axis=0)):
        if _along_border(a, b, w, h):
            continue
        length = float(np.hypot(*(b - a)))
        if length < 8:
            return False
        t = np.linspace(0.1, 0.9, max(8, int(length / 2)), dtype=np.float32)[:, None]
        points = a + t * (b - a)
        normal = np.array([a[1] - b[1], b[0] - a[0]], np.float32) / length
        if np.dot(centre - (a + b) / 2, normal) < 0:
            normal = -normal  # pointing into the sheet
        step = np.abs(_median_grey(small, points, normal * offsets[:, None]) -
                      _median_grey(small, points, -normal * offsets[:, None]))
        xs = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
        ys = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
        if float(np.mean(edges[ys, xs] > 0)) < MIN_EDGE_SUPPORT:
            return False
        if np.isnan(step).mean() > 0.5:  # the frame cuts close beyond this side: no surround to compare with
            continue
        if float(np.nanmedian(step)) < MIN_STEP:
            return False
    return True


def _apart(small: np.ndarray, corners: np.ndarray) -> bool:
    """Whether the surround's grey (a ring outside the quadrilateral, past a printed frame's width) differs by
    ``MIN_STEP`` from the sheet's, both its median inside and its commonest grey (its paper): around a printed
    box it is the same paper, and around a row of boxes drawn thick, as dark inside as light, it is the paper
    inside the boxes."""
    inside = np.zeros(small.shape, np.uint8)
    cv2.fillConvexPoly(inside, np.round(corners).astype(np.int32), 1)
    outside = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 3)
    ring = (outside > STEP_GAP) & (outside <= STEP_GAP + 3 * STEP_BAND)
    if not ring.any() or not inside.any():
        return False
    surround, greys = float(np.median(small[ring])), small[inside > 0]
    counts = np.convolve(np.bincount(greys, minlength=256), np.ones(PAPER_BIN), "same")  # a grey +- 4
    return min(abs(surround - float(np.median(greys))), abs(surround - float(np.argmax(counts)))) >= MIN_STEP


def _along_border(a: np.ndarray, b: np.ndarray, w: int, h: int, tolerance: float = BORDER_SIDE) -> bool:
    """Whether the side a-b lies along one of the image's four edges (within ``tolerance`` px)."""
    return any(max(distance(a), distance(b)) <= tolerance
               for distance in (lambda p: p[0], lambda p: w - 1 - p[0], lambda p: p[1], lambda p: h - 1 - p[1]))


def _median_grey(small: np.ndarray, points: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Per point (N, 2): the median grey of ``small`` at the point moved by each of ``shifts`` (K, 2); NaN where
    every such place lies outside the image (beyond a sheet the frame cuts close)."""
    where = np.round(points[:, None, :] + shifts[None, :, :]).astype(int)
    xs, ys = where[..., 0], where[..., 1]
    inside = (xs >= 0) & (xs < small.shape[1]) & (ys >= 0) & (ys < small.shape[0])
    grey = small[np.clip(ys, 0, small.shape[0] - 1), np.clip(xs, 0, small.shape[1] - 1)].astype(np.float32)
    grey[~inside] = np.nan
    out = np.full(len(points), np.nan, np.float32)
    seen = inside.any(axis=1)
    out[seen] = np.nanmedian(grey[seen], axis=1)
    return out


def on_paper(image: np.ndarray) -> np.ndarray:
    """``image`` with the surround of the sheet it shows blanked (see :func:`blank_surround`), or ``image``
    itself where no sheet with a surround is seen."""
    return sheet_on_paper(image)[0]


def sheet_on_paper(image: np.ndarray) -> tuple[np.ndarray, float]:
    """(:func:`on_paper`'s image, the degrees the sheet is turned by: :func:`sheet_tilt`, 0.0 where no sheet)."""
    from .imageio import to_grey

    corners = find_page(to_grey(image))
    if corners is None:
        return image, 0.0
    return blank_surround(image, corners), sheet_tilt(corners, (image.shape[1], image.shape[0]))


def sheet_tilt(corners: np.ndarray, frame: tuple[int, int] | None = None) -> float:
    """Degrees to turn the image counter-clockwise to level the sheet with these corners (the convention of
    ``segment.deskewed``): the mean of its sides' angles, each taken from the nearest axis and weighted by
    the side's length (a corner found a pixel off turns a short side most). With the image's ``frame``
    (width, height), sides along its border (where the frame cuts the sheet off) do not count."""
    ends = np.roll(corners, -1, axis=0)
    tolerance = BORDER_SIDE * max(1.0, max(frame) / COARSE_SIDE) if frame else 0.0  # BORDER_SIDE coarse px
    own = np.array([frame is None or not _along_border(a, b, *frame, tolerance=tolerance)
                    for a, b in zip(corners, ends)])
    sides = (ends - corners)[own] if own.any() else ends - corners
    angles = np.degrees(np.arctan2(sides[:, 1], sides[:, 0]))
    folded = (angles + 45.0) % 90.0 - 45.0  # a side's angle from the nearest axis, in [-45, 45)
    return float(np.average(folded, weights=np.hypot(sides[:, 0], sides[:, 1]) + 1e-9))


def blank_surround(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """A copy of ``image`` (grey or BGR uint8) with everything outside the sheet ``corners`` (and its rim)
    replaced by the sheet's paper, continued smoothly outwards (inpainted on a coarse copy)."""
    h, w = image.shape[:2]
    small, factor = _coarse_copy(image)
    inside = np.zeros(small.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, np.round(corners * factor).astype(np.int32), 1)
    inside = cv2.erode(inside, np.ones((2 * MARGIN + 1, 2 * MARGIN + 1), np.uint8))
    if not inside.any():
        return image
    paper = cv2.medianBlur(small, 9).astype(np.float32)  # the paper without the handwriting, either polarity
    filled = _push_pull(paper, inside.astype(bool))
    fill = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR).round().clip(0, 255).astype(np.uint8)
    full_inside = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(full_inside, np.round(corners).astype(np.int32), 1)
    rim = max(1, round(MARGIN / factor))
    full_inside = cv2.erode(full_inside, np.ones((2 * rim + 1, 2 * rim + 1), np.uint8))
    keep = full_inside.astype(bool)
    if image.ndim == 3:
        keep = keep[:, :, None]
    return np.where(keep, image, fill).astype(image.dtype)


def _push_pull(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``values`` with the unknown pixels filled smoothly from the known ones (averages of ever coarser
    copies, taken back up): a cheap inpainting of a large region."""
    if known.all():
        return values
    h, w = values.shape[:2]
    if max(h, w) <= 2:
        mean = values[known].mean(axis=0) if known.any() else values.mean(axis=(0, 1))
        return np.where(_expand(known, values), values, mean).astype(np.float32)
    half = (max(1, w // 2), max(1, h // 2))
    weight = cv2.resize(known.astype(np.float32), half, interpolation=cv2.INTER_AREA)
    total = cv2.resize(np.where(_expand(known, values), values, 0).astype(np.float32), half,
                       interpolation=cv2.INTER_AREA)
    coarse = _push_pull(total / np.maximum(_expand(weight, total), 1e-6), weight > 0)
    up = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.where(_expand(known, values), values, up).astype(np.float32)


def _expand(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    return mask[:, :, None] if like.ndim == 3 and mask.ndim == 2 else mask
