"""The single-digit verifier: trained by ``train --arch verifier``, loaded apart from the digit model,
and used by the reader when it chooses where to cut touching digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from test_train_evaluate import learnable_npz

from digitreader.classify import load_classifier, load_verifier
from digitreader.cli import main
from digitreader.errors import ModelError
from digitreader.reader import DigitReader

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")
SHIPPED_VERIFIER = REPO / "output" / "digit_verifier.keras"
SHIPPED_MLP = REPO / "output" / "mnist_mlp.keras"
SAMPLE = REPO / "samples" / "one_row_651778970.png"


def test_train_verifier_writes_a_two_class_model_with_its_test_rates(tmp_path, capsys):
    data = tmp_path / "tiny.npz"
    x_test, y_test = learnable_npz(data, 200, 60)
    out = tmp_path / "v.keras"
    code = main(["train", "--arch", "verifier", "--data", str(data), "--out", str(out), "--epochs", "4",
                 "--batch-size", "32", "-q"])
    assert code == 0, capsys.readouterr().err
    meta = json.loads(out.with_name("v.meta.json").read_text())
    assert meta["architecture"] == "verifier" and meta["classes"] == ["not one digit", "one digit"]
    rates = meta["verifier_test"]
    assert set(rates) == {"digits_accepted", "merged_rejected", "fragments_rejected"}
    assert meta["test_accuracy"] > 0.6, rates  # chance is 0.5 or less on each of the three sets
    assert (tmp_path / "v.curves.png").exists() and not (tmp_path / "v.confusion.png").exists()
    verifier = load_verifier(out, cache_dir=tmp_path / "cache")
    probabilities = verifier.predict_proba(x_test[:5].astype(np.float32) / 255.0)
    assert probabilities.shape == (5, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    with pytest.raises(ModelError, match="single-digit verifier, not a digit classifier"):
        load_classifier(out, backend="keras")
    tuned = tmp_path / "tuned.keras"  # a verifier can be fine-tuned like the digit models
    assert main(["train", "--init-model", str(out), "--data", str(data), "--out", str(tuned), "--epochs", "1",
                 "--batch-size", "32", "-q"]) == 0
    assert json.loads(tuned.with_name("tuned.meta.json").read_text())["architecture"] == "verifier"


def test_a_digit_model_is_not_a_verifier_nor_the_verifier_a_digit_model(tmp_path):
    with pytest.raises(ModelError, match="not a single-digit verifier"):
        load_verifier(SHIPPED_MLP, cache_dir=tmp_path)
    with pytest.raises(ModelError, match="single-digit verifier, not a digit classifier"):
        load_classifier(SHIPPED_VERIFIER, cache_dir=tmp_path)


def test_the_reader_uses_the_shipped_verifier_unless_told_not_to(tmp_path):
    verifier = DigitReader(cache_dir=tmp_path).verifier
    assert verifier.name == "digit_verifier.keras"
    assert type(verifier).__name__ == "OnnxClassifier"  # exported to the ONNX cache like the digit models
    assert len(list(tmp_path.glob("*.onnx"))) == 4  # the CNN's, the verifier's, the pair and the run reader's
    assert DigitReader(cache_dir=tmp_path, verifier=None).verifier is None


def test_cli_verifier_none_and_a_wrong_verifier(tmp_path, capsys):
    assert main(["-i", str(SAMPLE), "--verifier", "none", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "651778970\n"
    assert main(["-i", str(SAMPLE), "--verifier", str(SHIPPED_MLP), "--cache-dir", str(tmp_path)]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ModelError" in err[0] and "not a single-digit verifier" in err[0]


def test_shipped_verifier_tells_whole_mnist_digits_from_merged_ones(mnist_path: Path, tmp_path):
    from digitreader.augment import merged_digits

    data = np.load(mnist_path)
    digits = data["x_test"][:2000]
    merged = merged_digits(digits, 1000, np.random.default_rng(0), overlap=0.6)
    verifier = load_verifier(SHIPPED_VERIFIER, cache_dir=tmp_path)
    accepted = verifier.predict_proba(digits.astype(np.float32) / 255.0).argmax(axis=1) == 1
    rejected = verifier.predict_proba(merged.astype(np.float32) / 255.0).argmax(axis=1) == 0
    assert accepted.mean() >= 0.95 and rejected.mean() >= 0.95, (accepted.mean(), rejected.mean())


def test_the_verifier_cuts_a_one_merged_into_its_neighbour(tmp_path):
    """samples/touching_hard_1768156.png: the '15' is one blob that the CNN reads as a sure 5."""
    sample = REPO / "samples" / "touching_hard_1768156.png"
    assert DigitReader(cache_dir=tmp_path).read(sample).lines == ["1768156"]
    assert DigitReader(cache_dir=tmp_path, verifier=None).read(sample).lines == ["176856"]
