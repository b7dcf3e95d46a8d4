"""Splitting touching digits: candidate cuts through one ink component, and the choice among them.

Plain functions on NumPy arrays (no Keras). The reader classifies every candidate piece in one batched
call and :func:`best_segmentation` picks the segmentation whose pieces the classifier reads most confidently
(:func:`confidence_score`), weighed by how plausible each piece's width and shape are for the digit it
is read as (:func:`width_prior`, :func:`aspect_prior`) and by what the cuts cost (recognition-guided
segmentation).

A cut is a path ``x(y)`` from the top to the bottom of the component's box: the cheapest 8-connected
path through the ink within a band a digit wide (a minimum-cost seam, like a drop-fall that may slide
along slanted gaps), or a straight cut at a minimum of the column projection.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

MAX_DIGITS = 4  # a component is split into at most this many digits
# Width / height of the ink box of MNIST training digits, per class: 5th and 95th percentiles
# (threshold 64; measured once over the 60,000 training digits). A "4" twice as wide as tall is two digits.
ASPECT_LOW = (0.65, 0.2, 0.65, 0.55, 0.55, 0.6, 0.5, 0.5, 0.5, 0.5)
ASPECT_HIGH = (1.25, 0.8, 1.33, 1.11, 1.11, 1.43, 1.0, 1.05, 1.05, 0.95)
DRIFT_COST = 0.15  # cost of one pixel of sideways drift of a cut, against 1 per ink pixel crossed
MAX_CUTS = 9
CUT_WORK_HEIGHT = 128  # px: taller components are searched for cuts at this height


def digit_width(boxes: list[tuple[int, int, int, int]], ref_height: float) -> float:
    """Typical width of one digit on the page: the median width of boxes that are digit-shaped
    (not wider than tall, near the row's height); 0.7 x the digit height when too few are."""
    widths = [w for _, _, w, h in boxes if w <= 0.95 * h and h >= 0.7 * ref_height]
    estimate = float(np.median(widths)) if len(widths) >= 3 else 0.7 * ref_height
    return float(np.clip(estimate, 0.5 * ref_height, 0.85 * ref_height))


def banded_seams(mask: np.ndarray, centres: np.ndarray, band: int) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest top-to-bottom cut inside each band ``[c - band, c + band]`` of columns.

    A cut is 8-connected (x moves at most 1 px per row); crossing an ink pixel costs 1 and a sideways
    step ``DRIFT_COST``, so cuts slide along slanted gaps between digits. All bands are solved at once.
    Returns ``paths`` (len(centres), H) int32 and their ``costs``.
    """
    h, w = mask.shape
    cost = np.pad(mask.astype(np.float32), ((0, 0), (band, band)), constant_values=1e3)  # outside: forbidden
    columns = centres[:, None] + np.arange(2 * band + 1)[None, :]  # padded coordinates of each band
    acc = cost[0][columns].copy()
    moves = np.zeros((h, len(centres), 2 * band + 1), np.int8)
    big = np.full((len(centres), 1), 1e9, np.float32)
    for y in range(1, h):
        left = np.concatenate([big, acc[:, :-1]], axis=1) + DRIFT_COST
        right = np.concatenate([acc[:, 1:], big], axis=1) + DRIFT_COST
        options = np.stack([left, acc, right])
        choice = options.argmin(axis=0)
        acc = np.take_along_axis(options, choice[None], axis=0)[0] + cost[y][columns]
        moves[y] = choice - 1
    end = acc + DRIFT_COST * 0.5 * np.abs(np.arange(-band, band + 1))[None, :]  # prefer ending near the centre
    x = end.argmin(axis=1)
    costs = acc[np.arange(len(centres)), x]
    paths = np.empty((len(centres), h), np.int32)
    for yy in range(h - 1, -1, -1):
        paths[:, yy] = columns[np.arange(len(centres)), x] - band
        x = x + moves[yy, np.arange(len(centres)), x]
    return np.clip(paths, 0, w - 1), costs


def cut_cost(mask: np.ndarray, path: np.ndarray, stroke: float) -> float:
    """How many strokes a cut crosses: ink pixels on the path / stroke width."""
    return float(mask[np.arange(len(path)), path].sum()) / max(stroke, 1.0)


def aspect_prior(value: int, width: float, height: float, slack: float = 0.0) -> float:
    """Log-plausibility of an ink box this shape for a digit read as ``value`` (0 inside the MNIST
    5-95 % range of that digit's width / height, falling off outside it)."""
    aspect = width / max(height, 1.0)
    over = max(0.0, aspect - ASPECT_HIGH[value] - slack) + max(0.0, ASPECT_LOW[value] - slack - aspect)
    return -over / 0.2


def candidate_cuts(mask: np.ndarray, width: float, stroke: float) -> list[np.ndarray]:
    """Candidate cut paths through a component (see :func:`_candidate_cuts`); a component taller than
    ``CUT_WORK_HEIGHT`` px is searched at that height and its cuts scaled back (a 2000 px digit would
    otherwise cost seconds)."""
    h, w = mask.shape
    if h <= CUT_WORK_HEIGHT:
        return _candidate_cuts(mask, width, stroke)
    f = CUT_WORK_HEIGHT / h
    small = cv2.resize(mask.astype(np.float32), (max(1, round(w * f)), CUT_WORK_HEIGHT), interpolation=cv2.INTER_AREA)
    cuts = _candidate_cuts(small > 0.25, width * f, max(1.0, stroke * f))
    rows = np.minimum((np.arange(h) * f).astype(int), CUT_WORK_HEIGHT - 1)
    return [np.clip(np.round((c[rows] + 0.5) / f - 0.5), 0, w - 1).astype(np.int32) for c in cuts]


def _candidate_cuts(mask: np.ndarray, width: float, stroke: float) -> list[np.ndarray]:
    """Candidate cut paths through a component (bool mask of its box), left to right.

    Cheapest cuts within bands a digit-width wide, centred every half stroke across the component,
    plus straight cuts at the minima of the column projection; a cut must leave a narrow digit's
    width (0.15 x ``width``) of ink on each side. The cheapest cuts at least that far apart are
    kept, at most ``MAX_CUTS``.
    """
    h, w = mask.shape
    columns = mask.sum(axis=0)
    ink_x = np.flatnonzero(columns)
    if w < 4 or h < 4 or not len(ink_x):
        return []
    margin = max(2, int(0.15 * width))
    left, right = ink_x[0] + margin, ink_x[-1] - margin
    if right <= left:
        return []
    step = max(1, int(stroke / 2))
    centres = np.arange(left, right + 1, step)
    band = max(2, int(0.3 * width))
    seams, costs = banded_seams(mask, centres, band)
    paths = [p for p in seams]
    cost = [float(c) for c in costs]
    window = max(3, int(stroke) | 1)
    profile = np.convolve(columns.astype(np.float32), np.ones(window) / window, mode="same")
    for x in range(left, right + 1):
        if profile[x] <= profile[max(0, x - window):x + window + 1].min() + 1e-6:
            paths.append(np.full(h, x, np.int32))
            cost.append(float(columns[x]))
    chosen: list[np.ndarray] = []
    min_gap = max(2.0, 0.15 * width)
    for i in np.argsort(cost, kind="stable"):
        centre = float(paths[i].mean())
        if not left <= centre <= right:
            continue
        if all(abs(centre - float(p.mean())) >= min_gap for p in chosen):
            chosen.append(paths[i])
        if len(chosen) >= MAX_CUTS:
            break
    return sorted(chosen, key=lambda p: float(p.mean()))


def middle_cut(mask: np.ndarray) -> list[np.ndarray]:
    """For a box in which no candidate cut is found (two 1s glued into one bar): one straight cut at the least
    inked column of the middle half of its ink ([] when too narrow)."""
    ink_x = np.flatnonzero(mask.any(axis=0))
    if not len(ink_x) or ink_x[-1] - ink_x[0] < 4:
        return []
    quarter = (ink_x[-1] - ink_x[0]) // 4
    lo, hi = ink_x[0] + quarter, ink_x[-1] - quarter
    x = lo + int(np.argmin(mask[:, lo:hi + 1].sum(axis=0)))
    return [np.full(mask.shape[0], x, np.int32)]


def piece_mask(mask: np.ndarray, left: np.ndarray | None, right: np.ndarray | None,
               min_part: float = 0.08) -> np.ndarray:
    """The ink of ``mask`` strictly right of cut ``left`` and at or left of cut ``right`` (None: the
    box edge), without stray bits (connected parts under ``min_part`` of the piece's ink). The work is
    done on the columns between the two cuts only."""
    h, w = mask.shape
    x0 = int(left.min()) + 1 if left is not None else 0
    x1 = int(right.max()) + 1 if right is not None else w
    out = np.zeros((h, w), bool)
    if x1 <= x0:
        return out
    xs = np.arange(x0, x1)[None, :]
    region = np.ones((h, x1 - x0), bool)
    if left is not None:
        region &= xs > left[:, None]
    if right is not None:
        region &= xs <= right[:, None]
    piece = (mask[:, x0:x1] & region).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(piece, connectivity=8)
    if count > 2:
        total = stats[1:, cv2.CC_STAT_AREA].sum()
        keep = np.zeros(count, bool)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_part * total
        piece = keep[labels].astype(np.uint8)
    out[:, x0:x1] = piece > 0
    return out


WIDEST_DIGIT = 1.6  # x the row's digit height: handwritten digits are 0.15 to 1.6 times as wide as tall


def width_prior(piece_width: float, height: float) -> float:
    """Log-plausibility of a piece this wide being one digit, given the row's digit height
    (handwritten digits are 0.15 to ``WIDEST_DIGIT`` times as wide as tall)."""
    r = piece_width / max(height, 1.0)
    if r > WIDEST_DIGIT:
        return -3.0 * (r - WIDEST_DIGIT) / 0.25
    if r < 0.15:
        return -2.0 * (0.15 - r) / 0.05
    return 0.0


def pieces_to_try(cuts: list[np.ndarray], max_span: int = MAX_DIGITS) -> list[tuple[int, int]]:
    """Index pairs (i, j) of cut positions bounding a piece: 0 is the left edge, len(cuts) + 1 the
    right edge; a piece spans at most ``max_span`` gaps between cuts."""
    n = len(cuts) + 2
    return [(i, j) for i in range(n - 1) for j in range(i + 1, min(n, i + max_span + 1))
            if not (i == 0 and j == n - 1)]


def best_split(n_cuts: int, scores: dict[tuple[int, int], float], max_pieces: int = MAX_DIGITS) -> list[int]:
    """The best path through the lattice of cuts: ``scores[(i, j)]`` scores the piece between cut
    positions i and j (edges 0 and n_cuts + 1). Returns the cut positions used, edges included,
    maximising the sum of piece scores with at most ``max_pieces`` pieces."""
    edges = best_segmentation(n_cuts, scores, max_pieces)
    return [0] + [j for _, j, _ in edges] if edges else [0, n_cuts + 1]


def best_segmentation(n_cuts: int, scores: dict[tuple[int, int], float], max_digits: int = MAX_DIGITS,
                      pair_scores: dict[tuple[int, int], float] | None = None,
                      count_scores: dict[int, float] | None = None) -> list[tuple[int, int, int]]:
    """The best path through the lattice of cuts, where a piece is one digit (``scores[(i, j)]``) or, read
    as a pair, two (``pair_scores[(i, j)]``). Returns its pieces as (i, j, digits), maximising the sum of
    their scores, plus ``count_scores[k]`` for a path of k digits in all (a prior on how many digits the box
    holds), with at most ``max_digits`` digits; [] when no path reaches the right edge."""
    end = n_cuts + 1
    options = [(key, value, 1) for key, value in scores.items()]
    options += [(key, value, 2) for key, value in (pair_scores or {}).items()]
    by_start: dict[int, list[tuple[int, float, int]]] = {}
    for (i, j), value, digits in sorted(options, key=lambda o: (o[0], o[2])):
        by_start.setdefault(i, []).append((j, value, digits))
    best: dict[tuple[int, int], tuple[float, list[tuple[int, int, int]]]] = {(0, 0): (0.0, [])}
    for node in range(end):
        for count in range(max_digits):
            if (node, count) not in best:
                continue
            total, path = best[(node, count)]
            for nxt, value, digits in by_start.get(node, []):
                key = (nxt, count + digits)
                if key[1] > max_digits:
                    continue
                if key not in best or total + value > best[key][0]:
                    best[key] = (total + value, path + [(node, nxt, digits)])
    count_scores = count_scores or {}
    finals = [(best[(end, k)][0] + count_scores.get(k, 0.0), best[(end, k)][1])
              for k in range(1, max_digits + 1) if (end, k) in best]
    return max(finals, key=lambda t: t[0])[1] if finals else []


SURE_LOGIT = 7.0  # log-odds of a confidence the classifier gives clean, whole digits (p = 0.999)


def confidence_score(p: float) -> float:
    """How much a piece read with confidence ``p`` counts against a segmentation: 0 for a sure read
    (p >= 0.999), about -1.2 at 0.99, -2.4 at 0.9, -3.5 at 0.5. Log-odds, because a CNN's
    confidences crowd near 1 and log(p) cannot tell a sure 0.9999 from a doubtful 0.96."""
    p = min(max(p, 1e-6), 1 - 1e-9)
    return -max(0.0, SURE_LOGIT - math.log(p / (1 - p))) / 2


def sharpest_reading(readings: list[np.ndarray]) -> np.ndarray:
    """One piece's digit probabilities from several readings of it (the pair reader reads a piece once with its left
    neighbour and once with its right): the reading surest of its digit. Each reading sees a different crop; where
    a cut gave part of this digit to a neighbour, the crop without that part is the less typical, and is read less
    surely (on the benchmark this beat the readings' normalised product by 3 pages in about 1,700 and lost none)."""
    return max(readings, key=lambda reading: float(np.max(reading)))
