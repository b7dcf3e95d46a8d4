"""Stage 3b: how to cut one box that may hold touching digits. Its candidate pieces (between any two candidate
cuts, ``split.py``) are scored by the classifier's confidence, their widths and shapes, the cuts' costs and, where
the reader has them, the verifier's and the pair reader's views; the best segmentation of the lattice is chosen.

Plain functions and one dataclass on NumPy arrays and boxes: the models' probabilities come in as arrays, so all
of it can be tested without Keras (``reader.py`` runs the models).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .architectures import PAIR_FOUR, PAIR_ONE, PAIR_OTHER, PAIR_THREE
from .segment import Box, Segmentation, reference_height, stroke_width
from .split import (
    MAX_DIGITS,
    aspect_prior,
    best_segmentation,
    candidate_cuts,
    confidence_score,
    cut_cost,
    digit_width,
    middle_cut,
    piece_mask,
    pieces_to_try,
    width_prior,
)

SPLIT_MIN_WIDTH = 0.75  # a box at least this wide (x the row's digit height) may hold touching digits
SPLIT_KEEP_WIDTH, SPLIT_KEEP_CONFIDENCE = 1.2, 0.98  # ... unless the classifier is sure of it whole
CUT_COST_WEIGHT = 0.3
FRAGMENT_HEIGHT = 0.7  # a piece shorter than this x the row's digit height is not a whole digit
SPLIT_COST = 0.15  # every cut must earn its keep
# A box read whole may be this much wider (width / height) than the MNIST 95th percentile of its digit
# before its shape counts against it: 5 % of MNIST digits are, and a wide 0 read at 0.9997 was cut into
# a 6 and a 7 (noisy 95.3 -> 96.0 %, rows 94.0 -> 94.7 % on the benchmark, the rest unchanged).
WHOLE_ASPECT_SLACK = 0.1
SPLIT_PIECE_BUDGET = 400  # candidate pieces per page at most (a real page needs a few dozen)
# The single-digit verifier's log-probability that a piece is one whole digit is added to its score, floored
# at -VERIFIER_FLOOR (the verifier can be wrong, and one piece must not outweigh every other cue).
VERIFIER_WEIGHT, VERIFIER_FLOOR = 2.0, 6.0
# In the lattice of cuts, a piece may also count as two digits read together by the pair reader (reader.PAIR_UNITS),
# scored by the pair reader's confidence and its belief that the piece is two digits, less PAIR_UNIT_COST (when a real
# cut reads as well, the cut wins): touching 71.3 -> 72.7 %, the rest unchanged; 0 or 1 instead of 0.5 read the same.
PAIR_UNIT_COST = 0.5
# The pair reader's reading of a whole box also says how many digits it holds (one, two: the 100 pairs, three or
# four). A segmentation of k digits gains COUNT_WEIGHT x log P(k), floored at -COUNT_FLOOR: tuning pages +2 -1,
# seed-1 +1, seed-2 +2 -1 (1.0: +3 -1, +1, +3 -4; the pages lost undercount runs holding a 1: RESULTS, "Thirteenth
# pass").
COUNT_WEIGHT, COUNT_FLOOR = 0.5, 4.0


def cut_box(box: Box, mask: np.ndarray, cuts: list[int]) -> list[tuple[Box, np.ndarray]]:
    """``box`` (with its (h, w) bool ``mask``) cut by straight vertical cuts, column ``c`` of ``cuts`` (box x)
    starting the piece right of it: each piece as ``tight_piece`` gives it; none where a piece is empty."""
    h, w = mask.shape
    edges = [None, *(np.full(h, min(max(c, 1), w - 1) - 1, np.int32) for c in sorted(cuts)), None]
    pieces = [tight_piece(box, piece_mask(mask, left, right)) for left, right in zip(edges, edges[1:])]
    return [] if any(piece is None for piece in pieces) else pieces


def tight_piece(box: Box, piece: np.ndarray) -> tuple[Box, np.ndarray] | None:
    """A piece of ``box`` (its bool mask over the box) as its box, tight round its ink, and its mask in that box;
    None when it holds no ink."""
    ys, xs = np.nonzero(piece)
    if not len(ys):
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return (box[0] + int(x0), box[1] + int(y0), int(x1 - x0), int(y1 - y0)), piece[y0:y1, x0:x1]


@dataclass
class SplitPlan:
    """Candidate pieces of one box: ``pairs[k]`` (cut positions) gives ``boxes[k]`` and ``masks[k]``."""

    index: int
    box: tuple[int, int, int, int]
    n_cuts: int
    height: float  # the row's digit height
    cut_scores: list[float]  # per cut: a cheap cut (crossing under one stroke) is a bonus, a dear one a cost
    pairs: list[tuple[int, int]]
    boxes: list[tuple[int, int, int, int]]
    masks: list[np.ndarray]
    single: np.ndarray | None = None  # the verifier's P(one whole digit) per piece, when there is a verifier
    whole_single: float | None = None  # ... and for the whole box
    paired: bool = False  # both helpers call the box two digits (see DigitReader._judge_boxes)
    max_pieces: int = MAX_DIGITS  # 2 for a box the pair reader is sure holds two digits
    pair_probs: np.ndarray | None = None  # the pair reader's probabilities per piece, when there is a pair reader
    whole_pair: np.ndarray | None = None  # ... and for the whole box

    def _score(self, box: tuple[int, int, int, int], p: np.ndarray, whole: bool = False,
               single: float | None = None) -> float:
        """Log-plausibility of one piece (or of the ``whole`` box): the classifier's confidence, the
        piece's width against the row's digit height, its shape against the digit it is read as, and
        the verifier's belief that it is one whole digit."""
        score = confidence_score(float(p.max())) + width_prior(box[2], self.height)
        if single is not None:
            score += VERIFIER_WEIGHT * max(math.log(max(single, 1e-12)), -VERIFIER_FLOOR)
        score += aspect_prior(int(p.argmax()), box[2], max(box[3], FRAGMENT_HEIGHT * self.height),
                              slack=WHOLE_ASPECT_SLACK if whole else 0.0)
        return score - self._fragment_penalty(box)

    def _fragment_penalty(self, box: tuple[int, int, int, int]) -> float:
        """A piece shorter than ``FRAGMENT_HEIGHT`` row heights is part of a digit, not digits."""
        short = FRAGMENT_HEIGHT - box[3] / self.height
        return 6.0 + 10.0 * short if short > 0 else 0.0

    def _pair_score(self, box: tuple[int, int, int, int], q: np.ndarray) -> float:
        """Log-plausibility of one piece (or the whole box) read as two digits by the pair reader: its confidence in
        the pair (counted for two digits), its belief that the piece is two digits, and the piece's width."""
        score = 2 * (confidence_score(float(q[:PAIR_OTHER].max())) + width_prior(box[2] / 2, self.height))
        score += VERIFIER_WEIGHT * max(math.log(max(1.0 - float(q[PAIR_OTHER:].sum()), 1e-12)), -VERIFIER_FLOOR)
        return score - self._fragment_penalty(box) - PAIR_UNIT_COST

    def _count_scores(self) -> dict[int, float] | None:
        """Log-plausibility of the box holding 1 to 4 digits, from the pair reader's reading of the whole box."""
        if self.whole_pair is None or COUNT_WEIGHT == 0:
            return None
        q = self.whole_pair
        counts = {1: q[PAIR_ONE], 2: q[:PAIR_OTHER].sum(), 3: q[PAIR_THREE], 4: q[PAIR_FOUR]}
        return {k: COUNT_WEIGHT * max(math.log(max(float(p), 1e-12)), -COUNT_FLOOR) for k, p in counts.items()}

    def choose(self, piece_probs: np.ndarray, whole: np.ndarray) -> list[int] | None:
        """Indices of the pieces of the best segmentation, or None when the box stays whole. A ``paired`` box
        whose best segmentation is itself, whole, is cut into its best two pieces: the pair reader will read
        them together (a ``1`` overlapping a ``0`` leaves no piece that reads ``0``, so the whole ``0`` won). With
        the pair reader's readings of the pieces, a piece may also count as two digits read together; it is then
        cut at its best inner cut, and the pair reader reads the two sides together again."""
        scores = {}
        for k, (pair, box, p) in enumerate(zip(self.pairs, self.boxes, piece_probs)):
            single = float(self.single[k]) if self.single is not None else None
            scores[pair] = self._score(box, p, single=single) + (self.cut_scores[pair[0] - 1] if pair[0] > 0 else 0.0)
        whole_key = (0, self.n_cuts + 1)
        whole_score = self._score(self.box, whole, whole=True, single=self.whole_single)
        pair_scores, inner_cut = {}, {}
        if self.pair_probs is not None and self.whole_pair is not None:
            spans = [(pair, box, q) for pair, box, q in zip(self.pairs, self.boxes, self.pair_probs)]
            for (i, j), box, q in [*spans, (whole_key, self.box, self.whole_pair)]:
                inner = [m for m in range(i + 1, j) if (i, m) in scores and (m, j) in scores]
                if inner:  # the pair's two sides: its best two pieces
                    inner_cut[(i, j)] = max(inner, key=lambda m: scores[(i, m)] + scores[(m, j)])
                    pair_scores[(i, j)] = self._pair_score(box, q) + (self.cut_scores[i - 1] if i > 0 else 0.0)
        edges = best_segmentation(self.n_cuts, {whole_key: whole_score, **scores}, self.max_pieces, pair_scores,
                                  self._count_scores())
        if [(i, j) for i, j, _ in edges] == [whole_key] and edges[0][2] == 1 and self.paired:
            edges = best_segmentation(self.n_cuts, scores, max_digits=2)
        pieces: list[tuple[int, int]] = []
        for i, j, digits in edges:
            pieces += [(i, j)] if digits == 1 else [(i, inner_cut[(i, j)]), (inner_cut[(i, j)], j)]
        if len(pieces) <= 1:
            return None
        lookup = {pair: k for k, pair in enumerate(self.pairs)}
        return [lookup[piece] for piece in pieces]


def boxes_by_width(seg: Segmentation, low: float, high: float = math.inf) -> list[int]:
    """Boxes from ``low`` to under ``high`` row heights wide and at least 0.6 tall: ``SPLIT_MIN_WIDTH`` and up
    may hold touching digits; from ``NARROW_MIN_WIDTH`` they may be a 1 glued to its neighbour."""
    if not seg.boxes:
        return []
    ref = reference_height(seg.boxes)
    return [i for i, (_, _, w, h) in enumerate(seg.boxes) if low * ref <= w < high * ref and h >= 0.6 * ref]


def split_plans(seg: Segmentation, probabilities: np.ndarray, doubted: set[int] | None = None,
                 trusted: set[int] | None = None, unbounded: set[int] | None = None) -> list[SplitPlan]:
    """Candidate splits of the boxes of one page that may hold several touching digits: the wide ones, and
    those the helpers ``doubted`` (see ``DigitReader._judge_boxes``). A box no wider than
    ``SPLIT_KEEP_WIDTH`` digit heights that the classifier reads with ``SPLIT_KEEP_CONFIDENCE`` stays whole
    without trying cuts (same readings on the benchmark, 30-45 % less time per page), unless doubted. Boxes the
    helpers ``trusted`` whole are never cut. In an ``unbounded`` box (the reader passes the doubted ones, which
    include those capped at two pieces), a piece may span any number of candidate cuts; elsewhere ``MAX_DIGITS`` at
    most, so that a wide single digit the verifier accepts is not offered as two halves of five spans each. A digit
    is not four cut spans: a blob with nine candidate cuts often has no two pieces of at most four spans each that
    make it whole."""
    if not seg.boxes:
        return []
    ref = reference_height(seg.boxes)
    width = digit_width(seg.boxes, ref)
    stroke = 0.0
    plans = []
    doubted = doubted or set()
    for index in sorted((set(boxes_by_width(seg, SPLIT_MIN_WIDTH)) | doubted) - (trusted or set())):
        box = seg.boxes[index]
        w = box[2]
        if w < SPLIT_KEEP_WIDTH * ref and probabilities[index].max() >= SPLIT_KEEP_CONFIDENCE and index not in doubted:
            continue
        if sum(len(plan.pairs) for plan in plans) >= SPLIT_PIECE_BUDGET:  # a page of noise: stop trying cuts
            break
        stroke = stroke or max(1.0, stroke_width(seg.mask))
        mask = seg.box_mask(index)
        cuts = candidate_cuts(mask, width, stroke)
        if not cuts and index in doubted:  # two 1s glued side by side into one bar: the pair reader reads them
            cuts = middle_cut(mask)
        if not cuts:
            continue
        cut_scores = [CUT_COST_WEIGHT * (1.0 - cut_cost(mask, c, stroke)) - SPLIT_COST for c in cuts]
        edges: list[np.ndarray | None] = [None, *cuts, None]
        pairs, boxes, masks = [], [], []
        for i, j in pieces_to_try(cuts, len(cuts) + 1 if index in (unbounded or set()) else MAX_DIGITS):
            tight = tight_piece(box, piece_mask(mask, edges[i], edges[j]))
            if tight is None:
                continue
            pairs.append((i, j))
            boxes.append(tight[0])
            masks.append(tight[1])
        if pairs:
            plans.append(SplitPlan(index, box, len(cuts), ref, cut_scores, pairs, boxes, masks))
    return plans
