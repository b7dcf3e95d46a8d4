"""--debug-dir: the pictures a user needs to see why a digit was misread."""

import cv2
from conftest import FakeClassifier, draw_number

from digitreader.reader import DigitReader


def test_debug_dir_has_binarised_boxes_and_every_crop(tmp_path):
    page, _ = draw_number("305")
    DigitReader(FakeClassifier(), debug_dir=tmp_path / "dbg").read(page, path="scans/cheque 1.png")
    names = sorted(p.name for p in (tmp_path / "dbg").iterdir())
    assert "0001-cheque_1.1-binarised.png" in names
    assert "0001-cheque_1.2-boxes-segmented.png" in names and "0001-cheque_1.3-boxes-final.png" in names
    crops = [n for n in names if ".crop-" in n]
    assert crops == ["0001-cheque_1.crop-000-line0-0-0.900.png", "0001-cheque_1.crop-001-line0-1-0.900.png",
                     "0001-cheque_1.crop-002-line0-2-0.900.png"]
    crop = cv2.imread(str(tmp_path / "dbg" / crops[0]), cv2.IMREAD_GRAYSCALE)
    assert crop.shape == (28, 28) and crop.max() > 200
    mask = cv2.imread(str(tmp_path / "dbg" / "0001-cheque_1.1-binarised.png"), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == page.shape
