"""Stage 3: classify a batch of 28x28 crops with a saved Keras model.

TensorFlow is imported here only, on first load, never at package import.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ModelError
from .modelmeta import check_meta, read_meta

log = logging.getLogger(__name__)
PREDICT_CHUNK = 2048


class Classifier(Protocol):
    """Anything that maps (N, 28, 28) float32 crops in [0, 1] to (N, 10) probabilities."""

    name: str

    def predict_proba(self, crops: np.ndarray) -> np.ndarray: ...


class KerasClassifier:
    """A ``.keras`` model checked against its metadata and run in inference mode."""

    def __init__(self, model: Any, name: str, meta: dict[str, Any] | None = None) -> None:
        self.model = model
        self.name = name
        self.meta = meta or {}
        self.input_shape = tuple(model.input_shape[1:])

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, dtype=np.float32)
        crops = crops.reshape((len(crops), *self.input_shape))
        if len(crops) == 0:
            return np.zeros((0, 10), np.float32)
        parts = [np.asarray(self.model(crops[i:i + PREDICT_CHUNK], training=False))
                 for i in range(0, len(crops), PREDICT_CHUNK)]
        return np.concatenate(parts).astype(np.float32)


def load_classifier(path: str | Path, cache_dir: str | Path | None = None) -> KerasClassifier:
    """Load and validate a ``.keras`` model (Keras safe mode: no code from the file runs)."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    if path.suffix.lower() != ".keras":
        raise ModelError(f"unsupported model file {path.name}: expected a .keras file")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path} is not a valid .keras file (corrupt or truncated)")
    meta = read_meta(path)
    if meta is None:
        log.warning("%s has no metadata file; assuming the MNIST input convention", path.name)
    else:
        check_meta(path, meta)
    from .tf_quiet import import_keras

    keras = import_keras()
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad archives
        raise ModelError(f"cannot load {path.name}: {_one_line(exc)}") from None
    _check_shapes(model, path)
    return KerasClassifier(model, name=path.name, meta=meta)


def _check_shapes(model: Any, path: Path) -> None:
    in_shape = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else None
    out_shape = tuple(model.output_shape[1:]) if hasattr(model, "output_shape") else None
    if in_shape not in {(28, 28, 1), (28, 28), (784,)}:
        raise ModelError(f"{path.name} expects input {in_shape}; digitreader feeds 28x28x1 crops")
    if out_shape != (10,):
        raise ModelError(f"{path.name} outputs {out_shape}; expected 10 class probabilities")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
