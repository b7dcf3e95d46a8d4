"""Pages of MNIST training digits and the reader's crops of them (``benchmarks/synth.py --split train``,
``benchmarks/page_crops.py``): what ``digitreader train --extra-crops`` learns from."""

from __future__ import annotations

import json
import sys

import numpy as np
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import accuracy  # noqa: E402
import page_crops  # noqa: E402
import synth  # noqa: E402


def test_a_box_is_kept_only_for_the_one_digit_it_matches():
    crops = np.arange(4)[:, None, None] * np.ones((4, 28, 28))
    boxes = [(0, 0, 10, 20), (30, 0, 10, 20), (60, 0, 30, 20), (100, 0, 10, 20)]
    digits = [
        {"value": 1, "box": [0, 0, 10, 20]},  # box 0 exactly
        {"value": 2, "box": [31, 0, 10, 20]},  # box 1, IoU 0.82
        {"value": 3, "box": [60, 0, 14, 20]},  # box 2 holds 3 and 4 merged: neither is kept
        {"value": 4, "box": [75, 0, 15, 20]},
        {"value": 5, "box": [104, 0, 10, 20]},  # box 3 at IoU 0.43: too loose
    ]
    kept = page_crops.matched_crops(boxes, crops, digits, [10, 11, 12, 13, 14], min_iou=0.7)
    assert [(int(crop[0, 0]), value, index) for crop, value, index in kept] == [(0, 1, 10), (1, 2, 11)]


def test_train_split_pages_are_cropped_and_refused_by_the_benchmark(tmp_path, mnist_path, capsys):
    pages = tmp_path / "pages"
    assert synth.main(["--out", str(pages), "--per-category", "2", "--seed", "3", "--split", "train",
                       "--categories", "clean,rows", "--mnist", str(mnist_path)]) == 0
    records = [json.loads(line) for line in (pages / "truth.jsonl").read_text().splitlines()]
    with np.load(mnist_path) as mnist:
        train_labels = mnist["y_train"]
    for record in records:
        assert record["mnist_split"] == "train"
        assert [d["value"] for d in record["digits"]] == [int(train_labels[i]) for i in record["mnist_indices"]]

    out = tmp_path / "crops.npz"
    assert page_crops.main(["--data", str(pages), "--out", str(out)]) == 0
    with np.load(out) as crops:
        x, y, index = crops["x"], crops["y"], crops["mnist_index"]
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and len(x) == len(y) == len(index)
    assert len(x) >= 0.8 * sum(len(r["digits"]) for r in records)  # clean and rows pages: nearly every digit
    assert np.array_equal(y, train_labels[index])
    assert (x.reshape(len(x), -1).max(axis=1) > 200).all()  # white ink on black, as MNIST

    capsys.readouterr()
    assert accuracy.main(["--data", str(pages), "--no-mnist"]) == 2
    assert "training digits" in capsys.readouterr().err


def test_test_split_pages_are_not_cropped_for_training(tmp_path, mnist_path, capsys):
    pages = tmp_path / "pages"
    assert synth.main(["--out", str(pages), "--per-category", "1", "--seed", "3", "--categories", "clean",
                       "--mnist", str(mnist_path)]) == 0
    assert json.loads((pages / "truth.jsonl").read_text().splitlines()[0])["mnist_split"] == "test"
    capsys.readouterr()
    assert page_crops.main(["--data", str(pages), "--out", str(tmp_path / "crops.npz")]) == 2
    assert "not made of MNIST training digits" in capsys.readouterr().err
    assert not (tmp_path / "crops.npz").exists()
