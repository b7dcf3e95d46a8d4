"""The shipped network architectures: the MLP and CNN digit classifiers, the single-digit verifier, the
pair reader and the run reader. All take float32 in [0, 1], white on black: (28, 28, 1) crops, or for the run
reader a (32, 128, 1) canvas (``runs.py``).

Only inference layers live here: augmentation happens outside the model (``augment.py``), so a
saved model is the inference graph alone and exports cleanly (e.g. to ONNX).
"""

from __future__ import annotations

from typing import Any

from .runs import RUN_HEIGHT, RUN_STEPS, RUN_WIDTH

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
ARCHITECTURES = ("mlp", "cnn")
VERIFIER_ARCH = "verifier"  # the single-digit verifier: is a crop one whole digit?
VERIFIER_CLASSES = ("not one digit", "one digit")
PAIR_ARCH = "pairs"  # the pair reader: two touching or overlapping digits read together
# The pair reader's classes: 0-99 are pairs (10 x left + right); from PAIR_OTHER on, the crop is not two digits but
# one (PAIR_ONE), three (PAIR_THREE) or four (PAIR_FOUR).
PAIR_OTHER = PAIR_ONE = 100
PAIR_THREE, PAIR_FOUR = 101, 102
PAIR_CLASSES = 103
PAIR_CLASS_NAMES = (*(f"{k:02d}" for k in range(PAIR_OTHER)), "one digit", "three digits", "four digits")
RUN_ARCH = "runs"  # the run reader: 1 to 4 touching digits read whole (a CRNN trained with CTC loss)
RUN_INPUT_SHAPE = (RUN_HEIGHT, RUN_WIDTH, 1)
RUN_SYMBOLS = 11  # per output column: the blank, then the digits 0-9
RUN_CLASSES = RUN_STEPS * RUN_SYMBOLS  # the run reader's output, flattened: RUN_STEPS columns of RUN_SYMBOLS


def build_model(arch: str) -> Any:
    """Return an uncompiled Keras model for ``arch`` ('mlp' or 'cnn')."""
    if arch == "mlp":
        return build_mlp()
    if arch == "cnn":
        return build_cnn()
    if arch == VERIFIER_ARCH:
        return build_verifier()
    if arch == PAIR_ARCH:
        return build_cnn(dropout=0.3, classes=PAIR_CLASSES, name="digitreader_pairs")
    if arch == RUN_ARCH:
        return build_run_reader()
    raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHITECTURES}")


def build_mlp(hidden: tuple[int, ...] = (800, 800), dropout: float = 0.3) -> Any:
    """Fully connected only: the classic two hidden layers (Simard et al.'s 800 units), BN, dropout."""
    from .tf_quiet import import_keras

    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input(INPUT_SHAPE, name="digit")
    h = layers.Flatten()(inputs)
    for units in hidden:
        h = layers.Dense(units, use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.ReLU()(h)
        h = layers.Dropout(dropout)(h)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(h)
    return keras.Model(inputs, outputs, name="digitreader_mlp")


def build_cnn(dropout: float = 0.4, classes: int = NUM_CLASSES, name: str = "digitreader_cnn") -> Any:
    """A compact all-convolutional net (two 3x3-3x3-strided-5x5 blocks, then a 4x4 conv to 128); with
    ``classes=PAIR_CLASSES`` it is the pair reader."""
    from .tf_quiet import import_keras

    keras = import_keras()
    layers = keras.layers

    def conv(h: Any, filters: int, size: int, strides: int = 1, padding: str = "valid") -> Any:
        h = layers.Conv2D(filters, size, strides=strides, padding=padding, use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        return layers.ReLU()(h)

    inputs = keras.Input(INPUT_SHAPE, name="digit")
    h = conv(inputs, 32, 3)
    h = conv(h, 32, 3)
    h = conv(h, 32, 5, strides=2, padding="same")
    h = layers.Dropout(dropout)(h)
    h = conv(h, 64, 3)
    h = conv(h, 64, 3)
    h = conv(h, 64, 5, strides=2, padding="same")
    h = layers.Dropout(dropout)(h)
    h = conv(h, 128, 4)
    h = layers.Flatten()(h)
    h = layers.Dropout(dropout)(h)
    outputs = layers.Dense(classes, activation="softmax", name="probabilities")(h)
    return keras.Model(inputs, outputs, name=name)


def build_verifier(dropout: float = 0.3) -> Any:
    """The single-digit verifier (234 k weights): is a crop one whole digit (class 1), or several
    merged digits or part of one (class 0)? Four 3x3 convolutions, two of them strided, then 64 units."""
    from .tf_quiet import import_keras

    keras = import_keras()
    layers = keras.layers

    def conv(h: Any, filters: int, strides: int = 1) -> Any:
        h = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        return layers.ReLU()(h)

    inputs = keras.Input(INPUT_SHAPE, name="digit")
    h = conv(conv(conv(conv(inputs, 16), 32, strides=2), 32), 64, strides=2)
    h = layers.Flatten()(h)
    h = layers.Dropout(dropout)(h)
    h = layers.Dense(64, activation="relu")(h)
    outputs = layers.Dense(2, activation="softmax", name="single_digit")(h)
    return keras.Model(inputs, outputs, name="digitreader_verifier")


def build_run_reader(units: int = 64) -> Any:
    """The run reader (345 k weights), a CRNN (Shi et al. 2016): five 3x3 convolutions pooled to one row of
    ``RUN_STEPS`` columns, a bidirectional GRU along them, and per column the probabilities of the blank and the
    10 digits, flattened (``RUN_CLASSES``). Trained with CTC loss (``train.py``)."""
    from .tf_quiet import import_keras

    keras = import_keras()
    layers = keras.layers

    def conv(h: Any, filters: int) -> Any:
        h = layers.Conv2D(filters, 3, padding="same", use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        return layers.ReLU()(h)

    inputs = keras.Input(RUN_INPUT_SHAPE, name="run")
    h = layers.MaxPool2D(2)(conv(inputs, 32))  # 16 x 64
    h = layers.MaxPool2D(2)(conv(h, 64))  # 8 x 32
    h = layers.MaxPool2D((2, 1))(conv(conv(h, 96), 96))  # 4 x 32
    h = layers.MaxPool2D((4, 1))(conv(h, 128))  # 1 x 32
    h = layers.Reshape((RUN_STEPS, 128))(h)
    h = layers.Bidirectional(layers.GRU(units, return_sequences=True))(h)
    h = layers.Dense(RUN_SYMBOLS, activation="softmax", name="columns")(h)
    outputs = layers.Flatten(name="probabilities")(h)
    return keras.Model(inputs, outputs, name="digitreader_runs")
