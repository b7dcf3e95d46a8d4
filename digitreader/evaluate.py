"""Accuracy, per-class precision/recall and the confusion matrix of a classifier on a dataset."""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = 10) -> np.ndarray:
    """Rows are true labels, columns predicted labels."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def metrics_from_predictions(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Summary metrics as a JSON-ready dict with a top-level ``accuracy``."""
    y_true = np.asarray(y_true, int)
    y_pred = np.argmax(probabilities, axis=1)
    matrix = confusion_matrix(y_true, y_pred)
    per_class = {}
    for digit in range(10):
        tp = int(matrix[digit, digit])
        predicted = int(matrix[:, digit].sum())
        support = int(matrix[digit].sum())
        per_class[str(digit)] = {
            "precision": tp / predicted if predicted else 0.0,
            "recall": tp / support if support else 0.0,
            "support": support,
        }
    n = len(y_true)
    return {
        "accuracy": float((y_pred == y_true).mean()) if n else 0.0,
        "errors": int((y_pred != y_true).sum()),
        "samples": n,
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def evaluate_classifier(classifier: Any, x: np.ndarray, y: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """Run ``classifier`` on uint8 MNIST-convention images; return (metrics, probabilities)."""
    probabilities = classifier.predict_proba(np.asarray(x, np.float32) / 255.0)
    return metrics_from_predictions(y, probabilities), probabilities


def format_metrics(metrics: dict[str, Any], model: str, data: str) -> str:
    """Human-readable report for ``digitreader evaluate``."""
    lines = [
        f"model:    {model}",
        f"data:     {data}",
        f"accuracy: {metrics['accuracy'] * 100:.2f} % ({metrics['samples'] - metrics['errors']}"
        f"/{metrics['samples']}, {metrics['errors']} errors)",
        "",
        "digit  precision  recall  support",
    ]
    for digit, row in metrics["per_class"].items():
        lines.append(f"{digit:>5}  {row['precision'] * 100:8.2f}%  {row['recall'] * 100:5.2f}%  {row['support']:7d}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              "      " + " ".join(f"{d:>5}" for d in range(10))]
    for digit, row in enumerate(metrics["confusion_matrix"]):
        lines.append(f"{digit:>5} " + " ".join(f"{v:>5}" for v in row))
    return "\n".join(lines)
