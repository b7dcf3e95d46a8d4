"""Splitting touching digits: cut candidates, the lattice search, and the reader using them."""

import cv2
import numpy as np
from conftest import REPO, draw_number

from digitreader.reader import DigitReader
from digitreader.split import (
    MAX_DIGITS,
    aspect_prior,
    banded_seams,
    best_segmentation,
    best_split,
    candidate_cuts,
    confidence_score,
    piece_mask,
    pieces_to_try,
    sharpest_reading,
)


def _two_touching_rings(overlap: int = 4) -> np.ndarray:
    """Two 0-like rings (60 px tall) whose ink touches: bool mask."""
    mask = np.zeros((70, 110), np.uint8)
    cv2.ellipse(mask, (30, 35), (20, 30), 0, 0, 360, 1, 6)
    cv2.ellipse(mask, (76 - overlap, 35), (20, 30), 0, 0, 360, 1, 6)
    return mask.astype(bool)


def test_a_cut_falls_between_two_touching_digits():
    mask = _two_touching_rings()
    cuts = candidate_cuts(mask, width=42, stroke=6)
    assert cuts, "no candidate cut"
    near_join = [c for c in cuts if 46 <= c.mean() <= 58]  # the classifier chooses among the candidates
    assert near_join, [c.mean() for c in cuts]
    best = near_join[0]
    left, right = piece_mask(mask, None, best), piece_mask(mask, best, None)
    assert not (left & right).any() and (left | right).sum() >= 0.97 * mask.sum()


def test_banded_seams_follow_a_slanted_gap():
    mask = np.zeros((60, 60), bool)
    for y in range(60):  # two slanted bars with a clean slanted gap between them
        x = 10 + y // 3
        mask[y, x:x + 6] = True
        mask[y, x + 12:x + 18] = True
    paths, costs = banded_seams(mask, np.array([25]), band=12)
    assert costs[0] < 3  # crosses no ink (only sideways steps): it slides along the gap
    assert paths[0][0] < paths[0][-1]  # and leans with it


def test_best_split_maximises_the_sum_of_piece_scores():
    scores = {(0, 3): -5.0, (0, 1): -0.1, (1, 3): -0.2, (0, 2): -0.1, (2, 3): -3.0, (1, 2): -1.0}
    assert best_split(2, scores) == [0, 1, 3]
    assert best_split(2, {(0, 3): -0.1, (0, 1): -1.0, (1, 3): -1.0}) == [0, 3]
    assert (0, 3) not in pieces_to_try([np.zeros(3), np.zeros(3)])  # the whole is scored separately


def test_confidence_score_and_aspect_prior():
    assert confidence_score(0.9999) == 0.0
    assert confidence_score(0.99) < 0 and confidence_score(0.9) < confidence_score(0.99)
    assert aspect_prior(1, 20, 80) == 0.0  # a narrow 1 is plausible
    assert aspect_prior(1, 80, 80) < -0.3  # a 1 as wide as tall is not
    assert aspect_prior(4, 160, 80) < aspect_prior(4, 100, 80) <= 0


class ShapeClassifier:
    """Confident only for crops shaped like one digit (ink at most 0.9 as wide as tall); class 0."""

    name = "shape"

    def __init__(self):
        self.calls = []

    def predict_proba(self, crops):
        self.calls.append(len(crops))
        probs = np.zeros((len(crops), 10), np.float64)
        for n, crop in enumerate(crops):
            ys, xs = np.nonzero(crop > 0.2)
            aspect = (np.ptp(xs) + 1) / (np.ptp(ys) + 1) if len(xs) else 9
            sure = 0.99999 if aspect <= 0.9 else 0.5
            probs[n] = (1 - sure) / 9
            probs[n, 0] = sure
        return probs


def _touching_page(count: int) -> np.ndarray:
    page = np.full((140, 80 + 46 * count), 235, np.uint8)
    for k in range(count):
        cv2.ellipse(page, (60 + 44 * k, 70), (24, 40), 0, 0, 360, 20, 8)
    return page


def test_reader_splits_touching_digits_with_batched_calls():
    for count in (2, 3):
        classifier = ShapeClassifier()
        result = DigitReader(classifier).read(_touching_page(count))
        assert result.lines == ["0" * count]
        assert len(classifier.calls) <= 3  # digits, merge candidates, split candidates: never one per candidate
        boxes = [d.box for d in result.digits]
        assert all(b[2] < 1.1 * b[3] for b in boxes)


def test_confident_single_digits_stay_whole():
    classifier = ShapeClassifier()
    page, truth = draw_number("2580")
    result = DigitReader(classifier).read(page)
    assert len(result.digits) == 4


def test_a_huge_component_is_searched_at_a_bounded_height():
    from digitreader.split import CUT_WORK_HEIGHT

    big = np.zeros((1200, 2000), np.uint8)
    cv2.ellipse(big, (520, 600), (400, 560), 0, 0, 360, 1, 40)
    cv2.ellipse(big, (1440, 600), (400, 560), 0, 0, 360, 1, 40)  # two rings touching near x = 980
    cuts = candidate_cuts(big.astype(bool), width=840, stroke=40)
    assert 1200 > CUT_WORK_HEIGHT and cuts
    assert all(c.shape == (1200,) and c.min() >= 0 and c.max() < 2000 for c in cuts)
    assert any(900 <= c.mean() <= 1060 for c in cuts)


def test_piece_mask_between_two_cuts_keeps_only_that_ink():
    mask = np.ones((10, 30), bool)
    left, right = np.full(10, 9), np.full(10, 19)
    piece = piece_mask(mask, left, right)
    assert piece[:, 10:20].all() and not piece[:, :10].any() and not piece[:, 20:].any()
    assert not piece_mask(mask, right, left).any()  # crossed cuts: nothing between them


def _probs(value: int, confidence: float) -> np.ndarray:
    p = np.full(10, (1 - confidence) / 9, np.float32)
    p[value] = confidence
    return p


def test_a_wide_zero_read_surely_stays_whole_against_confident_halves():
    """The numbers of a real case (rows page 15 of the benchmark): a 0 a third wider than tall (wider
    than 95 % of MNIST's 0s) read at 0.9997, against its halves read as 6 (0.9989) and 7 (0.9999)
    through a cheap cut. It stays a 0; a box twice as wide as tall read as one 0 is still cut."""
    from digitreader.splitplan import SplitPlan

    def plan(width: int) -> SplitPlan:
        half = width // 2
        return SplitPlan(index=0, box=(0, 0, width, 41), n_cuts=1, height=42.0, cut_scores=[-0.03],
                          pairs=[(0, 1), (1, 2)], boxes=[(0, 6, half, 35), (half, 0, width - half, 36)],
                          masks=[np.ones((35, half), bool), np.ones((36, width - half), bool)])

    halves = np.stack([_probs(6, 0.9989), _probs(7, 0.9999)])
    assert plan(55).choose(halves, _probs(0, 0.9997)) is None
    assert plan(84).choose(halves, _probs(0, 0.9997)) == [0, 1]


def test_the_verifier_keeps_a_one_from_being_swallowed_by_its_neighbour():
    """The numbers of a real case (touching page of the benchmark): '416' whose '1' leans on the 6. The
    classifier reads '16' as a sure 6, so without the verifier the cheaper '4' + '6' wins; the verifier
    says '16' is not one digit (0.05) and the three pieces win."""
    from digitreader.splitplan import SplitPlan

    def plan(single=None, whole_single=None) -> SplitPlan:
        boxes = [(0, 0, 35, 68), (33, 0, 20, 68), (42, 0, 50, 68), (33, 0, 59, 68)]
        return SplitPlan(index=0, box=(0, 0, 92, 68), n_cuts=2, height=68.0, cut_scores=[-0.11, -0.26],
                          pairs=[(0, 1), (1, 2), (2, 3), (1, 3)], boxes=boxes,
                          masks=[np.ones((68, b[2]), bool) for b in boxes], single=single, whole_single=whole_single)

    pieces = np.stack([_probs(4, 0.99999), _probs(1, 0.99999), _probs(6, 0.99999), _probs(6, 0.99999)])
    whole = _probs(4, 0.9)
    assert plan().choose(pieces, whole) == [0, 3]
    assert plan(np.array([0.99, 0.98, 0.99, 0.05]), 0.01).choose(pieces, whole) == [0, 1, 2]
    # a verifier that believes '16' is one digit changes nothing
    assert plan(np.array([0.99, 0.98, 0.99, 0.97]), 0.01).choose(pieces, whole) == [0, 3]


def test_a_paired_box_that_reads_best_whole_is_cut_into_its_best_two_pieces():
    """The numbers of a real case (touching page of the benchmark): '10' whose 1 overlaps the 0, so no piece
    reads 0 and the whole box, read as a 0, wins. When both helpers call the box two digits (``paired``), its
    best two pieces are taken instead (the pair reader then reads them together)."""
    from digitreader.splitplan import SplitPlan

    def plan(paired: bool) -> SplitPlan:
        boxes = [(73, 86, 44, 102), (73, 86, 66, 102), (98, 86, 84, 101), (120, 86, 62, 91)]
        return SplitPlan(index=0, box=(73, 86, 109, 102), n_cuts=2, height=92.0, cut_scores=[-0.3, -0.21],
                          pairs=[(0, 1), (0, 2), (1, 3), (2, 3)], boxes=boxes,
                          masks=[np.ones((b[3], b[2]), bool) for b in boxes],
                          single=np.array([0.905, 0.011, 1.0, 1.0]), whole_single=0.164, paired=paired)

    pieces = np.stack([_probs(1, 0.953), _probs(4, 0.846), _probs(7, 0.419), _probs(7, 0.985)])
    whole = _probs(0, 0.976)
    assert plan(False).choose(pieces, whole) is None
    assert plan(True).choose(pieces, whole) == [0, 2]  # '1' and the rest, not '4' and a sliver


def test_a_capped_box_is_cut_into_two_pieces_at_most():
    """The pair reader sure of a pair caps the box at two pieces (``max_pieces``): the best three-piece path
    ('1', '4' and a sliver read as 1) gives way to the best two-piece one."""
    from digitreader.splitplan import SplitPlan

    def plan(max_pieces: int) -> SplitPlan:
        boxes = [(0, 0, 40, 90), (40, 0, 40, 90), (80, 0, 40, 90), (0, 0, 80, 90), (40, 0, 80, 90)]
        return SplitPlan(index=0, box=(0, 0, 120, 90), n_cuts=2, height=90.0, cut_scores=[0.2, 0.2],
                          pairs=[(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)], boxes=boxes,
                          masks=[np.ones((b[3], b[2]), bool) for b in boxes], max_pieces=max_pieces)

    pieces = np.stack([_probs(1, 0.9999), _probs(4, 0.9999), _probs(1, 0.9999), _probs(7, 0.6),
                       _probs(4, 0.98)])
    whole = _probs(0, 0.3)
    assert plan(4).choose(pieces, whole) == [0, 1, 2]
    assert plan(2).choose(pieces, whole) == [0, 4]


def test_best_segmentation_counts_a_piece_read_as_a_pair_as_two_digits():
    scores = {(0, 1): -2.0, (1, 2): -2.0, (2, 3): -0.1, (0, 3): -5.0}
    assert best_segmentation(2, scores) == [(0, 1, 1), (1, 2, 1), (2, 3, 1)]
    pairs = {(0, 2): -0.5}
    assert best_segmentation(2, scores, pair_scores=pairs) == [(0, 2, 2), (2, 3, 1)]  # three digits
    assert best_segmentation(2, scores, max_digits=2, pair_scores=pairs) == [(0, 3, 1)]  # the pair + 1 is three
    assert best_segmentation(2, {(0, 1): -1.0}) == [] and best_split(2, {(0, 1): -1.0}) == [0, 3]


def test_a_prior_on_the_number_of_digits_moves_the_best_segmentation():
    """Three pieces read best, but a prior that the box holds two digits makes the best path two; a piece read as a
    pair counts two digits; a count no path can reach changes nothing."""
    scores = {(0, 1): -0.5, (1, 2): -0.5, (2, 3): -0.5, (0, 2): -1.2, (1, 3): -1.6, (0, 3): -4.0}
    assert best_segmentation(2, scores) == [(0, 1, 1), (1, 2, 1), (2, 3, 1)]
    assert best_segmentation(2, scores, count_scores={2: 0.0, 3: -1.0}) == [(0, 2, 1), (2, 3, 1)]
    scores[(0, 1)], scores[(1, 3)], pairs = -0.1, -1.4, {(1, 3): -0.3}
    assert best_segmentation(2, scores, pair_scores=pairs) == [(0, 1, 1), (1, 3, 2)]
    assert best_segmentation(2, scores, pair_scores=pairs, count_scores={2: 0.0, 3: -2.0}) == [
        (0, 1, 1), (1, 3, 1)]  # a piece and a pair are three digits
    assert best_segmentation(2, scores, count_scores={7: 5.0}) == best_segmentation(2, scores)


def test_of_two_readings_of_one_piece_the_surer_is_kept():
    """A piece read as 7 (0.98) with one neighbour and as 9 (0.998) with the other is a 9, whichever reading comes
    first; a single reading is kept as it is."""
    as_seven, as_nine = np.full(10, 0.002 / 8), np.full(10, 0.0015 / 8)
    as_seven[7], as_seven[9] = 0.98, 0.018
    as_nine[9], as_nine[7] = 0.998, 0.0005
    assert sharpest_reading([as_seven, as_nine]) is as_nine and sharpest_reading([as_nine, as_seven]) is as_nine
    assert sharpest_reading([as_seven]) is as_seven


def test_a_piece_the_pair_reader_reads_as_two_digits_is_cut_at_its_best_inner_cut():
    """'1' then two overlapping 0s: the single-digit pieces read the 0s as one wide 0 best, so the box reads '10'.
    The pair reader, sure the overlapping part is '00' and not one digit, makes it '1', '0', '0'."""
    from digitreader.architectures import PAIR_CLASSES, PAIR_OTHER
    from digitreader.splitplan import SplitPlan

    def pair(value: int, p: float, other: float) -> np.ndarray:
        q = np.full(PAIR_CLASSES, (1.0 - p - other) / (PAIR_CLASSES - 1))
        q[value], q[PAIR_OTHER] = p, other
        return q

    boxes = [(0, 0, 30, 90), (30, 0, 60, 90), (90, 0, 60, 90), (30, 0, 120, 90), (0, 0, 90, 90)]
    pieces = np.stack([_probs(1, 0.9999), _probs(6, 0.8), _probs(0, 0.9), _probs(0, 0.99), _probs(4, 0.5)])

    def plan(with_pairs: bool) -> SplitPlan:
        pairs = np.stack([pair(11, 0.1, 0.9), pair(60, 0.1, 0.9), pair(0, 0.1, 0.9), pair(0, 0.9999, 0.0001),
                          pair(10, 0.9, 0.1)]) if with_pairs else None
        return SplitPlan(index=0, box=(0, 0, 150, 90), n_cuts=2, height=90.0, cut_scores=[0.1, -0.3],
                          pairs=[(0, 1), (1, 2), (2, 3), (1, 3), (0, 2)], boxes=boxes,
                          masks=[np.ones((b[3], b[2]), bool) for b in boxes], pair_probs=pairs,
                          whole_pair=even_counts if with_pairs else None)

    even_counts = np.zeros(PAIR_CLASSES)  # the whole box: as likely 1, 2, 3 or 4 digits (no prior on the count)
    even_counts[10] = even_counts[PAIR_OTHER:] = 0.25
    assert plan(False).choose(pieces, _probs(0, 0.5)) == [0, 3]  # '1' and a wide '0'
    assert plan(True).choose(pieces, _probs(0, 0.5)) == [0, 1, 2]  # '1', then the pair cut where it reads best


def test_a_doubted_blob_offers_pieces_across_any_number_of_cuts(monkeypatch):
    """samples/touching_wide_604.png: the 4 touches the 0, and the blob's candidate cuts lie so close that the 4
    spans five of them. Its pieces may span any number of cuts because the verifier doubts the blob; limited to
    four spans (``MAX_DIGITS``), as every box's were before, the 4 was cut short (the CNN shipped until the
    twenty-seventh pass read that short piece 1, and the page 601, without the run reader; the CNN fine-tuned on
    the reader's own crops reads it 4)."""
    import digitreader.reader as reader_module
    from digitreader.splitplan import split_plans

    sample = REPO / "samples" / "touching_wide_604.png"
    reader = DigitReader()
    assert reader.read(sample).lines == ["604"]
    image = reader_module.decode_image_file(sample, reader.max_pixels)
    seg = reader_module.segment(image)
    [judged] = reader._judge_boxes([seg])
    probabilities = reader._classify_all([seg])[0]
    [plan] = split_plans(seg, probabilities, judged.doubted, judged.trusted, judged.doubted | judged.capped)
    assert max(j - i for i, j in plan.pairs) > MAX_DIGITS
    [bounded] = split_plans(seg, probabilities, judged.doubted, judged.trusted)
    assert max(j - i for i, j in bounded.pairs) <= MAX_DIGITS

    def bounded_plans(seg, probabilities, doubted=None, trusted=None, unbounded=None):
        return split_plans(seg, probabilities, doubted, trusted)

    monkeypatch.setattr(reader_module, "split_plans", bounded_plans)
    assert DigitReader().read(sample).lines == ["604"]  # the run reader, reading the blob whole, says 04 too
