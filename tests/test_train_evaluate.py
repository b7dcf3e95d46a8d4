"""``digitreader train`` and ``digitreader evaluate`` on tiny synthetic datasets (no MNIST needed).

One training runs through a real subprocess (stdout, the recorded command); the rest run in-process
through ``digitreader.cli.main`` so TensorFlow is imported once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO
from test_datasets import csv_text, usps_images, write_idx_folder

from digitreader.cli import main

# Keras' TensorFlow backend calls np.array(tensor, copy=False) internally; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")
FONT = cv2.FONT_HERSHEY_SIMPLEX
N_TRAIN, N_TEST = 200, 50
SHIPPED_MLP = REPO / "output" / "mnist_mlp.keras"
META_KEYS = {"format", "architecture", "model_sha256", "input", "classes", "test_accuracy", "test_errors",
             "dataset", "training", "versions", "created"}


def learnable_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 white-on-black font digits with jittered position and size: a tiny model can learn them."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 10).astype(np.uint8)
    x = np.zeros((n, 28, 28), np.uint8)
    for i, digit in enumerate(y):
        origin = (int(rng.integers(5, 9)), int(rng.integers(20, 24)))
        cv2.putText(x[i], str(digit), origin, FONT, float(rng.uniform(0.7, 0.9)), 255, 2, cv2.LINE_AA)
    return x, y


def learnable_npz(path: Path, n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """Write a tiny mnist.npz of :func:`learnable_digits` at ``path``; return its test digits and labels."""
    x_train, y_train = learnable_digits(n_train, seed=0)
    x_test, y_test = learnable_digits(n_test, seed=1)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return x_test, y_test


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_meta(model: Path) -> dict:
    return json.loads(model.with_name(model.stem + ".meta.json").read_text())


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "digitreader", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    learnable_npz(path, N_TRAIN, N_TEST)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_npz) -> tuple[Path, subprocess.CompletedProcess]:
    """The tiny MLP, trained once through the real command line."""
    out = tmp_path_factory.mktemp("models") / "m.keras"
    proc = run_cli("train", "--arch", "mlp", "--data", tiny_npz, "--out", out, "--epochs", 1, "--max-samples", 200)
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.fixture(scope="module")
def keras():
    from digitreader.tf_quiet import import_keras

    return import_keras()


# ---------------------------------------------------------------- train


@pytest.mark.slow
def test_train_subprocess_stdout_is_only_the_model_path(trained):
    model, proc = trained
    assert proc.stdout == f"{model}\n"
    assert "Traceback" not in proc.stderr
    assert "saved" in proc.stderr and "test accuracy" in proc.stderr


def test_train_writes_model_metadata_and_reports(trained, tiny_npz, keras):
    model, _ = trained
    assert model.is_file()
    for suffix in ("curves", "confusion", "errors"):
        png = model.with_name(f"m.{suffix}.png")
        image = cv2.imread(str(png))
        assert image is not None and image.shape[0] > 50 and image.shape[1] > 50, png

    meta = read_meta(model)
    assert META_KEYS <= meta.keys()
    assert meta["architecture"] == "mlp"
    assert meta["model_sha256"] == sha256(model)
    assert meta["input"]["shape"] == [28, 28, 1]
    assert 0.0 <= meta["test_accuracy"] <= 1.0
    assert meta["test_errors"] == round((1 - meta["test_accuracy"]) * N_TEST)
    assert meta["dataset"]["sha256"] == sha256(tiny_npz)
    assert meta["dataset"]["format"] == "npz"
    assert meta["dataset"]["test_samples"] == N_TEST
    assert meta["dataset"]["train_samples"] + meta["dataset"]["validation_samples"] == N_TRAIN
    assert meta["versions"]["keras"] == keras.__version__
    command = meta["training"]["command"]
    assert command.startswith("digitreader train") and "--arch mlp" in command and "--max-samples 200" in command
    assert meta["training"]["epochs_run"] == 1
    assert meta["parameters"] > 100_000


def test_saved_model_is_inference_only(trained, keras):
    model, _ = trained
    with zipfile.ZipFile(model) as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    assert not config.get("compile_config"), "the model must be saved uncompiled"
    import h5py

    with h5py.File(io.BytesIO(weights), "r") as h5:
        names: list[str] = []
        h5.visit(names.append)
    assert names and not any("optimizer" in name for name in names), names

    loaded = keras.saving.load_model(model)
    assert getattr(loaded, "optimizer", None) is None
    classes = [type(layer).__name__ for layer in loaded.layers]
    assert "Dense" in classes
    assert not any("Random" in name or "Augment" in name for name in classes), classes
    assert loaded.input_shape[1:] == (28, 28, 1) and loaded.output_shape[1:] == (10,)


def test_training_learns_the_tiny_digits(tmp_path, tiny_npz, capsys):
    out = tmp_path / "learn.keras"
    code, stdout, err = cli(capsys, "train", "--arch", "mlp", "--data", tiny_npz, "--out", out, "--epochs", 6,
                            "--batch-size", 32, "--no-augment", "-q")
    assert code == 0, err
    assert stdout.strip() == str(out)
    meta = read_meta(out)
    assert meta["test_accuracy"] >= 0.5, meta["test_accuracy"]  # chance is 0.1
    assert meta["training"]["augmentation"] is None


def test_crop_augmentation_is_opt_in_and_recorded(tmp_path, tiny_npz, capsys):
    out = tmp_path / "crops.keras"
    code, _, err = cli(capsys, "train", "--arch", "mlp", "--data", tiny_npz, "--out", out, "--epochs", 1,
                       "--batch-size", 32, "--crop-augment", "-q")
    assert code == 0, err
    augmentation = read_meta(out)["training"]["augmentation"]
    assert augmentation["merged_fraction"] == 0.1 and augmentation["fragment_p"] == 0.15
    assert read_meta(SHIPPED_MLP)["training"]["augmentation"].get("merged_fraction", 0.0) == 0.0


@pytest.mark.slow
def test_train_tiny_cnn(tmp_path, tiny_npz, capsys, keras):
    out = tmp_path / "c.keras"
    code, stdout, err = cli(capsys, "train", "--arch", "cnn", "--data", tiny_npz, "--out", out, "--epochs", 1,
                            "--max-samples", 128)
    assert code == 0, err
    assert stdout.strip() == str(out)
    meta = read_meta(out)
    assert meta["architecture"] == "cnn" and meta["model_sha256"] == sha256(out)
    assert meta["dataset"]["train_samples"] + meta["dataset"]["validation_samples"] == 128
    classes = [type(layer).__name__ for layer in keras.saving.load_model(out, compile=False).layers]
    assert "Conv2D" in classes and not any("Random" in name for name in classes)
    assert cv2.imread(str(tmp_path / "c.confusion.png")) is not None


def _write_format(fmt: str, root: Path) -> Path:
    """The same kind of tiny learnable data in each supported on-disk format."""
    x_train, y_train = learnable_digits(100, seed=2)
    x_test, y_test = learnable_digits(20, seed=3)
    if fmt == "npz":
        path = root / "d.npz"
        np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        return path
    if fmt == "idx":
        return write_idx_folder(root / "idx", x_train, y_train, x_test, y_test, gzipped=True)
    if fmt == "csv":
        path = root / "d.csv"
        path.write_text(csv_text(x_train, y_train, header=True))
        return path
    if fmt == "folder":
        for i, (img, label) in enumerate(zip(x_train, y_train)):
            sub = root / "classes" / str(label)
            sub.mkdir(parents=True, exist_ok=True)
            big = cv2.resize(255 - img, (56, 70), interpolation=cv2.INTER_LINEAR)  # dark ink on white, larger
            assert cv2.imwrite(str(sub / f"{i}.png"), big)
        return root / "classes"
    if fmt == "usps-h5":
        import h5py

        path = root / "usps.h5"
        with h5py.File(path, "w") as h5:
            for split, (data, target) in {"train": usps_images(100, 0), "test": usps_images(20, 1)}.items():
                h5.create_dataset(f"{split}/data", data=data)
                h5.create_dataset(f"{split}/target", data=target)
        return path
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["npz", "idx", "csv", "folder", "usps-h5"])
def test_train_mlp_on_every_format(tmp_path, capsys, fmt):
    from digitreader.datasets import load_dataset

    data = _write_format(fmt, tmp_path)
    out = tmp_path / "out" / f"{fmt}.keras"
    code, stdout, err = cli(capsys, "train", "--arch", "mlp", "--data", data, "--out", out, "--epochs", 1,
                            "--max-samples", 100, "-q")
    assert code == 0, err
    assert stdout.strip() == str(out) and out.is_file()
    meta = read_meta(out)
    dataset = load_dataset(data)
    assert meta["dataset"]["format"] == fmt
    assert meta["dataset"]["sha256"] == dataset.sha256
    used = min(100, len(dataset.x_train))
    assert meta["dataset"]["train_samples"] + meta["dataset"]["validation_samples"] == used
    assert meta["dataset"]["test_samples"] == min(100, len(dataset.x_test)) > 0


def test_fine_tune_from_init_model(tmp_path, trained, tiny_npz, capsys, keras):
    base, _ = trained
    out = tmp_path / "ft.keras"
    code, stdout, err = cli(capsys, "train", "--init-model", base, "--data", tiny_npz, "--out", out,
                            "--epochs", 1, "--max-samples", 100, "-q")
    assert code == 0, err
    meta, base_meta = read_meta(out), read_meta(base)
    assert meta["architecture"] == "mlp"
    assert meta["training"]["init_model"] == str(base)
    assert meta["training"]["init_model_sha256"] == base_meta["model_sha256"]
    assert meta["training"]["learning_rate"] == pytest.approx(3e-4)
    assert meta["model_sha256"] == sha256(out) != base_meta["model_sha256"]

    # it started from the base weights: one short low-LR epoch moves them only a little
    from digitreader.architectures import build_mlp

    start = _first_dense_kernel(keras.saving.load_model(base, compile=False))
    tuned = _first_dense_kernel(keras.saving.load_model(out, compile=False))
    fresh = _first_dense_kernel(build_mlp())
    assert start.shape == tuned.shape == fresh.shape == (784, 800)
    assert not np.array_equal(start, tuned)
    assert np.corrcoef(start.ravel(), tuned.ravel())[0, 1] > 0.95
    assert abs(np.corrcoef(start.ravel(), fresh.ravel())[0, 1]) < 0.2


def test_a_stopped_run_keeps_its_best_epoch_as_a_checkpoint_to_go_on_from(tmp_path, tiny_npz, capsys, monkeypatch):
    from digitreader import train as train_module
    from digitreader.classify import load_classifier

    real_checkpoint = train_module._checkpoint_callback

    def stopping_after_epoch_two(*args):
        checkpoint = real_checkpoint(*args)
        save = checkpoint.on_epoch_end

        def on_epoch_end(epoch, logs=None):
            save(epoch, logs)
            if epoch == 1:
                raise KeyboardInterrupt  # as if the user pressed Ctrl-C or the job was killed here

        checkpoint.on_epoch_end = on_epoch_end
        return checkpoint

    out = tmp_path / "m.keras"
    monkeypatch.setattr(train_module, "_checkpoint_callback", stopping_after_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_module.train(train_module.TrainConfig(out=out, arch="mlp", data=tiny_npz, epochs=5, command="test"))
    checkpoint = tmp_path / "m.checkpoint.keras"
    assert not out.exists() and checkpoint.is_file()
    meta = read_meta(checkpoint)
    assert meta["architecture"] == "mlp" and meta["model_sha256"] == sha256(checkpoint)
    assert meta["checkpoint"]["epoch"] in (1, 2) and meta["training"]["command"] == "test"
    assert load_classifier(checkpoint, backend="keras").predict_proba(np.zeros((2, 28, 28))).shape == (2, 10)

    monkeypatch.undo()
    code, _, err = cli(capsys, "train", "--init-model", checkpoint, "--data", tiny_npz, "--out", out, "--epochs", 1,
                       "-q")
    assert code == 0, err
    assert read_meta(out)["training"]["init_model_sha256"] == meta["model_sha256"]
    assert not checkpoint.exists() and not (tmp_path / "m.checkpoint.meta.json").exists()


def test_fine_tune_averaged_with_its_start(tmp_path, trained, tiny_npz, capsys, keras, monkeypatch):
    """--average-init saves the mean of the base weights and the fine-tuned ones (the weights the base had
    before training, not after), and says so in the metadata."""
    import digitreader.train as train_module

    base, _ = trained
    seen = {}
    real_average = train_module.average_weights

    def recording_average(start, tuned):
        seen["start"], seen["tuned"] = [w.copy() for w in start], [w.copy() for w in tuned]
        return real_average(start, tuned)

    monkeypatch.setattr(train_module, "average_weights", recording_average)
    out = tmp_path / "avg.keras"
    code, _, err = cli(capsys, "train", "--init-model", base, "--data", tiny_npz, "--out", out, "--epochs", 1,
                       "--max-samples", 100, "--learning-rate", 0.01, "--average-init", "-q")
    assert code == 0, err
    assert read_meta(out)["training"]["average_with_init"] is True
    base_weights = keras.saving.load_model(base, compile=False).get_weights()
    saved = keras.saving.load_model(out, compile=False).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(seen["start"], base_weights))
    assert not all(np.array_equal(a, b) for a, b in zip(seen["start"], seen["tuned"]))
    for start, tuned, kept in zip(seen["start"], seen["tuned"], saved):
        np.testing.assert_allclose(kept, (start + tuned) / 2, rtol=1e-6, atol=1e-7)

    code, _, err = cli(capsys, "train", "--arch", "mlp", "--data", tiny_npz, "--out", tmp_path / "x.keras",
                       "--average-init")
    assert code == 2 and "--average-init needs --init-model" in err
    assert not (tmp_path / "x.keras").exists()


def crops_npz(path: Path, x: np.ndarray, y: np.ndarray, index: np.ndarray | None = None) -> Path:
    arrays = {"x": x, "y": y} if index is None else {"x": x, "y": y, "mnist_index": index}
    np.savez(path, **arrays)
    return path


def test_extra_crops_are_trained_on_as_they_are_without_validation_digits(tmp_path, tiny_npz, capsys, monkeypatch):
    """--extra-crops adds ready-made crops to the fit set, unaugmented (the reader cut them already), leaves
    out crops of the digits held out for validation, and records what it used."""
    import digitreader.train as train_module

    x, y = learnable_digits(30, seed=5)
    x[:, 0, 0] = 7  # a mark augmentation would move or blur: seen intact only if the crops go in as they are
    _, val_index = train_module._validation_order(N_TRAIN, 0.05, 0)
    index = np.arange(30) + 1000
    index[:4] = val_index[:4]  # four crops of validation digits
    seen = []
    real_batches = train_module._augmenting_batches

    def recording_batches(*args, **kwargs):
        batches = real_batches(*args, **kwargs)
        seen.extend(batches[i][0][..., 0] for i in range(len(batches)))
        return batches

    monkeypatch.setattr(train_module, "_augmenting_batches", recording_batches)
    out = tmp_path / "extra.keras"
    code, _, err = cli(capsys, "train", "--arch", "mlp", "--data", tiny_npz, "--out", out, "--epochs", 1,
                       "--batch-size", 32, "--extra-crops", crops_npz(tmp_path / "c.npz", x, y, index), "-q")
    assert code == 0, err
    used = read_meta(out)["training"]["extra_crops"]
    assert used["crops"] == 26 and used["left_out_validation"] == 4 and used["sha256"] == sha256(tmp_path / "c.npz")
    images = np.concatenate(seen)
    assert len(images) == N_TRAIN - 10 + 26  # 190 digits to fit on (10 held out) and 26 crops
    intact = {bytes((crop / 255.0).astype(np.float32).tobytes()) for crop in x[4:]}
    assert sum(bytes(image.astype(np.float32).tobytes()) in intact for image in images) == 26


def test_extra_crops_errors_are_one_line_each(tmp_path, tiny_npz, capsys):
    x, y = learnable_digits(10, seed=5)
    cases = [
        (tmp_path / "missing.npz", 3, "extra crops not found"),
        (crops_npz(tmp_path / "wide.npz", np.zeros((10, 28, 30), np.uint8), y), 6, "(N, 28, 28) uint8"),
        (crops_npz(tmp_path / "labels.npz", x, y + 5), 6, "labels must be digits"),
    ]
    for path, exit_code, message in cases:
        code, _, err = cli(capsys, "train", "--arch", "mlp", "--data", tiny_npz, "--out", tmp_path / "m.keras",
                           "--epochs", 1, "--extra-crops", path, "-q")
        assert code == exit_code and message in err and len(err.strip().splitlines()) == 1, (path, err)
    code, _, err = cli(capsys, "train", "--arch", "verifier", "--data", tiny_npz, "--out", tmp_path / "v.keras",
                       "--epochs", 1, "--extra-crops", crops_npz(tmp_path / "ok.npz", x, y), "-q")
    assert code == 6 and "not the verifier model" in err
    assert not (tmp_path / "m.keras").exists() and not (tmp_path / "v.keras").exists()


def test_average_weights_refuses_different_architectures():
    from digitreader.errors import ModelError
    from digitreader.train import average_weights

    a = [np.zeros((2, 3), np.float32), np.ones(3, np.float32)]
    assert [w.tolist() for w in average_weights(a, [w + 2 for w in a])] == [[[1.0] * 3] * 2, [2.0] * 3]
    with pytest.raises(ModelError, match="different architectures"):
        average_weights(a, [np.zeros((3, 2), np.float32), np.ones(3, np.float32)])


def _first_dense_kernel(model) -> np.ndarray:
    dense = next(layer for layer in model.layers if type(layer).__name__ == "Dense")
    return dense.get_weights()[0]


def test_init_model_with_other_arch_is_model_error(tmp_path, trained, tiny_npz, capsys):
    base, _ = trained
    code, stdout, err = cli(capsys, "train", "--arch", "cnn", "--init-model", base, "--data", tiny_npz,
                            "--out", tmp_path / "x.keras", "--epochs", 1, "--max-samples", 50)
    assert code == 5
    assert stdout == ""
    assert "ModelError" in err and "--arch cnn" in err
    assert not (tmp_path / "x.keras").exists()


def test_train_missing_data_path_exits_3(tmp_path, capsys):
    code, stdout, err = cli(capsys, "train", "--arch", "mlp", "--data", tmp_path / "absent.npz",
                            "--out", tmp_path / "m.keras")
    assert code == 3
    assert stdout == "" and "absent.npz" in err and "Traceback" not in err
    assert not (tmp_path / "m.keras").exists()


def test_train_without_data_and_without_network_exits_6(tmp_path, capsys, keras, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    code, stdout, err = cli(capsys, "train", "--arch", "mlp", "--out", tmp_path / "m.keras", "--epochs", 1)
    assert code == 6
    assert stdout == ""
    assert "--data" in err and "DataError" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_train_out_must_be_keras(tmp_path, tiny_npz, capsys):
    code, _, err = cli(capsys, "train", "--arch", "mlp", "--data", tiny_npz, "--out", tmp_path / "m.h5")
    assert code == 7 and ".keras" in err


# ---------------------------------------------------------------- evaluate


def test_evaluate_json(trained, tiny_npz, capsys):
    model, _ = trained
    code, stdout, err = cli(capsys, "evaluate", "-m", model, "--data", tiny_npz, "--format", "json")
    assert code == 0, err
    report = json.loads(stdout)
    assert 0.0 <= report["accuracy"] <= 1.0
    assert set(report["per_class"]) == {str(d) for d in range(10)}
    assert all(row["support"] == N_TEST // 10 for row in report["per_class"].values())
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10)
    assert matrix.sum() == N_TEST
    assert matrix.sum(axis=1).tolist() == [N_TEST // 10] * 10  # rows are the true labels
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / N_TEST)
    assert report["dataset_sha256"] == sha256(tiny_npz)
    # the same model on the same test split: what training recorded
    assert report["accuracy"] == pytest.approx(read_meta(model)["test_accuracy"], abs=1e-9)


def test_evaluate_text(trained, tiny_npz, capsys):
    model, _ = trained
    code, stdout, err = cli(capsys, "evaluate", "-m", model, "--data", tiny_npz)
    assert code == 0, err
    assert "accuracy:" in stdout and f"/{N_TEST}," in stdout
    assert "confusion matrix" in stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(stdout)


def test_evaluate_missing_model_is_one_line_error(tmp_path, tiny_npz):
    """A missing model is a MODEL error (exit 5, as the README's exit-code table says), not a crash."""
    proc = run_cli("evaluate", "-m", tmp_path / "none.keras", "--data", tiny_npz)
    assert proc.returncode == 5
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ModelError:") and "none.keras" in lines[0]


def test_evaluate_tampered_model_is_refused(tmp_path, trained, tiny_npz, capsys):
    model, _ = trained
    copy = tmp_path / "m.keras"
    shutil.copy(model, copy)
    shutil.copy(model.with_name("m.meta.json"), tmp_path / "m.meta.json")
    assert cli(capsys, "evaluate", "-m", copy, "--data", tiny_npz)[0] == 0  # the intact copy loads
    with open(copy, "ab") as fh:
        fh.write(b"\0")
    code, stdout, err = cli(capsys, "evaluate", "-m", copy, "--data", tiny_npz)
    assert code == 5
    assert stdout == ""
    assert "does not match its metadata" in err and "Traceback" not in err


def test_evaluate_missing_data_exits_3(trained, tmp_path, capsys):
    model, _ = trained
    code, _, err = cli(capsys, "evaluate", "-m", model, "--data", tmp_path / "absent")
    assert code == 3 and "absent" in err


# ---------------------------------------------------------------- the full MNIST (optional)


@pytest.mark.slow
def test_shipped_mlp_on_mnist_test_split(mnist_path, capsys):
    if not SHIPPED_MLP.is_file():
        pytest.skip(f"no shipped model at {SHIPPED_MLP} (train it with digitreader train --arch mlp)")
    code, stdout, err = cli(capsys, "evaluate", "-m", SHIPPED_MLP, "--data", mnist_path, "--format", "json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["samples"] == 10_000
    assert report["accuracy"] >= 0.97
    meta = read_meta(SHIPPED_MLP)
    if meta["dataset"]["sha256"] == report["dataset_sha256"] and meta["dataset"]["test_samples"] == 10_000:
        assert report["accuracy"] == pytest.approx(meta["test_accuracy"], abs=1e-9)
