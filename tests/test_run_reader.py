"""The run reader: trained by ``train --arch runs``, loaded apart from the digit model, and used by the reader to
read a box that got candidate cuts whole, as a second opinion on the cuts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from test_train_evaluate import learnable_digits, learnable_npz

from digitreader.architectures import RUN_SYMBOLS
from digitreader.augment import RUN_SIZE_P, run_batch
from digitreader.classify import load_classifier, load_run_reader
from digitreader.cli import main
from digitreader.errors import ModelError
from digitreader.paths import SHIPPED_SHA256
from digitreader.reader import RUN_CONFIDENCE, DigitReader
from digitreader.runs import MAX_RUN, RUN_HEIGHT, RUN_STEPS, RUN_WIDTH, best_path
from digitreader.train import NO_AUGMENT

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")
SHIPPED_RUNS = REPO / "output" / "digit_runs.keras"
SHIPPED_MLP = REPO / "output" / "mnist_mlp.keras"
SAMPLE = REPO / "samples" / "one_row_651778970.png"
TOUCHING = REPO / "samples" / "touching_hard_1768156.png"


def test_train_runs_writes_a_run_reader_with_its_canvas_and_test_accuracy(tmp_path, capsys):
    data = tmp_path / "tiny.npz"
    x_test, y_test = learnable_npz(data, 300, 60)
    out = tmp_path / "r.keras"
    code = main(["train", "--arch", "runs", "--data", str(data), "--out", str(out), "--epochs", "2",
                 "--batch-size", "32", "-q"])
    assert code == 0, capsys.readouterr().err
    meta = json.loads(out.with_name("r.meta.json").read_text())
    assert meta["architecture"] == "runs" and meta["input"]["shape"] == [RUN_HEIGHT, RUN_WIDTH, 1]
    assert meta["classes"] == ["blank", *map(str, range(10))] and 0.0 <= meta["test_accuracy"] <= 1.0
    assert sum(size["samples"] for size in meta["run_test"].values()) == 60
    assert (tmp_path / "r.curves.png").exists() and not (tmp_path / "r.confusion.png").exists()
    run_reader = load_run_reader(out, cache_dir=tmp_path / "cache")
    assert type(run_reader).__name__ == "OnnxClassifier"  # exported once, read without TensorFlow after
    canvases, _ = run_batch(x_test[:5], y_test[:5], np.random.default_rng(0), NO_AUGMENT)
    columns = run_reader.predict_proba(canvases.astype(np.float32) / 255.0).reshape(5, RUN_STEPS, RUN_SYMBOLS)
    assert np.allclose(columns.sum(axis=2), 1.0, atol=1e-4)
    with pytest.raises(ModelError, match="run reader, not a digit classifier"):
        load_classifier(out, backend="keras")
    with pytest.raises(ModelError, match="not a run reader"):
        load_run_reader(SHIPPED_MLP, cache_dir=tmp_path / "cache")
    tuned = tmp_path / "tuned.keras"
    code = main(["train", "--init-model", str(out), "--data", str(data), "--out", str(tuned), "--epochs", "1",
                 "--batch-size", "32", "--max-samples", "100", "-q"])
    assert code == 0, capsys.readouterr().err
    assert json.loads(tmp_path.joinpath("tuned.meta.json").read_text())["architecture"] == "runs"
    assert not list(tmp_path.glob("*.checkpoint.*"))


def test_training_runs_hold_one_to_four_digits_labelled_for_ctc():
    x, y = learnable_digits(40, seed=0)
    canvases, targets = run_batch(x, y, np.random.default_rng(1), NO_AUGMENT)
    assert canvases.shape == (40, RUN_HEIGHT, RUN_WIDTH) and canvases.dtype == np.uint8
    assert targets.shape == (40, MAX_RUN)
    sizes = (targets > 0).sum(axis=1)
    assert set(sizes) <= set(RUN_SIZE_P) and len(set(sizes)) >= 3
    for row, size in zip(targets, sizes):
        assert (row[:size] > 0).all() and (row[size:] == 0).all()  # digits + 1, then the blank
    assert set((targets[targets > 0] - 1).tolist()) <= set(y.tolist())
    ink_rows = np.flatnonzero(canvases.max(axis=(0, 2)) > 0)
    assert ink_rows[0] >= 1 and ink_rows[-1] <= RUN_HEIGHT - 2  # scaled into the canvas, not cut off


class _SureRun:
    """A run reader double that reads every canvas as the digits ``value``, each column this ``sure``."""

    name = "sure-run"

    def __init__(self, value: str, sure: float) -> None:
        self.value, self.sure, self.calls = value, sure, 0

    def predict_proba(self, canvases: np.ndarray) -> np.ndarray:
        self.calls += len(canvases)
        out = np.zeros((len(canvases), RUN_STEPS, RUN_SYMBOLS), np.float32)
        step = RUN_WIDTH // RUN_STEPS
        for canvas, columns in zip(canvases.reshape(len(canvases), RUN_HEIGHT, -1), out):
            ink = np.flatnonzero(canvas.max(axis=0) > 0) if canvas.size == RUN_HEIGHT * RUN_WIDTH else []
            left, right = (ink[0], ink[-1]) if len(ink) else (0, RUN_WIDTH - 1)
            labels = [0] * RUN_STEPS
            for k, digit in enumerate(self.value):  # each digit at the middle of its share of the ink
                labels[int((left + (k + 0.5) * (right - left) / len(self.value)) // step)] = int(digit) + 1
            columns[:] = (1 - self.sure) / (RUN_SYMBOLS - 1)
            columns[np.arange(RUN_STEPS), labels] = self.sure
        return out.reshape(len(canvases), -1)


def test_a_sure_run_reading_replaces_the_cut_pieces_reading_and_an_unsure_one_does_not(tmp_path):
    """samples/touching_hard_1768156.png holds a '15' blob that the splitter cuts in two: the run reader reads the
    blob whole, and only a reading at least ``RUN_CONFIDENCE`` probable counts."""
    sure_column = RUN_CONFIDENCE ** (0.5 / RUN_STEPS)  # its best path: sqrt(RUN_CONFIDENCE), above it
    blank = np.zeros((1, RUN_HEIGHT, RUN_WIDTH), np.float32)
    reading = best_path(_SureRun("42", sure_column).predict_proba(blank)[0].reshape(RUN_STEPS, -1))
    assert reading.digits == [4, 2] and reading.confidence >= RUN_CONFIDENCE
    sure = _SureRun("42", sure_column)
    result = DigitReader(cache_dir=tmp_path, run_reader=sure).read(TOUCHING)
    assert sure.calls >= 1 and result.lines != ["1768156"] and "42" in result.lines[0]
    unsure = _SureRun("42", RUN_CONFIDENCE ** (2.0 / RUN_STEPS))  # its reading: about RUN_CONFIDENCE squared
    assert DigitReader(cache_dir=tmp_path, run_reader=unsure).read(TOUCHING).lines == ["1768156"]
    assert unsure.calls >= 1  # asked, and not listened to


class _SpreadRun(_SureRun):
    """A run reader double whose every digit spans two columns, each 0.8 that digit and 0.2 blank: the reading is
    0.96 probable per digit, but its best path only 0.8 ** 2 per digit."""

    def predict_proba(self, canvases: np.ndarray) -> np.ndarray:
        out = super().predict_proba(canvases).reshape(len(canvases), RUN_STEPS, RUN_SYMBOLS)
        for columns in out:
            for step in np.flatnonzero(columns.argmax(axis=1) > 0):
                digit = columns[step].argmax()
                columns[step:step + 2] = 0.0
                columns[step:step + 2, digit], columns[step:step + 2, 0] = 0.8, 0.2
        return out.reshape(len(canvases), -1)


def test_a_reading_counts_by_its_probability_over_every_path_not_its_best_paths(tmp_path):
    spread = _SpreadRun("42", 1.0)
    columns = spread.predict_proba(np.zeros((1, RUN_HEIGHT, RUN_WIDTH), np.float32))[0].reshape(RUN_STEPS, -1)
    assert np.prod(columns.max(axis=1)) < 0.5 < RUN_CONFIDENCE <= best_path(columns).confidence
    assert best_path(columns).digits == [4, 2]
    result = DigitReader(cache_dir=tmp_path, run_reader=spread).read(TOUCHING)
    assert spread.calls >= 1 and "42" in result.lines[0]


def test_a_sure_run_reading_of_more_digits_cuts_the_box_again(tmp_path):
    """Read as three digits, the '15' blob is cut into three boxes side by side within it. (The '768' box, cut in
    three already, keeps its pieces and takes the reading.)"""
    plain = DigitReader(cache_dir=tmp_path, run_reader="none").read(TOUCHING)
    result = DigitReader(cache_dir=tmp_path, run_reader=_SureRun("423", RUN_CONFIDENCE ** (0.5 / RUN_STEPS))
                         ).read(TOUCHING)
    assert "423" in result.lines[0] and len(result.digits) > len(plain.digits)
    boxes = [d.box for d in result.digits]
    assert result.lines[0].count("423") == 2
    k = result.lines[0].rindex("423")
    for (x0, _, w0, _), (x1, _, w1, _) in zip(boxes[k:k + 2], boxes[k + 1:k + 3]):
        assert x0 < x1 and x0 + w0 - x1 <= 0.25 * min(w0, w1)  # left to right, side by side (boxes mapped back
        # from the working copy to the image may overlap by a few px)


def test_the_reader_uses_the_shipped_run_reader_unless_told_not_to(tmp_path):
    run_reader = DigitReader(cache_dir=tmp_path).run_reader
    assert run_reader.name == "digit_runs.keras" and type(run_reader).__name__ == "OnnxClassifier"
    assert DigitReader(cache_dir=tmp_path, run_reader="none").run_reader is None


def test_the_shipped_run_reader_is_exported_at_once_and_loaded_at_the_first_blob(tmp_path):
    """An empty ONNX cache: the run reader is exported when the reader is made (not mid-batch). A cached one is
    loaded only when a page has a box with candidate cuts (onnxruntime is a heavy import)."""
    first = DigitReader(cache_dir=tmp_path)
    assert first._run_reader is not None and not first._run_reader_pending
    assert any(tmp_path.glob(f"{SHIPPED_SHA256['digit_runs.keras']}.onnx"))
    reader = DigitReader(cache_dir=tmp_path)
    assert reader._run_reader is None and reader._run_reader_pending
    assert reader.read(SAMPLE).lines == ["651778970"] and reader._run_reader is None  # well-separated digits
    assert reader.read(TOUCHING).lines == ["1768156"] and reader._run_reader is not None


def test_cli_run_reader_none_and_a_wrong_run_reader(tmp_path, capsys):
    assert main(["-i", str(SAMPLE), "--run-reader", "none", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "651778970\n"
    assert main(["-i", str(SAMPLE), "--run-reader", str(SHIPPED_MLP), "--cache-dir", str(tmp_path)]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ModelError" in err[0] and "not a run reader" in err[0]


def test_shipped_run_reader_reads_held_out_mnist_runs(mnist_path: Path, tmp_path):
    data = np.load(mnist_path)
    canvases, targets = run_batch(data["x_test"][:2000], data["y_test"][:2000], np.random.default_rng(5), NO_AUGMENT)
    columns = load_run_reader(SHIPPED_RUNS, cache_dir=tmp_path).predict_proba(canvases / 255.0)
    right = [best_path(c).digits == [int(t) - 1 for t in row if t]
             for c, row in zip(columns.reshape(-1, RUN_STEPS, RUN_SYMBOLS), targets)]
    assert np.mean(right) >= RUNS_HELD_OUT


RUNS_HELD_OUT = 0.9


KEPT_WHOLE = REPO / "samples" / "clean_kept_whole_53206773.png"


def test_a_box_kept_whole_keeps_the_classifiers_reading_of_one_digit(tmp_path):
    """samples/clean_kept_whole_53206773.png: the 2 got candidate cuts that were not taken. A run reader sure it is
    one other digit is not listened to; one sure it is two digits cuts it."""
    one = _SureRun("7", RUN_CONFIDENCE ** (0.5 / RUN_STEPS))
    assert DigitReader(cache_dir=tmp_path, run_reader=one).read(KEPT_WHOLE).lines == ["53206773"]
    assert one.calls >= 1
    two = _SureRun("77", RUN_CONFIDENCE ** (0.5 / RUN_STEPS))
    result = DigitReader(cache_dir=tmp_path, run_reader=two).read(KEPT_WHOLE)
    assert result.lines == ["537706773"]  # the 2's box, cut in two, each piece read 7
    assert result.digits[2].box[0] + result.digits[2].box[2] <= result.digits[3].box[0] + 2
