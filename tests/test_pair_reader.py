"""The pair reader: trained by ``train --arch pairs``, loaded apart from the digit model, and used by the
reader to read two neighbouring pieces of a cut box together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from test_train_evaluate import learnable_digits, learnable_npz

from digitreader.architectures import PAIR_CLASSES, PAIR_OTHER
from digitreader.augment import digit_pairs, not_pairs
from digitreader.classify import load_classifier, load_pair_reader
from digitreader.cli import main
from digitreader.errors import ModelError
from digitreader.reader import PAIR_CONFIDENCE, DigitReader

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")
SHIPPED_PAIRS = REPO / "output" / "digit_pairs.keras"
SHIPPED_MLP = REPO / "output" / "mnist_mlp.keras"
SAMPLE = REPO / "samples" / "one_row_651778970.png"


def test_train_pairs_writes_a_pair_model_with_a_not_two_digits_class_and_its_test_accuracy(tmp_path, capsys):
    data = tmp_path / "tiny.npz"
    x_test, y_test = learnable_npz(data, 300, 60)
    out = tmp_path / "p.keras"
    code = main(["train", "--arch", "pairs", "--data", str(data), "--out", str(out), "--epochs", "3",
                 "--batch-size", "32", "-q"])
    assert code == 0, capsys.readouterr().err
    meta = json.loads(out.with_name("p.meta.json").read_text())
    assert meta["architecture"] == "pairs" and meta["classes"][:3] == ["00", "01", "02"] and len(meta["classes"]) == 103
    assert meta["classes"][99:] == ["99", "one digit", "three digits", "four digits"]
    assert meta["pair_test"]["samples"] == 60 and 0.0 <= meta["test_accuracy"] <= 1.0
    assert all(0.0 <= meta["pair_test"][f"{k}_right"] <= 1.0 for k in ("singles", "threes", "fours"))
    assert (tmp_path / "p.curves.png").exists() and not (tmp_path / "p.confusion.png").exists()
    pair_reader = load_pair_reader(out, cache_dir=tmp_path / "cache")
    crops, _ = digit_pairs(x_test, y_test, 5, np.random.default_rng(0))
    probabilities = pair_reader.predict_proba(crops.astype(np.float32) / 255.0)
    assert probabilities.shape == (5, PAIR_CLASSES) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    with pytest.raises(ModelError, match="pair reader, not a digit classifier"):
        load_classifier(out, backend="keras")


def test_a_digit_model_is_not_a_pair_reader_nor_the_pair_reader_a_digit_model(tmp_path):
    with pytest.raises(ModelError, match="not a pair reader"):
        load_pair_reader(SHIPPED_MLP, cache_dir=tmp_path)
    with pytest.raises(ModelError, match="pair reader, not a digit classifier"):
        load_classifier(SHIPPED_PAIRS, cache_dir=tmp_path)


def test_digit_pairs_are_labelled_left_digit_times_ten_plus_right():
    x, y = learnable_digits(20, seed=0)
    crops, labels = digit_pairs(x, y, 50, np.random.default_rng(1))
    assert crops.shape == (50, 28, 28) and crops.dtype == np.uint8 and labels.min() >= 0 and labels.max() <= 99
    assert set(labels // 10) <= set(y.tolist()) and set(labels % 10) <= set(y.tolist())
    assert (crops.reshape(50, -1).max(axis=1) > 200).all()  # ink in every crop


class _SurePair:
    """A pair reader double that reads every crop as the pair ``value`` with probability ``p`` (the other 99 pairs
    and "not two digits" share the rest)."""

    name = "sure-pair"

    def __init__(self, value: int, p: float) -> None:
        self.value, self.p, self.calls = value, p, 0

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        self.calls += len(crops)
        out = np.full((len(crops), PAIR_CLASSES), (1.0 - self.p) / (PAIR_CLASSES - 1), np.float32)
        out[:, self.value] = self.p
        return out


def test_a_sure_pair_reading_replaces_the_two_pieces_and_an_unsure_one_does_not(tmp_path, monkeypatch):
    """samples/touching_hard_1768156.png holds a '15' blob that the splitter cuts into two pieces: the pair
    reader reads those two again, and only its sure readings count. (The double calls every box a pair, so the
    prior on how many digits a box holds, which it would also steer, is off; so is the run reader, which reads the
    blob whole after the pair reader and is sure of the real '15'.)"""
    monkeypatch.setattr("digitreader.splitplan.COUNT_WEIGHT", 0.0)
    sample = REPO / "samples" / "touching_hard_1768156.png"
    sure = _SurePair(42, PAIR_CONFIDENCE + 0.05)
    result = DigitReader(cache_dir=tmp_path, pair_reader=sure, run_reader="none").read(sample)
    assert sure.calls >= 1 and result.lines != ["1768156"] and "42" in result.lines[0]
    unsure = _SurePair(42, PAIR_CONFIDENCE - 0.1)
    assert DigitReader(cache_dir=tmp_path, pair_reader=unsure, run_reader="none").read(sample).lines == ["1768156"]
    assert unsure.calls >= 1  # asked, and not listened to


def test_the_reader_uses_the_shipped_pair_reader_unless_told_not_to(tmp_path):
    pair_reader = DigitReader(cache_dir=tmp_path).pair_reader
    assert pair_reader.name == "digit_pairs.keras" and type(pair_reader).__name__ == "OnnxClassifier"
    assert DigitReader(cache_dir=tmp_path, pair_reader="none").pair_reader is None


def test_cli_pair_reader_none_and_a_wrong_pair_reader(tmp_path, capsys):
    assert main(["-i", str(SAMPLE), "--pair-reader", "none", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "651778970\n"
    assert main(["-i", str(SAMPLE), "--pair-reader", str(SHIPPED_MLP), "--cache-dir", str(tmp_path)]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ModelError" in err[0] and "not a pair reader" in err[0]


def test_shipped_pair_reader_reads_held_out_mnist_pairs(mnist_path: Path, tmp_path):
    data = np.load(mnist_path)
    crops, labels = digit_pairs(data["x_test"][:4000], data["y_test"][:4000], 2000, np.random.default_rng(5))
    predicted = load_pair_reader(SHIPPED_PAIRS, cache_dir=tmp_path).predict_proba(crops / 255.0).argmax(axis=1)
    assert (predicted == labels).mean() >= 0.93  # the shipped one: 94.9 % of these (97.0 % of its 10,000 test pairs)


def test_shipped_pair_reader_says_held_out_single_digits_and_runs_are_not_two_digits(mnist_path: Path, tmp_path):
    data = np.load(mnist_path)
    crops, classes = not_pairs(data["x_test"][:4000], 1000, np.random.default_rng(6))
    probabilities = load_pair_reader(SHIPPED_PAIRS, cache_dir=tmp_path).predict_proba(crops / 255.0)
    assert (probabilities.argmax(axis=1) >= PAIR_OTHER).mean() >= 0.95  # not two digits
    assert (probabilities.argmax(axis=1) == classes).mean() >= 0.9  # ... but one, three or four


def test_the_pair_reader_reads_an_eight_overlapping_a_zero(tmp_path):
    """samples/touching_pair_8081.png: the 0 overlaps the 8; a cut leaves the 8's right side with the 0,
    which then reads 3. Read together, the pair is 80. (So does the run reader, reading the blob whole.)"""
    sample = REPO / "samples" / "touching_pair_8081.png"
    assert DigitReader(cache_dir=tmp_path).read(sample).lines == ["8081"]
    assert DigitReader(cache_dir=tmp_path, run_reader="none").read(sample).lines == ["8081"]
    assert DigitReader(cache_dir=tmp_path, pair_reader=None).read(sample).lines == ["8081"]
    assert DigitReader(cache_dir=tmp_path, pair_reader=None, run_reader="none").read(sample).lines == ["8381"]


class _Fixed:
    """A helper model double giving every crop the same probabilities."""

    def __init__(self, name: str, probabilities: np.ndarray) -> None:
        self.name, self.probabilities = name, probabilities

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        return np.repeat(self.probabilities[None], len(crops), axis=0).astype(np.float32)


def _glued_ones_page() -> np.ndarray:
    """``48`` written apart, then ``11`` as two strokes joined by a bridge: one box narrower than a digit."""
    import cv2
    from conftest import draw_number

    page, boxes = draw_number("48", height=60)
    page = np.pad(page, ((0, 0), (0, 80)), constant_values=235)
    top, bottom = boxes[0][1], boxes[0][1] + boxes[0][3] - 1
    x = page.shape[1] - 70
    cv2.line(page, (x + 3, top), (x, bottom), 20, 6)
    cv2.line(page, (x + 17, top), (x + 14, bottom), 20, 6)
    cv2.line(page, (x, top + 20), (x + 17, top + 20), 20, 4)
    return page


def test_a_narrow_box_both_helpers_call_two_digits_gets_cuts(tmp_path):
    """A 1 glued to its neighbour makes a box too narrow to be tried by width: it gets candidate cuts only
    when the verifier doubts it is one digit and the pair reader is sure it is a pair."""
    from digitreader.segment import segment
    from digitreader.splitplan import split_plans

    page = _glued_ones_page()
    seg = segment(page)
    assert len(seg.boxes) == 3 and seg.boxes[2][2] < 0.75 * seg.boxes[0][3]  # 4, 8 and the narrow glued 11
    sure_11, unsure_11, surest_11 = (np.full(PAIR_CLASSES, (1 - p) / 102) for p in (0.995, 0.8, 0.9995))
    sure_11[11], unsure_11[11], surest_11[11] = 0.995, 0.8, 0.9995
    cases = [(np.array([0.8, 0.2]), sure_11, {0, 1, 2}), (np.array([0.8, 0.2]), unsure_11, set()),
             (np.array([0.3, 0.7]), sure_11, set()),  # the verifier must doubt it too ...
             (np.array([0.3, 0.7]), surest_11, {0, 1, 2})]  # ... unless the pair reader is sure enough to cap it
    for single, pairs, doubted in cases:
        reader = DigitReader(cache_dir=tmp_path, verifier=_Fixed("v", single), pair_reader=_Fixed("p", pairs))
        [judged] = reader._judge_boxes([seg])
        assert judged.doubted == doubted and set(judged.single) >= doubted
        assert 2 not in judged.paired  # too narrow to be cut in two by force
        probabilities = reader._classify_all([seg])[0]
        assert [plan.index for plan in split_plans(seg, probabilities, judged.doubted)] == sorted(doubted)
    assert DigitReader(cache_dir=tmp_path, pair_reader=None, verifier=_Fixed("v", np.array([0.8, 0.2])))._judge_boxes(
        [seg])[0].doubted == set()  # without the pair reader, narrow boxes are not judged at all


def test_a_doubted_box_without_candidate_cuts_is_cut_in_its_middle():
    """samples/touching_glued_ones_4528311.png ends in two 1s whose ink is one bar: no candidate cut parts it. The
    helpers doubt it, so it is cut once, straight, in its middle, and the pair reader reads the halves as 11."""
    import cv2

    from digitreader import splitplan
    from digitreader.segment import reference_height, stroke_width
    from digitreader.split import candidate_cuts, digit_width, middle_cut

    sample = REPO / "samples" / "touching_glued_ones_4528311.png"
    reader = DigitReader()
    seg = reader._segment(cv2.imread(str(sample), cv2.IMREAD_UNCHANGED))
    bar = max(range(len(seg.boxes)), key=lambda i: seg.boxes[i][0])
    mask = seg.box_mask(bar)
    assert candidate_cuts(mask, digit_width(seg.boxes, reference_height(seg.boxes)), stroke_width(seg.mask)) == []
    [cut] = middle_cut(mask)
    ink = np.flatnonzero(mask.any(axis=0))
    quarter = (ink[-1] - ink[0]) // 4
    assert ink[0] + quarter <= cut[0] <= ink[-1] - quarter and len(set(cut)) == 1
    assert reader.read(sample).lines == ["4528311"]
    original = splitplan.middle_cut
    try:
        splitplan.middle_cut = lambda mask: []
        assert reader.read(sample).lines != ["4528311"]
    finally:
        splitplan.middle_cut = original
    assert middle_cut(np.ones((40, 4), bool)) == []  # too narrow to cut


def test_a_piece_read_with_both_neighbours_keeps_the_surer_reading(monkeypatch):
    """samples/touching_read_twice_5099.png: the first 9's loop overlaps the 0 before it, so its piece alone reads 7.
    The pair reader reads that piece twice: with the 0 before it as 09 and with the 9 after it as 79 (both sure).
    The surer reading, 09, is kept; keeping the later one (the reader before the fourteenth pass) reads 5079.
    (The run reader, which reads the cut blob whole afterwards, is left out here; with it, even the later reading
    ends as 5099.)"""
    from digitreader import reader as reader_module

    sample = REPO / "samples" / "touching_read_twice_5099.png"
    reader = DigitReader(run_reader="none")
    calls = []
    sharpest = reader_module.sharpest_reading
    monkeypatch.setattr(reader_module, "sharpest_reading",
                        lambda readings: calls.append(readings) or sharpest(readings))
    assert reader.read(sample).lines == ["5099"]
    twice = [readings for readings in calls if len(readings) == 2]
    assert twice and any({int(r.argmax()) for r in readings} == {7, 9} for readings in twice)
    monkeypatch.setattr(reader_module, "sharpest_reading", lambda readings: readings[-1])
    assert reader.read(sample).lines == ["5079"]
    assert DigitReader().read(sample).lines == ["5099"]


def _wide_zero_page(width: int) -> np.ndarray:
    """``48`` written apart, then a ``0`` drawn as one ellipse ``width`` px wide (the digits are 45 px tall)."""
    import cv2
    from conftest import draw_number

    page, boxes = draw_number("48", height=60)
    page = np.pad(page, ((0, 0), (0, width + 40)), constant_values=235)
    top, height = boxes[0][1], boxes[0][3]
    centre = (page.shape[1] - 20 - width // 2, top + height // 2)
    cv2.ellipse(page, centre, (width // 2 - 3, height // 2 - 3), 0, 0, 360, 20, 6)
    return page


def test_a_wide_box_both_helpers_call_one_digit_stays_whole(tmp_path):
    """A wide single digit (a 0 written 1.3 times as wide as tall) gets no candidate cuts when the verifier
    accepts it as one digit and the pair reader is not sure it is a pair; either helper's doubt, no pair
    reader, or a box wider than any digit (1.6 row heights) brings the cuts back."""
    from digitreader.segment import segment
    from digitreader.splitplan import split_plans

    sure_00, unsure_00 = np.full(PAIR_CLASSES, 0.005 / 102), np.full(PAIR_CLASSES, 0.2 / 102)
    sure_00[0], unsure_00[0] = 0.995, 0.8
    one, two = np.array([0.1, 0.9]), np.array([0.99, 0.01])
    for width, single, pairs, planned in [(58, one, unsure_00, False), (58, two, unsure_00, True),
                                          (58, one, sure_00, True), (58, one, None, True),
                                          (90, one, unsure_00, True)]:
        seg = segment(_wide_zero_page(width))
        assert len(seg.boxes) == 3 and seg.boxes[2][2] >= 0.75 * seg.boxes[2][3]
        reader = DigitReader(cache_dir=tmp_path, verifier=_Fixed("v", single),
                             pair_reader=_Fixed("p", pairs) if pairs is not None else None)
        [judged] = reader._judge_boxes([seg])
        assert (2 in judged.trusted) == (not planned)
        probabilities = reader._classify_all([seg])[0]
        plans = split_plans(seg, probabilities, judged.doubted, judged.trusted)
        assert (2 in [plan.index for plan in plans]) == planned, (width, single, pairs is None)
