"""Stage 2b: turn one digit's ink into an MNIST-format 28x28 image, the way MNIST itself was made.

Crop the grey ink, match MNIST's stroke width, fit the larger side to 20 px with area (anti-aliased)
resampling keeping the aspect ratio, scale intensities so the stroke core is white, and paste into
28x28 so the centre of mass sits at the centre. White digit on black, float32 in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

BOX = 20
SIDE = 28
SLANT_RANGE = (-0.45, 0.25)  # MNIST training digits' slant (mu11 / mu02), 10th to 90th percentile
MNIST_STROKE = 2.25  # median stroke width of MNIST test digits (2 x area / perimeter at threshold 127)
WORK_SIDE = 200  # larger crops are first shrunk to this (10x the final size): stroke matching stays cheap
MAX_RIM = 31  # px of grey rim kept around a digit's mask, at most
FAINT_FLOOR = 0.1  # faint stroke parts: flattened ink above this ...
FAINT_NOISE = 2.0  # ... and above this x the 90th percentile of the paper around the digit (texture, noise)
FAINT_LINE = 0.5  # straight runs this long (x the window's height) are printed lines, not faint strokes


def normalise_crop(ink: np.ndarray, match_stroke: bool = True, deslant: bool = True) -> np.ndarray:
    """Ink crop (float, ink bright, paper 0) -> (28, 28) float32 in [0, 1]."""
    ink = np.asarray(ink, np.float32)
    if ink.ndim != 2 or ink.size == 0:
        return np.zeros((SIDE, SIDE), np.float32)
    ys, xs = np.nonzero(ink > 0.05)
    if not len(ys):
        return np.zeros((SIDE, SIDE), np.float32)
    ink = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    if deslant:
        ink = _limit_slant(ink)
    if max(ink.shape) > WORK_SIDE:  # a huge crop: its stroke matching would dilate with a huge kernel
        factor = WORK_SIDE / max(ink.shape)
        ink = cv2.resize(ink, (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor))),
                         interpolation=cv2.INTER_AREA)
    h, w = ink.shape
    scale = BOX / max(h, w)
    if match_stroke:
        ink = _match_stroke_width(ink, scale)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(ink, (new_w, new_h), interpolation=interpolation)
    peak = float(np.percentile(small[small > 0.05], 95)) if (small > 0.05).any() else 0.0
    if peak <= 0:
        return np.zeros((SIDE, SIDE), np.float32)
    small = np.clip(small / peak, 0.0, 1.0)
    return _centre_of_mass_paste(small)


def _limit_slant(ink: np.ndarray) -> np.ndarray:
    """Shear a digit that leans more than MNIST's digits do back to the edge of MNIST's range.

    Slant is the second-moment ratio mu11 / mu02 (x shift per row, y down); MNIST's training digits
    lie between ``SLANT_RANGE`` (10th-90th percentiles, measured once); a digit slanted by 25 degrees is
    sheared only by the excess, so ordinary slant is left as the classifier learnt it.
    """
    moments = cv2.moments(ink)
    if moments["mu02"] <= 0 or min(ink.shape) < 4:
        return ink
    slant = moments["mu11"] / moments["mu02"]
    target = float(np.clip(slant, *SLANT_RANGE))
    shear = target - slant
    if abs(shear) < 0.05:
        return ink
    h, w = ink.shape
    cy = moments["m01"] / moments["m00"]
    extra = int(np.ceil(abs(shear) * h)) + 2
    matrix = np.float32([[1, shear, -shear * cy + extra / 2], [0, 1, 0]])  # x' = x + shear * (y - cy)
    out = cv2.warpAffine(ink, matrix, (w + extra, h), flags=cv2.INTER_LINEAR, borderValue=0)
    xs = np.flatnonzero((out > 0.05).any(axis=0))
    return out[:, xs[0]:xs[-1] + 1] if len(xs) else ink


def _match_stroke_width(ink: np.ndarray, scale: float) -> np.ndarray:
    """Thicken thin pen strokes (or thin thick marker strokes) so that after scaling they match MNIST."""
    binary = (ink > 0.35).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    if perimeter <= 0:
        return ink
    width = 2.0 * float(binary.sum()) / perimeter  # in source pixels
    target = MNIST_STROKE / scale
    if width * scale < 0.7 * MNIST_STROKE:
        k = int(round(target - width))
        if k >= 1:
            return cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 1, k + 1)))
    elif width * scale > 2.5 * MNIST_STROKE:  # MNIST itself has thick digits: thin only marker strokes
        k = int(round(width - target))
        if k >= 1:
            thinner = cv2.erode(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 1, k + 1)))
            if (thinner > 0.35).sum() > 0.25 * binary.sum():  # never erase the digit
                return thinner
    return ink


def _centre_of_mass_paste(small: np.ndarray) -> np.ndarray:
    out = np.zeros((SIDE, SIDE), np.float32)
    h, w = small.shape
    moments = cv2.moments(small)
    if moments["m00"] > 0:
        cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    else:
        cx, cy = w / 2, h / 2
    x0 = int(round(SIDE / 2 - cx))
    y0 = int(round(SIDE / 2 - cy))
    x0 = min(max(x0, 0), SIDE - w)  # keep the whole digit inside the field
    y0 = min(max(y0, 0), SIDE - h)
    out[y0:y0 + h, x0:x0 + w] = small
    return out


def crops_for_boxes(ink: np.ndarray, labels: np.ndarray, boxes: list[tuple[int, int, int, int]],
                    members: list[list[int]], masks: list[np.ndarray | None] | None = None,
                    faint: bool = False, blocked: np.ndarray | None = None) -> np.ndarray:
    """(N, 28, 28) float32: each box's own ink (neighbours' intruding strokes masked out), normalised.

    A box's own pixels are those of its components (``members``), or ``masks[n]`` (an (h, w) bool
    array over the box) when given: a piece of a split component. ``faint``: a whole component's crop also
    keeps the faint parts of its strokes that the binarisation dropped (see :func:`_faint_strokes`), except in
    ``blocked`` (uint8 (H, W), nonzero where no faint part is looked for: round printed lines, whose grey rims
    they would be).
    """
    crops = np.zeros((len(boxes), SIDE, SIDE), np.float32)
    for n, (window, _) in enumerate(own_ink_windows(ink, labels, boxes, members, masks, faint, blocked)):
        crops[n] = normalise_crop(window)
    return crops


def own_ink_windows(ink: np.ndarray, labels: np.ndarray, boxes: list[tuple[int, int, int, int]],
                    members: list[list[int]], masks: list[np.ndarray | None] | None = None,
                    faint: bool = False, blocked: np.ndarray | None = None) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """Each box's ink in a window a little larger than the box, with every pixel not its own set to 0, and the
    window's top-left corner (x, y) (see :func:`crops_for_boxes` for the arguments)."""
    windows = []
    masks = masks if masks is not None else [None] * len(boxes)
    for (x, y, w, h), ids, mask in zip(boxes, members, masks):
        pad = max(2, int(0.06 * h))
        y0, y1 = max(0, y - pad), min(ink.shape[0], y + h + pad)
        x0, x1 = max(0, x - pad), min(ink.shape[1], x + w + pad)
        window = labels[y0:y1, x0:x1]
        if mask is None:
            own = np.isin(window, ids).astype(np.uint8)
        else:
            own = np.zeros(window.shape, np.uint8)
            own[y - y0:y - y0 + h, x - x0:x - x0 + w] = mask
        others = ((window > 0) & (own == 0)).astype(np.uint8)
        # Keep the faint grey rim and stroke ends around this digit's mask, but not a neighbour's ink.
        reach = min(max(3, int(0.08 * h)), MAX_RIM) | 1  # capped: a huge box's dilation stays cheap
        rim = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))
        own = cv2.dilate(own, rim)
        own &= 1 - cv2.dilate(others, np.ones((3, 3), np.uint8))
        if faint and mask is None:
            near_others = cv2.dilate(others, rim)
            if blocked is not None:
                near_others |= (blocked[y0:y1, x0:x1] > 0).astype(np.uint8)
            own |= _faint_strokes(ink[y0:y1, x0:x1], own, near_others)
        windows.append((ink[y0:y1, x0:x1] * own, (x0, y0)))
    return windows


def _faint_strokes(window: np.ndarray, own: np.ndarray, near_others: np.ndarray) -> np.ndarray:
    """uint8 mask: a digit's faint stroke parts (a light loop of a 9, a fading bar), too faint to binarise.

    They are the ink in the window above a noise floor (``FAINT_FLOOR``, or ``FAINT_NOISE`` x the paper's
    90th percentile around the digit, on textured paper) that is connected to the digit's own pixels, is not
    near a neighbour's, and does not run straight for ``FAINT_LINE`` x the window's height (a thin printed
    line that the binarisation dropped).
    """
    background = window[(cv2.dilate(own | near_others, np.ones((5, 5), np.uint8)) == 0)]
    if background.size < 20:
        return np.zeros_like(own)
    floor = max(FAINT_FLOOR, FAINT_NOISE * float(np.percentile(background, 90)))
    faint = ((window > floor) & (near_others == 0)).astype(np.uint8)
    length = max(8, int(FAINT_LINE * window.shape[0]))
    straight = cv2.morphologyEx(faint, cv2.MORPH_OPEN, np.ones((1, length), np.uint8)) | cv2.morphologyEx(
        faint, cv2.MORPH_OPEN, np.ones((length, 1), np.uint8))
    faint &= 1 - straight
    _, labels = cv2.connectedComponents(faint | own, connectivity=8)
    touching = np.unique(labels[own > 0])
    return (np.isin(labels, touching[touching > 0]) & (faint > 0)).astype(np.uint8)


def digit_image_to_mnist(image: np.ndarray, polarity: str = "auto") -> np.ndarray:
    """A picture of one digit (any size, either polarity) -> MNIST (28, 28) float32."""
    from .imageio import to_grey
    from .segment import binarise, detect_polarity, ink_intensity

    grey = to_grey(image)
    if polarity == "auto":
        polarity = detect_polarity(grey)
    if min(grey.shape) <= 32:  # already small (MNIST/USPS-like): plain inversion, no flattening
        ink = grey.astype(np.float32) / 255.0
        ink = ink if polarity == "light" else 1.0 - ink
        ink = np.clip((ink - np.percentile(ink, 5)) / max(1e-6, ink.max() - np.percentile(ink, 5)), 0, 1)
    else:
        ink = ink_intensity(grey, polarity)
        ink = ink * (binarise(ink) > 0)
    return normalise_crop(ink, match_stroke=min(grey.shape) > 32)
