"""The run reader's canvas and the decoding of its per-column probabilities (no Keras needed)."""

from __future__ import annotations

import numpy as np

from digitreader.runs import (
    RUN_HEIGHT,
    RUN_INK_HEIGHT,
    RUN_STEPS,
    RUN_WIDTH,
    best_path,
    normalise_run,
    run_cuts,
    sequence_probability,
)


def _collapse(path: tuple[int, ...]) -> list[int]:
    """CTC's many-to-one map: merge repeats, drop blanks (symbol 0), digits shifted back by one."""
    out, previous = [], 0
    for label in path:
        if label and label != previous:
            out.append(label - 1)
        previous = label
    return out


def _columns(labels: list[int], sure: float = 0.9) -> np.ndarray:
    """(steps, 11) probabilities whose likeliest class per column is ``labels`` (0 = blank)."""
    out = np.full((len(labels), 11), (1 - sure) / 10, np.float32)
    out[np.arange(len(labels)), labels] = sure
    return out


def test_best_path_merges_repeats_and_drops_blanks() -> None:
    reading = best_path(_columns([0, 3, 3, 0, 0, 8, 0, 8, 8, 0]))  # "2", "7", then "7" again after a blank
    assert reading.digits == [2, 7, 7]
    assert reading.spans == [(1, 2), (5, 5), (7, 8)]
    assert reading.probabilities.shape == (3, 10)
    assert reading.probabilities[0].argmax() == 2
    assert np.allclose(reading.probabilities.sum(axis=1), 1.0)
    assert 0.9 ** 10 < reading.confidence == sequence_probability(_columns([0, 3, 3, 0, 0, 8, 0, 8, 8, 0]), [2, 7, 7])


def test_an_all_blank_path_reads_nothing() -> None:
    reading = best_path(_columns([0] * 6))
    assert reading.digits == []
    assert reading.probabilities.shape == (0, 10)


def test_the_run_is_scaled_to_the_ink_height_and_centred() -> None:
    ink = np.zeros((100, 160), np.float32)
    ink[20:68, 30:130] = 0.5  # 48 px tall, 100 wide: scaled by 0.5
    canvas, placement = normalise_run(ink)
    assert canvas.shape == (RUN_HEIGHT, RUN_WIDTH)
    rows = np.flatnonzero(canvas.max(axis=1) > 0.5)
    cols = np.flatnonzero(canvas.max(axis=0) > 0.5)
    assert len(rows) == RUN_INK_HEIGHT and len(cols) == 50
    assert abs((cols[0] + cols[-1]) / 2 - RUN_WIDTH / 2) <= 1
    assert canvas.max() == 1.0  # the stroke core is brightened to white
    assert placement is not None and placement.left == 30 and placement.scale == 0.5


def test_a_window_without_ink_has_no_placement() -> None:
    canvas, placement = normalise_run(np.zeros((40, 40), np.float32))
    assert placement is None and not canvas.any()


def test_cuts_fall_between_the_digits_where_they_were_emitted() -> None:
    ink = np.zeros((60, 200), np.float32)
    ink[6:54, 10:190] = 1.0  # 48 px tall: scale 0.5, 90 px on the canvas from x = 19
    canvas, placement = normalise_run(ink)
    assert placement is not None
    labels = [0] * RUN_STEPS
    labels[6], labels[16] = 5, 6  # canvas columns 24-27 and 64-67
    reading = best_path(_columns(labels))
    (cut,) = run_cuts(reading, placement, ink.shape[1])
    # Halfway between step 7's start (28) and step 16's (64): canvas x 46, window x 10 + (46 - 19) / 0.5.
    assert cut == 64


def test_sequence_probability_sums_every_path_that_collapses_to_the_reading() -> None:
    import itertools

    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=5)  # 5 columns over blank and digits 0-2
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(4), repeat=5):
        key = tuple(_collapse(path))
        totals[key] = totals.get(key, 0.0) + float(np.prod(probs[np.arange(5), path]))
    for reading in ([], [0], [1, 1], [2, 0, 2], [0, 1, 2, 0]):
        assert abs(sequence_probability(probs, reading) - totals.get(tuple(reading), 0.0)) < 1e-12, reading
    assert abs(sum(totals.values()) - 1.0) < 1e-9
    assert totals[(0, 0, 0)] > 0 and abs(sequence_probability(probs, [0, 0, 0]) - totals[(0, 0, 0)]) < 1e-12
    assert sequence_probability(probs, [1, 1, 1, 1]) == 0.0  # four repeats need seven columns
