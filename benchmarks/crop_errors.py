"""How many digits the CNN misreads on the reader's own crops, against the same digits' MNIST images.

    python benchmarks/crop_errors.py --data bench-data --categories clean,noisy,rows,inverted [--no-faint] [--list]

Segments each page (no splitting or merging), matches every true digit to the segmented box with the highest
IoU (kept at IoU >= 0.5), classifies its crop with the CNN alone, and classifies the digit's MNIST test image
too (``mnist_indices`` in truth.jsonl). The gap between the two error counts is what cropping and
normalisation cost; ``--no-faint`` cuts crops without the faint stroke parts (as before the eighth pass).

Then, per category, the classifier's own limit: the share of pages on which it reads every digit's MNIST image
right, i.e. the whole-number accuracy a reader with perfect segmentation and MNIST's own crops would reach. It
is not a hard bound (the reader's crops differ a little, and some digits misread on their MNIST image are read
right on them), but a classifier that misreads a digit on one page in 20 cannot read 97 % of pages.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from accuracy import iou  # noqa: E402
from synth import default_mnist_path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--categories", default="clean,noisy,rows,inverted")
    parser.add_argument("--model", type=Path, default=REPO / "output" / "mnist_cnn.keras")
    parser.add_argument("--mnist", type=Path, default=default_mnist_path())
    parser.add_argument("--no-faint", action="store_true", help="crops without faint stroke parts")
    parser.add_argument("--list", action="store_true", help="print every digit misread on its crop")
    args = parser.parse_args(argv)

    from digitreader import normalise
    from digitreader.classify import load_classifier
    from digitreader.segment import segment_at_working_scale

    if args.no_faint:
        normalise._faint_strokes = lambda window, own, near_others: np.zeros_like(own)
    mnist = np.load(args.mnist)
    classifier = load_classifier(args.model)
    categories = set(args.categories.split(","))
    crops, labels, indices, files = [], [], [], []
    pages: dict[str, list[list[int]]] = {}  # category -> each page's MNIST test indices
    for line in (args.data / "truth.jsonl").read_text().splitlines():
        truth = json.loads(line)
        if truth["category"] not in categories:
            continue
        pages.setdefault(truth["category"], []).append(truth["mnist_indices"])
        seg = segment_at_working_scale(cv2.imread(str(args.data / truth["file"]), cv2.IMREAD_UNCHANGED))
        if not seg.boxes:
            continue
        boxes = [seg.image_box(b) for b in seg.boxes]
        page_crops = seg.crops()
        for digit, index in zip(truth["digits"], truth["mnist_indices"]):
            best = max(range(len(boxes)), key=lambda k: iou(boxes[k], digit["box"]))
            if iou(boxes[best], digit["box"]) >= 0.5:
                crops.append(page_crops[best])
                labels.append(digit["value"])
                indices.append(index)
                files.append(truth["file"])
    labels = np.array(labels)
    on_crops = classifier.predict_proba(np.array(crops))
    on_mnist = classifier.predict_proba(mnist["x_test"][indices].astype(np.float32) / 255.0)
    for name, probabilities in (("crops", on_crops), ("MNIST images", on_mnist)):
        true_p = probabilities[np.arange(len(labels)), labels]
        errors = int((probabilities.argmax(axis=1) != labels).sum())
        print(f"{name}: {errors} errors in {len(labels)} digits, true-class log loss "
              f"{float(-np.log(np.clip(true_p, 1e-7, 1)).mean()):.4f}")
    print_ceiling(pages, classifier.predict_proba(mnist["x_test"].astype(np.float32) / 255.0).argmax(axis=1)
                  != mnist["y_test"])
    if args.list:
        for k in np.flatnonzero(on_crops.argmax(axis=1) != labels):
            print(f"{files[k]}: true {labels[k]} read {on_crops[k].argmax()} ({on_crops[k].max():.2f}), "
                  f"MNIST image read {on_mnist[k].argmax()} (test index {indices[k]})")
    return 0


def print_ceiling(pages: dict[str, list[list[int]]], misread: np.ndarray) -> None:
    """Per category: pages whose every MNIST image the classifier reads right (``misread``: per test index)."""
    print("| category | digits per page | pages with a digit whose MNIST image is misread | with MNIST's crops |")
    print("|---|---:|---:|---:|")
    for category, page_indices in sorted(pages.items()):
        failing = sum(bool(misread[indices].any()) for indices in page_indices)
        digits = sum(len(indices) for indices in page_indices) / len(page_indices)
        print(f"| {category} | {digits:.1f} | {failing} of {len(page_indices)} | "
              f"{100 * (1 - failing / len(page_indices)):.1f} % |")


if __name__ == "__main__":
    raise SystemExit(main())
