"""Stage 3: classify a batch of 28x28 crops with a saved model (``.keras``, run through the ONNX cache, or ``.onnx``).

TensorFlow is imported only to export a ``.keras`` file the first time it is used, or with the keras backend.
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ModelError
from .fastpath import BACKENDS as ONNX_BACKENDS
from .fastpath import OnnxClassifier, chunk_for
from .modelmeta import check_meta, file_sha256, read_meta
from .paths import pinned_sha256

BACKENDS = (*ONNX_BACKENDS, "keras")

log = logging.getLogger(__name__)
PREDICT_CHUNK = 2048


class Classifier(Protocol):
    """Anything that maps (N, 28, 28) float32 crops in [0, 1] to (N, 10) probabilities."""

    name: str

    def predict_proba(self, crops: np.ndarray) -> np.ndarray: ...


class KerasClassifier:
    """A ``.keras`` model checked against its metadata and run in inference mode."""

    def __init__(self, model: Any, name: str, meta: dict[str, Any] | None = None, classes: int = 10) -> None:
        self.model = model
        self.name = name
        self.meta = meta or {}
        self.classes = classes
        self.input_shape = tuple(model.input_shape[1:])

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, dtype=np.float32)
        crops = crops.reshape((len(crops), *self.input_shape))
        if len(crops) == 0:
            return np.zeros((0, self.classes), np.float32)
        step = chunk_for(crops[0].size, PREDICT_CHUNK)
        parts = [np.asarray(self.model(crops[i:i + step], training=False)) for i in range(0, len(crops), step)]
        return np.concatenate(parts).astype(np.float32)


BACKEND_ENV = "DIGITREADER_BACKEND"
MAX_MODEL_BYTES = 256 << 20  # uncompressed size of a .keras archive; the shipped models are 1.4 and 5 MB


def load_classifier(path: str | Path, cache_dir: str | Path | None = None, backend: str | None = None,
                    quick_start: bool = False, classes: int = 10,
                    input_shape: tuple[int, ...] | None = None) -> Classifier:
    """Load and validate a ``.keras`` or ``.onnx`` model.

    ``.keras`` models run from the ONNX cache (see :mod:`digitreader.onnx_cache`): the first use exports the
    model (importing TensorFlow once); later uses never import TensorFlow. ``backend`` (or
    ``$DIGITREADER_BACKEND``): ``auto`` (onnxruntime, else OpenCV DNN; OpenCV DNN first with ``quick_start``,
    for a process reading one image), ``opencv``, ``onnxruntime`` or ``keras`` (no cache: TensorFlow every
    time). Keras loading always uses safe mode: no code from the file runs. ``classes``: the number of
    probabilities the model must output (10 digits; 2 for the single-digit verifier; 103 for the pair reader).
    ``input_shape``: the one input a model other than a 28x28 classifier takes (the run reader's canvas).
    """
    path = Path(path)
    backend = backend or os.environ.get(BACKEND_ENV) or "auto"
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if not path.exists():
        raise ModelError(f"model not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".keras", ".onnx"):
        raise ModelError(f"unsupported model file {path.name}: expected a .keras or .onnx file")
    sha256, meta = _checked_sha256(path)
    _check_role(path, meta, classes)
    if suffix == ".onnx":
        if backend == "keras":
            raise ModelError(f"{path.name} is an ONNX model; the keras backend reads .keras files")
        return OnnxClassifier.load(path, backend, quick_start=quick_start, classes=classes,
                                   **_layouts(input_shape))
    _check_keras_archive(path)
    if backend == "keras":
        return KerasClassifier(_load_keras(path, classes, input_shape), name=path.name, meta=meta, classes=classes)
    from .onnx_cache import valid_entry

    cache = _cache_folder(cache_dir)
    cached = valid_entry(sha256, cache)
    if cached is not None:
        return OnnxClassifier.load(cached, backend, name=path.name, quick_start=quick_start, classes=classes,
                                   **_layouts(input_shape))
    return _build_and_load(path, sha256, cache, backend, quick_start, classes, input_shape)


def in_onnx_cache(path: str | Path, cache_dir: str | Path | None = None, backend: str | None = None) -> bool:
    """Whether the shipped model at ``path`` loads without TensorFlow (its export is in the ONNX cache), or needs
    no export (the ``keras`` backend). False for any other file: it is not known to be intact before it is read."""
    sha256 = pinned_sha256(path) if Path(path).is_file() else None
    if sha256 is None or (backend or os.environ.get(BACKEND_ENV)) == "keras":
        return sha256 is not None
    from .onnx_cache import valid_entry

    return valid_entry(sha256, _cache_folder(cache_dir)) is not None


def _cache_folder(cache_dir: str | Path | None) -> Path:
    from .onnx_cache import default_cache_dir

    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def _layouts(input_shape: tuple[int, ...] | None) -> dict[str, Any]:
    """OnnxClassifier.load's ``layouts`` for a model of one ``input_shape`` (none: the 28x28 layouts)."""
    return {} if input_shape is None else {"layouts": (tuple(input_shape),)}


def load_verifier(path: str | Path, cache_dir: str | Path | None = None, backend: str | None = None,
                  quick_start: bool = False) -> Classifier:
    """Load the single-digit verifier (``digitreader train --arch verifier``): (N, 28, 28) crops ->
    (N, 2) probabilities of "not one whole digit" and "one whole digit"."""
    return load_classifier(path, cache_dir, backend, quick_start, classes=2)


def load_pair_reader(path: str | Path, cache_dir: str | Path | None = None, backend: str | None = None,
                     quick_start: bool = False) -> Classifier:
    """Load the pair reader (``digitreader train --arch pairs``): (N, 28, 28) crops of two touching or
    overlapping digits -> (N, 103) probabilities: of ``10 x left + right`` (0-99), then of one, three and four
    digits (100-102: not two digits)."""
    from .architectures import PAIR_CLASSES

    return load_classifier(path, cache_dir, backend, quick_start, classes=PAIR_CLASSES)


def load_run_reader(path: str | Path, cache_dir: str | Path | None = None, backend: str | None = None,
                    quick_start: bool = False) -> Classifier:
    """Load the run reader (``digitreader train --arch runs``): (N, 32, 128) canvases of 1 to 4 touching digits
    (``runs.normalise_run``) -> (N, ``RUN_CLASSES``) probabilities: per output column, the blank and the digits
    0-9, flattened (decoded by ``runs.best_path``)."""
    from .architectures import RUN_CLASSES, RUN_INPUT_SHAPE

    return load_classifier(path, cache_dir, backend, quick_start, classes=RUN_CLASSES, input_shape=RUN_INPUT_SHAPE)


def _check_role(path: Path, meta: dict[str, Any] | None, classes: int) -> None:
    """A digit classifier, the verifier and the pair reader are not one another (by their metadata)."""
    from .architectures import PAIR_ARCH, PAIR_CLASSES, RUN_ARCH, RUN_CLASSES, VERIFIER_ARCH

    roles = {VERIFIER_ARCH: (2, "single-digit verifier", "--verifier"),
             PAIR_ARCH: (PAIR_CLASSES, "pair reader", "--pair-reader"),
             RUN_ARCH: (RUN_CLASSES, "run reader", "--run-reader")}
    architecture = (meta or {}).get("architecture")
    if classes == 10 and architecture in roles:
        _, role, flag = roles[architecture]
        raise ModelError(f"{path.name} is the {role}, not a digit classifier (pass it with {flag})")
    wanted = next((arch for arch, (n, _, _) in roles.items() if n == classes), None)
    if wanted is not None and meta is not None and architecture != wanted:
        raise ModelError(f"{path.name} is a {architecture} model, not a {roles[wanted][1]} "
                         f"(digitreader train --arch {wanted})")


def _build_and_load(path: Path, sha256: str, cache: Path, backend: str, quick_start: bool,
                    classes: int = 10, input_shape: tuple[int, ...] | None = None) -> Classifier:
    """First use of a ``.keras`` file: export it into the cache; fall back to Keras if the cache is unusable."""
    from .onnx_cache import build_entry

    model = _load_keras(path, classes, input_shape)
    try:
        onnx_path = build_entry(model, sha256, cache, path.name)
    except OSError as exc:
        log.warning("cannot write the model cache in %s (%s); using Keras directly (slower start)", cache,
                    exc.strerror or exc)
        return KerasClassifier(model, name=path.name, classes=classes)
    except Exception as exc:  # the converter failed or disagreed with Keras: still read, the slow way
        log.warning("cannot convert %s to ONNX (%s); using Keras directly", path.name, _one_line(exc))
        return KerasClassifier(model, name=path.name, classes=classes)
    return OnnxClassifier.load(onnx_path, backend, name=path.name, quick_start=quick_start, classes=classes,
                               **_layouts(input_shape))


def _check_keras_archive(path: Path) -> None:
    """A ``.keras`` file is a zip: refuse a corrupt one, and one that would inflate past ``MAX_MODEL_BYTES``
    (a zip bomb), before Keras opens it."""
    try:
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ModelError(f"{path} is not a valid .keras file (corrupt or truncated)") from None
    if inflated > MAX_MODEL_BYTES:
        raise ModelError(f"{path.name} would inflate to {inflated >> 20} MiB, over the {MAX_MODEL_BYTES >> 20} MiB "
                         "limit for a model archive (a zip bomb?)")


def _checked_sha256(path: Path) -> tuple[str, dict[str, Any] | None]:
    """The file's sha256 and metadata, after checking one against the other when there is metadata."""
    meta = read_meta(path)
    sha256 = file_sha256(path)
    pinned = pinned_sha256(path)
    if pinned is not None and sha256 != pinned:
        raise ModelError(f"{path} is not the model digitreader shipped (sha256 {sha256[:12]}..., expected "
                         f"{pinned[:12]}...): reinstall digitreader, or pass your own model with -m")
    if meta is None:
        log.debug("%s has no metadata file; assuming the MNIST input convention", path.name)
    else:
        check_meta(path, meta, sha256)
    return sha256, meta


def _load_keras(path: Path, classes: int = 10, input_shape: tuple[int, ...] | None = None) -> Any:
    from .tf_quiet import import_keras

    keras = import_keras()
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad archives
        raise ModelError(f"cannot load {path.name}: {_one_line(exc)}") from None
    _check_shapes(model, path, classes, input_shape)
    return model


def _check_shapes(model: Any, path: Path, classes: int = 10, input_shape: tuple[int, ...] | None = None) -> None:
    in_shape = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else None
    out_shape = tuple(model.output_shape[1:]) if hasattr(model, "output_shape") else None
    if input_shape is not None and in_shape != tuple(input_shape):
        raise ModelError(f"{path.name} expects input {in_shape}; digitreader feeds it {tuple(input_shape)}")
    if input_shape is None and in_shape not in {(28, 28, 1), (28, 28), (784,)}:
        raise ModelError(f"{path.name} expects input {in_shape}; digitreader feeds 28x28x1 crops")
    if out_shape != (classes,):
        raise ModelError(f"{path.name} outputs {out_shape}; expected {classes} class probabilities")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
