"""Synthetic multi-digit test images with exact ground truth, built from MNIST test digits.

Benchmark pages use only the MNIST *test* split. ``--split train`` makes pages of training digits instead,
for ``page_crops.py`` (crops a classifier may be trained on); no benchmark is ever run on them. Every digit
is cropped to its ink, scaled, slanted, laid out in rows and alpha-composited onto paper; any page transform
is applied to the digit masks too, so each digit's box is the tight box of its own visible ink in the final
image.

The pages are hard in the ways real scans are (issue 3): handwriting slant, page skew, uneven baselines,
2-4 digits whose inks overlap, digits broken into pieces, textured / security-pattern paper and uneven
light, ruled lines and box borders crossing the digits, blur and JPEG, and (category ``amounts``)
separators ``.`` ``,`` and trailing dashes inside amounts. Truth per page: ``lines`` (digits only),
``text_lines`` (the decimal text, separators included), ``digits`` (value, box, line) and ``marks``
(char, box, line).

    python benchmarks/synth.py --out data/synth --per-category 150 --seed 0
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SPLITS = ("test", "train")
CATEGORIES = ("clean", "noisy", "touching", "rows", "inverted", "form", "amounts")
INK_THRESHOLD = 0.1  # alpha above which a pixel is counted as a digit's visible ink
TOUCH_THRESHOLD = 0.5  # alpha at which the inks of touching digits must already connect
Box = tuple[int, int, int, int]
Colour = float | tuple[float, float, float]


def default_mnist_path() -> Path:
    """Return the default location of mnist.npz: ../shared/datasets next to the repo."""
    return Path(__file__).resolve().parents[1].parent / "shared/datasets/mnist.npz"


@dataclass(frozen=True)
class DigitSource:
    """MNIST digits of one split plus the indices that may be drawn from them."""

    images: np.ndarray
    labels: np.ndarray
    pool: np.ndarray
    split: str = "test"

    def draw(self, rng: np.random.Generator, count: int) -> list[int]:
        """Draw `count` MNIST indices from the pool (with replacement)."""
        return [int(i) for i in rng.choice(self.pool, size=count)]

    def restricted(self, pool: np.ndarray) -> DigitSource:
        """Return the same digits with a smaller pool."""
        return DigitSource(self.images, self.labels, np.asarray(pool), self.split)


def load_mnist_test(path: Path) -> DigitSource:
    """Load the MNIST test split from an .npz file (what every benchmark page is made of)."""
    return load_mnist_split(path, "test")


def load_mnist_split(path: Path, split: str) -> DigitSource:
    """Load one MNIST split: ``test`` for benchmark pages, ``train`` only for pages whose crops a classifier
    is trained on (``page_crops.py``), so that no benchmark digit is ever seen in training."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    with np.load(path) as data:
        images, labels = data[f"x_{split}"], data[f"y_{split}"].astype(np.int64)
    return DigitSource(images, labels, np.arange(len(labels)), split)


def require_mnist(path: Path | None, split: str = "test") -> DigitSource:
    """Load MNIST digits of a split or exit with code 2 and one line on stderr."""
    path = Path(path) if path else default_mnist_path()
    if not path.is_file():
        print(f"error: MNIST file not found: {path} (pass --mnist PATH)", file=sys.stderr)
        raise SystemExit(2)
    return load_mnist_split(path, split)


@dataclass
class Glyph:
    """One rendered digit (or a separator mark, ``char`` set): an alpha patch at (x, y) on a text line."""

    value: int
    mnist_index: int
    alpha: np.ndarray
    x: int = 0
    y: int = 0
    line: int = 0
    char: str | None = None  # ".", "," or "-" for a mark; None for a digit
    rise: float = 0.0  # a mark's bottom sits this many digit heights above the baseline (negative: below)

    @property
    def width(self) -> int:
        return self.alpha.shape[1]

    @property
    def height(self) -> int:
        return self.alpha.shape[0]


# --- digits -------------------------------------------------------------------------------


def ink_bbox(mask: np.ndarray) -> Box | None:
    """Tight (x, y, w, h) box of the true pixels of a mask, or None if it is empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def render_digit(digit: np.ndarray, height: int) -> np.ndarray:
    """Crop a 28x28 MNIST digit to its ink and scale it to `height` px; return alpha in [0, 1]."""
    x, y, w, h = ink_bbox(digit > 0)
    crop = np.pad(digit[y : y + h, x : x + w].astype(np.float32) / 255.0, 1)
    scale = height / h
    size = (max(1, round((w + 2) * scale)), max(1, round((h + 2) * scale)))
    alpha = np.clip(cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
    bx, by, bw, bh = ink_bbox(alpha > 0.02)
    return alpha[by : by + bh, bx : bx + bw]


def shear(alpha: np.ndarray, degrees: float) -> np.ndarray:
    """Slant a glyph: the top moves right by height x tan(degrees) (negative: left), bottom fixed."""
    if abs(degrees) < 0.5:
        return alpha
    h, w = alpha.shape
    k = math.tan(math.radians(degrees))
    extra = int(math.ceil(abs(k) * h)) + 2
    # x' = x + k * (h - 1 - y) + offset: the bottom row stays, the top row moves by k * (h - 1)
    offset = 1.0 if k > 0 else 1.0 - k * (h - 1)
    matrix = np.array([[1, -k, k * (h - 1) + offset], [0, 1, 0]], np.float32)
    out = cv2.warpAffine(alpha, matrix, (w + extra, h), flags=cv2.INTER_LINEAR, borderValue=0)
    box = ink_bbox(out > 0.02)
    return out if box is None else out[box[1] : box[1] + box[3], box[0] : box[0] + box[2]]


def break_stroke(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Erase a thin band across a digit (a pen lifted or a faint scan), which may leave it in pieces."""
    h, w = alpha.shape
    out = alpha.copy()
    gap = max(1, round(h * rng.uniform(0.03, 0.07)))
    if rng.random() < 0.6:  # horizontal gap: a 5's bar floats free, a 4 opens
        y = int(rng.integers(round(0.15 * h), round(0.6 * h)))
        out[y : y + gap] = 0
    else:
        x = int(rng.integers(round(0.25 * w), max(round(0.25 * w) + 1, round(0.75 * w))))
        out[:, x : x + gap] = 0
    return out if ink_bbox(out > INK_THRESHOLD) is not None else alpha


def make_glyphs(
    source: DigitSource,
    indices: Sequence[int],
    height: int,
    rng: np.random.Generator,
    jitter: float = 0.08,
    slant: float = 0.0,
    broken: float = 0.0,
) -> list[Glyph]:
    """Render the given MNIST test digits at `height` px with a per-digit size jitter.

    ``slant``: the page's handwriting slant in degrees (each digit varies by +-4 degrees around it);
    ``broken``: probability that a digit gets a gap across it.
    """
    glyphs = []
    for index in indices:
        size = max(8, round(height * (1 + rng.uniform(-jitter, jitter))))
        alpha = render_digit(source.images[index], size)
        if slant:
            alpha = shear(alpha, slant + rng.uniform(-4, 4))
        if broken and rng.random() < broken:
            alpha = break_stroke(alpha, rng)
        glyphs.append(Glyph(int(source.labels[index]), int(index), alpha))
    return glyphs


def page_slant(rng: np.random.Generator, chance: float = 0.7, most: float = 20.0) -> float:
    """A page's handwriting slant in degrees (0 with probability 1 - chance)."""
    return float(rng.uniform(-0.4 * most, most)) if rng.random() < chance else 0.0


# --- separators ---------------------------------------------------------------------------


def pen_path(points: np.ndarray, width: float, pad: int) -> np.ndarray:
    """Alpha patch of a pen stroke through ``points`` (float x, y), drawn 4x oversampled then reduced."""
    s = 4
    pts = np.asarray(points, np.float64)
    size = np.ceil(pts.max(axis=0) + pad * 2).astype(int)
    big = np.zeros((size[1] * s, size[0] * s), np.uint8)
    poly = np.round((pts + pad) * s).astype(np.int32).reshape(-1, 1, 2)
    thick = max(1, round(width * s))
    cv2.polylines(big, [poly], False, 255, thick, cv2.LINE_AA)
    if len(pts) == 1:
        cv2.circle(big, tuple(int(v) for v in poly[0, 0]), thick // 2, 255, -1, cv2.LINE_AA)
    alpha = cv2.resize(big, (size[0], size[1]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    box = ink_bbox(alpha > 0.02)
    return alpha[box[1] : box[1] + box[3], box[0] : box[0] + box[2]]


def make_mark(char: str, height: int, stroke: float, rng: np.random.Generator) -> Glyph:
    """A hand-written separator: a dot, a comma (dot with a tail below the baseline) or a dash."""
    if char == ".":
        r = stroke * rng.uniform(0.6, 1.1)
        angle = np.linspace(0, 2 * math.pi, 12)
        points = np.stack([r * (1 + np.cos(angle)) * rng.uniform(0.8, 1.2), r * (1 + np.sin(angle))], axis=1)
        alpha, rise = pen_path(points, stroke, 2), rng.uniform(-0.02, 0.04)
    elif char == ",":
        r = stroke * rng.uniform(0.5, 0.9)
        tail = height * rng.uniform(0.12, 0.22)
        points = np.array([[r, 0], [r * 1.6, r], [r * 1.4, r + tail * 0.5], [0, r + tail]])
        alpha, rise = pen_path(points, stroke * 1.2, 2), -rng.uniform(0.08, 0.16)
    else:
        length = height * rng.uniform(0.3, 0.6)
        tilt = length * math.tan(math.radians(rng.uniform(-8, 8)))
        bend = stroke * rng.uniform(-0.6, 0.6)
        points = np.array([[0, max(0.0, tilt)], [length / 2, max(0.0, tilt) / 2 + bend + abs(bend)],
                           [length, max(0.0, -tilt)]])
        alpha, rise = pen_path(points, stroke, 2), rng.uniform(0.3, 0.5)
    return Glyph(-1, -1, alpha, char=char, rise=float(rise))


def amount_text(rng: np.random.Generator) -> str:
    """An amount as written on a cheque: "1,250.00", "1.250,-", "350.00--", "12 500", "7,5"..."""
    whole = str(int(rng.integers(1, 10))) + "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(0, 6))))
    if len(whole) > 2 and rng.random() < 0.4:
        whole = whole[:-2] + "00"  # round amounts: zeros written in one run
    decimal = "." if rng.random() < 0.5 else ","
    thousands = {".": ",", ",": "."}[decimal] if len(whole) > 3 and rng.random() < 0.5 else ""
    head, parts = whole, []
    while len(head) > 3 and thousands:
        parts.insert(0, head[-3:])
        head = head[:-3]
    text = thousands.join([head, *parts])
    cents = "".join(str(int(d)) for d in rng.integers(0, 10, 2)) if rng.random() < 0.6 else "00"
    ending = rng.choice(["cents", "cents", "dash", "none"])
    if ending == "cents":
        text += decimal + cents
    elif ending == "dash":
        text += decimal + "-" if rng.random() < 0.5 else "-"
    if rng.random() < 0.3:
        text += "-"  # a trailing dash against later additions
    return text


def amount_glyphs(source: DigitSource, text: str, height: int, rng: np.random.Generator, slant: float) -> list[Glyph]:
    """Glyphs for an amount text: MNIST digits of the right values, hand-drawn separators."""
    by_value = [source.pool[source.labels[source.pool] == v] for v in range(10)]
    stroke = height * rng.uniform(0.07, 0.12)
    glyphs = []
    for char in text:
        if char.isdigit():
            index = int(rng.choice(by_value[int(char)]))
            glyphs.extend(make_glyphs(source, [index], height, rng, slant=slant))
        else:
            glyphs.append(make_mark(char, height, stroke, rng))
    return glyphs


# --- layout -------------------------------------------------------------------------------


def inks_connected(a: Glyph, b: Glyph, threshold: float = TOUCH_THRESHOLD) -> bool:
    """True if the inks of two placed glyphs form one 8-connected blob."""
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.width, b.x + b.width), max(a.y + a.height, b.y + b.height)
    masks = []
    for g in (a, b):
        mask = np.zeros((y1 - y0, x1 - x0), bool)
        mask[g.y - y0 : g.y - y0 + g.height, g.x - x0 : g.x - x0 + g.width] = g.alpha > threshold
        masks.append(mask)
    _, labels = cv2.connectedComponents((masks[0] | masks[1]).astype(np.uint8), connectivity=8)
    return bool(np.intersect1d(labels[masks[0]], labels[masks[1]]).size)


def join(left: Glyph, right: Glyph, overlap: float) -> None:
    """Place `right` so its box overlaps `left` by `overlap` x the narrower width, then slide
    it further left until the two inks connect."""
    right.x = left.x + left.width - round(overlap * min(left.width, right.width))
    while right.x > left.x and not inks_connected(left, right):
        right.x -= 1


def place_row(
    glyphs: list[Glyph],
    rng: np.random.Generator,
    height: int,
    gaps: tuple[float, float] = (0.15, 0.6),
    baseline_jitter: float = 0.05,
    touching: Sequence[bool] | None = None,
    max_overlap: float = 0.25,
) -> None:
    """Lay glyphs left to right on a baseline at y = 0.

    Gaps are drawn from `gaps` x height; `touching[i]` joins glyph i to glyph i - 1 instead.
    """
    for i, glyph in enumerate(glyphs):
        glyph.y = -glyph.height + round(rng.uniform(-1, 1) * baseline_jitter * height)
        if glyph.char is not None:
            glyph.y = -glyph.height - round(glyph.rise * height) + round(rng.uniform(-0.03, 0.03) * height)
        if i == 0:
            glyph.x = 0
        elif touching is not None and touching[i]:
            join(glyphs[i - 1], glyph, rng.uniform(0, max_overlap))
        else:
            right = max(g.x + g.width for g in glyphs[:i])
            glyph.x = right + round(rng.uniform(*gaps) * height)


def apply_slope(glyphs: list[Glyph], degrees: float) -> None:
    """Tilt a row's baseline by moving each glyph vertically by x * tan(angle)."""
    slope = math.tan(math.radians(degrees))
    x0 = min(g.x for g in glyphs)
    for g in glyphs:
        g.y += round((g.x - x0 + g.width / 2) * slope)


def stack_rows(rows: list[list[Glyph]], rng: np.random.Generator, height: int, offset: float = 1.5) -> list[Glyph]:
    """Stack laid-out rows top to bottom with vertical gaps and random horizontal offsets."""
    glyphs: list[Glyph] = []
    bottom = 0
    for line, row in enumerate(rows):
        dy = bottom + round(rng.uniform(0.35, 0.9) * height) - min(g.y for g in row)
        dx = round(rng.uniform(0, offset) * height) - min(g.x for g in row)
        for g in row:
            g.x, g.y, g.line = g.x + dx, g.y + dy, line
        bottom = max(g.y + g.height for g in row)
        glyphs.extend(row)
    return glyphs


def frame(glyphs: list[Glyph], margin_x: int, margin_y: int) -> tuple[int, int]:
    """Shift glyphs so the content starts at the margins; return the page shape (h, w)."""
    dx = margin_x - min(g.x for g in glyphs)
    dy = margin_y - min(g.y for g in glyphs)
    for g in glyphs:
        g.x, g.y = g.x + dx, g.y + dy
    width = max(g.x + g.width for g in glyphs) + margin_x
    height = max(g.y + g.height for g in glyphs) + margin_y
    return height, width


def margins(rng: np.random.Generator, height: int) -> tuple[int, int]:
    """Random page margins (x, y) proportional to the digit height."""
    return round(rng.uniform(0.3, 0.9) * height), round(rng.uniform(0.4, 1.0) * height)


def layout_rows(
    source: DigitSource,
    rng: np.random.Generator,
    height: int,
    counts: Sequence[int],
    max_slope: float = 0.0,
    gaps: tuple[float, float] = (0.15, 0.6),
    slant: float = 0.0,
    broken: float = 0.0,
    baseline_jitter: float = 0.05,
) -> list[Glyph]:
    """Draw digits and lay them out as rows of the given lengths (with optional slope and slant)."""
    rows = []
    for count in counts:
        row = make_glyphs(source, source.draw(rng, count), height, rng, slant=slant, broken=broken)
        place_row(row, rng, height, gaps=gaps, baseline_jitter=baseline_jitter)
        if max_slope:
            apply_slope(row, rng.uniform(-max_slope, max_slope))
        rows.append(row)
    return stack_rows(rows, rng, height)


# --- rendering ----------------------------------------------------------------------------


def alpha_canvas(glyphs: list[Glyph], shape: tuple[int, int]) -> np.ndarray:
    """Combine glyph alphas on a page with max(), so no digit overwrites another."""
    canvas = np.zeros(shape, np.float32)
    for g in glyphs:
        region = canvas[g.y : g.y + g.height, g.x : g.x + g.width]
        np.maximum(region, g.alpha, out=region)
    return canvas


def translation(dx: float, dy: float) -> np.ndarray:
    """3x3 translation matrix."""
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


def rotation(shape: tuple[int, int], degrees: float) -> tuple[np.ndarray, tuple[int, int]]:
    """3x3 matrix rotating a page about its centre, and the enlarged shape that holds it all."""
    h, w = shape
    matrix = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), [0, 0, 1]])
    corners = cv2.perspectiveTransform(np.array([[[0, 0], [w, 0], [0, h], [w, h]]], np.float64), matrix)[0]
    low, high = corners.min(axis=0), corners.max(axis=0)
    size = np.ceil(high - low).astype(int)
    return translation(-low[0], -low[1]) @ matrix, (int(size[1]), int(size[0]))


def warp_layer(layer: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Apply a 3x3 page transform to an alpha layer (outside stays 0)."""
    return cv2.warpPerspective(layer, matrix, (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderValue=0)


def clip_box(box: Box, shape: tuple[int, int]) -> Box:
    """Clip a box to the page."""
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(shape[1], x + w), min(shape[0], y + h)
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def glyph_box(glyph: Glyph, shape: tuple[int, int], matrix: np.ndarray | None = None) -> Box:
    """Tight box of a glyph's visible ink on the final page, after an optional transform."""
    if matrix is None:
        x, y, w, h = ink_bbox(glyph.alpha > INK_THRESHOLD)
        return clip_box((glyph.x + x, glyph.y + y, w, h), shape)
    gx, gy, gw, gh = glyph.x, glyph.y, glyph.width, glyph.height
    corners = np.array([[[gx, gy], [gx + gw, gy], [gx, gy + gh], [gx + gw, gy + gh]]], float)
    warped = cv2.perspectiveTransform(corners, matrix)[0]
    x0, y0 = np.floor(warped.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(warped.max(axis=0)).astype(int) + 2
    local = translation(-x0, -y0) @ matrix @ translation(gx, gy)
    patch = warp_layer(glyph.alpha, local, (int(y1 - y0), int(x1 - x0)))
    x, y, w, h = ink_bbox(patch > INK_THRESHOLD)
    return clip_box((int(x0) + x, int(y0) + y, w, h), shape)


def glyph_boxes(glyphs: list[Glyph], shape: tuple[int, int], matrix: np.ndarray | None = None) -> list[Box]:
    """Boxes of all glyphs, in glyph order."""
    return [glyph_box(g, shape, matrix) for g in glyphs]


def composite(shape: tuple[int, int], paper: Colour, layers: Sequence[tuple[np.ndarray, Colour]]) -> np.ndarray:
    """Alpha-composite ink layers (bottom first) onto paper: out = below * (1 - a) + ink * a.

    Colours are grey levels or BGR triples; the result is float32, BGR if any colour is.
    """
    colour = np.ndim(paper) > 0 or any(np.ndim(ink) > 0 for _, ink in layers)
    out = np.empty(shape + ((3,) if colour else ()), np.float32)
    out[...] = paper
    for alpha, ink in layers:
        a = alpha[..., None] if colour else alpha
        out = out * (1 - a) + np.asarray(ink, np.float32) * a
    return out


# --- degradations -------------------------------------------------------------------------


def illumination(
    shape: tuple[int, int], rng: np.random.Generator, strength: float, vignette: float = 0.0
) -> np.ndarray:
    """Multiplicative lighting field: a linear gradient in a random direction, plus vignette."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (xs - w / 2) * math.cos(angle) + (ys - h / 2) * math.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    radius = np.hypot((xs - w / 2) / (w / 2), (ys - h / 2) / (h / 2)) / math.sqrt(2)
    field = 1.0 - strength * ramp - vignette * radius**2
    return field.astype(np.float32)


def security_pattern(shape: tuple[int, int], rng: np.random.Generator, scale: float) -> np.ndarray:
    """Alpha in [0, 1] of a printed background: guilloche waves, hatching, a halftone screen or paper fibres.

    ``scale`` is the digit height; line spacings are drawn relative to it (finer than the writing).
    """
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    kind = int(rng.integers(4))
    if kind == 0:  # guilloche: several families of thin wavy lines
        out = np.zeros(shape, np.float32)
        for _ in range(int(rng.integers(2, 4))):
            period = scale * rng.uniform(0.12, 0.3)
            amp, freq, phase = scale * rng.uniform(0.1, 0.5), rng.uniform(0.02, 0.08), rng.uniform(0, 6.3)
            angle = rng.uniform(0, math.pi)
            u = xs * math.cos(angle) + ys * math.sin(angle)
            v = -xs * math.sin(angle) + ys * math.cos(angle)
            wave = np.cos(2 * math.pi * (v + amp * np.sin(freq * u + phase)) / period)
            out = np.maximum(out, np.clip((wave - 0.75) / 0.25, 0, 1))
    elif kind == 1:  # hatching: straight thin lines, one or two directions
        out = np.zeros(shape, np.float32)
        for _ in range(int(rng.integers(1, 3))):
            period, angle = scale * rng.uniform(0.1, 0.25), rng.uniform(0, math.pi)
            u = xs * math.cos(angle) + ys * math.sin(angle)
            out = np.maximum(out, np.clip((np.cos(2 * math.pi * u / period) - 0.8) / 0.2, 0, 1))
    elif kind == 2:  # halftone dots
        period, angle = scale * rng.uniform(0.08, 0.16), rng.uniform(0, math.pi / 2)
        u = xs * math.cos(angle) + ys * math.sin(angle)
        v = -xs * math.sin(angle) + ys * math.cos(angle)
        dots = np.cos(2 * math.pi * u / period) * np.cos(2 * math.pi * v / period)
        out = np.clip((dots - 0.5) / 0.5, 0, 1)
    else:  # recycled-paper fibres and blotches: smoothed noise at two scales
        fine = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 1.0)
        coarse = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), scale * 0.3)
        out = np.clip(fine / (fine.std() + 1e-6) * 0.25 + coarse / (coarse.std() + 1e-6) * 0.35, 0, 1)
    return out.astype(np.float32)


def shadow(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Multiplicative lighting with a soft-edged shadow (a hand or a fold) across part of the page."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    u = (xs - w * rng.uniform(0.2, 0.8)) * math.cos(angle) + (ys - h * rng.uniform(0.2, 0.8)) * math.sin(angle)
    edge = 1 / (1 + np.exp(-u / (0.05 * max(h, w) + 1)))
    return (1.0 - strength * edge).astype(np.float32)


def apply_light(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Multiply a grey or BGR image by a lighting field."""
    return image * (field[..., None] if image.ndim == 3 else field)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with the given sigma (px)."""
    return cv2.GaussianBlur(image, (0, 0), sigma)


def gaussian_noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Add zero-mean Gaussian noise."""
    return image + rng.normal(0, sigma, image.shape).astype(np.float32)


def salt_and_pepper(image: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Set a fraction `amount` of pixels to near-black or near-white specks."""
    out = image.copy()
    hit = rng.random(image.shape[:2]) < amount
    values = np.where(rng.random(int(hit.sum())) < 0.5, rng.uniform(0, 40), rng.uniform(230, 255))
    out[hit] = values[:, None] if image.ndim == 3 else values
    return out


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and clip a float image to uint8."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode to JPEG at `quality` and decode again, keeping the artefacts."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


# --- categories ---------------------------------------------------------------------------

Page = tuple[np.ndarray, list[Glyph], list[Box]]


def plain_page(rng: np.random.Generator, glyphs: list[Glyph], height: int) -> Page:
    """Glyphs framed with random margins, dark ink on light paper, nothing else."""
    shape = frame(glyphs, *margins(rng, height))
    paper, ink = dark_on_light(rng)
    image = composite(shape, paper, [(alpha_canvas(glyphs, shape), ink)])
    return to_uint8(image), glyphs, glyph_boxes(glyphs, shape)


def digit_height(rng: np.random.Generator) -> int:
    """Per-image digit height in px."""
    return int(rng.integers(40, 101))


def dark_on_light(rng: np.random.Generator) -> tuple[float, float]:
    """Paper and ink grey levels for ordinary paper."""
    return rng.uniform(200, 250), rng.uniform(0, 70)


def make_clean(rng: np.random.Generator, source: DigitSource) -> Page:
    """One row of 3-10 well separated, upright digits on clean paper (the easy baseline)."""
    height = digit_height(rng)
    glyphs = layout_rows(source, rng, height, [int(rng.integers(3, 11))])
    return plain_page(rng, glyphs, height)


def scan(image: np.ndarray, rng: np.random.Generator, blur: tuple[float, float], noise: tuple[float, float],
         quality: tuple[int, int]) -> np.ndarray:
    """Scanner / phone degradations: blur, sensor noise, specks, JPEG."""
    image = gaussian_blur(image, rng.uniform(*blur))
    image = gaussian_noise(image, rng, rng.uniform(*noise))
    image = salt_and_pepper(image, rng, rng.uniform(0.0005, 0.003))
    return jpeg_roundtrip(to_uint8(image), int(rng.integers(*quality)))


def paper_layers(shape: tuple[int, int], rng: np.random.Generator, height: int, paper: float, ink: float,
                 chance: float) -> list[tuple[np.ndarray, Colour]]:
    """With probability ``chance``, a printed background pattern between paper and ink contrast."""
    if rng.random() >= chance:
        return []
    strength = rng.uniform(0.15, 0.4)  # at most 40 % of the way from paper to ink
    return [(security_pattern(shape, rng, height) * strength, ink + rng.uniform(0, 40))]


def make_noisy(rng: np.random.Generator, source: DigitSource) -> Page:
    """One row as a bad scan: slant, broken strokes, skew, textured paper, uneven light or shadow,
    blur, noise, specks, JPEG."""
    height = digit_height(rng)
    glyphs = layout_rows(source, rng, height, [int(rng.integers(3, 11))], slant=page_slant(rng, 0.5),
                         broken=0.1, baseline_jitter=0.08)
    flat = frame(glyphs, *margins(rng, height))
    matrix, shape = rotation(flat, rng.uniform(-6, 6))
    alpha = warp_layer(alpha_canvas(glyphs, flat), matrix, shape)
    paper, ink = dark_on_light(rng)
    image = composite(shape, paper, [*paper_layers(shape, rng, height, paper, ink, 0.5), (alpha, ink)])
    image = apply_light(image, illumination(shape, rng, rng.uniform(0.05, 0.35), rng.uniform(0, 0.3)))
    if rng.random() < 0.3:
        image = apply_light(image, shadow(shape, rng, rng.uniform(0.2, 0.45)))
    image = scan(image, rng, (0.4, 1.3), (3, 10), (25, 71))
    return image, glyphs, glyph_boxes(glyphs, shape, matrix)


def touching_flags(rng: np.random.Generator, count: int) -> list[bool]:
    """Split a row into groups of 1-4 digits; flag[i] is True if digit i joins digit i - 1."""
    flags = [False] * count
    i = 0
    while i < count:
        size = int(rng.integers(2, 5)) if rng.random() < 0.6 else 1
        size = min(size, count - i)
        for j in range(i + 1, i + size):
            flags[j] = True
        i += size
    if not any(flags):
        flags[int(rng.integers(1, count))] = True
    return flags


def make_touching(rng: np.random.Generator, source: DigitSource) -> Page:
    """One row of 3-8 digits where groups of 2-4 neighbours touch, their boxes overlapping by up to
    35 % of the narrower digit; some pages slanted, mildly blurred."""
    height = digit_height(rng)
    count = int(rng.integers(3, 9))
    glyphs = make_glyphs(source, source.draw(rng, count), height, rng, slant=page_slant(rng, 0.4, 15.0))
    place_row(glyphs, rng, height, touching=touching_flags(rng, count), max_overlap=0.35)
    shape = frame(glyphs, *margins(rng, height))
    paper, ink = dark_on_light(rng)
    image = composite(shape, paper, [(alpha_canvas(glyphs, shape), ink)])
    image = gaussian_blur(image, rng.uniform(0.1, 0.8))
    return to_uint8(image), glyphs, glyph_boxes(glyphs, shape)


def make_rows(rng: np.random.Generator, source: DigitSource) -> Page:
    """2-4 rows of 3-8 digits: row offsets, sloped rows (up to 5 degrees), uneven baselines, slant."""
    height = int(rng.integers(40, 81))
    counts = [int(rng.integers(3, 9)) for _ in range(int(rng.integers(2, 5)))]
    glyphs = layout_rows(source, rng, height, counts, max_slope=5.0, slant=page_slant(rng, 0.5),
                         baseline_jitter=0.1)
    return plain_page(rng, glyphs, height)


def make_inverted(rng: np.random.Generator, source: DigitSource) -> Page:
    """Chalkboard look: light digits on a dark, unevenly lit board, one or two rows, light noise."""
    height = digit_height(rng)
    counts = [int(rng.integers(3, 9)) for _ in range(int(rng.integers(1, 3)))]
    glyphs = layout_rows(source, rng, height, counts, max_slope=3.0, slant=page_slant(rng, 0.3))
    shape = frame(glyphs, *margins(rng, height))
    board, chalk = rng.uniform(20, 60), rng.uniform(200, 255)
    image = composite(shape, board, [(alpha_canvas(glyphs, shape), chalk)])
    image = apply_light(image, illumination(shape, rng, rng.uniform(0.0, 0.3)))
    image = gaussian_blur(image, rng.uniform(0.3, 0.8))
    image = gaussian_noise(image, rng, rng.uniform(2, 5))
    return to_uint8(image), glyphs, glyph_boxes(glyphs, shape)


@dataclass(frozen=True)
class FormField:
    """Geometry of a row of form cells; `comb` draws one rectangle with separators."""

    x: int
    y: int
    cell_w: int
    cell_h: int
    count: int
    spacing: int = 0
    comb: bool = False
    tick: float = 1.0
    thickness: int = 2

    def cell(self, i: int) -> tuple[int, int]:
        """Top-left corner of cell i."""
        return self.x + i * (self.cell_w + self.spacing), self.y

    @property
    def right(self) -> int:
        return self.cell(self.count - 1)[0] + self.cell_w


def draw_form(shape: tuple[int, int], field: FormField, rule_y: int | None) -> np.ndarray:
    """Alpha layer with the printed cells (and optional ruled line under the field)."""
    layer = np.zeros(shape, np.uint8)
    t, bottom = field.thickness, field.y + field.cell_h
    if field.comb:
        cv2.rectangle(layer, (field.x, field.y), (field.right, bottom), 255, t, cv2.LINE_AA)
        top = bottom - round(field.tick * field.cell_h)
        for i in range(1, field.count):
            x = field.cell(i)[0]
            cv2.line(layer, (x, top), (x, bottom), 255, t, cv2.LINE_AA)
    else:
        for i in range(field.count):
            x, y = field.cell(i)
            cv2.rectangle(layer, (x, y), (x + field.cell_w, bottom), 255, t, cv2.LINE_AA)
    if rule_y is not None:
        x0, x1 = field.x - field.cell_w // 3, field.right + field.cell_w // 3
        cv2.line(layer, (x0, rule_y), (x1, rule_y), 255, max(1, t - 1), cv2.LINE_AA)
    return layer.astype(np.float32) / 255.0


def place_in_cells(glyphs: list[Glyph], field: FormField, rng: np.random.Generator, sloppy: float) -> None:
    """Centre each glyph in its cell with jitter; with probability `sloppy` push it slightly
    over one of the cell borders."""
    for i, g in enumerate(glyphs):
        cx, cy = field.cell(i)
        g.x = cx + (field.cell_w - g.width) // 2 + round(rng.uniform(-0.06, 0.06) * field.cell_w)
        g.y = cy + (field.cell_h - g.height) // 2 + round(rng.uniform(-0.05, 0.05) * field.cell_h)
        if rng.random() < sloppy:
            over = round(rng.uniform(0.02, 0.12) * g.height) + field.thickness
            side = int(rng.integers(4))
            if side == 0:
                g.y = cy + field.cell_h - g.height + over
            elif side == 1:
                g.y = cy - over
            elif side == 2:
                g.x = cx - over
            else:
                g.x = cx + field.cell_w - g.width + over


def fit_to_cell(glyph: Glyph, max_w: int, max_h: int) -> Glyph:
    """Shrink a glyph's alpha if it does not fit inside a cell."""
    scale = min(1.0, max_w / glyph.width, max_h / glyph.height)
    if scale < 1.0:
        size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
        glyph.alpha = np.clip(cv2.resize(glyph.alpha, size, interpolation=cv2.INTER_AREA), 0, 1)
    return glyph


def form_page(
    glyphs: list[Glyph], field: FormField, rng: np.random.Generator, ruled: bool
) -> tuple[tuple[int, int], np.ndarray]:
    """Page shape and printed-form layer for glyphs already placed in `field`."""
    rule_y = field.y + field.cell_h + round(rng.uniform(0.08, 0.25) * field.cell_h)
    bottom = max([rule_y] + [g.y + g.height for g in glyphs])
    right = max([field.right] + [g.x + g.width for g in glyphs])
    shape = (bottom + field.y, right + field.x)
    return shape, draw_form(shape, field, rule_y if ruled else None)


def random_form_field(rng: np.random.Generator, height: int, count: int, cell_h_range: tuple[float, float],
                      cell_w_range: tuple[float, float]) -> FormField:
    """Printed boxes or a comb field for ``count`` digits ``height`` px tall: cells ``cell_h_range`` x the
    digit height tall and ``cell_w_range`` x the cell height wide, a third of a cell in from the margin."""
    cell_h = round(height * rng.uniform(*cell_h_range))
    cell_w = round(cell_h * rng.uniform(*cell_w_range))
    comb = bool(rng.random() < 0.5)
    mx, my = margins(rng, height)
    return FormField(x=mx + cell_w // 3, y=my, cell_w=cell_w, cell_h=cell_h, count=count,
                     spacing=0 if comb else round(rng.uniform(0.0, 0.35) * cell_w), comb=comb,
                     tick=float(rng.choice([1.0, rng.uniform(0.3, 0.6)])), thickness=int(rng.integers(1, 4)))


def make_boxes(rng: np.random.Generator, source: DigitSource) -> Page:
    """Digits written into printed boxes or a comb field, a third of them crossing a border."""
    height = digit_height(rng)
    count = int(rng.integers(3, 9))
    field = random_form_field(rng, height, count, (1.15, 1.45), (0.7, 0.95))
    glyphs = make_glyphs(source, source.draw(rng, count), height, rng, slant=page_slant(rng, 0.3, 12.0))
    glyphs = [fit_to_cell(g, round(0.92 * field.cell_w), round(0.92 * field.cell_h)) for g in glyphs]
    place_in_cells(glyphs, field, rng, sloppy=0.35)
    shape, printed = form_page(glyphs, field, rng, ruled=bool(rng.random() < 0.5))
    paper, ink = dark_on_light(rng)
    layers = [(printed, rng.uniform(20, 90)), (alpha_canvas(glyphs, shape), ink)]
    image = composite(shape, paper, layers)
    if rng.random() < 0.5:
        image = scan(image, rng, (0.3, 0.9), (2, 6), (40, 91))
    return to_uint8(image), glyphs, glyph_boxes(glyphs, shape)


def make_ruled(rng: np.random.Generator, source: DigitSource) -> Page:
    """Digits written on ruled lines (a ledger or a notebook): each row sits on a printed rule that
    crosses the bottoms of its digits; a margin rule may cross the row too."""
    height = digit_height(rng)
    counts = [int(rng.integers(3, 9)) for _ in range(int(rng.integers(1, 3)))]
    glyphs = layout_rows(source, rng, height, counts, max_slope=1.5, slant=page_slant(rng, 0.4, 12.0))
    shape = frame(glyphs, *margins(rng, height))
    thickness = int(rng.integers(1, 4))
    printed = np.zeros(shape, np.uint8)
    for line in range(max(g.line for g in glyphs) + 1):
        row = [g for g in glyphs if g.line == line]
        base = int(np.median([g.y + g.height for g in row]) - rng.uniform(0.0, 0.15) * height)
        cv2.line(printed, (0, base), (shape[1], base), 255, thickness, cv2.LINE_AA)
        if rng.random() < 0.3:  # a second rule through the tops of the digits (ruled cheque lines)
            top = int(base - height * rng.uniform(0.85, 1.05))
            cv2.line(printed, (0, top), (shape[1], top), 255, max(1, thickness - 1), cv2.LINE_AA)
    if rng.random() < 0.3:
        x = int(rng.uniform(0.2, 0.8) * shape[1])
        cv2.line(printed, (x, 0), (x, shape[0]), 255, thickness, cv2.LINE_AA)
    paper, ink = dark_on_light(rng)
    layers = [(printed.astype(np.float32) / 255.0, rng.uniform(20, 120)), (alpha_canvas(glyphs, shape), ink)]
    image = composite(shape, paper, layers)
    if rng.random() < 0.5:
        image = scan(image, rng, (0.3, 0.9), (2, 6), (40, 91))
    return to_uint8(image), glyphs, glyph_boxes(glyphs, shape)


def make_form(rng: np.random.Generator, source: DigitSource) -> Page:
    """Form fields: printed boxes / comb fields (two thirds) or ruled lines crossing the digits."""
    return make_boxes(rng, source) if rng.random() < 0.67 else make_ruled(rng, source)


def make_amounts(rng: np.random.Generator, source: DigitSource) -> Page:
    """Cheque amounts: separators and trailing dashes, zeros run together, slant, a security-pattern
    background, uneven light, sometimes a printed amount box, scan degradations."""
    height = digit_height(rng)
    text = amount_text(rng)
    glyphs = amount_glyphs(source, text, height, rng, slant=page_slant(rng, 0.6, 15.0))
    touching = [i > 0 and g.char is None and glyphs[i - 1].char is None and g.value == 0 and rng.random() < 0.6
                for i, g in enumerate(glyphs)]
    place_row(glyphs, rng, height, gaps=(0.1, 0.45), touching=touching, max_overlap=0.25)
    flat = frame(glyphs, *margins(rng, height))
    matrix, shape = rotation(flat, rng.uniform(-3, 3))
    paper, ink = dark_on_light(rng)
    layers = [*paper_layers(shape, rng, height, paper, ink, 0.9)]
    if rng.random() < 0.4:  # the printed amount box
        box = np.zeros(flat, np.uint8)
        pad = round(0.15 * height)
        x0, y0 = min(g.x for g in glyphs) - pad, min(g.y for g in glyphs) - pad
        x1, y1 = max(g.x + g.width for g in glyphs) + pad, max(g.y + g.height for g in glyphs) + pad
        cv2.rectangle(box, (max(0, x0), max(0, y0)), (min(flat[1] - 1, x1), min(flat[0] - 1, y1)), 255,
                      int(rng.integers(1, 3)), cv2.LINE_AA)
        layers.append((warp_layer(box.astype(np.float32) / 255.0, matrix, shape), rng.uniform(30, 100)))
    layers.append((warp_layer(alpha_canvas(glyphs, flat), matrix, shape), ink))
    image = composite(shape, paper, layers)
    image = apply_light(image, illumination(shape, rng, rng.uniform(0.0, 0.3)))
    image = scan(image, rng, (0.3, 1.0), (2, 6), (35, 91))
    return image, glyphs, glyph_boxes(glyphs, shape, matrix)


MAKERS: dict[str, Callable[[np.random.Generator, DigitSource], Page]] = {
    "clean": make_clean,
    "noisy": make_noisy,
    "touching": make_touching,
    "rows": make_rows,
    "inverted": make_inverted,
    "form": make_form,
    "amounts": make_amounts,
}


# --- the v1 (issue 2) pages, kept so that samples/make_samples.py still makes its images byte for byte ---


def classic_noisy(rng: np.random.Generator, source: DigitSource) -> Page:
    """v1 noisy scan: skew, uneven light, blur, noise, specks, JPEG."""
    height = digit_height(rng)
    glyphs = layout_rows(source, rng, height, [int(rng.integers(3, 11))])
    flat = frame(glyphs, *margins(rng, height))
    matrix, shape = rotation(flat, rng.uniform(-4, 4))
    alpha = warp_layer(alpha_canvas(glyphs, flat), matrix, shape)
    paper, ink = dark_on_light(rng)
    image = composite(shape, paper, [(alpha, ink)])
    image = apply_light(image, illumination(shape, rng, rng.uniform(0.05, 0.2)))
    image = gaussian_blur(image, rng.uniform(0.4, 1.1))
    image = gaussian_noise(image, rng, rng.uniform(3, 10))
    image = salt_and_pepper(image, rng, rng.uniform(0.0005, 0.003))
    image = jpeg_roundtrip(to_uint8(image), int(rng.integers(30, 71)))
    return image, glyphs, glyph_boxes(glyphs, shape, matrix)


def classic_rows(rng: np.random.Generator, source: DigitSource) -> Page:
    """v1 rows: 2-4 rows of 3-8 digits with row offsets and a slight baseline slope."""
    height = int(rng.integers(40, 81))
    counts = [int(rng.integers(3, 9)) for _ in range(int(rng.integers(2, 5)))]
    glyphs = layout_rows(source, rng, height, counts, max_slope=3.0)
    return plain_page(rng, glyphs, height)


def classic_inverted(rng: np.random.Generator, source: DigitSource) -> Page:
    """v1 chalkboard: light digits on a dark board, one or two rows, light noise."""
    height = digit_height(rng)
    counts = [int(rng.integers(3, 9)) for _ in range(int(rng.integers(1, 3)))]
    glyphs = layout_rows(source, rng, height, counts, max_slope=2.0)
    shape = frame(glyphs, *margins(rng, height))
    board, chalk = rng.uniform(20, 60), rng.uniform(200, 255)
    image = composite(shape, board, [(alpha_canvas(glyphs, shape), chalk)])
    image = gaussian_blur(image, rng.uniform(0.3, 0.8))
    image = gaussian_noise(image, rng, rng.uniform(2, 5))
    return to_uint8(image), glyphs, glyph_boxes(glyphs, shape)


def classic_form(rng: np.random.Generator, source: DigitSource) -> Page:
    """v1 form: digits in printed boxes or a comb field, sometimes crossing a border."""
    height = digit_height(rng)
    count = int(rng.integers(3, 9))
    field = random_form_field(rng, height, count, (1.2, 1.45), (0.75, 0.95))
    glyphs = make_glyphs(source, source.draw(rng, count), height, rng)
    glyphs = [fit_to_cell(g, round(0.92 * field.cell_w), round(0.92 * field.cell_h)) for g in glyphs]
    place_in_cells(glyphs, field, rng, sloppy=0.2)
    shape, printed = form_page(glyphs, field, rng, ruled=bool(rng.random() < 0.5))
    paper, ink = dark_on_light(rng)
    image = composite(shape, paper, [(printed, rng.uniform(20, 90)), (alpha_canvas(glyphs, shape), ink)])
    return to_uint8(image), glyphs, glyph_boxes(glyphs, shape)


CLASSIC_MAKERS: dict[str, Callable[[np.random.Generator, DigitSource], Page]] = {
    "noisy": classic_noisy,
    "rows": classic_rows,
    "inverted": classic_inverted,
    "form": classic_form,
}


# --- truth and dataset --------------------------------------------------------------------


def truth_for(category: str, glyphs: list[Glyph], boxes: list[Box], split: str = "test") -> dict:
    """Ground-truth record (without "file") for glyphs in reading order.

    ``lines``: the digits of each row; ``text_lines``: the same with the separators written (what
    ``--charset decimal`` should read); ``digits``: value, box, line; ``marks``: char, box, line;
    ``mnist_indices``: each digit's index in MNIST's ``mnist_split`` split.
    """
    count = max(g.line for g in glyphs) + 1
    lines, text_lines = ["" for _ in range(count)], ["" for _ in range(count)]
    digits, marks = [], []
    for g, box in zip(glyphs, boxes, strict=True):
        if g.char is None:
            lines[g.line] += str(g.value)
            text_lines[g.line] += str(g.value)
            digits.append({"value": g.value, "box": [int(v) for v in box], "line": g.line})
        else:
            text_lines[g.line] += g.char
            marks.append({"char": g.char, "box": [int(v) for v in box], "line": g.line})
    return {
        "category": category,
        "lines": lines,
        "text_lines": text_lines,
        "digits": digits,
        "marks": marks,
        "mnist_indices": [g.mnist_index for g in glyphs if g.char is None],
        "mnist_split": split,
    }


def make_image(category: str, rng: np.random.Generator, mnist: DigitSource) -> tuple[np.ndarray, dict]:
    """Render one image of a category; return (uint8 image, truth record without "file")."""
    image, glyphs, boxes = MAKERS[category](rng, mnist)
    return image, truth_for(category, glyphs, boxes, mnist.split)


def image_rng(seed: int, category: str, index: int) -> np.random.Generator:
    """Generator for one image, independent of which other images are generated."""
    return np.random.default_rng([seed, CATEGORIES.index(category), index])


def write_dataset(out: Path, source: DigitSource, categories: Sequence[str], per_category: int, seed: int) -> Path:
    """Write images and truth.jsonl under `out`; return the truth file's path."""
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for category in categories:
        (out / category).mkdir(exist_ok=True)
        for index in range(per_category):
            image, truth = make_image(category, image_rng(seed, category, index), source)
            name = f"{category}/{category}_{index:04d}.png"
            if not cv2.imwrite(str(out / name), image):
                raise OSError(f"could not write {out / name}")
            records.append({"file": name, **truth})
    truth_path = out / "truth.jsonl"
    truth_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return truth_path


def parse_categories(text: str) -> list[str]:
    """Parse a comma-separated category list."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CATEGORIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown categories {unknown}; choose from {','.join(CATEGORIES)}")
    return names


def non_negative(text: str) -> int:
    """argparse type for integers >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--per-category", type=non_negative, default=150, help="images each")
    parser.add_argument("--seed", type=non_negative, default=0, help="random seed")
    parser.add_argument(
        "--categories",
        type=parse_categories,
        default=list(CATEGORIES),
        help=f"comma-separated subset of {','.join(CATEGORIES)}",
    )
    parser.add_argument("--mnist", type=Path, default=default_mnist_path(), help="path to mnist.npz (%(default)s)")
    parser.add_argument("--split", choices=SPLITS, default="test",
                        help="MNIST split the digits come from: test (benchmarks, the default) or train (pages "
                             "whose crops train a classifier, see page_crops.py)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    args = build_parser().parse_args(argv)
    source = require_mnist(args.mnist, args.split)
    truth = write_dataset(args.out, source, args.categories, args.per_category, args.seed)
    print(f"wrote {args.per_category * len(args.categories)} images and {truth}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
