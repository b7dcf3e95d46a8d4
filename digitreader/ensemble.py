"""``digitreader ensemble``: one saved model that averages the digit probabilities of several trained classifiers.

Classifiers trained from different seeds make partly different mistakes; the mean of their probabilities
(an output ensemble) makes fewer on MNIST, though not on the benchmark's pages (benchmarks/RESULTS.md, "Twelfth
pass"). The result is an ordinary ``.keras`` model with the same input and output
as each member, so the reader, the ONNX cache and ``digitreader evaluate`` use it like any other.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .architectures import INPUT_SHAPE
from .errors import OutputError

log = logging.getLogger(__name__)


def average_probabilities(probabilities: list[np.ndarray]) -> np.ndarray:
    """The members' mean class probabilities (what the ensemble model computes), for (N, classes) arrays."""
    shapes = {p.shape for p in probabilities}
    if not probabilities or len(shapes) != 1:
        raise ValueError(f"need one or more probability arrays of one shape, got {sorted(shapes)}")
    return np.mean(np.stack(probabilities), axis=0)


def build_ensemble(keras: Any, members: list[Any]) -> Any:
    """A functional model feeding one 28x28x1 input to every member and averaging their softmax outputs."""
    if len(members) < 2:
        raise ValueError("an ensemble needs two or more members")
    inputs = keras.Input(INPUT_SHAPE, name="digit")
    outputs = []
    for index, member in enumerate(members):
        # Rename each member (one model may be given twice; seeds share layer names) and feed it 28x28x1.
        wrapped = keras.Model(member.input, member.output, name=f"member_{index}")
        shape = tuple(member.input_shape[1:])
        outputs.append(wrapped(inputs if shape == INPUT_SHAPE else keras.layers.Reshape(shape)(inputs)))
    mean = keras.layers.Average(name="mean_probability")(outputs)
    return keras.Model(inputs, mean, name="digitreader_ensemble")


def make_ensemble(member_paths: list[Path], out: Path, data: Path | None, command: str = "") -> dict[str, Any]:
    """Combine saved digit classifiers into ``out`` (``.keras``) and write its metadata and test reports."""
    from .classify import KerasClassifier, load_classifier
    from .datasets import load_dataset
    from .evaluate import evaluate_classifier
    from .modelmeta import file_sha256, write_meta
    from .reports import write_test_reports
    from .tf_quiet import import_keras
    from .train import save_model_atomically

    out = Path(out)
    if out.suffix != ".keras":
        raise OutputError(f"--out must end in .keras (got {out.name})")
    if out.resolve() in {Path(p).resolve() for p in member_paths}:
        raise OutputError(f"--out {out.name} would overwrite one of the members")
    keras = import_keras()
    members, described = [], []
    for path in map(Path, member_paths):
        member = load_classifier(path, backend="keras")  # checked as the reader checks a model (file, metadata, role)
        members.append(member.model)
        described.append({"file": str(path), "sha256": file_sha256(path),
                          "architecture": member.meta.get("architecture"),
                          "test_accuracy": member.meta.get("test_accuracy")})
    model = build_ensemble(keras, members)
    dataset = load_dataset(data)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out.parent}: {exc}") from None
    save_model_atomically(model, out)

    x_test, y_test = dataset.x_test, dataset.y_test
    metrics, probabilities = evaluate_classifier(KerasClassifier(model, out.name), x_test, y_test)
    title = f"{out.name} (mean of {len(members)}): test accuracy {metrics['accuracy'] * 100:.2f} %"
    write_test_reports(out, metrics, x_test, y_test, probabilities, title)
    write_meta(out, {
        "architecture": "ensemble",  # each member's own is under "ensemble"
        "parameters": int(model.count_params()),
        "dataset": {"source": dataset.source, "format": dataset.format, "sha256": dataset.sha256,
                    "test_samples": len(x_test)},
        "test_accuracy": metrics["accuracy"],
        "test_errors": metrics["errors"],
        "ensemble": {"combination": "mean of the members' class probabilities", "members": described},
        "training": {"command": command, "cpu_count": os.cpu_count()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    return {"model": str(out), "members": len(members), "test_accuracy": metrics["accuracy"],
            "test_errors": metrics["errors"]}
