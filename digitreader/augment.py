"""Training-time augmentation on uint8 MNIST batches, in NumPy/OpenCV (never inside the model).

Random affine (rotation, anisotropic zoom, shear, shift), elastic distortion, stroke
thickening/thinning and blur: the ways real handwriting and imperfect crops differ from MNIST.

Two more, opt-in (``CROP_AUGMENT``, ``digitreader train --crop-augment``), teach the classifier about
the crops a segmenter really makes. Measured (benchmarks/RESULTS.md): a CNN so trained reads more touching
digits but fewer clean ones, and its MNIST test accuracy falls (99.52 % against 99.67 %), so the shipped
models are trained without them:

- **Neighbour fragments**: a sliver of the next digit left at the crop's edge (a cut through touching
  digits is never perfect); the label stays the digit's own.
- **Merged digits** (outlier exposure, Hendrycks et al. 2019): two or three digits that touch or
  overlap, normalised as one crop the way the reader would, with the uniform distribution as target.
  A classifier trained so says "not sure" to a ``47`` blob instead of reading it as a confident ``4``,
  which is what lets recognition-guided splitting try the cuts. (Halves of digits as outliers were
  tried too: in a 4-epoch fine-tune MNIST test errors rose from 33 to 57, since half a digit is often a
  whole 1 or 7.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .architectures import PAIR_CLASSES, PAIR_FOUR, PAIR_ONE, PAIR_THREE
from .normalise import normalise_crop
from .runs import MAX_RUN, RUN_HEIGHT, RUN_WIDTH, normalise_run


@dataclass(frozen=True)
class AugmentConfig:
    rotation_deg: float = 12.0
    zoom: float = 0.12
    aspect: float = 0.10
    shear: float = 0.15
    shift_px: float = 2.5
    elastic_p: float = 0.3
    elastic_alpha: float = 6.0
    elastic_sigma: float = 4.0
    thicken_p: float = 0.12
    thin_p: float = 0.08
    blur_p: float = 0.08
    fragment_p: float = 0.0  # crop augmentation (``CROP_AUGMENT``, ``train --crop-augment``): off by default
    merged_fraction: float = 0.0
    merged_overlap: float = 0.5  # merged digits overlap by up to this x the narrower one's width

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def random_affine(rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """A 2x3 affine matrix about the image centre."""
    angle = np.deg2rad(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
    zoom = rng.uniform(1 - cfg.zoom, 1 + cfg.zoom)
    aspect = rng.uniform(1 - cfg.aspect, 1 + cfg.aspect)
    shear = rng.uniform(-cfg.shear, cfg.shear)
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[zoom * aspect, shear], [0.0, zoom / aspect]])
    centre = np.array([13.5, 13.5])
    shift = rng.uniform(-cfg.shift_px, cfg.shift_px, size=2)
    offset = centre - linear @ centre + shift
    return np.hstack([linear, offset[:, None]]).astype(np.float32)


def elastic(image: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """Simard-style elastic distortion of one 28x28 image."""
    h, w = image.shape
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma) * alpha
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma) * alpha
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


CROP_AUGMENT = AugmentConfig(fragment_p=0.15, merged_fraction=0.1)
VERIFIER_FRAGMENT_FRACTION = 0.3  # of the verifier's negatives: parts of digits; the rest are merged digits
VERIFIER_SLIVER_P = 0.3  # whole digits with a neighbour's sliver at an edge: still one digit
_KERNEL = np.ones((2, 2), np.uint8)


def augment_batch(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Return an augmented copy of a (N, 28, 28) uint8 batch."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        img = cv2.warpAffine(image, random_affine(rng, cfg), (28, 28), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if rng.random() < cfg.elastic_p:
            img = elastic(img, rng, cfg.elastic_alpha, cfg.elastic_sigma)
        roll = rng.random()
        if roll < cfg.thicken_p:
            img = cv2.dilate(img, _KERNEL)
        elif roll < cfg.thicken_p + cfg.thin_p:
            img = cv2.erode(img, _KERNEL)
        if rng.random() < cfg.blur_p:
            img = cv2.GaussianBlur(img, (3, 3), 0.7)
        out[i] = img
    return out


def _ink_columns(image: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero((image > 40).any(axis=0))
    return (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, image.shape[1])


def _side_by_side(parts: list[np.ndarray], gaps: list[int], lifts: list[int]) -> tuple[np.ndarray, list[int]]:
    """Paste 28x28 digits left to right, ``gaps[i]`` px between the ink of part i and i + 1 (negative:
    overlap), each raised by ``lifts[i]`` px; returns the canvas and each part's ink start column."""
    spans = [_ink_columns(p) for p in parts]
    widths = [b - a for a, b in spans]
    total = sum(widths) + sum(max(g, 0) for g in gaps) + 16
    pad = 8
    canvas = np.zeros((28 + 2 * pad, total + 2 * pad), np.uint8)
    x, starts = pad + 4, []
    for i, (part, (a, b)) in enumerate(zip(parts, spans)):
        top = pad - lifts[i]
        region = canvas[top:top + 28, x:x + (b - a)]
        np.maximum(region, part[:, a:b], out=region)
        starts.append(x)
        x += (b - a) + (gaps[i] if i < len(gaps) else 0)
    return canvas, starts


def _to_mnist(ink: np.ndarray) -> np.ndarray:
    return np.round(normalise_crop(ink.astype(np.float32) / 255.0, match_stroke=False, deslant=False)
                    * 255).astype(np.uint8)


def with_neighbour_fragment(image: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` re-normalised with a sliver of ``other`` (10-30 % of its width, at most 40 % of the
    digit's own) at its left or right."""
    gap = int(rng.integers(-2, 2))
    lift = int(rng.integers(-3, 4))
    left = rng.random() < 0.5
    parts, lifts = ([other, image], [lift, 0]) if left else ([image, other], [0, lift])
    canvas, starts = _side_by_side(parts, [gap], lifts)
    a, b = _ink_columns(image)
    oa, ob = _ink_columns(other)
    sliver = max(1, int(round(min(rng.uniform(0.1, 0.3) * (ob - oa), 0.4 * max(b - a, 8)))))
    own_start = starts[1] if left else starts[0]
    x0 = own_start - max(gap, 0) - sliver if left else own_start
    x1 = own_start + (b - a) if left else own_start + (b - a) + max(gap, 0) + sliver
    crop = canvas[:, max(0, x0):x1]
    return _to_mnist(crop)


def merged_digits(images: np.ndarray, count: int, rng: np.random.Generator, overlap: float = 0.5) -> np.ndarray:
    """``count`` crops of two or three touching or overlapping digits drawn from ``images``."""
    out = np.empty((count, 28, 28), np.uint8)
    for i in range(count):
        k = 3 if rng.random() < 0.2 else 2
        parts = [images[j] for j in rng.integers(0, len(images), k)]
        widths = [b - a for a, b in (_ink_columns(p) for p in parts)]
        gaps = [int(round(-rng.uniform(0.0, overlap) * min(widths[j], widths[j + 1]))) for j in range(k - 1)]
        lifts = [int(rng.integers(-3, 4)) for _ in range(k)]
        out[i] = _to_mnist(_side_by_side(parts, gaps, lifts)[0])
    return out


def digit_pairs(images: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator,
                overlap: float = 0.6, max_gap: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``count`` crops of two digits from ``images`` side by side, from ``max_gap`` px apart to overlapping
    by ``overlap`` x the narrower width, normalised as one crop; labels ``10 x left + right`` (0-99)."""
    out = np.empty((count, 28, 28), np.uint8)
    pair_labels = np.empty(count, np.int64)
    for i in range(count):
        a, b = rng.integers(0, len(images), 2)
        parts = [images[a], images[b]]
        narrower = min(e - s for s, e in (_ink_columns(p) for p in parts))
        gap = int(round(rng.uniform(-overlap * narrower, max_gap)))
        out[i] = _to_mnist(_side_by_side(parts, [gap], [int(rng.integers(-3, 4)), int(rng.integers(-3, 4))])[0])
        pair_labels[i] = 10 * int(labels[a]) + int(labels[b])
    return out, pair_labels


PAIR_OTHER_FRACTION = 0.5  # per pair in a training batch: this many crops of "not two digits" (classes 100-102)
PAIR_RUN_SIZES = (3, 4)  # the runs among them: three digits or four


def digit_runs(images: np.ndarray, count: int, rng: np.random.Generator, overlap: float = 0.6,
               max_gap: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``count`` crops of three or four digits from ``images`` side by side (``PAIR_RUN_SIZES``), each gap from
    ``max_gap`` px apart to an overlap of ``overlap`` x the narrower neighbour, normalised as one crop; and how
    many digits each holds."""
    out = np.empty((count, 28, 28), np.uint8)
    sizes = np.empty(count, np.int64)
    for i in range(count):
        k = sizes[i] = int(rng.choice(PAIR_RUN_SIZES))
        parts = [images[j] for j in rng.integers(0, len(images), k)]
        widths = [b - a for a, b in (_ink_columns(p) for p in parts)]
        gaps = [int(round(rng.uniform(-overlap * min(widths[j], widths[j + 1]), max_gap))) for j in range(k - 1)]
        out[i] = _to_mnist(_side_by_side(parts, gaps, [int(rng.integers(-3, 4)) for _ in range(k)])[0])
    return out, sizes


def not_pairs(images: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` crops that are not two digits, and their classes: half single digits (``PAIR_ONE``; 30 % of them
    with a neighbour's sliver at an edge, as a cut leaves it), half runs of three or four digits (``digit_runs``;
    ``PAIR_THREE``, ``PAIR_FOUR``)."""
    singles = images[rng.integers(0, len(images), count // 2)].copy()
    for i in range(len(singles)):
        if rng.random() < VERIFIER_SLIVER_P and len(images) > 1:
            singles[i] = with_neighbour_fragment(singles[i], images[rng.integers(len(images))], rng)
        else:
            singles[i] = _to_mnist(singles[i])
    runs, sizes = digit_runs(images, count - len(singles), rng)
    classes = np.concatenate([np.full(len(singles), PAIR_ONE), np.where(sizes == 3, PAIR_THREE, PAIR_FOUR)])
    return np.concatenate([singles, runs]), classes


def pair_batch(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
               cfg: AugmentConfig, other_fraction: float = PAIR_OTHER_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Training batch for the pair reader: as many pairs as ``images`` (classes 0-99, ``10 x left + right``),
    drawn from the augmented batch, plus ``other_fraction`` as many crops that are not two digits (classes
    ``PAIR_ONE``, ``PAIR_THREE``, ``PAIR_FOUR``: one digit, three, four). Returns (M, 28, 28) uint8 and
    (M, ``PAIR_CLASSES``) float32 one-hot targets."""
    augmented = augment_batch(images, rng, cfg)
    crops, pair_labels = digit_pairs(augmented, labels, len(images), rng)
    others, other_labels = not_pairs(augmented, int(round(other_fraction * len(images))), rng)
    targets = np.concatenate([pair_labels, other_labels])
    return np.concatenate([crops, others]), np.eye(PAIR_CLASSES, dtype=np.float32)[targets]


def augment_with_targets(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                         cfg: AugmentConfig, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Augmented batch plus merged-digit outliers: (N + M, 28, 28) uint8 and (N + M, classes) float32
    targets (one-hot for digits, uniform for outliers)."""
    out = augment_batch(images, rng, cfg)
    if cfg.fragment_p > 0 and len(out) > 1:
        for i in np.flatnonzero(rng.random(len(out)) < cfg.fragment_p):
            out[i] = with_neighbour_fragment(out[i], out[(i + 1 + int(rng.integers(len(out) - 1))) % len(out)], rng)
    targets = np.eye(num_classes, dtype=np.float32)[labels]
    merged = int(round(cfg.merged_fraction * len(images))) if len(out) > 1 else 0
    if merged:
        out = np.concatenate([out, merged_digits(out, merged, rng, cfg.merged_overlap)])
        targets = np.concatenate([targets, np.full((merged, num_classes), 1.0 / num_classes, np.float32)])
    return out, targets


def digit_fragments(images: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` crops of part of a digit: a wide digit (ink at least 0.6 x as wide as tall) cut by a
    vertical line 30-65 % across, one side kept and normalised alone (what a cut too many leaves)."""
    out = np.empty((count, 28, 28), np.uint8)
    made = 0
    for _ in range(100 * count):
        if made == count:
            break
        image = images[rng.integers(len(images))]
        a, b = _ink_columns(image)
        rows = np.flatnonzero((image > 40).any(axis=1))
        if not len(rows) or b - a < 0.6 * (rows[-1] - rows[0] + 1):
            continue
        cut = a + int(round(rng.uniform(0.3, 0.65) * (b - a)))
        part = image.copy()
        if rng.random() < 0.5:
            part[:, cut:] = 0  # the left side stays
        else:
            part[:, :cut] = 0
        if part.sum() < 0.15 * image.sum():
            continue
        out[made] = _to_mnist(part)
        made += 1
    return out[:made]


def verifier_batch(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig,
                   fragment_fraction: float = VERIFIER_FRAGMENT_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Training batch for the single-digit verifier: the augmented digits (some with a neighbour's sliver)
    as class 1 "one whole digit", and as many class-0 crops: two or three merged digits, or part of one.
    Every crop is re-normalised as the reader normalises its crops (otherwise the verifier learns that a
    re-normalised crop is a merged one). Returns (2N, 28, 28) uint8 and (2N, 2) float32 one-hot targets."""
    singles = augment_batch(images, rng, cfg)
    slivered = np.flatnonzero(rng.random(len(singles)) < VERIFIER_SLIVER_P) if len(singles) > 1 else []
    for i in slivered:
        other = singles[(i + 1 + int(rng.integers(len(singles) - 1))) % len(singles)]
        singles[i] = with_neighbour_fragment(singles[i], other, rng)
    for i in np.setdiff1d(np.arange(len(singles)), slivered):
        singles[i] = _to_mnist(singles[i])  # normalised like every other crop, so framing tells nothing
    n_fragments = int(round(fragment_fraction * len(images)))
    negatives = [merged_digits(singles, len(images) - n_fragments, rng, overlap=0.6),
                 digit_fragments(singles, n_fragments, rng)]
    crops = np.concatenate([singles, *negatives])
    labels = np.zeros(len(crops), np.int64)
    labels[:len(singles)] = 1
    return crops, np.eye(2, dtype=np.float32)[labels]


RUN_SIZE_P = {1: 0.1, 2: 0.3, 3: 0.35, 4: 0.25}  # how many digits a training run for the run reader holds


def run_batch(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig,
              overlap: float = 0.6, max_gap: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Training batch for the run reader: as many runs of 1 to 4 digits (``RUN_SIZE_P``) drawn from the augmented
    ``images``, each gap from ``max_gap`` px apart to an overlap of ``overlap`` x the narrower neighbour, each
    digit raised or lowered by up to 3 px, on the run reader's canvas (``runs.normalise_run``). Returns
    (N, 32, 128) uint8 and (N, ``MAX_RUN``) int32 targets: the digits + 1, then 0s (CTC's blank)."""
    augmented = augment_batch(images, rng, cfg)
    sizes, chances = list(RUN_SIZE_P), list(RUN_SIZE_P.values())
    canvases = np.empty((len(images), RUN_HEIGHT, RUN_WIDTH), np.uint8)
    targets = np.zeros((len(images), MAX_RUN), np.int32)
    for i in range(len(images)):
        k = int(rng.choice(sizes, p=chances))
        picked = rng.integers(0, len(images), k)
        parts = [augmented[j] for j in picked]
        widths = [b - a for a, b in (_ink_columns(p) for p in parts)]
        gaps = [int(round(rng.uniform(-overlap * min(widths[j], widths[j + 1]), max_gap))) for j in range(k - 1)]
        canvas, _ = _side_by_side(parts, gaps, [int(rng.integers(-3, 4)) for _ in range(k)])
        run, _ = normalise_run(canvas.astype(np.float32) / 255.0)
        canvases[i] = np.round(run * 255).astype(np.uint8)
        targets[i, :k] = labels[picked] + 1
    return canvases, targets
