"""The reader's own crops of pages made of MNIST *training* digits, with their labels, for training.

    python benchmarks/synth.py --out /tmp/train-pages --per-category 600 --seed 100 --split train
    python benchmarks/page_crops.py --data /tmp/train-pages --out /tmp/page_crops.npz
    digitreader train --init-model output/mnist_cnn.keras --data ../shared/datasets/mnist.npz \\
        --extra-crops /tmp/page_crops.npz --epochs 10 --average-init --out cnn_pages.keras

MNIST's digits were normalised by MNIST's own pipeline; on a page the reader cuts, deslants and normalises
each digit itself, after blur, noise, JPEG, printed lines and levelling. A classifier that has seen only
MNIST's images meets a slightly different image on every page. This writes what it really meets: each page
is segmented (no splitting or merging, as ``crop_errors.py``), and a box is kept when it matches one true digit
(IoU >= ``--min-iou``) and overlaps no other (IoU < 0.1), so merged blobs and pieces are left out. The npz
holds ``x`` (N, 28, 28) uint8 white on black, ``y`` the digits, and ``mnist_index`` each digit's index in
MNIST's training split (training drops those in its validation split).

Pages of test digits are refused: the benchmarks are made of those.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from accuracy import iou  # noqa: E402

OTHER_DIGIT_IOU = 0.1  # a kept box overlaps no other true digit more than this


def matched_crops(boxes: list, crops: np.ndarray, digits: list[dict], indices: list[int],
                  min_iou: float) -> list[tuple[np.ndarray, int, int]]:
    """(crop, digit, MNIST index) for every true digit whose best box matches it alone."""
    kept = []
    for digit, index in zip(digits, indices, strict=True):
        overlaps = [iou(box, digit["box"]) for box in boxes]
        best = int(np.argmax(overlaps))
        if overlaps[best] < min_iou:
            continue
        if any(iou(boxes[best], other["box"]) >= OTHER_DIGIT_IOU for other in digits if other is not digit):
            continue
        kept.append((crops[best], int(digit["value"]), int(index)))
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="pages made by synth.py --split train")
    parser.add_argument("--out", type=Path, required=True, help="the .npz to write")
    parser.add_argument("--min-iou", type=float, default=0.7, help="IoU a box needs with its digit (%(default)s)")
    args = parser.parse_args(argv)

    from digitreader.segment import segment_at_working_scale

    xs, ys, indices = [], [], []
    per_category: Counter = Counter()
    for line in (args.data / "truth.jsonl").read_text().splitlines():
        truth = json.loads(line)
        if truth.get("mnist_split") != "train":
            print(f"error: {truth['file']} is not made of MNIST training digits (synth.py --split train)",
                  file=sys.stderr)
            return 2
        image = cv2.imread(str(args.data / truth["file"]), cv2.IMREAD_UNCHANGED)
        seg = segment_at_working_scale(image)
        if not seg.boxes:
            continue
        boxes = [seg.image_box(b) for b in seg.boxes]
        page_crops = seg.crops()
        for crop, value, index in matched_crops(boxes, page_crops, truth["digits"], truth["mnist_indices"],
                                                args.min_iou):
            xs.append(np.clip(np.rint(crop * 255.0), 0, 255).astype(np.uint8))
            ys.append(value)
            indices.append(index)
            per_category[truth["category"]] += 1
    if not xs:
        print("error: no crop matched a true digit", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, x=np.stack(xs), y=np.array(ys, np.uint8), mnist_index=np.array(indices, np.int64))
    print(f"wrote {len(xs)} crops to {args.out}: " + ", ".join(f"{k} {v}" for k, v in sorted(per_category.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
