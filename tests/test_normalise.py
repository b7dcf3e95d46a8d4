import cv2
import numpy as np
import pytest

from digitreader.normalise import MNIST_STROKE, digit_image_to_mnist, normalise_crop


def _centre_of_mass(img):
    m = cv2.moments(img)
    return m["m10"] / m["m00"], m["m01"] / m["m00"]


def _ring(h, w, thickness):
    ink = np.zeros((h + 20, w + 20), np.float32)
    cv2.ellipse(ink, ((w + 20) // 2, (h + 20) // 2), (w // 2, h // 2), 0, 0, 360, 1.0, thickness)
    return ink


def test_output_is_28x28_float_in_unit_range():
    out = normalise_crop(_ring(120, 60, 10))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0 and out.max() > 0.9


def test_larger_side_fits_20px_and_aspect_kept():
    out = normalise_crop(_ring(200, 100, 16))
    ys, xs = np.nonzero(out > 0.1)
    height, width = np.ptp(ys) + 1, np.ptp(xs) + 1
    assert 19 <= height <= 21
    assert 8 <= width <= 13


def test_centre_of_mass_is_centred():
    ink = np.zeros((100, 100), np.float32)
    cv2.line(ink, (20, 10), (20, 90), 1.0, 8)
    cv2.line(ink, (20, 90), (70, 90), 1.0, 8)
    cv2.line(ink, (20, 10), (45, 10), 1.0, 8)  # mass off the centre of its bounding box
    cx, cy = _centre_of_mass(normalise_crop(ink))
    assert abs(cx - 14) <= 1.0 and abs(cy - 14) <= 1.0


def test_thin_pen_strokes_are_thickened_to_mnist_width():
    thin = normalise_crop(_ring(300, 180, 3))
    binary = (thin > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    width = 2 * binary.sum() / sum(cv2.arcLength(c, True) for c in contours)
    assert width == pytest.approx(MNIST_STROKE, rel=0.5)
    plain = normalise_crop(_ring(300, 180, 3), match_stroke=False)
    assert (thin > 0.5).sum() > 1.5 * (plain > 0.5).sum()


def test_empty_crop_gives_black_image():
    assert not normalise_crop(np.zeros((30, 30), np.float32)).any()
    assert not normalise_crop(np.zeros((0, 0), np.float32)).any()


def test_mnist_digits_are_a_fixed_point(mnist_path):
    data = np.load(mnist_path)
    x = data["x_test"][:200].astype(np.float32) / 255
    diffs = [np.abs(normalise_crop(img, match_stroke=False) - img).mean() for img in x]
    # re-normalising an MNIST digit must give (nearly) the same picture
    assert np.median(diffs) < 0.03


def test_photo_of_one_digit_dark_on_light():
    img = np.full((90, 70), 230, np.uint8)
    cv2.line(img, (35, 10), (35, 80), 30, 8)
    out = digit_image_to_mnist(img)
    assert out.max() > 0.9 and out[14, 14] > 0.5 and out[2, 2] == 0


def test_strong_slant_is_reduced_to_mnists_range():
    import cv2

    from digitreader.normalise import SLANT_RANGE, _limit_slant

    upright = np.zeros((80, 60), np.float32)
    cv2.line(upright, (30, 5), (30, 75), 1.0, 8)
    slanted = np.zeros((80, 100), np.float32)
    cv2.line(slanted, (70, 5), (25, 75), 1.0, 8)  # leaning right by about 33 degrees

    def slant(img):
        m = cv2.moments(img)
        return m["mu11"] / m["mu02"]

    assert slant(slanted) < SLANT_RANGE[0] - 0.1
    assert abs(slant(_limit_slant(slanted)) - SLANT_RANGE[0]) < 0.08
    assert _limit_slant(upright).shape == upright.shape  # within MNIST's range: untouched


def _nine_with_a_faint_loop(line: bool = False):
    """(ink, labels): a 9's strong stem and top (labelled), the left of its loop too faint to binarise (0.25,
    unlabelled), and optionally a thin faint printed line across the whole window."""
    ink = np.zeros((120, 120), np.float32)
    cv2.line(ink, (80, 20), (80, 100), 0.9, 8)
    cv2.line(ink, (40, 20), (80, 20), 0.9, 8)
    labels = (ink > 0).astype(np.int32)
    cv2.ellipse(ink, (60, 38), (22, 18), 0, 90, 270, 0.25, 5)  # the loop's left half, from the top to the stem
    if line:
        ink[92:94, :] = np.maximum(ink[92:94, :], 0.25)
    return ink, labels


def test_faint_stroke_parts_connected_to_a_digit_are_kept():
    from digitreader.normalise import crops_for_boxes

    ink, labels = _nine_with_a_faint_loop()
    box = [(30, 10, 60, 95)]
    with_faint = crops_for_boxes(ink, labels, box, [[1]], faint=True)[0]
    without = crops_for_boxes(ink, labels, box, [[1]], faint=False)[0]
    left_middle = (slice(9, 16), slice(3, 11))  # where the loop's left side lands in the 28x28 crop
    assert with_faint[left_middle].sum() > 3 * max(without[left_middle].sum(), 0.1)


def test_a_thin_straight_line_is_not_taken_for_a_faint_stroke():
    from digitreader.normalise import _faint_strokes

    ink, labels = _nine_with_a_faint_loop(line=True)
    own = cv2.dilate((labels > 0).astype(np.uint8), np.ones((7, 7), np.uint8))
    faint = _faint_strokes(ink, own, np.zeros_like(own))
    assert faint[38, 36:42].any()  # the loop's leftmost part
    assert not faint[92:94, :60].any() and not faint[92:94, 100:].any()  # the line, away from the stem


def test_no_faint_stroke_part_is_looked_for_where_it_is_blocked():
    """On a page with printed lines the reader blocks their rims; a faint part elsewhere is still kept."""
    from digitreader.normalise import crops_for_boxes

    ink, labels = _nine_with_a_faint_loop()
    box = [(30, 10, 60, 95)]
    left_middle = (slice(9, 16), slice(3, 11))
    without = crops_for_boxes(ink, labels, box, [[1]], faint=False)[0]
    blocked = np.zeros(ink.shape, np.uint8)
    blocked[:, :50] = 1  # over the loop's left side
    np.testing.assert_array_equal(crops_for_boxes(ink, labels, box, [[1]], faint=True, blocked=blocked)[0], without)
    blocked[:] = 0
    blocked[100:, :] = 1  # below the digit
    kept = crops_for_boxes(ink, labels, box, [[1]], faint=True, blocked=blocked)[0]
    assert kept[left_middle].sum() > 3 * max(without[left_middle].sum(), 0.1)
