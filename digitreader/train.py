"""``digitreader train``: fit an MLP or CNN on MNIST-convention data and write the model + reports."""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .architectures import (
    ARCHITECTURES,
    PAIR_ARCH,
    PAIR_CLASS_NAMES,
    PAIR_CLASSES,
    PAIR_FOUR,
    PAIR_ONE,
    PAIR_OTHER,
    PAIR_THREE,
    RUN_ARCH,
    RUN_CLASSES,
    RUN_INPUT_SHAPE,
    RUN_STEPS,
    RUN_SYMBOLS,
    VERIFIER_ARCH,
    VERIFIER_CLASSES,
    build_model,
)
from .augment import (
    AugmentConfig,
    augment_with_targets,
    digit_fragments,
    digit_pairs,
    merged_digits,
    not_pairs,
    pair_batch,
    run_batch,
    verifier_batch,
)
from .datasets import Dataset, ExtraCrops, load_dataset, load_extra_crops
from .errors import DataError, ModelError, OutputError
from .evaluate import metrics_from_predictions
from .modelmeta import RUN_INPUT_CONVENTION, meta_path
from .runs import best_path

log = logging.getLogger(__name__)
DEFAULT_EPOCHS = {"mlp": 40, "cnn": 30, VERIFIER_ARCH: 6, PAIR_ARCH: 20, RUN_ARCH: 8}
ALL_ARCHITECTURES = (*ARCHITECTURES, VERIFIER_ARCH, PAIR_ARCH, RUN_ARCH)
OUTPUT_CLASSES = {VERIFIER_ARCH: 2, PAIR_ARCH: PAIR_CLASSES, RUN_ARCH: RUN_CLASSES}  # the rest: 10 digits
NO_AUGMENT = AugmentConfig(rotation_deg=0.0, zoom=0.0, aspect=0.0, shear=0.0, shift_px=0.0, elastic_p=0.0,
                           thicken_p=0.0, thin_p=0.0, blur_p=0.0)


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    arch: str | None = None
    data: Path | None = None
    epochs: int | None = None
    batch_size: int = 128
    seed: int = 0
    init_model: Path | None = None
    learning_rate: float | None = None
    val_fraction: float = 0.05
    patience: int = 8
    augment: bool = True
    max_samples: int | None = None
    average_init: bool = False
    extra_crops: Path | None = None
    command: str = ""
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train, save the inference model at ``cfg.out`` with metadata and reports; return a summary."""
    out = Path(cfg.out)
    if cfg.average_init and cfg.init_model is None:
        raise ValueError("average_init needs init_model (the weights to average with)")
    if out.suffix != ".keras":
        raise OutputError(f"--out must end in .keras (got {out.name})")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out.parent}: {exc}") from None

    crops = load_extra_crops(cfg.extra_crops) if cfg.extra_crops is not None else None  # a bad file fails first
    dataset = load_dataset(cfg.data)
    x_train, y_train, x_test, y_test = _capped(dataset, cfg.max_samples)
    fit_index, val_index = _validation_order(len(x_train), cfg.val_fraction, cfg.seed)
    x_fit, y_fit, x_val, y_val = x_train[fit_index], y_train[fit_index], x_train[val_index], y_train[val_index]
    log.info("data: %s (fit %d, validation %d, test %d)", dataset.summary(), len(x_fit), len(x_val), len(x_test))
    extra = _without_validation(crops, val_index) if crops is not None else None

    from .tf_quiet import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(cfg.seed)
    model, arch, init_meta = _initial_model(cfg)
    if extra and arch in OUTPUT_CLASSES:
        raise DataError(f"--extra-crops trains a digit classifier ({', '.join(ARCHITECTURES)}), not the {arch} model")
    start_weights = [w.copy() for w in model.get_weights()] if cfg.average_init else None
    epochs = cfg.epochs or DEFAULT_EPOCHS[arch]
    lr = cfg.learning_rate or (3e-4 if cfg.init_model else 1e-3)
    extra_x, extra_y = (extra[0], extra[1]) if extra else (x_fit[:0], y_fit[:0])
    steps_per_epoch = max(1, math.ceil((len(x_fit) + len(extra_x)) / cfg.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr * 0.1, warmup_target=lr, warmup_steps=steps_per_epoch,
        decay_steps=max(1, steps_per_epoch * (epochs - 1)), alpha=0.01)
    if arch == RUN_ARCH:
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=_ctc_on_columns(keras))
    else:
        # One-hot targets: merged-digit outliers (augment.py) train towards the uniform distribution.
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="categorical_crossentropy",
                      metrics=["accuracy"])

    batches = _augmenting_batches(keras, np.concatenate([x_fit, extra_x]), np.concatenate([y_fit, extra_y]),
                                  cfg, arch, augmented=len(x_fit))
    if not len(x_val):
        validation = None
    elif arch == VERIFIER_ARCH:
        crops, targets = verifier_batch(x_val, np.random.default_rng(cfg.seed + 2), NO_AUGMENT)
        validation = (crops[..., None].astype(np.float32) / 255.0, targets)
    elif arch == PAIR_ARCH:
        crops, targets = pair_batch(x_val, y_val, np.random.default_rng(cfg.seed + 2), NO_AUGMENT)
        validation = (crops[..., None].astype(np.float32) / 255.0, targets)
    elif arch == RUN_ARCH:
        canvases, targets = run_batch(x_val, y_val, np.random.default_rng(cfg.seed + 2), NO_AUGMENT)
        validation = (canvases[..., None].astype(np.float32) / 255.0, targets)
    else:
        validation = (x_val[..., None].astype(np.float32) / 255.0, np.eye(10, dtype=np.float32)[y_val])
    monitor = "val_loss" if validation is not None else "loss"
    checkpoint = checkpoint_path(out)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=cfg.patience, restore_best_weights=True),
        _progress_callback(keras, epochs),
        _checkpoint_callback(keras, checkpoint, monitor, arch, cfg.command),
    ]
    started = time.monotonic()
    history = model.fit(batches, validation_data=validation, epochs=epochs, callbacks=callbacks, verbose=0)
    seconds = time.monotonic() - started
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    best_epoch = int(np.argmin(hist[monitor])) + 1

    # A fresh, uncompiled copy (clone_model would carry the optimizer): the file holds inference weights only.
    inference = keras.Model.from_config(model.get_config())
    weights = model.get_weights()
    inference.set_weights(average_weights(start_weights, weights) if start_weights is not None else weights)
    save_model_atomically(inference, out)

    from .classify import KerasClassifier

    if arch == VERIFIER_ARCH:
        metrics = verifier_metrics(KerasClassifier(inference, out.name, classes=2), x_test, cfg.seed)
        _write_reports(out, arch, hist, metrics)
    elif arch == PAIR_ARCH:
        metrics = pair_metrics(KerasClassifier(inference, out.name, classes=PAIR_CLASSES), x_test, y_test, cfg.seed)
        _write_reports(out, arch, hist, metrics)
    elif arch == RUN_ARCH:
        metrics = run_metrics(KerasClassifier(inference, out.name, classes=RUN_CLASSES), x_test, y_test, cfg.seed)
        _write_reports(out, arch, hist, metrics)
    else:
        probabilities = KerasClassifier(inference, out.name).predict_proba(x_test.astype(np.float32) / 255.0)
        metrics = metrics_from_predictions(y_test, probabilities)
        _write_reports(out, arch, hist, metrics, x_test, y_test, probabilities)

    from .modelmeta import write_meta

    write_meta(out, {
        "architecture": arch,
        "parameters": int(inference.count_params()),
        "dataset": {"source": dataset.source, "format": dataset.format, "sha256": dataset.sha256,
                    "train_samples": len(x_fit), "validation_samples": len(x_val), "test_samples": len(x_test)},
        "test_accuracy": metrics["accuracy"],
        "test_errors": metrics["errors"],
        **_role_fields(arch),
        **({"verifier_test": metrics["verifier"]} if arch == VERIFIER_ARCH else {}),
        **({"pair_test": metrics["pairs"]} if arch == PAIR_ARCH else {}),
        **({"run_test": metrics["runs"]} if arch == RUN_ARCH else {}),
        "training": {
            "command": cfg.command, "epochs_max": epochs, "epochs_run": len(hist["loss"]),
            "best_epoch": best_epoch, "batch_size": cfg.batch_size, "seed": cfg.seed,
            "learning_rate": lr, "schedule": "cosine decay with 1 warm-up epoch",
            "early_stopping": {"monitor": monitor, "patience": cfg.patience},
            "augmentation": cfg.augment_config.as_dict() if cfg.augment else None,
            "init_model": str(cfg.init_model) if cfg.init_model else None,
            "init_model_sha256": (init_meta or {}).get("model_sha256"),
            "average_with_init": cfg.average_init,
            **({"extra_crops": extra[2]} if extra else {}),
            "seconds": round(seconds, 1), "cpu_count": os.cpu_count(),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    for leftover in (checkpoint, meta_path(checkpoint)):
        leftover.unlink(missing_ok=True)
    return {"model": str(out), "architecture": arch, "test_accuracy": metrics["accuracy"],
            "test_errors": metrics["errors"], "epochs_run": len(hist["loss"]), "seconds": round(seconds, 1)}


def _capped(dataset: Dataset, limit: int | None) -> tuple[np.ndarray, ...]:
    if not limit:
        return dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test
    return dataset.x_train[:limit], dataset.y_train[:limit], dataset.x_test[:limit], dataset.y_test[:limit]


def _validation_order(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training split to fit on and to hold out for early stopping (a seeded shuffle)."""
    if count < 2:
        raise DataError(f"need at least 2 training samples, got {count}")
    n_val = int(round(count * fraction)) if fraction > 0 else 0
    n_val = min(n_val, count - 1)
    order = np.random.default_rng(seed).permutation(count)
    return order[n_val:], order[:n_val]


def _without_validation(crops: ExtraCrops, val_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """The extra crops as (x, y, provenance), without the crops of digits held out for validation."""
    keep = ~np.isin(crops.source_index, val_index)
    log.info("extra crops: %d from %s (%d of validation digits left out)", int(keep.sum()), crops.source,
             int((~keep).sum()))
    return crops.x[keep], crops.y[keep], {"source": crops.source, "sha256": crops.sha256,
                                          "crops": int(keep.sum()), "left_out_validation": int((~keep).sum())}


def average_weights(start: list[np.ndarray], tuned: list[np.ndarray]) -> list[np.ndarray]:
    """The mean of two weight lists of one architecture: a fine-tuned model averaged with the model it started
    from (a two-model weight-space ensemble, as in "model soups", Wortsman et al. 2022). Both lie in one basin,
    so the mean keeps what the start knew and most of what the fine-tune added."""
    if len(start) != len(tuned) or any(a.shape != b.shape for a, b in zip(start, tuned)):
        raise ModelError("cannot average weights of different architectures")
    return [((a.astype(np.float64) + b.astype(np.float64)) / 2).astype(b.dtype) for a, b in zip(start, tuned)]


def _initial_model(cfg: TrainConfig) -> tuple[Any, str, dict | None]:
    if cfg.init_model is None:
        if cfg.arch not in ALL_ARCHITECTURES:
            raise DataError(f"--arch must be one of {', '.join(ALL_ARCHITECTURES)}")
        return build_model(cfg.arch), cfg.arch, None
    from .classify import load_classifier
    from .modelmeta import read_meta

    init_arch = (read_meta(cfg.init_model) or {}).get("architecture")
    classifier = load_classifier(cfg.init_model, backend="keras", classes=OUTPUT_CLASSES.get(init_arch, 10),
                                 input_shape=RUN_INPUT_SHAPE if init_arch == RUN_ARCH else None)
    arch = (classifier.meta or {}).get("architecture") or cfg.arch or "custom"
    if cfg.arch and arch != cfg.arch:
        raise ModelError(f"--init-model is a {arch} model but --arch {cfg.arch} was given")
    DEFAULT_EPOCHS.setdefault(arch, 10)
    return classifier.model, arch, classifier.meta


def _augmenting_batches(keras: Any, x: np.ndarray, y: np.ndarray, cfg: TrainConfig, arch: str = "cnn",
                        augmented: int | None = None) -> Any:
    """A PyDataset yielding freshly augmented, reshuffled batches every epoch (for the verifier: the
    batch's digits as "one digit" plus as many merged digits and parts of digits, see ``verifier_batch``;
    for the pair reader: as many pairs of the batch's digits and half as many crops that are not two digits, see
    ``pair_batch``). Samples from ``augmented`` on (extra crops, already cut from pages) are used as they are."""
    rng = np.random.default_rng(cfg.seed + 1)
    augmented = len(x) if augmented is None else augmented

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.order = rng.permutation(len(x))

        def __len__(self) -> int:
            return math.ceil(len(x) / cfg.batch_size)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            idx = self.order[index * cfg.batch_size:(index + 1) * cfg.batch_size]
            augment = cfg.augment_config if cfg.augment else NO_AUGMENT
            if arch == VERIFIER_ARCH:
                images, targets = verifier_batch(x[idx], rng, augment)
            elif arch == PAIR_ARCH:
                images, targets = pair_batch(x[idx], y[idx], rng, augment)
            elif arch == RUN_ARCH:
                images, targets = run_batch(x[idx], y[idx], rng, augment)
            elif cfg.augment:
                mnist, ready = idx[idx < augmented], idx[idx >= augmented]
                images, targets = augment_with_targets(x[mnist], y[mnist], rng, cfg.augment_config)
                if len(ready):  # crops cut from pages are already as the reader cuts them
                    images = np.concatenate([images, x[ready]])
                    targets = np.concatenate([targets, np.eye(10, dtype=np.float32)[y[ready]]])
            else:
                images, targets = x[idx], np.eye(10, dtype=np.float32)[y[idx]]
            return images[..., None].astype(np.float32) / 255.0, targets

        def on_epoch_end(self) -> None:
            self.order = rng.permutation(len(x))

    return Batches()


def verifier_metrics(verifier: Any, x_test: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """The verifier on held-out digits: how many whole test digits it accepts, and how many merged test
    digits (as many) and parts of test digits (half as many) it rejects. ``accuracy`` is over all three."""
    rng = np.random.default_rng(seed + 3)
    sets = {"digits": (x_test, 1), "merged": (merged_digits(x_test, len(x_test), rng, overlap=0.6), 0),
            "fragments": (digit_fragments(x_test, len(x_test) // 2, rng), 0)}
    right, total, rates = 0, 0, {}
    for name, (crops, label) in sets.items():
        predicted = verifier.predict_proba(crops.astype(np.float32) / 255.0).argmax(axis=1)
        hits = int((predicted == label).sum())
        rates[f"{name}_{'accepted' if label else 'rejected'}"] = hits / max(1, len(crops))
        right, total = right + hits, total + len(crops)
    return {"accuracy": right / max(1, total), "errors": total - right, "samples": total, "verifier": rates}


def _ctc_on_columns(keras: Any) -> Any:
    """CTC loss for the run reader, whose output is its columns' probabilities flattened: the log-probabilities
    serve as logits (they are their own log-softmax)."""
    ops = keras.ops

    def ctc(y_true: Any, y_pred: Any) -> Any:
        columns = ops.reshape(y_pred, (-1, RUN_STEPS, RUN_SYMBOLS))
        return keras.losses.ctc(y_true, ops.log(ops.clip(columns, 1e-8, 1.0)))

    return ctc


def run_metrics(run_reader: Any, x_test: np.ndarray, y_test: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """The run reader on as many runs of held-out digits as there are test digits (``run_batch``, no
    augmentation): the share read whole and right, overall and by the run's length."""
    canvases, targets = run_batch(x_test, y_test, np.random.default_rng(seed + 3), NO_AUGMENT)
    columns = run_reader.predict_proba(canvases[..., None].astype(np.float32) / 255.0)
    right = np.array([best_path(c).digits == [int(t) - 1 for t in row if t]
                      for c, row in zip(columns.reshape(-1, RUN_STEPS, RUN_SYMBOLS), targets)])
    sizes = (targets > 0).sum(axis=1)
    by_size = {str(k): {"accuracy": float(right[sizes == k].mean()), "samples": int((sizes == k).sum())}
               for k in np.unique(sizes)}
    return {"accuracy": float(right.mean()) if len(right) else 0.0, "errors": int((~right).sum()),
            "samples": len(right), "runs": by_size}


def pair_metrics(pair_reader: Any, x_test: np.ndarray, y_test: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """The pair reader on as many pairs of held-out digits as there are test digits (``digit_pairs``: from
    2 px apart to overlapping by 60 % of the narrower digit): the share read right, both digits, and the share
    called not two digits; and on half as many crops that are not two digits (``not_pairs``: single test digits,
    runs of three or four): the share of each kind told right. ``accuracy`` is the pairs' own."""
    rng = np.random.default_rng(seed + 3)
    crops, labels = digit_pairs(x_test, y_test, len(x_test), rng)
    predicted = pair_reader.predict_proba(crops.astype(np.float32) / 255.0).argmax(axis=1)
    right = int((predicted == labels).sum())
    others, classes = not_pairs(x_test, len(x_test) // 2, rng)
    other_probs = pair_reader.predict_proba(others.astype(np.float32) / 255.0)
    called = other_probs.argmax(axis=1)
    rates = {f"{name}_right": float((called[classes == label] == label).mean()) if (classes == label).any() else 0.0
             for name, label in (("singles", PAIR_ONE), ("threes", PAIR_THREE), ("fours", PAIR_FOUR))}
    return {"accuracy": right / max(1, len(crops)), "errors": len(crops) - right, "samples": len(crops),
            "pairs": {"accuracy": right / max(1, len(crops)), "samples": len(crops),
                      "pairs_called_not_two": float((predicted >= PAIR_OTHER).mean()) if len(crops) else 0.0,
                      **rates}}


def _progress_callback(keras: Any, epochs: int) -> Any:
    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            lr = float(np.asarray(self.model.optimizer.learning_rate))
            parts = [f"epoch {epoch + 1}/{epochs}", f"loss {logs.get('loss', float('nan')):.4f}"]
            if "accuracy" in logs:  # the run reader (CTC loss) has no accuracy metric
                parts.append(f"acc {logs['accuracy'] * 100:.2f}%")
            if "val_loss" in logs:
                parts.append(f"val_loss {logs['val_loss']:.4f}")
            if "val_accuracy" in logs:
                parts.append(f"val_acc {logs['val_accuracy'] * 100:.2f}%")
            parts += [f"lr {lr:.2e}", f"{time.monotonic() - self.started:.0f}s"]
            log.info("  ".join(parts))

    return Progress()


def checkpoint_path(out: Path) -> Path:
    """Where training keeps its best model so far: ``out/x.keras`` -> ``out/x.checkpoint.keras``."""
    return out.with_name(f"{out.stem}.checkpoint.keras")


def _role_fields(arch: str) -> dict[str, Any]:
    """Metadata naming what a non-classifier model takes and gives (its classes; the run reader's canvas)."""
    if arch == VERIFIER_ARCH:
        return {"classes": list(VERIFIER_CLASSES)}
    if arch == PAIR_ARCH:
        return {"classes": list(PAIR_CLASS_NAMES)}
    if arch == RUN_ARCH:
        return {"input": RUN_INPUT_CONVENTION, "classes": ["blank", *map(str, range(10))],
                "output": f"{RUN_STEPS} columns x {RUN_SYMBOLS} probabilities, flattened"}
    return {}


def _checkpoint_callback(keras: Any, path: Path, monitor: str, arch: str, command: str) -> Any:
    """Save the inference weights (with metadata) at ``path`` after every epoch that improves ``monitor``, so a
    run that is stopped keeps its best model; ``--init-model`` on it goes on from there. ``train`` removes the
    checkpoint once the final model is written."""
    class Checkpoint(keras.callbacks.Callback):
        best = math.inf

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            value = float((logs or {}).get(monitor, math.inf))
            if not value < self.best:
                return
            self.best = value
            inference = keras.Model.from_config(self.model.get_config())
            inference.set_weights(self.model.get_weights())
            save_model_atomically(inference, path)
            from .modelmeta import write_meta

            write_meta(path, {"architecture": arch, "parameters": int(inference.count_params()), **_role_fields(arch),
                              "checkpoint": {"epoch": epoch + 1, monitor: value},
                              "training": {"command": command}})
            log.info("checkpoint: epoch %d (%s %.4f) saved to %s", epoch + 1, monitor, value, path)

    return Checkpoint()


def save_model_atomically(model: Any, out: Path) -> None:
    """Save ``model`` to a temporary file beside ``out``, then move it into place (no half-written model)."""
    tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}.keras")
    try:
        model.save(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_reports(out: Path, arch: str, hist: dict, metrics: dict, x_test: np.ndarray | None = None,
                   y_test: np.ndarray | None = None, probabilities: np.ndarray | None = None) -> None:
    """History CSV and learning curves; for a digit classifier (``probabilities`` of the test digits given)
    also the confusion matrix and the worst test errors."""
    from .reports import plot_curves, report_paths, write_history_csv, write_test_reports

    paths = report_paths(out)
    title = f"{out.name} ({arch}): test accuracy {metrics['accuracy'] * 100:.2f} %"
    write_history_csv(hist, paths["history"])
    plot_curves(hist, paths["curves"], title)
    if probabilities is not None:
        write_test_reports(out, metrics, x_test, y_test, probabilities, title)
