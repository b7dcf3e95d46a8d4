import numpy as np
from conftest import draw_number

from digitreader.draw import annotate_image
from digitreader.reader import DigitReader
from digitreader.result import Result


def test_read_array_uses_one_batched_call(fake_classifier):
    page, truth = draw_number("1234567")
    result = DigitReader(fake_classifier).read(page, path="p.png")
    assert fake_classifier.calls == [7]
    assert result.lines == ["0123456"]  # the fake predicts each crop's index: reading order is kept
    assert [d.box for d in result.digits] and result.model == "fake"


def test_read_many_batches_across_images(fake_classifier):
    pages = [draw_number(t)[0] for t in ("12", "345", "6")]
    results = DigitReader(fake_classifier).read_many(pages, ["a", "b", "c"])
    assert fake_classifier.calls == [6]
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
