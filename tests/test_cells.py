"""Rows of printed boxes: one row of boxes holds one number, however high or low each digit sits in its box."""

import cv2
import numpy as np
from conftest import SAMPLES

from digitreader.cells import box_sides, join_rows_in_cells
from digitreader.segment import segment, segment_at_working_scale

FONT = cv2.FONT_HERSHEY_SIMPLEX


def _put(page: np.ndarray, char: str, x: int, top: int, height: int = 56) -> None:
    """``char`` drawn ``height`` px tall with its top at ``top``."""
    thickness = max(2, height // 10)
    scale = cv2.getFontScaleFromHeight(FONT, height, thickness)
    (_, h), _ = cv2.getTextSize(char, FONT, scale, thickness)
    cv2.putText(page, char, (x, top + h), FONT, scale, 20, thickness, cv2.LINE_AA)


def _row_of_boxes(page: np.ndarray, left: int, top: int, count: int, width: int = 80, height: int = 130) -> None:
    for k in range(count):
        cv2.rectangle(page, (left + k * width, top), (left + (k + 1) * width, top + height), 80, 2)


def test_a_digit_high_in_its_box_stays_in_the_number_of_its_row_of_boxes():
    page = np.full((230, 640), 235, np.uint8)
    _row_of_boxes(page, 40, 50, 6)
    for k, char in enumerate("433082"):  # the 4 at its box's top, the others on their boxes' bottoms
        _put(page, char, 40 + k * 80 + 20, 56 if k == 0 else 116)
    seg = segment(page)
    assert len(seg.boxes) == 6
    assert set(seg.lines) == {0}  # without the boxes' say, the 4 is a line of its own above "33082"
    assert [b[0] for b in seg.boxes] == sorted(b[0] for b in seg.boxes)


def test_the_sample_with_a_4_high_in_its_box_is_one_number():
    """samples/form_digit_high_in_box_433082.png (seed-1 form page 92) read ``4`` and ``33082`` before."""
    seg = segment_at_working_scale(cv2.imread(str(SAMPLES / "form_digit_high_in_box_433082.png")))
    assert len(seg.boxes) == 6 and set(seg.lines) == {0}


def test_two_lines_written_in_one_tall_frame_stay_two_lines():
    page = np.full((300, 520), 235, np.uint8)
    cv2.rectangle(page, (30, 30), (490, 270), 80, 2)  # a frame four digit heights tall
    for k, char in enumerate("503"):
        _put(page, char, 80 + k * 70, 50)
    for k, char in enumerate("824"):
        _put(page, char, 290 + k * 70, 190)
    seg = segment(page)
    assert len(seg.boxes) == 6
    assert sorted(seg.lines) == [0, 0, 0, 1, 1, 1]


def _lines_mask(rows_of_boxes: list[int]) -> np.ndarray:
    lines = np.zeros((400, 500), np.uint8)
    for top in rows_of_boxes:
        for k in range(5):
            cv2.rectangle(lines, (20 + k * 80, top), (20 + (k + 1) * 80, top + 120), 255, 2)
    return lines


def test_rows_in_two_rows_of_boxes_stay_apart():
    lines = _lines_mask([20, 220])
    upper = [((40, 40, 40, 60), [1]), ((120, 40, 40, 60), [2])]
    lower = [((200, 250, 40, 60), [3]), ((280, 250, 40, 60), [4])]
    assert join_rows_in_cells([upper, lower], lines, 60.0) == [upper, lower]


def test_rows_in_one_row_of_boxes_are_joined_left_to_right():
    lines = _lines_mask([20])
    high = [((200, 25, 40, 60), [3])]
    low = [((40, 75, 40, 60), [1]), ((120, 75, 40, 60), [2]), ((280, 75, 40, 60), [4])]
    joined = join_rows_in_cells([low, high], lines, 60.0)
    assert [[g[1][0] for g in row] for row in joined] == [[1, 2, 3, 4]]


def test_comb_ticks_shorter_than_the_writing_are_no_box_sides():
    lines = np.zeros((200, 400), np.uint8)
    cv2.line(lines, (10, 150), (390, 150), 255, 2)
    for x in range(10, 400, 60):
        cv2.line(lines, (x, 120), (x, 150), 255, 2)  # ticks half a digit tall
    assert len(box_sides(lines, 60.0)) == 0
    cv2.line(lines, (10, 60), (10, 150), 255, 2)  # a frame's side, taller than the writing
    assert len(box_sides(lines, 60.0)) == 1
