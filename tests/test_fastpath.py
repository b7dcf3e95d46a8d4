"""The fast path: .keras models run from an ONNX cache without TensorFlow, with Keras's answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SAMPLES

from digitreader.classify import KerasClassifier, load_classifier, load_pair_reader, load_run_reader, load_verifier
from digitreader.errors import ExitCode, ModelError
from digitreader.fastpath import OnnxClassifier
from digitreader.modelmeta import file_sha256
from digitreader.onnx_cache import entry_paths, valid_entry

CNN = REPO / "output" / "mnist_cnn.keras"
MLP = REPO / "output" / "mnist_mlp.keras"
SAMPLE = SAMPLES / "one_row_651778970.png"
HEAVY = ("tensorflow", "keras", "onnxruntime")


def _run_python(code: str, cache: Path) -> subprocess.CompletedProcess:
    env_code = f"import os; os.environ['DIGITREADER_CACHE_DIR'] = {str(cache)!r}\n" + code
    return subprocess.run([sys.executable, "-c", env_code], capture_output=True, text=True, timeout=300, cwd=REPO)


def _imported_after(args: list[str], cache: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the CLI in a fresh interpreter; report which heavy modules it imported."""
    code = (
        "import sys, json\nfrom digitreader.cli import main\n"
        f"code = main({args!r})\n"
        f"print(json.dumps({{'code': code, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)\n"
    )
    done = _run_python(code, cache)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def filled_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the ONNX exports of the shipped CNN, verifier, pair reader and run reader (built once, through
    TensorFlow)."""
    cache = tmp_path_factory.mktemp("filled-cache")
    classifier = load_classifier(CNN, cache_dir=cache)
    assert isinstance(classifier, OnnxClassifier)
    assert isinstance(load_verifier(REPO / "output" / "digit_verifier.keras", cache_dir=cache), OnnxClassifier)
    assert isinstance(load_pair_reader(REPO / "output" / "digit_pairs.keras", cache_dir=cache), OnnxClassifier)
    assert isinstance(load_run_reader(REPO / "output" / "digit_runs.keras", cache_dir=cache), OnnxClassifier)
    return cache


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_neither_tensorflow_nor_onnxruntime(flag: str, tmp_path: Path) -> None:
    done, report = _imported_after([flag], tmp_path)
    assert report == {"code": 0, "heavy": []}, done.stderr


def test_reading_with_a_cached_model_does_not_import_tensorflow(filled_cache: Path) -> None:
    done, report = _imported_after(["-i", str(SAMPLE), "-m", str(CNN), "--cache-dir", str(filled_cache)],
                                   filled_cache)
    assert report == {"code": 0, "heavy": []}, done.stderr
    assert done.stdout.strip() == "651778970"


def test_first_use_builds_a_verified_cache_entry(tmp_path: Path) -> None:
    classifier = load_classifier(CNN, cache_dir=tmp_path)
    sha = file_sha256(CNN)
    onnx_path, manifest_path = entry_paths(sha, tmp_path)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["source_sha256"] == sha and manifest["onnx_sha256"] == file_sha256(onnx_path)
    assert valid_entry(sha, tmp_path) == onnx_path
    assert classifier.name == "mnist_cnn.keras"


@pytest.mark.parametrize("damage", ["truncate_onnx", "garbage_onnx", "garbage_manifest", "foreign_manifest",
                                    "missing_onnx"])
def test_a_corrupt_or_stale_cache_entry_is_rebuilt(damage: str, tmp_path: Path) -> None:
    load_classifier(CNN, cache_dir=tmp_path)
    sha = file_sha256(CNN)
    onnx_path, manifest_path = entry_paths(sha, tmp_path)
    if damage == "truncate_onnx":
        onnx_path.write_bytes(onnx_path.read_bytes()[:5000])
    elif damage == "garbage_onnx":
        onnx_path.write_bytes(b"not a model" * 100)
    elif damage == "garbage_manifest":
        manifest_path.write_text("{torn")
    elif damage == "foreign_manifest":
        manifest_path.write_text(json.dumps({**json.loads(manifest_path.read_text()), "format": "other/0"}))
    else:
        onnx_path.unlink()
    assert valid_entry(sha, tmp_path) is None
    classifier = load_classifier(CNN, cache_dir=tmp_path)
    assert isinstance(classifier, OnnxClassifier)
    assert valid_entry(sha, tmp_path) == onnx_path
    assert classifier.predict_proba(_sample_crops()).argmax(1).tolist() == [6, 5, 1, 7, 7, 8, 9, 7, 0]


def test_an_unwritable_cache_falls_back_to_keras(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    classifier = load_classifier(CNN, cache_dir=not_a_dir)
    assert isinstance(classifier, KerasClassifier)
    assert "cannot write the model cache" in caplog.text


def test_the_cli_reads_an_onnx_file_directly(filled_cache: Path) -> None:
    onnx_path, _ = entry_paths(file_sha256(CNN), filled_cache)
    done, report = _imported_after(["-i", str(SAMPLE), "-m", str(onnx_path)], filled_cache)
    assert report == {"code": 0, "heavy": []}, done.stderr
    assert done.stdout.strip() == "651778970"


def test_a_file_that_is_not_onnx_is_a_model_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(ModelError, match="bogus.onnx"):
        load_classifier(bogus)
    done = subprocess.run([sys.executable, "-m", "digitreader", "-i", str(SAMPLE), "-m", str(bogus)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == ExitCode.MODEL
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_an_onnx_model_that_does_not_output_probabilities_is_refused(tmp_path: Path) -> None:
    from digitreader.tf_quiet import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model(np.zeros((1, 28, 28, 1), np.float32))
    model.export(str(tmp_path / "logits.onnx"), format="onnx", verbose=False)
    with pytest.raises(ModelError, match="probabilities"):
        OnnxClassifier.load(tmp_path / "logits.onnx")


def test_random_augmentation_layers_are_stripped_before_export(tmp_path: Path) -> None:
    from digitreader.tf_quiet import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.RandomRotation(0.2),
                              keras.layers.RandomZoom(0.1), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    path = tmp_path / "augmenting.keras"
    model.save(path)
    crops = _sample_crops()
    expected = np.asarray(model(crops[..., None], training=False))
    for backend in ("onnxruntime", "opencv"):
        classifier = load_classifier(path, cache_dir=tmp_path / "cache", backend=backend)
        assert isinstance(classifier, OnnxClassifier) and classifier.backend == backend
        np.testing.assert_allclose(classifier.predict_proba(crops), expected, atol=1e-5)


def _sample_crops() -> np.ndarray:
    """The normalised crops of the committed one-row sample (no Keras needed)."""
    from digitreader.imageio import decode_image_file
    from digitreader.normalise import crops_for_boxes
    from digitreader.segment import segment

    seg = segment(decode_image_file(SAMPLE))
    return np.asarray(crops_for_boxes(seg.ink, seg.labels, seg.boxes, seg.members), np.float32)


def _generated_crops(count: int) -> np.ndarray:
    """Crops cut from every committed sample plus shifted, thickened and noisy variants of them."""
    from digitreader.imageio import decode_image_file
    from digitreader.normalise import crops_for_boxes
    from digitreader.segment import segment

    crops = []
    for path in sorted(SAMPLES.glob("*.png")):
        seg = segment(decode_image_file(path))
        crops += list(crops_for_boxes(seg.ink, seg.labels, seg.boxes, seg.members))
    base = np.asarray(crops, np.float32)
    rng = np.random.default_rng(1)
    out = [base]
    while sum(len(b) for b in out) < count:
        shifted = np.roll(base, rng.integers(-3, 4, size=2), axis=(1, 2))
        out.append(np.clip(shifted + rng.normal(0, 0.15, shifted.shape), 0, 1).astype(np.float32))
    return np.concatenate(out)[:count]


def _compare(model: Path, crops: np.ndarray, cache: Path) -> None:
    keras_probs = load_classifier(model, backend="keras").predict_proba(crops)
    for backend in ("opencv", "onnxruntime"):
        fast = load_classifier(model, cache_dir=cache, backend=backend)
        assert isinstance(fast, OnnxClassifier) and fast.backend == backend
        probs = fast.predict_proba(crops)
        assert (probs.argmax(1) == keras_probs.argmax(1)).all(), backend
        assert np.abs(probs - keras_probs).max() < 1e-4, backend


@pytest.mark.parametrize("model", [CNN, MLP], ids=["cnn", "mlp"])
def test_fast_path_matches_keras_on_generated_crops(model: Path, tmp_path: Path) -> None:
    _compare(model, _generated_crops(600), tmp_path)


@pytest.mark.parametrize("model", [CNN, MLP], ids=["cnn", "mlp"])
def test_fast_path_matches_keras_on_all_mnist_test_digits(model: Path, mnist_path: Path, tmp_path: Path) -> None:
    with np.load(mnist_path, allow_pickle=False) as data:
        crops = data["x_test"].astype(np.float32) / 255.0
    assert len(crops) == 10_000
    _compare(model, crops, tmp_path)


def test_pinned_hashes_match_the_shipped_models() -> None:
    from digitreader.paths import SHIPPED_SHA256

    for name, sha in SHIPPED_SHA256.items():
        assert file_sha256(REPO / "output" / name) == sha, f"update SHIPPED_SHA256 for re-trained {name}"


def test_a_tampered_shipped_model_is_refused_before_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shipped model replaced together with its metadata still fails the hash pinned in the code."""
    import shutil

    from digitreader import paths
    from digitreader.modelmeta import meta_path

    shipped = tmp_path / "output"
    shipped.mkdir()
    shutil.copy(MLP, shipped / "mnist_cnn.keras")  # a different (valid) model under the shipped name
    meta = json.loads(meta_path(MLP).read_text())
    meta["model_sha256"] = file_sha256(MLP)
    meta_path(shipped / "mnist_cnn.keras").write_text(json.dumps(meta))
    monkeypatch.setattr(paths, "shipped_model_dirs", lambda: [shipped])
    with pytest.raises(ModelError, match="not the model digitreader shipped"):
        load_classifier(shipped / "mnist_cnn.keras", cache_dir=tmp_path / "cache")
    copy = tmp_path / "elsewhere" / "mnist_cnn.keras"  # the same file outside the shipped folder is the user's own
    copy.parent.mkdir()
    shutil.copy(shipped / "mnist_cnn.keras", copy)
    meta_path(copy).write_text(json.dumps(meta))
    assert load_classifier(copy, cache_dir=tmp_path / "cache").name == "mnist_cnn.keras"
