"""Score digitreader per category on synthetic pages with exact ground truth (see synth.py).

    python benchmarks/accuracy.py --data bench-data --model output/mnist_cnn.keras --json out.json

Per category: whole-number accuracy (every row exactly right), digit accuracy (1 - edit distance /
true digits, per row), box F1 (a predicted digit matches a true one when IoU >= 0.5 and the value is
right; greedy one-to-one by IoU), mean IoU (best IoU of each true box), and read latency per image
(decoded image in, Result out; median and p95). Also the MNIST test accuracy of each shipped model.

``--charset decimal`` reads with separators and compares each row with the truth's ``text_lines``
(digits plus the ``.`` ``,`` ``-`` written on the page); ``digits`` (default) compares ``lines``.
``--scale 0.5`` (or 2) reads every page resized, as a scan at half (twice) the resolution would show it;
``--rotate 3`` reads every page rotated by 3 degrees, as a skewed scan; ``--desk 40`` lays it on a dark desk
first (a photo of the page with its surround); ``--keep-frame`` with both keeps the photo's size, so its frame
cuts the turned sheet's corners off.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def iou(a, b) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def score_image(truth: dict, lines: list[str], digits: list[tuple[int, tuple]], charset: str = "digits") -> dict:
    """Counts for one image; ``digits`` is [(value, box)] as predicted."""
    true_lines = truth.get("text_lines", truth["lines"]) if charset == "decimal" else truth["lines"]
    distance = sum(edit_distance(t, p) for t, p in zip(true_lines, lines))
    distance += sum(len(t) for t in true_lines[len(lines):]) + sum(len(p) for p in lines[len(true_lines):])
    true_boxes = [(d["value"], d["box"]) for d in truth["digits"]]
    pairs = sorted(((iou(p[1], t[1]), i, j) for i, p in enumerate(digits) for j, t in enumerate(true_boxes)),
                   reverse=True)
    used_p, used_t, matches = set(), set(), 0
    for overlap, i, j in pairs:
        if overlap < 0.5:
            break
        if i in used_p or j in used_t or digits[i][0] != true_boxes[j][0]:
            continue
        used_p.add(i)
        used_t.add(j)
        matches += 1
    best = [max((iou(p[1], t[1]) for p in digits), default=0.0) for t in true_boxes]
    return {"correct": lines == true_lines, "true_digits": sum(len(t) for t in true_lines), "distance": distance,
            "matches": matches, "predicted": len(digits), "truth": len(true_boxes), "iou_sum": sum(best)}


def rescaled(image: np.ndarray, truth: dict, factor: float) -> tuple[np.ndarray, dict]:
    """The page resized by ``factor`` (area resampling down, cubic up) and its truth with the boxes scaled."""
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    digits = [{**d, "box": [round(v * factor) for v in d["box"]]} for d in truth["digits"]]
    return image, {**truth, "digits": digits}


def on_desk(image: np.ndarray, truth: dict, grey: float) -> tuple[np.ndarray, dict]:
    """The page lying on a desk of this grey (faint noise, seeded by the file name), as a photo of it shows it:
    a margin a tenth of the page's larger side all round; the true boxes shifted with it."""
    h, w = image.shape[:2]
    margin = round(0.1 * max(h, w))
    rng = np.random.default_rng(zlib.crc32(truth["file"].encode()))
    desk = np.clip(grey + rng.normal(0, 4, (h + 2 * margin, w + 2 * margin, 1)), 0, 255).astype(np.uint8)
    desk = np.repeat(desk, 3, axis=2) if image.ndim == 3 else desk[:, :, 0]
    desk[margin:margin + h, margin:margin + w] = image
    digits = [{**d, "box": [d["box"][0] + margin, d["box"][1] + margin, *d["box"][2:]]} for d in truth["digits"]]
    return desk, {**truth, "digits": digits}


def rotated(image: np.ndarray, truth: dict, degrees: float,
            corner_grey: float | None = None, keep_frame: bool = False) -> tuple[np.ndarray, dict]:
    """The page rotated by ``degrees`` (bilinear) on a canvas that holds all of it (corners in ``corner_grey``,
    or the page's median colour), and its truth with each box replaced by the box around its rotated corners.
    ``keep_frame``: the canvas keeps the image's size, so a photo's frame cuts off the turned sheet's corners.
    Its own code, not the reader's ``segment.deskewed``: a change to how the reader levels a page must not
    change the pages it is measured on."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    size = (w, h)
    if not keep_frame:
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        size = (int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin)))
        matrix[0, 2] += size[0] / 2 - w / 2
        matrix[1, 2] += size[1] / 2 - h / 2
    channels = image.shape[2] if image.ndim == 3 else 1
    grey = np.median(image.reshape(-1, channels), axis=0) if corner_grey is None else np.full(channels, corner_grey)
    if keep_frame and corner_grey is None:
        grey = np.full(channels, float(np.median(image)))
    image = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR,
                           borderValue=tuple(float(v) for v in grey))

    def box_of(box: list[int]) -> list[int]:
        x, y, bw, bh = box
        corners = np.array([[x, y, 1], [x + bw, y, 1], [x, y + bh, 1], [x + bw, y + bh, 1]], float) @ matrix.T
        (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        return [int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))]

    return image, {**truth, "digits": [{**d, "box": box_of(d["box"])} for d in truth["digits"]]}


def summarise(rows: list[dict], latencies: list[float]) -> dict:
    n = len(rows)
    predicted, truth, matches = (sum(r[k] for r in rows) for k in ("predicted", "truth", "matches"))
    precision = matches / predicted if predicted else 0.0
    recall = matches / truth if truth else 0.0
    return {
        "images": n,
        "whole_number_accuracy": sum(r["correct"] for r in rows) / n,
        "digit_accuracy": max(0.0, 1 - sum(r["distance"] for r in rows) / max(1, sum(r["true_digits"] for r in rows))),
        "box_precision": precision, "box_recall": recall,
        "box_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "mean_iou": sum(r["iou_sum"] for r in rows) / max(1, truth),
        "median_ms": statistics.median(latencies) * 1000, "p95_ms": float(np.percentile(latencies, 95)) * 1000,
    }


def mnist_accuracy(model: Path, mnist: Path) -> float | None:
    if not model.exists() or not mnist.exists():
        return None
    out = subprocess.run([sys.executable, "-m", "digitreader", "evaluate", "-m", str(model), "--data", str(mnist),
                          "--format", "json", "-q"], capture_output=True, text=True)
    return json.loads(out.stdout)["accuracy"] if out.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder made by synth.py (generated if missing)")
    parser.add_argument("--model", type=Path, default=REPO / "output" / "mnist_cnn.keras")
    parser.add_argument("--mnist", type=Path, default=synth.default_mnist_path())
    parser.add_argument("--per-category", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="at most N images per category")
    parser.add_argument("--json", type=Path, default=None, help="write all numbers here")
    parser.add_argument("--failures", type=Path, default=None, help="write wrongly read images here")
    parser.add_argument("--charset", choices=("digits", "decimal"), default="digits",
                        help="decimal: read and score separators too (truth text_lines)")
    parser.add_argument("--verifier", default="auto",
                        help="single-digit verifier: auto (the shipped one), a model file, or none")
    parser.add_argument("--pair-reader", default="auto",
                        help="pair reader: auto (the shipped one), a model file, or none")
    parser.add_argument("--no-mnist", action="store_true", help="skip the MNIST test accuracy of the models")
    parser.add_argument("--categories", type=synth.parse_categories, default=None, help="score only these")
    parser.add_argument("--rotate", type=float, default=0.0, metavar="DEG",
                        help="rotate every page by DEG degrees (counter-clockwise; bilinear, on a canvas that "
                             "holds it all, corners in the paper's colour) before reading: a skewed scan")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="resize every page (and its true boxes) by this factor before reading: "
                             "0.5 is a scan at half the resolution, 2 at twice")
    parser.add_argument("--keep-frame", action="store_true",
                        help="with --rotate: the rotated image keeps its size (a photo's frame cuts the sheet's "
                             "corners off)")
    parser.add_argument("--desk", type=float, default=None, metavar="GREY",
                        help="lay every page on a desk of this grey (0-255) before rotating it: a photo of the "
                             "page with its surround")
    args = parser.parse_args(argv)

    truth_file = args.data / "truth.jsonl"
    if not truth_file.exists():
        synth.write_dataset(args.data, synth.require_mnist(args.mnist), synth.CATEGORIES, args.per_category, args.seed)
    if any(json.loads(line).get("mnist_split", "test") != "test" for line in truth_file.read_text().splitlines()):
        print(f"error: {args.data} holds pages of MNIST training digits (synth.py --split train): they are "
              "for training crops, not for measuring", file=sys.stderr)
        return 2
    from digitreader import DigitReader
    from digitreader.imageio import decode_image_file

    reader = DigitReader(args.model, charset=args.charset, verifier=args.verifier,
                         pair_reader=args.pair_reader)
    reader.read(np.full((50, 50), 255, np.uint8))  # warm-up: first call builds the graph
    per_category, latencies, seen = defaultdict(list), defaultdict(list), defaultdict(int)
    for line in truth_file.read_text().splitlines():
        truth = json.loads(line)
        category = truth["category"]
        if args.categories and category not in args.categories:
            continue
        if args.limit and seen[category] >= args.limit:
            continue
        seen[category] += 1
        image = decode_image_file(args.data / truth["file"])
        if args.scale != 1.0:
            image, truth = rescaled(image, truth, args.scale)
        if args.desk is not None:
            image, truth = on_desk(image, truth, args.desk)
        if args.rotate:
            image, truth = rotated(image, truth, args.rotate, args.desk, args.keep_frame)
        started = time.perf_counter()
        result = reader.read(image, path=truth["file"])
        latencies[category].append(time.perf_counter() - started)
        row = score_image(truth, result.lines, [(d.value, d.box) for d in result.digits], args.charset)
        per_category[category].append(row)
        if args.failures and not row["correct"]:
            args.failures.mkdir(parents=True, exist_ok=True)
            from digitreader.draw import annotate_image

            name = truth["file"].replace("/", "_")
            cv2.imwrite(str(args.failures / name), annotate_image(image, result))
            true_lines = truth.get("text_lines", truth["lines"]) if args.charset == "decimal" else truth["lines"]
            print(f"{truth['file']}: true {true_lines} read {result.lines}", file=sys.stderr)

    report = {c: summarise(rows, latencies[c]) for c, rows in per_category.items()}
    report["overall"] = summarise([r for rows in per_category.values() for r in rows],
                                  [t for ts in latencies.values() for t in ts])
    shipped = ("mnist_mlp.keras", "mnist_cnn.keras")
    mnist = {} if args.no_mnist else {name: mnist_accuracy(REPO / "output" / name, args.mnist) for name in shipped}
    verifier_name = getattr(reader.verifier, "name", "none")
    pair_name = getattr(reader.pair_reader, "name", "none")
    print(f"model: {args.model.name}, verifier: {verifier_name}, pair reader: {pair_name}, charset: {args.charset}\n")
    print("| category | images | whole-number acc | digit acc | box F1 | mean IoU | median ms | p95 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for category, s in report.items():
        print(f"| {category} | {s['images']} | {s['whole_number_accuracy'] * 100:.1f} % "
              f"| {s['digit_accuracy'] * 100:.1f} % | {s['box_f1']:.3f} | {s['mean_iou']:.3f} "
              f"| {s['median_ms']:.1f} | {s['p95_ms']:.1f} |")
    print("\n| model | MNIST test accuracy |\n|---|---:|")
    for name, acc in mnist.items():
        print(f"| {name} | {'n/a' if acc is None else f'{acc * 100:.2f} %'} |")
    if args.json:
        record = {"model": str(args.model), "charset": args.charset, "categories": report, "mnist": mnist}
        args.json.write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
