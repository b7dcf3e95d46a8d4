"""Model metadata: the JSON written next to every trained model and checked when it is loaded."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

from .errors import ModelError

META_FORMAT = "digitreader-model/1"
INPUT_CONVENTION = {
    "shape": [28, 28, 1],
    "dtype": "float32",
    "range": [0.0, 1.0],
    "polarity": "white-on-black",
    "normalisation": "mnist: ink cropped, larger side 20 px (area resampling), centre of mass at (14, 14)",
}
RUN_INPUT_CONVENTION = {  # the run reader's canvas (runs.normalise_run)
    "shape": [32, 128, 1],
    "dtype": "float32",
    "range": [0.0, 1.0],
    "polarity": "white-on-black",
    "normalisation": "run: ink cropped, 24 px tall (or 120 px wide at most; area resampling), centred",
}


def meta_path(model_path: str | Path) -> Path:
    """``output/mnist_cnn.keras`` -> ``output/mnist_cnn.meta.json``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".meta.json")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    import cv2
    import numpy as np

    versions = {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__}
    try:
        from . import __version__

        versions["digitreader"] = __version__
    except ImportError:  # pragma: no cover
        pass
    import sys

    if "tensorflow" in sys.modules:
        versions["tensorflow"] = sys.modules["tensorflow"].__version__
    if "keras" in sys.modules:
        versions["keras"] = sys.modules["keras"].__version__
        versions["keras_backend"] = sys.modules["keras"].backend.backend()
        if versions["keras_backend"] == "jax" and "jax" in sys.modules:
            versions["jax"] = sys.modules["jax"].__version__
    return versions


def write_meta(model_path: str | Path, fields: dict[str, Any]) -> Path:
    """Write the metadata JSON for a freshly saved model (its hash included)."""
    meta = {
        "format": META_FORMAT,
        "model_file": Path(model_path).name,
        "model_sha256": file_sha256(model_path),
        "input": INPUT_CONVENTION,
        "classes": list(range(10)),
        **fields,
        "versions": library_versions(),
    }
    path = meta_path(model_path)
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def read_meta(model_path: str | Path) -> dict[str, Any] | None:
    """The model's metadata, or ``None`` when it has none. Malformed metadata is an error."""
    path = meta_path(model_path)
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"unreadable model metadata {path}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != META_FORMAT:
        raise ModelError(f"{path} is not digitreader model metadata (format {META_FORMAT})")
    return meta


def check_meta(model_path: str | Path, meta: dict[str, Any], sha256: str | None = None) -> None:
    """Refuse a model whose file (``sha256``, computed if not given) or input convention differs from its metadata."""
    expected = meta.get("model_sha256")
    if expected and (sha256 or file_sha256(model_path)) != expected:
        raise ModelError(
            f"{model_path} does not match its metadata {meta_path(model_path).name} "
            "(sha256 differs: the file was changed or replaced after training)"
        )
    runs = meta.get("architecture") == "runs"
    expected = RUN_INPUT_CONVENTION if runs else INPUT_CONVENTION
    if meta.get("input", {}).get("shape") != expected["shape"]:
        raise ModelError(f"{model_path}: metadata declares input {meta.get('input')}, expected "
                         + ("the 32x128x1 run canvas" if runs else "28x28x1 MNIST"))
