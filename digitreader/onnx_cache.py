"""The ONNX cache: each ``.keras`` model is exported once, keyed by its content hash, then read without TensorFlow.

An entry is ``<cache>/<sha256 of the .keras file>.onnx`` plus a ``.json`` manifest holding the ONNX file's
own hash. An entry whose manifest is missing, unreadable, for another cache format, or whose ONNX bytes do
not match the manifest (a torn write, a corrupted disk, a hand edit) is rebuilt from the ``.keras`` file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .modelmeta import file_sha256

log = logging.getLogger(__name__)

CACHE_ENV = "DIGITREADER_CACHE_DIR"
CACHE_FORMAT = "digitreader-onnx-cache/1"
EXPORT_TOLERANCE = 1e-4  # max |p_keras - p_onnx| accepted on the probe batch when an entry is built


def default_cache_dir() -> Path:
    """``$DIGITREADER_CACHE_DIR``, else ``$XDG_CACHE_HOME/digitreader``, else ``~/.cache/digitreader``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitreader"


def entry_paths(source_sha256: str, cache_dir: Path) -> tuple[Path, Path]:
    """The ONNX file and manifest for a model whose ``.keras`` file hashes to ``source_sha256``."""
    return cache_dir / f"{source_sha256}.onnx", cache_dir / f"{source_sha256}.json"


def valid_entry(source_sha256: str, cache_dir: Path) -> Path | None:
    """The cached ONNX file for this model if it is complete and intact, else ``None``."""
    onnx_path, manifest_path = entry_paths(source_sha256, cache_dir)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT \
            or manifest.get("source_sha256") != source_sha256:
        log.debug("cache manifest %s is stale or foreign", manifest_path)
        return None
    try:
        if file_sha256(onnx_path) != manifest.get("onnx_sha256"):
            log.warning("cached model %s is corrupt; rebuilding it", onnx_path)
            return None
    except OSError:
        return None
    return onnx_path


def probe_batch(shape: tuple[int, int, int] = (28, 28, 1)) -> np.ndarray:
    """A fixed batch of crops (blank, noise, strokes) of ``shape`` used to check an export against its Keras
    model."""
    rng = np.random.default_rng(0)
    probe = np.zeros((8, *shape), np.float32)
    probe[1:4] = rng.random((3, *shape), dtype=np.float32)
    for i in range(4, 8):
        probe[i, 4:24, 10 + i:14 + i] = 1.0
        probe[i, 4 + 3 * i:8 + 3 * i, 6:22] = 0.7
    return probe


def build_entry(keras_model: Any, source_sha256: str, cache_dir: Path, source_name: str) -> Path:
    """Export ``keras_model`` to ONNX into the cache (atomically, under a lock); return the ONNX path.

    Raises OSError when the cache cannot be written and ValueError when the export disagrees with Keras.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    onnx_path, manifest_path = entry_paths(source_sha256, cache_dir)
    with _lock(cache_dir / f"{source_sha256}.lock"):
        if valid_entry(source_sha256, cache_dir):  # another process built it while we waited
            return onnx_path
        started = time.perf_counter()
        tmp = _temp_path(cache_dir, ".onnx")
        try:
            _export(keras_model, tmp)
            _check_export(keras_model, tmp)
            _fsync(tmp)
            os.replace(tmp, onnx_path)
        finally:
            tmp.unlink(missing_ok=True)
        manifest = {
            "format": CACHE_FORMAT,
            "source_sha256": source_sha256,
            "source_name": source_name,
            "onnx_sha256": file_sha256(onnx_path),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "export_seconds": round(time.perf_counter() - started, 3),
        }
        tmp = _temp_path(cache_dir, ".json")
        try:
            tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            _fsync(tmp)
            os.replace(tmp, manifest_path)
        finally:
            tmp.unlink(missing_ok=True)
    log.info("cached %s as ONNX in %s (%.1f s, once per model file)", source_name, cache_dir,
             manifest["export_seconds"])
    return onnx_path


def inference_only(keras_model: Any) -> Any:
    """The model without training-only random layers (RandomFlip, RandomRotation, ...), which export to
    ops onnxruntime rejects (``StatelessRandomUniformV2``). They are identities at inference anyway."""
    import keras

    if not any(_is_random_layer(layer) for layer in keras_model.layers):
        return keras_model

    def clone(layer: Any) -> Any:
        if _is_random_layer(layer):
            return keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    stripped = keras.models.clone_model(keras_model, clone_function=clone)
    for original, copy in zip(keras_model.layers, stripped.layers):
        if not _is_random_layer(original):
            copy.set_weights(original.get_weights())
    return stripped


def _is_random_layer(layer: Any) -> bool:
    """Random augmentation layers that keep their input's shape (identities at inference)."""
    name = type(layer).__name__
    if not (name.startswith("Random") or name in {"GaussianNoise", "GaussianDropout", "AlphaDropout"}):
        return False
    try:
        return tuple(layer.input.shape) == tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return False


def _export(keras_model: Any, target: Path) -> None:
    """Keras 3 ONNX export (tf2onnx under the hood), with its console chatter kept off our streams."""
    from .tf_quiet import quiet_stdio

    model = inference_only(keras_model)
    shape = tuple(d or 1 for d in model.input_shape[1:])
    model(np.zeros((1, *shape), np.float32), training=False)  # export needs a called model
    with quiet_stdio():
        model.export(str(target), format="onnx", verbose=False)


def _check_export(keras_model: Any, onnx_path: Path) -> None:
    from .fastpath import LAYOUTS, OnnxClassifier

    shape = tuple(keras_model.input_shape[1:])
    image_shape = shape if len(shape) == 3 else (28, 28, 1)  # a flat (784,) input reads 28x28 crops
    probe = probe_batch(image_shape)
    expected = np.asarray(keras_model(probe.reshape((len(probe), *shape)), training=False))
    layouts = ((*image_shape[:2], 1),) if image_shape[:2] != (28, 28) else LAYOUTS
    got = OnnxClassifier.load(onnx_path, classes=int(keras_model.output_shape[-1]),
                              layouts=layouts).predict_proba(probe[..., 0])
    error = float(np.abs(expected - got).max())
    if not error <= EXPORT_TOLERANCE:
        raise ValueError(f"the ONNX export differs from the Keras model by {error:.2e} on the probe batch")


def _temp_path(folder: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    return Path(name)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock file, so parallel workers export a model once; a no-op where fcntl is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
