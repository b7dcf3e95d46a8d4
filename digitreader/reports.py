"""Training reports written next to a model: curves, confusion matrix, grid of worst errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def report_paths(model_path: str | Path) -> dict[str, Path]:
    model_path = Path(model_path)
    stem = model_path.with_name(model_path.stem)
    return {
        "curves": Path(f"{stem}.curves.png"),
        "confusion": Path(f"{stem}.confusion.png"),
        "errors": Path(f"{stem}.errors.png"),
        "history": Path(f"{stem}.history.csv"),
    }


def write_history_csv(history: dict[str, list[float]], path: Path) -> None:
    keys = list(history)
    rows = ["epoch," + ",".join(keys)]
    for epoch in range(len(history[keys[0]]) if keys else 0):
        rows.append(f"{epoch + 1}," + ",".join(f"{history[k][epoch]:.6g}" for k in keys))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def plot_curves(history: dict[str, list[float]], path: Path, title: str) -> None:
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        if key in history:
            ax.plot(epochs, history[key], label=f"train {key}")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        if ax.lines:  # the run reader has no accuracy curve
            ax.legend()
    if "val_accuracy" in history:
        ax_acc.set_ylim(max(0.9, min(history["val_accuracy"]) - 0.005), 1.0)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(matrix: np.ndarray, path: Path, title: str) -> None:
    plt = _pyplot()
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(6.5, 6))
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    ax.imshow(off_diagonal, cmap="Reds")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="black" if i != j else "tab:blue")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title + "\n(colour: errors only)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_worst_errors(x: np.ndarray, y_true: np.ndarray, probabilities: np.ndarray, path: Path,
                      title: str, limit: int = 36) -> int:
    """Grid of misclassified test digits, most confident mistakes first. Returns how many shown."""
    plt = _pyplot()
    y_pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    wrong = wrong[np.argsort(-probabilities[wrong, y_pred[wrong]])][:limit]
    cols = 6
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.8 + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, index in zip(axes.ravel(), wrong):
        ax.imshow(x[index], cmap="gray")
        ax.set_title(f"#{index} true {y_true[index]}\npred {y_pred[index]} ({probabilities[index, y_pred[index]]:.2f})",
                     fontsize=7)
    if not len(wrong):
        axes[0, 0].set_title("no errors", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return len(wrong)


def write_test_reports(model_path: str | Path, metrics: dict, x_test: np.ndarray, y_test: np.ndarray,
                       probabilities: np.ndarray, title: str) -> None:
    """A digit classifier's test reports beside it: the confusion matrix and the worst test errors."""
    paths = report_paths(model_path)
    plot_confusion(np.array(metrics["confusion_matrix"]), paths["confusion"], title)
    plot_worst_errors(x_test, y_test, probabilities, paths["errors"], f"{Path(model_path).name}: worst test errors")
