"""Import Keras (TensorFlow backend) with TensorFlow's log noise kept away from the user."""

from __future__ import annotations

import contextlib
import os
import sys
from types import ModuleType


def _silence_environment() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _stderr_to_devnull():
    """Redirect fd 2 while C++ code prints start-up banners Python cannot intercept."""
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (e.g. some embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            sys.stderr.flush()
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_keras() -> ModuleType:
    """Return the ``keras`` module, importing TensorFlow quietly on first use. (``KERAS_BACKEND=jax`` or ``torch``,
    set before, trains on that backend instead: the saved ``.keras`` file is the same format.)"""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    _silence_environment()
    if os.environ["KERAS_BACKEND"] != "tensorflow":
        import keras

        return keras
    with _stderr_to_devnull():
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        try:
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)
        except ImportError:  # pragma: no cover
            pass
        import keras
    return keras


@contextlib.contextmanager
def quiet_stdio():
    """Keep a noisy converter (tf2onnx prints to stdout and fd 2) off the user's streams; stdout is results."""
    with contextlib.redirect_stdout(sys.stderr), _stderr_to_devnull():
        yield
