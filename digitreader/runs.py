"""Reading a run of 1 to 4 touching digits whole, without cutting it: the run's ink on a 32 x 128 canvas for a
run reader (a CRNN trained with CTC loss), and the decoding of the reader's per-column probabilities.

A run reader outputs, for each of its ``RUN_STEPS`` columns, 11 probabilities: the blank (no digit ends here)
first, then the digits 0-9. The best path (the likeliest class in each column, repeats merged, blanks dropped)
is the reading; where each digit was emitted says where it lies.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RUN_HEIGHT, RUN_WIDTH = 32, 128
RUN_INK_HEIGHT = 24  # px the run's ink is scaled to (its width at most RUN_WIDTH - 2 * RUN_MARGIN)
RUN_MARGIN = 4
RUN_STEPS = 32  # columns of the reader's output: each covers RUN_WIDTH / RUN_STEPS px of the canvas
MAX_RUN = 4


@dataclass
class RunPlacement:
    """Where a run's ink went on the canvas: canvas x = (window x - ``left``) x ``scale`` + ``offset``."""

    left: int
    scale: float
    offset: int


@dataclass
class RunReading:
    """A run reader's best path: the digits, each one's 10 probabilities and canvas columns, and the reading's
    probability (over every column path that reads these digits, ``sequence_probability``)."""

    digits: list[int]
    probabilities: np.ndarray  # (len(digits), 10)
    spans: list[tuple[int, int]]  # per digit: first and last output step that emitted it
    confidence: float


def normalise_run(ink: np.ndarray) -> tuple[np.ndarray, RunPlacement | None]:
    """Ink window (float, ink bright, paper 0) -> (32, 128) float32 in [0, 1] and where the ink went (None: no ink).

    The ink is cropped, scaled (area resampling) so its height is ``RUN_INK_HEIGHT`` px, or less where it would be
    too wide, brightened so the stroke core is white, and centred."""
    canvas = np.zeros((RUN_HEIGHT, RUN_WIDTH), np.float32)
    ink = np.asarray(ink, np.float32)
    ys, xs = np.nonzero(ink > 0.05)
    if not len(ys):
        return canvas, None
    ink = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = ink.shape
    scale = min(RUN_INK_HEIGHT / h, (RUN_WIDTH - 2 * RUN_MARGIN) / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(ink, (new_w, new_h), interpolation=interpolation)
    bright = small > 0.05
    peak = float(np.percentile(small[bright], 95)) if bright.any() else 0.0
    if peak <= 0:
        return canvas, None
    y0, x0 = (RUN_HEIGHT - new_h) // 2, (RUN_WIDTH - new_w) // 2
    canvas[y0:y0 + new_h, x0:x0 + new_w] = np.clip(small / peak, 0.0, 1.0)
    return canvas, RunPlacement(int(xs.min()), scale, x0)


def best_path(column_probabilities: np.ndarray) -> RunReading:
    """Greedy CTC decoding of one run: (steps, 11) probabilities, blank first."""
    best = column_probabilities.argmax(axis=1)
    digits: list[int] = []
    rows: list[np.ndarray] = []
    spans: list[tuple[int, int]] = []
    previous = 0
    for step, label in enumerate(best):
        if label != 0 and label == previous:
            spans[-1] = (spans[-1][0], step)
            if column_probabilities[step, label] > rows[-1][label - 1]:
                rows[-1] = _digit_part(column_probabilities[step])
        elif label != 0:
            digits.append(int(label) - 1)
            rows.append(_digit_part(column_probabilities[step]))
            spans.append((step, step))
        previous = label
    # The best path alone understates a reading whose digits' edges are uncertain by a column or two (a 3-digit
    # reading that is 0.99 probable has a best path of 0.5 to 0.8): sum every path.
    return RunReading(digits, np.array(rows, np.float32).reshape(-1, 10), spans,
                      sequence_probability(column_probabilities, digits))


def sequence_probability(column_probabilities: np.ndarray, digits: list[int]) -> float:
    """The probability the run reader gives the reading ``digits``: the sum over every column path that
    collapses to it (CTC's forward algorithm; blank is symbol 0, digit d is d + 1)."""
    probs = np.asarray(column_probabilities, np.float64)
    labels = [0]
    for digit in digits:
        labels += [digit + 1, 0]
    n = len(labels)
    alpha = np.zeros(n)
    alpha[0] = probs[0, 0]
    if n > 1:
        alpha[1] = probs[0, labels[1]]
    for step in range(1, len(probs)):
        previous = alpha
        alpha = previous.copy()
        alpha[1:] += previous[:-1]
        for s in range(3, n, 2):  # a digit may follow the digit before it directly when they differ
            if labels[s] != labels[s - 2]:
                alpha[s] += previous[s - 2]
        alpha *= probs[step, labels]
    return float(alpha[-1] + (alpha[-2] if n > 1 else 0.0))


def _digit_part(column: np.ndarray) -> np.ndarray:
    """A column's 10 digit probabilities, renormalised without the blank."""
    digits = np.asarray(column[1:], np.float64)
    return (digits / max(digits.sum(), 1e-12)).astype(np.float32)


def run_cuts(reading: RunReading, placement: RunPlacement, window_width: int) -> list[int]:
    """Window x positions between the reading's digits: halfway between one digit's last column and the next one's
    first, mapped back from the canvas."""
    step = RUN_WIDTH / RUN_STEPS
    cuts = []
    for (_, end), (start, _) in zip(reading.spans, reading.spans[1:]):
        canvas_x = (end + 1 + start) / 2 * step
        x = (canvas_x - placement.offset) / placement.scale + placement.left
        cuts.append(int(round(min(max(x, 1), window_width - 1))))
    return cuts
