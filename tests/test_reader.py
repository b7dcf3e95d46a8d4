import numpy as np
from conftest import draw_number

from digitreader.draw import annotate_image
from digitreader.reader import DigitReader
from digitreader.result import Result


def test_read_array_uses_one_batched_call(fake_classifier):
    page, truth = draw_number("1234567")
    result = DigitReader(fake_classifier).read(page, path="p.png")
    # one call for the digits; at most one more each for merge and split candidates, never one per candidate
    assert fake_classifier.calls[0] == 7 and len(fake_classifier.calls) <= 3
    assert result.lines == ["0123456"]  # the fake predicts each crop's index: reading order is kept
    assert [d.box for d in result.digits] and result.model == "fake"


def test_read_many_batches_across_images(fake_classifier):
    pages = [draw_number(t)[0] for t in ("12", "345", "6")]
    results = DigitReader(fake_classifier).read_many(pages, ["a", "b", "c"])
    assert fake_classifier.calls[0] == 6 and len(fake_classifier.calls) <= 3
    assert [r.lines for r in results] == [["01"], ["234"], ["5"]]


def test_blank_image_reads_nothing(fake_classifier):
    result = DigitReader(fake_classifier).read(np.full((100, 300), 240, np.uint8))
    assert result.digits == () and result.text == "" and result.ok


def test_read_paths_keeps_going_past_bad_files(tmp_path, fake_classifier):
    from digitreader.imageio import write_image

    good = tmp_path / "good.png"
    write_image(good, draw_number("42")[0])
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    items = list(DigitReader(fake_classifier).read_paths([str(bad), str(good), str(tmp_path / "missing.png")]))
    assert [i.result.ok for i in items] == [False, True, False]
    assert items[1].result.lines == ["01"]
    assert "not a decodable image" in items[0].result.error
    assert items[2].exception.exit_code == 3


def test_annotation_draws_on_a_copy(fake_classifier):
    page, _ = draw_number("78")
    result = DigitReader(fake_classifier).read(page)
    picture = annotate_image(page, result)
    assert picture.shape == (*page.shape, 3)
    assert (picture != np.stack([page] * 3, axis=-1)).any()
    assert (annotate_image(page, Result("x")) == np.stack([page] * 3, axis=-1)).all()


class ScriptedClassifier:
    """Confidence per call: the pieces first, then (if asked) the merged candidates."""

    name = "scripted"

    def __init__(self, confidences):
        self.confidences = list(confidences)

    def predict_proba(self, crops):
        conf = self.confidences.pop(0) if len(self.confidences) > 1 else self.confidences[0]
        probs = np.full((len(crops), 10), (1 - conf) / 9, np.float32)
        probs[:, 0] = conf
        return probs


def _broken_zero_page():
    import cv2

    page = np.full((200, 400), 235, np.uint8)
    cv2.ellipse(page, (100, 100), (30, 45), 0, 100, 260, 20, 8)  # left arc of a 0
    cv2.ellipse(page, (106, 100), (30, 45), 0, -75, 75, 20, 8)  # right arc, broken off
    cv2.line(page, (260, 55), (260, 145), 20, 8)
    cv2.line(page, (330, 55), (330, 145), 20, 8)
    return page


def test_close_pieces_merge_when_the_classifier_agrees():
    result = DigitReader(ScriptedClassifier([0.95, 0.97])).read(_broken_zero_page())
    assert len(result.digits) == 3
    assert result.digits[0].box[2] > 50  # both arcs in one box


def test_close_pieces_stay_apart_when_the_merged_reading_is_unsure():
    result = DigitReader(ScriptedClassifier([0.95, 0.40])).read(_broken_zero_page())
    assert len(result.digits) == 4
