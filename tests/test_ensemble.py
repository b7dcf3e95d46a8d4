"""``digitreader ensemble``: one model averaging the probabilities of several (tiny models, no MNIST needed)."""

from __future__ import annotations

import numpy as np
import pytest
from test_train_evaluate import cli, learnable_npz, read_meta, sha256

from digitreader.ensemble import average_probabilities

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    x_test, _ = learnable_npz(path, 200, 50)
    return path, x_test.astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def members(tmp_path_factory, tiny_data):
    """Two tiny MLPs from different seeds, and a Keras model of another input shape (784,) without metadata."""
    from digitreader.cli import main
    from digitreader.tf_quiet import import_keras

    folder, data = tmp_path_factory.mktemp("members"), tiny_data[0]
    paths = []
    for seed in (0, 1):
        out = folder / f"mlp_s{seed}.keras"
        assert main(["train", "--arch", "mlp", "--data", str(data), "--out", str(out), "--epochs", "1",
                     "--seed", str(seed), "-q"]) == 0
        paths.append(out)
    keras = import_keras()
    keras.utils.set_random_seed(3)
    inputs = keras.Input((784,))
    flat = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    flat.save(folder / "flat.keras")
    return [*paths, folder / "flat.keras"]


def test_average_probabilities_is_the_mean_and_refuses_other_shapes():
    a, b = np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.5, 0.5], [0.0, 1.0]])
    assert np.allclose(average_probabilities([a, b]), [[0.7, 0.3], [0.1, 0.9]])
    with pytest.raises(ValueError):
        average_probabilities([a, np.ones((2, 3))])
    with pytest.raises(ValueError):
        average_probabilities([])


def test_ensemble_outputs_the_members_mean(tmp_path, capsys, members, tiny_data):
    from digitreader.classify import load_classifier

    data, crops = tiny_data
    out = tmp_path / "ens.keras"
    code, stdout, err = cli(capsys, "ensemble", *members, "--out", out, "--data", data, "-q")
    assert code == 0, err
    assert stdout == f"{out}\n"
    meta = read_meta(out)
    assert meta["architecture"] == "ensemble" and meta["model_sha256"] == sha256(out)
    assert [m["sha256"] for m in meta["ensemble"]["members"]] == [sha256(p) for p in members]
    assert meta["ensemble"]["members"][0]["architecture"] == "mlp"
    assert meta["training"]["command"].startswith("digitreader ensemble ")
    assert (tmp_path / "ens.confusion.png").is_file() and (tmp_path / "ens.errors.png").is_file()

    # Each member and the ensemble read through the ONNX cache, as the reader uses them.
    alone = [load_classifier(p, backend="onnxruntime").predict_proba(crops) for p in members]
    together = load_classifier(out, backend="onnxruntime").predict_proba(crops)
    assert together.shape == (len(crops), 10)
    assert np.abs(together - average_probabilities(alone)).max() < 1e-4
    assert np.abs(alone[0] - alone[1]).max() > 1e-3  # the seeds differ, so the mean is not just one member
    errors = int((together.argmax(1) != np.arange(len(crops)) % 10).sum())
    assert meta["test_errors"] == errors


def test_ensemble_reads_a_page(tmp_path, capsys, members, tiny_data):
    import json

    import cv2
    from conftest import draw_number, iou

    out = tmp_path / "ens.keras"
    assert cli(capsys, "ensemble", *members[:2], "--out", out, "--data", tiny_data[0], "-q")[0] == 0
    page = tmp_path / "page.png"
    image, boxes = draw_number("305")
    cv2.imwrite(str(page), image)
    code, stdout, err = cli(capsys, "-i", page, "-m", out, "-f", "json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["model"] == "ens.keras"
    assert len(result["digits"]) == 3
    assert all(iou(tuple(d["box"]), box) > 0.5 for d, box in zip(result["digits"], boxes))


def test_ensemble_user_errors(tmp_path, capsys, members, tiny_data):
    from conftest import REPO

    out = tmp_path / "ens.keras"
    code, _, err = cli(capsys, "ensemble", members[0], "--out", out)
    assert code == 2 and "two or more" in err
    code, _, err = cli(capsys, "ensemble", members[0], REPO / "output" / "digit_pairs.keras", "--out", out)
    assert code == 5 and err.count("\n") == 1 and "pair reader" in err
    code, _, err = cli(capsys, "ensemble", members[0], tmp_path / "missing.keras", "--out", out)
    assert code == 5 and err.startswith("ModelError") and "missing.keras" in err
    code, _, err = cli(capsys, "ensemble", members[0], members[1], "--out", members[1])
    assert code == 7 and err.startswith("OutputError")
    code, _, err = cli(capsys, "ensemble", members[0], members[1], "--out", tmp_path / "ens.h5")
    assert code == 7 and ".keras" in err
    assert not out.exists()
