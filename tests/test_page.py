"""Stage 0 (page.py): the sheet is found on a desk and its surround blanked; printed frames are no sheets."""

import json

import cv2
import numpy as np
import pytest
from conftest import REPO, SAMPLES

from digitreader.page import blank_surround, find_page, on_paper, sheet_tilt

PAPER, DESK = 225, 40


def _sheet(width: int = 700, height: int = 260) -> np.ndarray:
    """Grey paper with a handwritten-looking number (an OpenCV font) on it."""
    page = np.full((height, width), PAPER, np.uint8)
    cv2.putText(page, "4071", (120, 180), cv2.FONT_HERSHEY_SIMPLEX, 4.0, 30, 12)
    return page


def _on_desk(page: np.ndarray, degrees: float = 0.0, margin: int = 90, desk: int = DESK):
    """(photo, corners): the page lying on a desk, turned by ``degrees`` about its centre."""
    h, w = page.shape[:2]
    photo = np.full((h + 2 * margin, w + 2 * margin), desk, np.uint8)
    photo[margin:margin + h, margin:margin + w] = page
    corners = np.float32([[margin, margin], [margin + w, margin], [margin + w, margin + h], [margin, margin + h]])
    if degrees:
        rotation = cv2.getRotationMatrix2D((photo.shape[1] / 2, photo.shape[0] / 2), degrees, 1.0)
        photo = cv2.warpAffine(photo, rotation, photo.shape[::-1], flags=cv2.INTER_LINEAR, borderValue=desk)
        corners = np.hstack([corners, np.ones((4, 1), np.float32)]) @ rotation.T
    return photo, corners.astype(np.float32)


def _photographed(image: np.ndarray, degrees: float, desk: int = DESK) -> np.ndarray:
    """A BGR sample lying on a desk 70 px beyond it, turned by ``degrees`` about its centre (the frame keeps its
    size)."""
    h, w = image.shape[:2]
    photo = cv2.copyMakeBorder(image, 70, 70, 70, 70, cv2.BORDER_CONSTANT, value=(desk,) * 3)
    rotation = cv2.getRotationMatrix2D((w / 2 + 70, h / 2 + 70), degrees, 1.0)
    return cv2.warpAffine(photo, rotation, photo.shape[1::-1], borderValue=(desk,) * 3)


def _matches(found: np.ndarray, true: np.ndarray, tolerance: float) -> bool:
    """Each true corner has a found corner within ``tolerance`` px."""
    return all(np.min(np.hypot(*(found - corner).T)) <= tolerance for corner in true)


@pytest.mark.parametrize("degrees", [0.0, 4.0, -9.0])
def test_the_sheet_on_a_desk_is_found(degrees):
    photo, corners = _on_desk(_sheet(), degrees)
    found = find_page(photo)
    assert found is not None and found.shape == (4, 2)
    assert _matches(found, corners, tolerance=8.0)


def test_a_light_sheet_on_a_white_desk_is_found_too():
    photo, corners = _on_desk(_sheet(), 3.0, desk=255)
    photo[photo == 255] = 255  # the desk brighter than the paper
    found = find_page(photo)
    assert found is not None and _matches(found, corners, tolerance=8.0)


def test_a_page_without_surround_has_no_sheet():
    assert find_page(_sheet()) is None


def test_a_printed_frame_is_not_a_sheet():
    page = _sheet(900, 400)
    cv2.rectangle(page, (60, 60), (840, 340), 20, 4)  # a thick printed box: the same paper on both sides
    assert find_page(page) is None


def test_a_side_with_no_edge_under_it_is_not_taken():
    # Light falls off to the left until the paper is as dark as the desk: the sheet's edges fade out there,
    # and a quadrilateral closed across the sheet (blanking the digits left of it) must not be taken.
    page = _sheet().astype(np.float32)
    light = np.clip(np.linspace(0.0, 2.0, page.shape[1]), 0.0, 1.0)
    page = np.where(page == PAPER, DESK + (PAPER - DESK) * light, page).astype(np.uint8)
    photo, _ = _on_desk(page)
    assert find_page(photo) is None


def test_the_surround_is_filled_with_the_paper_and_the_sheet_kept():
    photo, corners = _on_desk(_sheet(), 5.0)
    blanked = blank_surround(photo, find_page(photo))
    assert blanked.shape == photo.shape and blanked.dtype == np.uint8
    outside = np.ones(photo.shape, np.uint8)
    cv2.fillConvexPoly(outside, np.round(corners).astype(np.int32), 0)
    assert abs(float(np.median(blanked[outside > 0])) - PAPER) <= 10  # the desk is gone
    inside = cv2.erode(1 - outside, np.ones((25, 25), np.uint8)) > 0
    assert np.array_equal(blanked[inside], photo[inside])  # the handwriting is untouched
    assert on_paper(_sheet()) is not None and np.array_equal(on_paper(_sheet()), _sheet())


@pytest.mark.parametrize("name", ["one_row_651778970.png", "form_boxes_9712.png", "light_on_dark_369_9390144.png"])
def test_a_sample_photographed_on_a_desk_reads_the_same(name):
    from digitreader import DigitReader

    truth = json.loads((SAMPLES / "truth.json").read_text())[name]
    image = cv2.imread(str(SAMPLES / name))
    desk = 250 if name.startswith("light") else DESK  # a dark page on a white desk
    photo = _photographed(image, 6.0, desk)
    assert DigitReader(REPO / "output" / "mnist_cnn.keras").read(photo).lines == truth


@pytest.mark.parametrize("degrees", [0.0, 4.0, -9.0])
def test_sheet_tilt_is_the_turn_that_levels_the_sheet(degrees):
    """``sheet_tilt`` follows ``segment.deskewed``'s convention (counter-clockwise degrees that level the sheet):
    exact on exact corners, within half a degree on the corners found on the coarse copy."""
    photo, corners = _on_desk(_sheet(), degrees)
    assert sheet_tilt(corners) == pytest.approx(-degrees, abs=1e-3)
    assert sheet_tilt(find_page(photo)) == pytest.approx(-degrees, abs=0.5)


def test_a_skewed_form_photographed_turned_on_a_desk_is_read_levelled(monkeypatch):
    """samples/form_skewed_5883.png turned 5 degrees on a desk: the sheet's tilt levels the page before segmenting
    (its separate boxes have no long line to show the tilt). Without that step it read ``1887 15131``. Since the
    sixteenth pass the search for a frame in faint ink finds these boxes on the unlevelled page too, and since the
    twenty-sixth pass (tilts measured exactly) the search for printed lines does; with all three off the page
    reads wrong."""
    import digitreader.formlines as formlines_module
    import digitreader.segment as segment_module
    import digitreader.skew as skew_module
    from digitreader import DigitReader

    image = cv2.imread(str(SAMPLES / "form_skewed_5883.png"))
    photo = _photographed(image, 5.0)
    reader = DigitReader(REPO / "output" / "mnist_cnn.keras")
    assert reader.read(photo).lines == ["5883"]
    monkeypatch.setattr(segment_module, "MIN_SHEET_TILT", 90.0)  # the sheet's tilt ignored
    assert reader.read(photo).lines == ["5883"]  # the boxes found as frames in faint ink
    monkeypatch.setattr(formlines_module, "_printed_in_faint", lambda faint, height, writing: np.zeros_like(faint))
    assert reader.read(photo).lines == ["5883"]  # the boxes found by the search for printed lines
    monkeypatch.setattr(skew_module, "MIN_SKEW", 90.0)  # printed lines looked for level only
    assert reader.read(photo).lines != ["5883"]


@pytest.mark.parametrize("name, degrees", [("one_row_651778970.png", -8.0), ("noisy_skewed_03496749.png", 12.0)])
def test_a_sheet_the_frame_cuts_off_is_found_levelled_and_read(name, degrees):
    """Turned so far that the photo's frame cuts its corners off, the sheet's outline is closed by the frame's
    border: the sheet is found with corners on that border, levelled by its own sides only, and read. Before,
    no sheet was found and these photos read ``0`` and ``2``."""
    from digitreader import DigitReader

    truth = json.loads((SAMPLES / "truth.json").read_text())[name]
    photo = _photographed(cv2.imread(str(SAMPLES / name)), degrees)
    h, w = photo.shape[:2]
    corners = find_page(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    assert corners is not None
    assert any(min(x, y, w - 1 - x, h - 1 - y) <= 6 for x, y in corners)  # the frame closes the outline
    assert sheet_tilt(corners, (w, h)) == pytest.approx(-degrees, abs=0.5)
    assert DigitReader(REPO / "output" / "mnist_cnn.keras").read(photo).lines == truth


def test_a_lined_sheet_the_frame_cuts_off_is_found_by_its_tone(monkeypatch):
    """Ruled lines running to the sheet's edges cut the edge map's outline of it into strips; the light region,
    closed over the lines and the handwriting, still outlines the sheet."""
    import digitreader.page as page_module

    page = _sheet(900, 300)
    for y in (40, 200, 260):
        cv2.line(page, (0, y), (899, y), 70, 3)
    photo, corners = _on_desk(page, 12.0, margin=40)  # the frame keeps its size: two corners are cut off
    assert (corners < 0).any() or (corners[:, 0] >= photo.shape[1]).any() or (corners[:, 1] >= photo.shape[0]).any()
    found = find_page(photo)
    assert found is not None
    assert sheet_tilt(found, photo.shape[::-1]) == pytest.approx(-12.0, abs=0.5)
    monkeypatch.setattr(page_module, "_tone_outlines", lambda small: [])
    assert find_page(photo) is None


def test_a_row_of_thick_boxes_on_the_paper_is_no_sheet():
    """A row of boxes drawn as thick as the handwriting, dark digits in them: inside its outline half the pixels are
    ink, so its median grey is far from the paper around it, and it passed for a sheet on a desk (the paper round
    it was blanked, and the boxes' outer sides with it). Its commonest grey inside is the paper's, as around it."""
    from digitreader.page import _apart

    small = np.full((86, 400), 247, np.uint8)  # the coarse copy: paper
    for x in range(30, 370, 45):
        cv2.rectangle(small, (x, 20), (x + 40, 64), 50, 4)  # thick boxes, digits in them
        cv2.ellipse(small, (x + 20, 42), (8, 12), 0, 0, 360, 60, 3)
    small = cv2.GaussianBlur(small, (5, 5), 0)  # as find_page blurs it
    corners = np.array([[26, 16], [374, 16], [374, 68], [26, 68]], np.float32)
    inside = small[16:69, 26:375]
    assert np.median(inside) < 247 - 25  # as dark inside as light: the median alone calls it apart
    assert not _apart(small, corners)
    small[:16], small[69:], small[:, :26], small[:, 375:] = 60, 60, 60, 60  # the same row on a dark desk
    assert _apart(small, corners)
