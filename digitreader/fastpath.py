"""The fast path: run an ONNX classifier with onnxruntime (fastest per crop) or OpenCV's DNN module (already
loaded with OpenCV: no import cost, the better choice for a process that reads one image). Neither TensorFlow
nor Keras is imported here. Both runtimes give the same argmax and probabilities within 1e-6 of each other,
independent of batch size."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import ModelError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "opencv", "onnxruntime")
PREDICT_CHUNK = 1024  # 28x28 crops per call; larger inputs (the run reader's 32x128 canvas) get fewer, see chunk_for
LARGE_INPUT_PIXELS = 16 * 32 * 128  # larger inputs: this many pixels a call (16 run canvases)


def chunk_for(pixels: int, crops: int = PREDICT_CHUNK) -> int:
    """Inputs per model call: ``crops`` 28x28 crops, fewer of a larger input so that a call's activations
    stay small (the run reader's first layers hold about 1 MB per canvas: 200 canvases in one call took 220 MB more
    peak memory, 16 took 7 MB, and in calls of 16 they ran no slower)."""
    return crops if pixels <= 784 else max(1, LARGE_INPUT_PIXELS // pixels)


# Input layouts an MNIST classifier exported to ONNX may expect, tried in this order.
LAYOUTS: tuple[tuple[int, ...], ...] = ((28, 28, 1), (1, 28, 28), (784,), (28, 28))


class OnnxClassifier:
    """An ONNX model mapping (N, 28, 28) crops in [0, 1] to (N, ``classes``) probabilities (10 digits)."""

    def __init__(self, run: Any, layout: tuple[int, ...], backend: str, name: str, classes: int = 10) -> None:
        self._run = run
        self.layout = layout
        self.backend = backend
        self.name = name
        self.classes = classes

    @classmethod
    def load(cls, path: str | Path, backend: str = "auto", name: str | None = None,
             quick_start: bool = False, classes: int = 10,
             layouts: tuple[tuple[int, ...], ...] = LAYOUTS) -> OnnxClassifier:
        """Open ``path`` with ``backend`` and check that it reads 28x28 crops (or one of ``layouts``) into
        ``classes`` probabilities.

        ``auto`` tries onnxruntime, then OpenCV DNN; with ``quick_start`` (one image to read: start-up time
        dominates) OpenCV DNN first, which saves importing onnxruntime (~0.1 s).
        """
        path = Path(path)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}")
        if backend == "auto":
            order = ("opencv", "onnxruntime") if quick_start else ("onnxruntime", "opencv")
        else:
            order = (backend,)
        errors = []
        for candidate in order:
            try:
                run = _opencv_runner(path) if candidate == "opencv" else _onnxruntime_runner(path)
                layout = _find_layout(run, path, classes, layouts)
            except ModelError as exc:
                errors.append(f"{candidate}: {exc}")
                continue
            return cls(run, layout, candidate, name or path.name, classes)
        raise ModelError(f"cannot use {path.name}: " + "; ".join(errors))

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, dtype=np.float32)
        if len(crops) == 0:
            return np.zeros((0, self.classes), np.float32)
        crops = np.ascontiguousarray(crops.reshape((len(crops), *self.layout)))
        step = chunk_for(crops[0].size)
        parts = [self._run(crops[i:i + step]) for i in range(0, len(crops), step)]
        return np.concatenate(parts).reshape(len(crops), self.classes).astype(np.float32, copy=False)


def _opencv_runner(path: Path) -> Any:
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # its parser logs errors on stderr too
    try:
        net = cv2.dnn.readNetFromONNX(str(path))
    except cv2.error as exc:
        raise ModelError(f"OpenCV DNN cannot parse it ({_opencv_reason(exc)})") from None
    finally:
        cv2.utils.logging.setLogLevel(level)
    if net.empty():
        raise ModelError("OpenCV DNN read an empty network")

    def run(batch: np.ndarray) -> np.ndarray:
        net.setInput(batch)
        return np.array(net.forward(), dtype=np.float32, copy=True)

    return run


def _onnxruntime_runner(path: Path) -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ModelError("onnxruntime is not installed (pip install onnxruntime)") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    # One thread, no spin-waiting: a batch of crops is small, and digitreader parallelises across images
    # (threads, worker processes), where onnxruntime's spinning pool threads only burn the other cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"onnxruntime cannot load it ({_first_line(exc)})") from None
    input_name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {input_name: batch})[0], dtype=np.float32)

    return run


def _find_layout(run: Any, path: Path, classes: int = 10,
                 layouts: tuple[tuple[int, ...], ...] = LAYOUTS) -> tuple[int, ...]:
    """The first input layout the model accepts whose output is ``classes`` class probabilities."""
    for layout in layouts:
        try:
            out = np.asarray(run(np.zeros((2, *layout), np.float32)))
        except Exception:  # wrong layout: each runtime raises its own error type
            continue
        if out.size != 2 * classes:
            continue
        out = out.reshape(2, classes)
        if not (np.isfinite(out).all() and (out >= -1e-6).all() and _distributions(out)):
            raise ModelError(f"{path.name} does not output {classes} class probabilities (softmax)")
        return layout
    wanted = "28x28 crops" if layouts == LAYOUTS else " or ".join("x".join(map(str, lay)) for lay in layouts)
    raise ModelError(f"{path.name} does not take {wanted} and return {classes} classes")


def _distributions(out: np.ndarray) -> bool:
    """Each row of ``out`` is one probability distribution, or (the run reader: one per output column) several
    of equal size side by side."""
    blocks = int(round(float(out[0].sum())))
    if blocks < 1 or out.shape[1] % blocks:
        return False
    return bool(np.allclose(out.reshape(len(out), blocks, -1).sum(axis=2), 1.0, atol=1e-3))


def _opencv_reason(exc: cv2.error) -> str:
    """OpenCV's multi-line error, cut to the node or message that matters."""
    text = " ".join(line.strip("> ").strip() for line in str(exc).splitlines())
    for marker in ("Node [", "error: "):
        if marker in text:
            return text[text.index(marker):][:160]
    return text[:160] or "unknown error"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]
