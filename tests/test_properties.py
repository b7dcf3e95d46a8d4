"""Property-based tests (hypothesis) of segmentation, normalisation and reading order (issue 7).

Any uint8 image from 1x1 to 2000x2000, grey or 3/4 channels: ``segment`` and the crop normalisation
never raise, every box lies inside the image, every crop is a 28x28 float32 in [0, 1], and the
reading order is a total order that does not depend on the order the boxes come in.

Images are drawn cheaply: a size, a channel count, a seed and a kind of content (flat, noise, shapes,
digits, dots, stripes) rendered with NumPy/OpenCV; never pixel by pixel. The default profile is quick
(``HYPOTHESIS_PROFILE=thorough`` runs many more examples).
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from digitreader import segment as segmentation
from digitreader.normalise import crops_for_boxes, normalise_crop
from digitreader.segment import segment

settings.register_profile("default-digitreader", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = "thorough" if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else "default-digitreader"
KINDS = ("flat", "noise", "shapes", "digits", "dots", "stripes")


def render(height: int, width: int, channels: int | None, kind: str, seed: int) -> np.ndarray:
    """A uint8 image of the given size and kind, fully determined by ``seed``."""
    rng = np.random.default_rng(seed)
    paper, ink = (int(v) for v in rng.integers(0, 256, 2))
    image = np.full((height, width), paper, np.uint8)
    if kind == "noise":
        lo, hi = sorted(int(v) for v in rng.integers(0, 256, 2))
        image = rng.integers(lo, hi + 1, (height, width), dtype=np.uint8)
    elif kind == "shapes":
        for _ in range(int(rng.integers(1, 12))):
            p, q = (tuple(int(v) for v in rng.integers(-20, max(width, height) + 20, 2)) for _ in range(2))
            thickness = int(rng.integers(1, 30))
            colour = int(rng.integers(0, 256))
            match int(rng.integers(0, 3)):
                case 0:
                    cv2.line(image, p, q, colour, thickness)
                case 1:
                    cv2.rectangle(image, p, q, colour, int(rng.choice([thickness, -1])))
                case _:
                    cv2.circle(image, p, int(rng.integers(1, 200)), colour, thickness)
    elif kind == "digits":
        for _ in range(int(rng.integers(1, 6))):
            text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 8))))
            org = (int(rng.integers(-10, width)), int(rng.integers(0, height + 10)))
            cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.2, 8)), ink,
                        int(rng.integers(1, 15)), cv2.LINE_AA)
    elif kind == "dots":  # halftone-like: thousands of tiny components
        step = int(rng.integers(2, 12))
        image[::step, ::step] = ink
        if rng.random() < 0.5:
            image = cv2.erode(image, np.ones((2, 2), np.uint8)) if ink < paper else cv2.dilate(image, np.ones((2, 2),
                                                                                                               np.uint8))
    elif kind == "stripes":
        step = int(rng.integers(2, 40))
        axis = int(rng.integers(0, 2))
        index = (slice(None, None, step), slice(None)) if axis == 0 else (slice(None), slice(None, None, step))
        image[index] = ink
    if channels is None:
        return image
    colour = np.dstack([image] * 3)
    colour = np.clip(colour.astype(np.int16) + rng.integers(-20, 21, 3, dtype=np.int16), 0, 255).astype(np.uint8)
    if channels == 4:
        alpha = np.full((height, width), 255, np.uint8) if rng.random() < 0.5 else \
            rng.integers(0, 256, (height, width), dtype=np.uint8)
        colour = np.dstack([colour, alpha])
    return colour


SIDES = {"one": (1, 1), "tiny": (2, 48), "small": (49, 400), "page": (401, 1600), "big": (1601, 2000),
         "max": (2000, 2000)}


@st.composite
def images(draw: st.DrawFn) -> np.ndarray:
    """Sizes by class, then uniform inside the class from a seed (hypothesis alone favours tiny sizes)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    height, width = (int(rng.integers(lo, hi + 1)) for lo, hi in (SIDES[draw(st.sampled_from(list(SIDES)))]
                                                                   for _ in range(2)))
    return render(height, width, draw(st.sampled_from([None, 3, 4])), draw(st.sampled_from(KINDS)), seed)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # a numpy warning would reach the CLI user's stderr
@settings(settings.get_profile(PROFILE))
@given(image=images(), polarity=st.sampled_from(["auto", "dark", "light"]))
def test_segment_and_crops_never_fail(image: np.ndarray, polarity: str) -> None:
    height, width = image.shape[:2]
    seg = segment(image, polarity)
    assert seg.polarity in ("dark", "light")
    assert seg.ink.shape == (height, width) and seg.ink.dtype == np.float32
    assert np.isfinite(seg.ink).all() and seg.ink.min() >= 0 and seg.ink.max() <= 1
    assert len(seg.lines) == len(seg.boxes) == len(seg.members)
    for x, y, w, h in seg.boxes:
        assert w >= 1 and h >= 1 and 0 <= x and 0 <= y and x + w <= width and y + h <= height
    assert all(ids for ids in seg.members)
    assert_reading_order([(box, line) for box, line in zip(seg.boxes, seg.lines)])
    crops = crops_for_boxes(seg.ink, seg.labels, seg.boxes, seg.members, seg.masks)
    assert crops.shape == (len(seg.boxes), 28, 28) and crops.dtype == np.float32
    assert np.isfinite(crops).all() and crops.min(initial=0) >= 0 and crops.max(initial=0) <= 1


def assert_reading_order(items: list[tuple[tuple[int, int, int, int], int]]) -> None:
    """Rows are numbered from 0 in order and, within a row, boxes run left to right."""
    lines = [line for _, line in items]
    assert lines == sorted(lines) and (not lines or (lines[0] == 0 and set(lines) == set(range(lines[-1] + 1))))
    for (a, line_a), (b, line_b) in zip(items, items[1:]):
        if line_a == line_b:
            assert a[0] <= b[0]


@settings(settings.get_profile(PROFILE))
@given(ink=arrays(np.float32, st.tuples(st.integers(0, 80), st.integers(0, 80)),
                  elements=st.floats(0, 1, width=32)),
       match_stroke=st.booleans())
def test_normalise_crop_is_always_a_28x28_unit_image(ink: np.ndarray, match_stroke: bool) -> None:
    crop = normalise_crop(ink, match_stroke=match_stroke)
    assert crop.shape == (28, 28) and crop.dtype == np.float32
    assert np.isfinite(crop).all() and crop.min() >= 0 and crop.max() <= 1


@settings(settings.get_profile(PROFILE))
@given(height=st.integers(1, 2000), width=st.integers(1, 2000), seed=st.integers(0, 2**32 - 1))
def test_normalise_crop_of_any_size_and_shape(height: int, width: int, seed: int) -> None:
    """Very thin, very wide, huge and 1-pixel crops (drawn from a seed: cheap at any size)."""
    rng = np.random.default_rng(seed)
    ink = np.zeros((height, width), np.float32)
    ink[rng.random((height, width)) < rng.uniform(0, 0.3)] = rng.uniform(0, 1)
    crop = normalise_crop(ink)
    assert crop.shape == (28, 28) and np.isfinite(crop).all() and 0 <= crop.min() and crop.max() <= 1


box = st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(1, 30), st.integers(1, 30))


@settings(settings.get_profile(PROFILE), max_examples=5 * settings.get_profile(PROFILE).max_examples)
@given(boxes=st.lists(box, max_size=25), data=st.data())
def test_reading_order_is_a_total_order(boxes: list[tuple[int, int, int, int]], data: st.DataObject) -> None:
    """The same boxes in any input order give the same rows in the same order (small coordinates make
    ties, shared rows and overlaps common)."""
    groups = [(b, [i + 1]) for i, b in enumerate(boxes)]
    shuffled = data.draw(st.permutations(groups))
    order = segmentation._reading_order(groups)
    assert [[ids for _, ids in row] for row in order] == \
        [[ids for _, ids in row] for row in segmentation._reading_order(shuffled)]
    flat = [g for row in order for g in row]
    assert sorted(ids[0] for _, ids in flat) == list(range(1, len(boxes) + 1))  # a partition of the input
    assert_reading_order([(b, n) for n, row in enumerate(order) for b, _ in row])


@settings(settings.get_profile(PROFILE), max_examples=max(10, settings.get_profile(PROFILE).max_examples // 3))
@given(image=images())
def test_segment_is_deterministic(image: np.ndarray) -> None:
    first, second = segment(image), segment(image.copy())
    assert first.boxes == second.boxes and first.lines == second.lines and first.members == second.members
