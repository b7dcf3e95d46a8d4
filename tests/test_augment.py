"""Training-time augmentation: neighbour fragments keep the label, merged digits train to 'not sure'."""

import cv2
import numpy as np

from digitreader.augment import (
    AugmentConfig,
    augment_with_targets,
    digit_fragments,
    merged_digits,
    pair_batch,
    verifier_batch,
    with_neighbour_fragment,
)


def _bar(x: int, width: int = 3) -> np.ndarray:
    """A 28x28 MNIST-like '1': a vertical bar, ink 255 on 0."""
    image = np.zeros((28, 28), np.uint8)
    image[4:24, x:x + width] = 255
    return image


def _ring() -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    cv2.ellipse(image, (14, 14), (7, 10), 0, 0, 360, 255, 2)
    return image


def _ink_width_height(image: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(image > 40)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_merged_digits_are_wide_crops_of_several_digits():
    rng = np.random.default_rng(0)
    crops = merged_digits(np.stack([_ring()] * 4), 20, rng)
    assert crops.shape == (20, 28, 28) and crops.dtype == np.uint8
    ring_w, ring_h = _ink_width_height(_ring())
    for crop in crops:
        w, h = _ink_width_height(crop)
        assert w == 20 and h < 20 * ring_h / ring_w  # normalised as one crop: the width is the larger side
        columns = (crop > 40).sum(axis=0)
        assert (columns[np.flatnonzero(columns)] > 0).all()  # touching or overlapping: no empty column


def test_a_neighbour_fragment_is_a_sliver_at_one_edge():
    rng = np.random.default_rng(1)
    sides = set()
    for _ in range(20):
        out = with_neighbour_fragment(_ring(), _bar(12, width=8), rng)
        w, h = _ink_width_height(out)
        assert h == 20 and w < 20  # still taller than wide: the ring with a sliver of the bar
        columns = np.flatnonzero((out > 40).any(axis=0))
        edge_left = out[:, columns[0]:columns[0] + 2]
        edge_right = out[:, columns[-1] - 1:columns[-1] + 1]
        # The bar's sliver is a solid run along the whole height of one edge; the ring touches its edges only briefly.
        sides.add("left" if (edge_left > 40).sum() > (edge_right > 40).sum() else "right")
    assert sides == {"left", "right"}


def test_targets_are_one_hot_for_digits_and_uniform_for_outliers():
    rng = np.random.default_rng(2)
    images = np.stack([_ring(), _bar(12)] * 10)
    labels = np.array([0, 1] * 10)
    out, targets = augment_with_targets(images, labels, rng, AugmentConfig(fragment_p=0.15, merged_fraction=0.2))
    assert out.shape == (24, 28, 28) and targets.shape == (24, 10)
    assert (targets[:20].argmax(axis=1) == labels).all() and (targets[:20].max(axis=1) == 1).all()
    assert np.allclose(targets[20:], 0.1)
    none, plain = augment_with_targets(images, labels, rng, AugmentConfig(merged_fraction=0.0, fragment_p=0.0))
    assert none.shape == (20, 28, 28) and plain.shape == (20, 10)


def test_digit_fragments_are_part_of_a_wide_digit():
    rng = np.random.default_rng(2)
    ring_w, ring_h = _ink_width_height(_ring())
    fragments = digit_fragments(np.stack([_ring(), _bar(12)]), 30, rng)
    assert fragments.shape == (30, 28, 28)
    for crop in fragments:
        w, h = _ink_width_height(crop)
        assert h == 20 and w / h < 0.8 * ring_w / ring_h  # a side of the ring, never the thin bar (too narrow)
    assert len(digit_fragments(np.stack([_bar(12)]), 5, rng)) == 0  # nothing wide enough to cut


def test_verifier_batch_pairs_whole_digits_with_as_many_merged_or_partial_ones():
    rng = np.random.default_rng(3)
    images = np.stack([_ring()] * 8)
    crops, targets = verifier_batch(images, rng, AugmentConfig(), fragment_fraction=0.25)
    assert crops.shape == (16, 28, 28) and targets.shape == (16, 2)
    assert (targets[:8, 1] == 1).all() and (targets[8:, 0] == 1).all()
    ring_aspect = np.divide(*_ink_width_height(_ring()))
    aspects = [np.divide(*_ink_width_height(c)) for c in crops[8:]]
    assert sum(a > 1.2 * ring_aspect for a in aspects) == 6  # merged rings: wider than one
    assert sum(a < 0.8 * ring_aspect for a in aspects) == 2  # halves of a ring: narrower


def test_pair_batch_adds_half_as_many_crops_that_are_not_two_digits():
    """Pairs are labelled 10 x left + right; the crops of one digit are class 100, of three 101, of four 102."""
    rng = np.random.default_rng(4)
    images = np.stack([_bar(12)] * 8 + [_ring()] * 8)
    labels = np.array([1] * 8 + [0] * 8)
    crops, targets = pair_batch(images, labels, rng, AugmentConfig(), other_fraction=0.5)
    assert crops.shape == (24, 28, 28) and targets.shape == (24, 103) and (targets.sum(axis=1) == 1).all()
    classes = targets.argmax(axis=1)
    assert set(classes[:16]) <= {0, 1, 10, 11} and (classes[16:20] == 100).all() and set(classes[20:]) <= {101, 102}
    rings = np.stack([_ring()] * 8)
    still = AugmentConfig(rotation_deg=0.0, zoom=0.0, aspect=0.0, shear=0.0, elastic_p=0.0)
    crops, targets = pair_batch(rings, np.zeros(8, int), np.random.default_rng(4), still, other_fraction=1.0)
    ring_aspect = np.divide(*_ink_width_height(_ring()))
    aspects = [np.divide(*_ink_width_height(c)) for c in crops]
    assert all(1.35 * ring_aspect < a < 2.3 * ring_aspect for a in aspects[:8])  # two rings, touching or overlapping
    classes = targets.argmax(axis=1)
    assert all(a < 1.4 * ring_aspect for a, c in zip(aspects, classes) if c == 100)  # one (some with a sliver)
    assert all(1.75 * ring_aspect < a < 2.7 * ring_aspect for a, c in zip(aspects, classes) if c == 101)  # three
    assert all(a > 2.1 * ring_aspect for a, c in zip(aspects, classes) if c == 102)  # four
    assert (classes[8:] == 100).sum() == 4 and len(set(classes[12:])) == 2
