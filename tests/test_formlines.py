"""Printed lines and boxes: removed, with the digits that touch them kept whole."""

import cv2
import numpy as np
import pytest
from conftest import SAMPLES, draw_number, iou

from digitreader.formlines import (
    Piece,
    _add_missing_sides,
    _aligned_sides,
    _evenly_spaced_ticks,
    printed_lines,
    remove_lines,
)
from digitreader.segment import segment, segment_at_working_scale
from digitreader.skew import refined_tilt, skew_angle


def test_separate_boxes_with_short_tops_are_removed():
    page, truth = draw_number("4710", gap=0.9)
    for bx, by, bw, bh in truth:  # one box per digit: tops shorter than a digit is tall
        cv2.rectangle(page, (bx - 8, by - 14), (bx + bw + 8, by + bh + 14), 70, 2)
    seg = segment(page)
    assert len(seg.boxes) == 4
    assert all(iou(a, b) > 0.7 for a, b in zip(seg.boxes, truth))


def test_a_stroke_crossing_a_rule_is_bridged():
    mask = np.zeros((160, 400), np.uint8)
    cv2.line(mask, (0, 80), (399, 80), 255, 2)  # a ruled line
    cv2.line(mask, (200, 30), (206, 130), 255, 9)  # a 1 written across it
    cleaned = remove_lines(mask)
    count, _ = cv2.connectedComponents(cleaned)
    assert count == 2  # background + the stroke, in one piece
    assert cleaned[80, 350] == 0 and cleaned[80, 203] == 255


def test_comb_field_ticks_and_frame_are_printed_lines():
    mask = np.zeros((200, 600), np.uint8)
    cv2.rectangle(mask, (20, 40), (580, 160), 255, 2)
    for x in range(120, 580, 100):
        cv2.line(mask, (x, 120), (x, 160), 255, 2)  # comb ticks
    cv2.ellipse(mask, (70, 100), (25, 40), 0, 0, 360, 255, 8)  # a 0 in the first cell
    lines = printed_lines(mask)
    assert lines[160, 300] and lines[140, 220]  # frame and a tick
    assert not lines[100, 45].any()  # the 0's side is no printed line


def test_thick_handwriting_with_straight_strokes_is_not_a_structure():
    page, truth = draw_number("1477", height=90)
    seg = segment(page)
    assert len(seg.boxes) == 4 and all(iou(a, b) > 0.7 for a, b in zip(seg.boxes, truth))


def test_a_skewed_rule_is_levelled_found_and_removed():
    mask = np.zeros((200, 600), np.uint8)
    cv2.line(mask, (0, 120), (599, 120 - 21), 255, 2)  # a rule tilted by 2 degrees
    for x in (150, 300, 450):
        cv2.ellipse(mask, (x, 80), (22, 36), 0, 0, 360, 255, 8)  # digits sitting on it
    assert abs(abs(skew_angle(mask)) - 2.0) < 0.5
    cleaned = remove_lines(mask)
    assert cleaned[120 - 1, 5:30].sum() == 0 and cleaned[100, 570:599].sum() == 0  # the rule is gone
    assert cleaned[80, 150 - 24:150 - 18].any() and cleaned[80, 300 + 18:300 + 24].any()  # the digits stay


def _turned(mask: np.ndarray, degrees: float) -> np.ndarray:
    """A binary mask turned by ``degrees`` (bilinear, as a scan is) and thresholded again."""
    h, w = mask.shape
    turned = cv2.warpAffine(mask, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h),
                            flags=cv2.INTER_LINEAR)
    return np.where(turned > 127, 255, 0).astype(np.uint8)


@pytest.mark.parametrize("degrees", [1.0, 2.0, -1.5])
def test_the_tilt_of_a_thick_rule_is_measured_to_a_tenth_of_a_degree(degrees):
    """Each pixel row of a 5 px rule turned by a degree is a level run hundreds of px long, so the Hough
    segments' median tilt was off by a third of a degree (enough to smear the levelled rule over two more pixel
    rows); the sharpest row profile gives it exactly."""
    mask = np.zeros((240, 700), np.uint8)
    cv2.line(mask, (20, 150), (680, 150), 255, 5)
    for x in (150, 300, 450):
        cv2.ellipse(mask, (x, 105), (22, 38), 0, 0, 360, 255, 8)
    assert abs(skew_angle(_turned(mask, degrees)) + degrees) < 0.1


@pytest.mark.parametrize("degrees", [1.0, 3.0])
def test_rules_that_join_all_the_writing_into_one_piece_still_give_the_tilt(degrees):
    """Two rules and a vertical rule crossing them, every digit touching one: the page is one piece of ink, no
    piece twice the writing's height wide beside it, and the tilt was not looked for (0.0). Straight segments
    half the page wide give it."""
    mask = np.zeros((260, 400), np.uint8)
    for y in (110, 200):
        cv2.line(mask, (5, y), (395, y), 255, 5)
    cv2.line(mask, (260, 10), (265, 250), 255, 5)
    for row, count in ((75, 4), (165, 3)):
        for x in range(60, 60 + 80 * count, 80):
            cv2.ellipse(mask, (x, row), (22, 34), 0, 0, 360, 255, 8)
            cv2.line(mask, (x, row + 34), (x, row + 20), 255, 6)
    turned = _turned(mask, degrees)
    assert cv2.connectedComponents(turned)[0] == 2
    assert abs(skew_angle(turned) + degrees) < 0.15


def test_the_exact_tilt_is_not_drawn_to_level_by_the_pixel_grid():
    """At exactly 0 degrees every pixel row of the page falls in one row of the profile, at any other angle rows
    straddle two: counted plainly, that spike outweighed a rule's true tilt of half a degree."""
    mask = np.zeros((200, 600), np.uint8)
    cv2.line(mask, (0, 150), (599, 145), 255, 2)  # a rule tilted by atan(5 / 599) = 0.48 degrees
    for x in range(60, 600, 120):
        cv2.ellipse(mask, (x, 95), (20, 32), 0, 0, 360, 255, 6)
    for start in (-0.7, -0.3, 0.0, 0.3):
        assert abs(refined_tilt(mask, start) + 0.48) <= 0.05


def test_a_missing_box_side_smeared_by_levelling_is_still_completed():
    """A row of 4 px box sides, one of them hidden under a digit's strokes (not found as a run): it is completed
    where the row's spacing puts it when its band is full. Levelled from a turned scan, that side wobbles by a
    pixel along its height, so no 4 px band is full along it; its 2 px core is."""
    mask = np.zeros((200, 500), np.uint8)
    sides = []
    for x in (100, 200, 400):
        mask[50:150, x - 2:x + 2] = 255
        sides.append(Piece(False, x - 2, 50, 4, 100, 4.0, np.ones((100, 4), bool), True))
    mask[50:100, 298:302] = 255  # the hidden side, a pixel further right in its lower half
    mask[100:150, 299:303] = 255
    lines = np.zeros_like(mask)
    added = _add_missing_sides(mask, sides, lines)
    assert len(added) == 1 and lines[60, 299:301].all() and lines[140, 300:302].all()
    mask[120:150, 298:304] = 0  # a side that does not reach the box's bottom is none
    lines = np.zeros_like(mask)
    assert not _add_missing_sides(mask, sides, lines) and not lines.any()


def test_level_page_has_no_skew():
    mask = np.zeros((200, 600), np.uint8)
    cv2.line(mask, (0, 120), (599, 120), 255, 2)
    assert skew_angle(mask) == 0.0


def test_skew_of_a_one_pixel_high_page_does_not_fail():
    mask = np.full((1, 1941), 255, np.uint8)  # one long piece: the skew search runs on a reduced copy
    assert skew_angle(mask) == 0.0


def test_a_rule_touched_by_a_row_of_thick_digits_is_still_found():
    """Thick handwriting hanging from a thin rule along most of its length: the rule is a line
    (it was once kept whole, gluing the row into one blob), and the digits' strokes stay."""
    mask = np.zeros((200, 800), np.uint8)
    cv2.line(mask, (0, 50), (799, 50), 255, 3)
    for x in range(70, 760, 100):  # seven thick 0s whose tops touch the rule
        cv2.ellipse(mask, (x, 90), (34, 38), 0, 0, 360, 255, 10)
    lines = printed_lines(mask)
    assert lines[50, 20] and lines[50, 70]  # free and touched stretches of the rule
    cleaned = remove_lines(mask, lines)
    assert cleaned[90, 70 - 38:70 - 30].any() and cleaned[90, 70 + 30:70 + 38].any()  # the 0s' sides
    count, _ = cv2.connectedComponents(cleaned)
    assert count == 1 + 7  # the seven 0s, no longer joined by the rule


def test_aligned_box_sides_are_lines_even_without_their_tops():
    """A row of printed boxes whose faint tops and bottoms were lost in binarisation: the sides start
    and end together, so they are printed; the digits between them stay."""
    mask = np.zeros((140, 520), np.uint8)
    for x in range(40, 521, 58):
        cv2.line(mask, (x, 30), (x, 100), 255, 2)
    for x in range(69, 480, 116):  # 0s in every other box, leaning on both of its sides
        cv2.ellipse(mask, (x, 65), (26, 26), 0, 0, 360, 255, 6)
    lines = printed_lines(mask)
    assert all(lines[40, x:x + 2].any() for x in range(40, 500, 58))
    cleaned = remove_lines(mask, lines)
    count, _ = cv2.connectedComponents(cleaned)
    assert count == 1 + 4


def test_straight_bits_of_digits_on_one_baseline_are_not_box_sides():
    """Digits on one baseline have aligned straight strokes, but shorter than the digits: kept."""
    mask = np.zeros((160, 520), np.uint8)
    for x in range(60, 480, 100):  # '4'-like digits: a tall stem, a short thin straight stroke on the baseline
        cv2.line(mask, (x + 30, 30), (x + 30, 130), 255, 8)
        cv2.line(mask, (x, 30), (x - 4, 90), 255, 8)
        cv2.line(mask, (x - 4, 90), (x + 40, 90), 255, 8)
        cv2.line(mask, (x + 8, 95), (x + 8, 130), 255, 2)  # a thin straight bit, aligned across digits
    lines = printed_lines(mask)
    assert not lines.any()


def test_a_stroke_lying_half_on_a_rule_keeps_its_upper_half():
    """A 2's base written half on a printed rule: only the rule's own band goes, the stroke stays (it
    used to go with the rule, and the 2 was read as a 7)."""
    mask = np.zeros((160, 500), np.uint8)
    cv2.line(mask, (0, 101), (499, 101), 255, 3)  # the rule: rows 100-102
    cv2.line(mask, (150, 99), (230, 99), 255, 8)  # the base: rows 95-103, half on the rule
    cv2.line(mask, (150, 99), (210, 30), 255, 8)  # the 2's diagonal
    lines = printed_lines(mask)
    assert lines[101, 20] and lines[101, 190]
    assert not lines[96, 150:231].any()  # the stroke's upper half is no part of the line
    cleaned = remove_lines(mask, lines)
    assert cleaned[96, 155:226].all()


def test_a_box_side_hidden_under_a_digit_is_found_from_the_row_spacing():
    """A 0 written over its box's right side merges with it (no thin straight run is left there); the
    other sides' spacing says where it is, and it goes too, so the 0 is not read with a stub (as 9)."""
    mask = np.zeros((160, 600), np.uint8)
    sides = [40, 122, 145, 227, 250, 332, 355, 437]  # four boxes 82 px wide, 23 px apart
    for x in sides:
        cv2.line(mask, (x, 30), (x, 130), 255, 2)
    cv2.ellipse(mask, (205, 80), (26, 38), 0, 0, 360, 255, 10)  # its right side lies on the box's side
    lines = printed_lines(mask)
    assert all(lines[35, x] for x in sides)  # every side, the hidden one (227) included
    cleaned = remove_lines(mask, lines)
    assert not cleaned[35:45, 225:230].any() and not cleaned[120:130, 225:230].any()  # above and below the 0
    count, _ = cv2.connectedComponents(cleaned)
    assert count == 1 + 1  # the 0 alone, whole


def test_round_dilation_is_exact_for_handwriting_strokes_and_close_for_huge_ones():
    """A page that is nearly all ink has a 'stroke' of hundreds of px; the disc dilation then runs at reduced
    scale (it took four minutes on a 2000 x 2000 halftone page the property tests drew)."""
    import cv2
    import numpy as np

    from digitreader.formlines import MAX_EXACT_REACH, _dilate_round

    image = np.random.default_rng(0).random((301, 257)).astype(np.float32) ** 8
    for reach in (3, 31, MAX_EXACT_REACH, 201):
        exact = cv2.dilate(image, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
        same = (_dilate_round(image, reach) == exact).mean()
        assert same == 1.0 if reach <= MAX_EXACT_REACH else same >= 0.95, (reach, same)


def test_tops_of_thick_boxes_standing_on_a_rule_are_removed_with_their_sides():
    """Separate boxes drawn as thick as the writing, standing on a thin rule: the rule makes their sides
    printed (they meet it at corners), and the sides make the boxes' tops and bottoms printed in turn."""
    mask = np.zeros((130, 480), np.uint8)
    lefts = range(30, 420, 75)
    for x in lefts:
        mask[30:97, x:x + 63] = 255
        mask[35:92, x + 5:x + 58] = 0  # a box with 5 px borders
        cv2.ellipse(mask, (x + 31, 63), (17, 22), 0, 0, 360, 255, 4)  # a 0 in every box
    mask[101:104, 15:466] = 255  # the rule, 4 px under the boxes
    lines = printed_lines(mask)
    assert all(lines[32, x + 31] and lines[94, x + 31] for x in lefts)  # tops and bottoms
    count, _ = cv2.connectedComponents(remove_lines(mask, lines))
    assert count == 1 + len(lefts)


def test_a_straight_1_standing_on_a_rule_is_no_box_side():
    """A 1 written as one straight stroke, taller than the 0s beside it, standing on a rule: it meets the rule
    at one end only, as no box's side does (a box's top and bottom meet its sides at both ends)."""
    mask = np.zeros((140, 600), np.uint8)
    cv2.line(mask, (0, 101), (599, 101), 255, 3)
    for x in (80, 180, 400, 500):
        cv2.ellipse(mask, (x, 66), (22, 26), 0, 0, 360, 255, 7)
    cv2.line(mask, (290, 22), (290, 100), 255, 5)
    lines = printed_lines(mask)
    assert lines[101, 20] and not lines[30:95, 285:296].any()
    cleaned = remove_lines(mask, lines)
    assert cleaned[30:95, 287:294].all()


def test_the_stem_of_a_9_standing_on_a_rule_is_no_comb_tick():
    """A 9 whose straight stem stands on a rule meets it like a comb's tick, but a comb's ticks come alike
    (same top, same bottom) and this stem has no twin: it stays with its loop."""
    mask = np.zeros((140, 600), np.uint8)
    cv2.line(mask, (0, 101), (599, 101), 255, 3)
    for x in (80, 180, 400, 500):
        cv2.ellipse(mask, (x, 66), (22, 26), 0, 0, 360, 255, 7)
    cv2.ellipse(mask, (285, 58), (18, 16), 0, 0, 360, 255, 5)
    cv2.line(mask, (302, 58), (302, 100), 255, 5)
    lines = printed_lines(mask)
    assert lines[101, 20] and not lines[60:95, 298:307].any()
    count, _ = cv2.connectedComponents(remove_lines(mask, lines))
    assert count == 1 + 5


def test_a_row_of_separate_boxes_tilted_by_a_skewed_scan_is_levelled_and_removed():
    """Separate boxes and no rule, the page tilted 3 degrees: no line is long enough to measure the tilt by,
    but the boxes' tops and bottoms agree on it, so the boxes are found on the levelled mask and go whole."""
    from digitreader.skew import box_row_tilt

    mask = np.zeros((200, 620), np.uint8)
    lefts = range(40, 560, 90)
    for x in lefts:
        cv2.rectangle(mask, (x, 60), (x + 70, 140), 255, 2)
        cv2.ellipse(mask, (x + 35, 100), (18, 28), 0, 0, 360, 255, 6)  # a 0 in every box
    rotation = cv2.getRotationMatrix2D((310, 100), 3.0, 1.0)
    tilted = cv2.warpAffine(mask, rotation, (620, 200), flags=cv2.INTER_NEAREST)
    assert abs(box_row_tilt(tilted) + 3.0) < 0.5
    count, _ = cv2.connectedComponents(remove_lines(tilted, printed_lines(tilted)))
    assert count == 1 + len(lefts)  # the six 0s, each alone


def _six_on_a_rule(rule: bool = True) -> np.ndarray:
    """'48' and then a 6 drawn as a stem and a shallow loop joined only at the bottom, standing on a printed rule
    whose band covers that bottom."""
    page, boxes = draw_number("48", height=60)
    page = np.pad(page, ((0, 0), (0, 90)), constant_values=235)
    top, bottom = boxes[0][1], boxes[0][1] + boxes[0][3]
    x = page.shape[1] - 75
    six = np.zeros_like(page)
    stem = np.array([[x + 22, top], [x + 12, top + 20], [x + 8, bottom - 18], [x + 14, bottom - 3],
                     [x + 34, bottom - 3]])
    cv2.polylines(six, [stem], False, 255, 6)
    cv2.ellipse(six, (x + 34, bottom - 10), (16, 7), 0, -100, 90, 255, 6)
    page[six > 0] = 20
    if rule:
        cv2.line(page, (5, bottom - 1), (page.shape[1] - 5, bottom - 1), 20, 6)
    return page


def test_a_loop_cut_off_by_a_rule_rejoins_its_digit():
    """Removing a rule a 6 stands on takes the bottom of its loop, and the rest of the loop, too short for a
    digit, was dropped with the rule's remnants: the 6 was read 1. It is kept as a line fragment, and the reader
    gives it back to the 6 because the 6's reading with it is sure."""
    from digitreader.reader import DigitReader

    seg = segment(_six_on_a_rule())
    assert len(seg.boxes) == 3 and len(seg.line_fragments) == 1
    fragment = seg.line_fragments[0][0]
    assert fragment[0] > seg.boxes[2][0] + seg.boxes[2][2] / 2  # right of the stem's middle
    assert not segment(_six_on_a_rule(rule=False)).line_fragments  # no rule: nothing cut off
    result = DigitReader().read(_six_on_a_rule())
    assert result.lines == ["486"]
    x, y, w, h = result.digits[2].box
    assert x + w >= fragment[0] + fragment[2] and y + h >= fragment[1] + fragment[3]


def test_a_line_fragment_joins_only_a_digit_within_reach():
    from digitreader.repairs import fragment_candidates

    seg = segment(_six_on_a_rule())
    assert [k for _, k in fragment_candidates(seg)] == [2]  # the 6's stem, not the 8 far to its left
    seg.line_fragments = [((seg.boxes[2][0] + 60, *seg.line_fragments[0][0][1:]), seg.line_fragments[0][1])]
    assert fragment_candidates(seg) == []  # 60 px on: more than a quarter of a row's height away


def _framed_amount(dashed: bool) -> np.ndarray:
    """Ink mask: ``0 1 -`` inside one thin printed frame, as on a cheque's amount box; ``dashed``: the frame
    broken into dashes, as a faint grey frame comes out of the strong (speck-free) threshold."""
    mask = np.zeros((180, 260), np.uint8)
    cv2.rectangle(mask, (20, 25), (235, 150), 255, 2)
    if dashed:
        for x in range(20, 240, 16):
            mask[:, x:x + 8] = 0
        for y in range(25, 155, 16):
            mask[y:y + 8, :] = 0
    cv2.ellipse(mask, (80, 90), (22, 28), 0, 0, 360, 255, 7)  # a 0
    cv2.line(mask, (150, 62), (150, 118), 255, 7)  # a 1
    cv2.line(mask, (185, 95), (215, 95), 255, 6)  # a dash
    return mask


def test_a_faint_frame_round_an_amount_is_found_in_faint_ink():
    """A single faint frame is only dashes in the strong mask, where no line is found, and would be read as
    digits (a ``1`` for its side, a ``0`` for the whole frame). It is found whole in the faint mask; the
    digits' own straight strokes there (the 1, the dash) join into no frame and stay."""
    from digitreader.formlines import find_printed_lines

    strong, faint = _framed_amount(dashed=True), _framed_amount(dashed=False)
    assert not printed_lines(strong).any()
    lines, tilt = find_printed_lines(strong, faint)
    frame = np.zeros_like(faint)
    cv2.rectangle(frame, (20, 25), (235, 150), 255, 2)
    assert tilt == 0.0 and (lines[frame > 0] > 0).mean() > 0.9
    assert not lines[40:140, 50:225].any()  # the 0, the 1 and the dash are left
    no_frame = faint.copy()
    no_frame[frame > 0] = 0
    assert not find_printed_lines(no_frame, no_frame)[0].any()


def test_a_bar_touching_both_sides_of_its_box_halfway_up_stays_a_stroke():
    """A 7 whose bar reaches from one side of its box to the other meets both sides at corners, as the box's
    top does; but a box's top meets its sides at their ends, and the bar meets them halfway up."""
    mask = np.zeros((160, 440), np.uint8)
    for x in range(40, 400, 90):
        cv2.rectangle(mask, (x, 20), (x + 90, 130), 255, 2)
    for x in (85, 265, 355):
        cv2.ellipse(mask, (x, 75), (20, 30), 0, 0, 360, 255, 8)  # a 0 in the other boxes
    cv2.line(mask, (132, 60), (218, 60), 255, 4)  # the 7's bar, from side to side
    cv2.line(mask, (212, 62), (170, 118), 255, 6)  # ... and its stem
    lines = printed_lines(mask)
    assert lines[130, 175] and lines[20, 175] and lines[75, 130]  # the boxes are found
    assert not lines[60, 140:210].any()
    count, _ = cv2.connectedComponents(remove_lines(mask, lines))
    assert count == 1 + 4  # the three 0s and the whole 7


def test_boxes_as_thick_and_as_tall_as_the_handwriting_are_found():
    mask = np.zeros((200, 600), np.uint8)
    for k in range(6):
        x = 30 + k * 90
        cv2.rectangle(mask, (x, 50), (x + 70, 150), 255, 5)  # borders as thick as the writing
        cv2.ellipse(mask, (x + 40, 103), (28, 50), 0, 180, 300, 255, 5)  # a 6 as tall as its box: its top hook
        cv2.ellipse(mask, (x + 35, 120), (18, 22), 0, 0, 360, 255, 5)  # ... and its loop, on the bottom
    lines = printed_lines(mask)
    for k in range(6):
        assert lines[50, 36 + k * 90:95 + k * 90].all() and lines[100, 30 + k * 90] and lines[100, 100 + k * 90]
    assert not lines[100, 47:53].any()  # the 6's loop stays


def test_box_tops_and_bottoms_buried_by_digits_are_completed():
    """samples/form_thick_boxes_60846.png: borders as thick as the writing, digits touching them; before the
    eighteenth pass the boxes were taken for strokes (five box-sized 0s), then three tops stayed on their digits."""
    seg = segment_at_working_scale(cv2.imread(str(SAMPLES / "form_thick_boxes_60846.png")))
    boxes = [seg.image_box(b) for b in seg.boxes]
    assert len(boxes) == 5
    assert all(h <= 50 and y >= 33 for _, y, _, h in boxes)  # the printed boxes are 65 px tall, their tops at y=28


def test_a_bar_lying_along_its_box_top_is_not_taken_for_the_top():
    mask = np.zeros((200, 600), np.uint8)
    for k in range(6):
        cv2.rectangle(mask, (30 + k * 90, 50), (100 + k * 90, 150), 255, 5)
        if k != 2:
            cv2.ellipse(mask, (65 + k * 90, 101), (24, 47), 0, 0, 360, 255, 5)
    cv2.line(mask, (216, 55), (272, 55), 255, 9)  # the third box's 7: its bar written along the box's top
    cv2.line(mask, (272, 55), (236, 146), 255, 5)  # ... and its stem
    lines = printed_lines(mask)
    assert lines[50, 40:90].all() and lines[50, 400:450].all()  # the other boxes' tops are found
    assert not lines[50, 225:265].any()  # the top carrying the bar is left to the digit


def test_a_run_of_comb_ticks_that_digits_lean_on_is_followed_tick_by_tick():
    mask = np.zeros((200, 740), np.uint8)
    cv2.rectangle(mask, (20, 40), (720, 160), 255, 3)
    for x in range(120, 720, 100):
        cv2.line(mask, (x, 115), (x, 160), 255, 3)  # comb ticks
    for x in range(70, 720, 100):
        cv2.ellipse(mask, (x, 100), (26, 42), 0, 0, 360, 255, 7)  # 0s in the cells
    for x in (120, 220, 320):
        cv2.line(mask, (x - 5, 110), (x - 5, 150), 255, 8)  # strokes leaning on the first three ticks
    lines = printed_lines(mask)
    assert all(lines[140, x] for x in range(120, 720, 100))  # two and three spacings from a free tick, too
    assert not lines[100, 70 - 26].any()  # a 0's side stays


def _light_boxes(boxes: bool) -> np.ndarray:
    """Four separate boxes, narrower than they are tall, each with a digit: a 4 whose arms touch the box's top,
    a 1, a 0 and a 7. ``boxes`` False: the digits alone (the strong mask of boxes printed in a light colour)."""
    mask = np.zeros((170, 420), np.uint8)
    if boxes:
        for x in range(30, 390, 90):
            cv2.rectangle(mask, (x, 30), (x + 70, 135), 255, 1)
    cv2.line(mask, (48, 31), (48, 95), 255, 6)  # the 4: its arms reach the box's top
    cv2.line(mask, (48, 95), (92, 95), 255, 6)
    cv2.line(mask, (82, 31), (82, 118), 255, 6)
    cv2.line(mask, (155, 45), (155, 122), 255, 6)  # the 1
    cv2.ellipse(mask, (245, 84), (20, 36), 0, 0, 360, 255, 6)  # the 0
    cv2.line(mask, (310, 48), (345, 48), 255, 6)  # the 7
    cv2.line(mask, (345, 48), (325, 122), 255, 6)
    return mask


def test_light_separate_boxes_are_found_in_faint_ink():
    """Boxes printed in a light colour are missing from the strong mask and, each narrower than it is tall, make
    no frame round an amount. Each is a closed box as tall as the writing: found, while the digits' straight
    strokes (the 4's arms touching the top, the 1, the 7's bar) are left."""
    from digitreader.formlines import find_printed_lines

    strong, faint = _light_boxes(boxes=False), _light_boxes(boxes=True)
    assert not printed_lines(strong).any()
    lines, tilt = find_printed_lines(strong, faint)
    boxes = cv2.subtract(faint, cv2.dilate(strong, np.ones((3, 3), np.uint8)))
    assert tilt == 0.0 and (lines[boxes > 0] > 0).mean() > 0.9
    assert not lines[40:125, 40:400][strong[40:125, 40:400] > 0].any()
    assert not find_printed_lines(strong, strong)[0].any()


def test_a_light_rule_is_found_and_a_base_lying_along_it_stays():
    """A rule printed in a light colour, three writing heights long, is found in faint ink. The 2's base lies on it;
    the rule's structure is the pixel row it fills, so the base is not taken for part of the line and keeps
    its upper part when the rule is removed."""
    from digitreader.formlines import find_printed_lines

    strong = np.zeros((170, 420), np.uint8)
    cv2.ellipse(strong, (85, 70), (25, 22), 0, 180, 360, 255, 6)  # the 2: its top, diagonal and base
    cv2.line(strong, (108, 72), (62, 118), 255, 6)
    cv2.line(strong, (62, 118), (112, 118), 255, 5)
    cv2.line(strong, (180, 50), (180, 119), 255, 6)  # a 1 standing on the rule
    cv2.ellipse(strong, (260, 85), (22, 34), 0, 0, 360, 255, 6)  # a 0 above it
    faint = strong.copy()
    faint[121, 5:415] = 255
    lines, _ = find_printed_lines(strong, faint)
    assert (lines[121, 5:415] > 0).mean() > 0.9
    assert not lines[:121].any()
    cleaned = remove_lines(strong, lines)
    assert cleaned[113:119, 65:110].any(axis=0).mean() > 0.9


def test_light_boxes_on_a_sample_are_found_and_removed():
    """samples/form_light_boxes_65348158.png: light grey boxes, left as dashes by the strong threshold; before
    the nineteenth pass no line was found and a dash of a box's top joined the 4 (read 9)."""
    seg = segment_at_working_scale(cv2.imread(str(SAMPLES / "form_light_boxes_65348158.png")))
    assert seg.printed and len(seg.boxes) == 8
    four = seg.image_box(seg.boxes[3])
    assert four[1] >= 46 and four[3] <= 80  # the 4 alone: no dash of the box's top (y=43), no speck under it


def test_the_straight_sides_of_a_narrow_0_on_its_box_bottom_are_no_comb_ticks():
    """Seed-5 form page 134: an 8's two straight sides, standing on its box's bottom and as tall as each other,
    were taken for a pair of comb ticks and removed (read 9). Ticks are a cell apart, a digit's sides are not."""
    mask = np.zeros((200, 600), np.uint8)
    for k in range(5):
        cv2.rectangle(mask, (30 + k * 110, 40), (120 + k * 110, 150), 255, 5)
    cx = 75 + 2 * 110  # a narrow 0 in the third box: two straight sides 20 px apart, down to the box's bottom
    cv2.line(mask, (cx - 10, 75), (cx - 10, 147), 255, 5)
    cv2.line(mask, (cx + 10, 75), (cx + 10, 147), 255, 5)
    cv2.ellipse(mask, (cx, 75), (10, 14), 0, 180, 360, 255, 5)
    lines = printed_lines(mask)
    assert lines[40, 40:110].all() and lines[100, 30] and lines[100, 120 + 4 * 110]  # the boxes are found
    assert not lines[100, cx - 12:cx + 13].any()  # the 0's sides stay


def _boxes_on_a_rule(comb: bool) -> np.ndarray:
    """Five cells whose bottom a blurred scan joined to the rule just under it: one band twice as thick."""
    mask = np.zeros((200, 640), np.uint8)
    if comb:  # its end cells wider than the others: no side is where the ticks' spacing puts one
        cv2.rectangle(mask, (10, 40), (600, 150), 255, 5)
        for x in range(140, 580, 110):
            cv2.line(mask, (x, 100), (x, 150), 255, 5)
    else:
        for k in range(5):
            cv2.rectangle(mask, (30 + k * 110, 40), (120 + k * 110, 150), 255, 5)
    mask[150:160, 5:635] = 255  # the boxes' bottom and the rule, joined
    for k in range(5):
        cv2.ellipse(mask, (85 + k * 110, 110), (16, 36), 0, 0, 360, 255, 6)  # 0s resting on the bottom
    return mask


def test_box_bottoms_joined_to_a_rule_are_removed_as_one_band():
    """Seed-5 form page 73 (`5828` read `5822`): the band was too thick for a line, so the boxes' bottoms
    stayed and joined the digits that touch them. In a comb, its end cells lie between a tick and the frame."""
    for comb in (False, True):
        lines = printed_lines(_boxes_on_a_rule(comb))
        for k in range(5):
            assert lines[148:160, 50 + k * 110:70 + k * 110].all(), (comb, k)



def _ticks_on_a_rule(xs: list[int]) -> tuple[list[Piece], list[bool]]:
    """Pieces: an accepted rule (a comb's bottom) and verticals standing on it that digits lean on (not free)."""
    rule = Piece(True, 20, 157, 720, 5, 5.0, np.ones((5, 720), bool), True)
    ticks = [Piece(False, x - 2, 110, 5, 50, 5.0, np.ones((50, 5), bool), False) for x in xs]
    return [rule] + ticks, [True] + [False] * len(ticks)


def test_evenly_spaced_comb_ticks_that_digits_lean_on_are_found():
    """Tuning form page 103: five of six ticks touched thick digits, so none of them was free, and they stayed
    on the digits (read 8541428 for 0541028)."""
    pieces, accepted = _ticks_on_a_rule([120, 220, 320, 520, 620])  # one tick lost under a digit: two cells
    assert _evenly_spaced_ticks(pieces, accepted, loose=6.0, ref=80.0) == [1, 2, 3, 4, 5]
    pieces, accepted = _ticks_on_a_rule([120, 220, 290, 420, 530])  # straight strokes on a rule, not a comb
    assert _evenly_spaced_ticks(pieces, accepted, loose=6.0, ref=80.0) == []
    pieces, accepted = _ticks_on_a_rule([120, 140, 160])  # closer together than a cell is wide
    assert _evenly_spaced_ticks(pieces, accepted, loose=6.0, ref=80.0) == []
    pieces, accepted = _ticks_on_a_rule([120, 220, 320])
    assert _evenly_spaced_ticks(pieces, [False] * len(pieces), loose=6.0, ref=80.0) == []  # standing on no line


def test_a_box_top_that_a_4_reaches_up_to_is_still_its_top():
    """Seed-2 form page 138 (`32341` read `32371`): the 4's arm and stem touch its box's top; they thicken the
    top where they meet it, but they go on down, unlike a bar lying along it, so the top is a line."""
    mask = np.zeros((200, 600), np.uint8)
    for k in range(6):
        cv2.rectangle(mask, (30 + k * 90, 50), (100 + k * 90, 150), 255, 3)
        if k != 2:
            cv2.ellipse(mask, (65 + k * 90, 101), (22, 45), 0, 0, 360, 255, 5)
    cv2.line(mask, (228, 52), (214, 112), 255, 11)  # the third box's 4: its arm, from the top
    cv2.line(mask, (216, 112), (272, 112), 255, 7)  # ... its bar
    cv2.line(mask, (260, 52), (254, 146), 255, 11)  # ... and its stem, from the top too
    lines = printed_lines(mask)
    assert lines[50, 215:275].all()


def _zeros_in_boxes(stroke: int = 4, width: int = 30, n: int = 3, cell: int = 70) -> np.ndarray:
    """A row of ``n`` boxes with a drawn 0 in each; the last 0's right side lies along the frame's right side."""
    page = np.full((cell + 80, n * cell + 80), 235, np.uint8)
    x0, y0 = 40, 40
    for i in range(n):
        cx = x0 + i * cell + cell // 2 if i < n - 1 else x0 + n * cell - width // 2
        cv2.ellipse(page, (cx, y0 + cell // 2), (width // 2, 28), 0, 0, 360, 30, stroke, cv2.LINE_AA)
    for i in range(1, n):
        cv2.line(page, (x0 + i * cell, y0), (x0 + i * cell, y0 + cell), 60, 3)
    cv2.rectangle(page, (x0, y0), (x0 + n * cell, y0 + cell), 60, 3)
    return page


def test_a_zeros_side_lying_along_the_frame_is_given_back():
    """Removing the frame's right side took the last 0's right side with it: it was read 6. The reader gives
    the 0 back the side's stretch between the ends of its arc, because the 0 is then read far more surely."""
    from digitreader.reader import DigitReader
    from digitreader.repairs import restored_boxes

    page = _zeros_in_boxes()
    seg = segment_at_working_scale(page)
    assert len(seg.boxes) == 3
    restored = {k for k, _, _ in restored_boxes(seg)}
    assert 2 in restored
    result = DigitReader().read(page)
    assert result.lines == ["000"]
    assert result.digits[2].confidence > 0.99


def test_a_zero_on_a_rule_is_given_its_bottom_when_the_verifier_then_takes_it_whole():
    """samples/form_zero_on_rule_6090_433446.png (seed-1 form page 46): removing the rule took the 0's bottom with
    it. The arch left is still read 0, so giving the bottom back changed no reading and was not done; but the
    verifier took the arch for part of a digit and the splitter cut it into 1 1 (61190). Given back when the
    verifier then takes it for a whole digit."""
    from digitreader import repairs
    from digitreader.reader import DigitReader

    image = cv2.imread(str(SAMPLES / "form_zero_on_rule_6090_433446.png"), cv2.IMREAD_UNCHANGED)
    reader = DigitReader()
    boxes = {}
    for verify in (None, reader._verify):
        seg = segment_at_working_scale(image)
        probs = reader._classify([seg.crops()])
        zero = min(range(len(seg.boxes)), key=lambda k: abs(seg.image_box(seg.boxes[k])[0] - 82))
        before = seg.boxes[zero]
        probs = repairs.restore_strokes_along_lines(reader._classify, [seg], probs, verify)[0]
        boxes[verify is None] = (before, seg.boxes[zero], int(probs[zero].argmax()))
    (before, unverified, _), (_, verified, digit) = boxes[True], boxes[False]
    assert unverified == before  # read 0 either way: nothing given back without the verifier's view
    assert digit == 0 and verified[3] > before[3]  # the bottom given back: the box reaches down to it
    assert reader.read(image).lines == ["6090", "433446"]


def _vertical(x: int, y: int, h: int, thickness: int) -> Piece:
    return Piece(False, x, y, thickness, h, float(thickness), np.ones((h, thickness), bool), False)


def test_digit_stems_standing_on_a_rule_are_no_row_of_box_sides():
    """Three straight strokes as thick as the handwriting (a printed 4's stem and an 8's two sides) run from the
    top of the writing on into the rule under it: with the rule's rows they are taller than the writing, and they
    start and end together, as a row of box sides does. With OpenCV 5.1's text rendering the 8's second side
    became straight enough to be a third such piece, and the three were removed as box sides (`48` on a rule read
    `4.` and fragments). Without the rule's rows they are no taller than the writing: no sides."""
    stroke, ref = 8.35, 40.0
    rule = Piece(True, 4, 79, 292, 10, 7.0, np.ones((10, 292), bool), True)
    stems = [_vertical(x, 42, 48, 9) for x in (72, 123, 146)]
    assert _aligned_sides([rule, *stems], stroke, ref) == [False] * 4
    sides = [_vertical(x, 20, 62, 9) for x in (60, 120, 180)]  # box sides 1.5 writing heights tall, on the rule too
    assert _aligned_sides([rule, *sides], stroke, ref) == [False, True, True, True]


def test_a_straight_1_on_a_clean_page_is_no_printed_line():
    """samples/clean_straight_one_132.png (seed-4 clean page 61): taking the straight runs out of the writing to
    measure it without printed lines cut the 3 and the 2 into pieces, so the writing looked 27 px tall instead of
    61, and the straight 1, "more than 1.5 writing heights long", was removed as a printed line (read 32). A run
    that is a component of its own and no longer than the writing as first measured is a straight digit, and does
    not make the runs a printed structure."""
    image = cv2.imread(str(SAMPLES / "clean_straight_one_132.png"), cv2.IMREAD_UNCHANGED)
    seg = segment(image)
    assert not seg.printed and len(seg.boxes) == 3


@pytest.mark.parametrize("degrees", [10.0, -8.0, 4.0])
def test_thick_boxes_narrower_than_tall_turned_by_a_scan_give_their_tilt(degrees):
    """Separate boxes drawn 4 px thick (as thick as the writing: no thin strokes), narrower than tall, no rule: their
    tops are shorter than 0.7 of their height, and Hough finds a thick line only in pieces, so no tilt was found and
    the boxes were read as 0s and 8s. Their sides and tops from half their height long give it."""
    page = np.full((260, 460), 225, np.uint8)
    for x in range(70, 70 + 4 * 82, 82):
        cv2.rectangle(page, (x, 80), (x + 62, 172), 60, 4, cv2.LINE_AA)
        cv2.line(page, (x + 35, 92), (x + 22, 168), 40, 6, cv2.LINE_AA)  # a 7 touching its box's bottom
        cv2.line(page, (x + 12, 95), (x + 40, 92), 40, 6, cv2.LINE_AA)
    h, w = page.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    turned = cv2.warpAffine(page, turn, (w, h), flags=cv2.INTER_LINEAR, borderValue=225)
    assert abs(segment(turned).tilt + degrees) < 0.1
    assert segment(page).tilt == 0.0


def test_handwritten_stems_slanted_alike_are_no_tilt_of_printed_lines():
    """Seven 1s slanted alike: their stems agree on a tilt as a row of box sides would, but no printed line is found
    on the page turned by it, so the page is not levelled (and a level frame would still be looked for)."""
    from digitreader.inkmeasure import digit_height
    from digitreader.segment import ink_intensity, ink_levels
    from digitreader.skew import box_row_tilt

    page = np.full((200, 520), 230, np.uint8)
    for x in range(70, 70 + 7 * 60, 60):
        cv2.line(page, (x + 14, 60), (x, 140), 40, 6, cv2.LINE_AA)
    weak = ink_levels(ink_intensity(page, "dark"))[1]
    assert abs(box_row_tilt(weak, digit_height(weak), sides=True, ratio=0.5)) > 5  # the stems agree
    seg = segment(page)
    assert seg.tilt == 0.0 and not seg.printed and len(seg.boxes) == 7


def test_box_like_holes_are_boxes_insides_not_zeros_loops():
    """The cheap test before looking for thick turned boxes: two holes or more filling most of their turned
    rectangle. Written 0s (ellipses, however large) have none; boxes turned 10 degrees with a 7 touching each
    box's inside do."""
    from digitreader.formlines import _box_like_holes

    zeros = np.zeros((200, 600), np.uint8)
    for x in range(60, 560, 100):
        cv2.ellipse(zeros, (x, 100), (30, 60), 0, 0, 360, 255, 6)
    assert not _box_like_holes(zeros, 120.0)
    boxes = np.zeros((260, 460), np.uint8)
    for x in range(70, 70 + 4 * 82, 82):
        cv2.rectangle(boxes, (x, 80), (x + 62, 172), 255, 4)
        cv2.line(boxes, (x + 35, 92), (x + 22, 172), 255, 6)
    turn = cv2.getRotationMatrix2D((230, 130), 10.0, 1.0)
    turned = cv2.warpAffine(boxes, turn, (460, 260), flags=cv2.INTER_NEAREST)
    assert _box_like_holes(boxes, 92.0) and _box_like_holes(turned, 92.0)
    assert not _box_like_holes(turned, 250.0)  # holes too small for boxes round digits this tall
