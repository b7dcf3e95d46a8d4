"""Batch throughput and memory: `digitreader batch -j N` beside Tesseract on the same files, in one run.

1. Generates synthetic 800x200 scans (6-10 MNIST *test* digits in a row on noisy paper; Hershey-font
   digits when MNIST is absent, which the report says) under bench-data/batch/ (gitignored), once.
2. Throughput: `digitreader batch DIR --out ... -j N` over the first --files scans, wall clock of the
   whole command (process start, model load and worker start-up included), and the rate the batch
   summary reports; whole-number accuracy against the truth.
3. Tesseract 5 on the same files (`tesseract IMG - --psm 7 -c tessedit_char_whitelist=0123456789`),
   N processes in parallel (OMP_THREAD_LIMIT=1), the same accuracy measure.
4. Peak memory (RSS of the batch process plus its workers, sampled every 20 ms) for 1,000 and
   10,000 files: flat when the inputs are streamed.

    python benchmarks/batch_speed.py --jobs 2 --files 1000 --memory-files 1000,10000 --json batch.json

Tesseract: `apt-get install tesseract-ocr` (Debian/Ubuntu) or `brew install tesseract`; without it the
script reports digitreader alone and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "bench-data" / "batch"
DEFAULT_MNIST = REPO.parent / "shared" / "datasets" / "mnist.npz"
TESSERACT_ARGS = ["--psm", "7", "-c", "tessedit_char_whitelist=0123456789"]
FILES_PER_FOLDER = 1000


def generate(data: Path, count: int, mnist: Path | None, seed: int = 0) -> tuple[list[Path], dict[str, str], str]:
    """``count`` scans under data/scans/NNN/ and their truth (reused when already there)."""
    truth_file = data / "truth.json"
    truth = json.loads(truth_file.read_text()) if truth_file.exists() else {}
    source = truth.pop("__source__", None)
    digits = None
    if mnist is not None and mnist.exists():
        with np.load(mnist, allow_pickle=False) as npz:
            x, y = npz["x_test"], npz["y_test"]
        digits = [x[y == d] for d in range(10)]
    wanted_source = "MNIST test digits" if digits is not None else "Hershey-font digits (MNIST not found)"
    if source != wanted_source:
        truth = {}
    paths = []
    for index in range(count):
        rel = f"scans/{index // FILES_PER_FOLDER:03d}/scan_{index:05d}.png"
        path = data / rel
        if rel not in truth or not path.exists():
            truth[rel] = _draw(path, np.random.default_rng([seed, index]), digits)
        paths.append(path)
    data.mkdir(parents=True, exist_ok=True)
    truth_file.write_text(json.dumps({"__source__": wanted_source, **truth}))
    return paths, truth, wanted_source


def _draw(path: Path, rng: np.random.Generator, digits: list[np.ndarray] | None) -> str:
    labels = rng.integers(0, 10, size=int(rng.integers(6, 11)))
    height = min(int(rng.integers(70, 111)), int(740 / (0.8 * len(labels))))  # the row fits in 800 px
    page = np.zeros((200, 800), np.float32)
    x = int(rng.integers(15, 40))
    for label in labels:
        if digits is not None:
            pool = digits[label]
            tile = cv2.resize(pool[rng.integers(len(pool))], (height, height), interpolation=cv2.INTER_CUBIC)
        else:
            tile = np.zeros((height, height), np.uint8)
            cv2.putText(tile, str(label), (height // 5, height * 4 // 5), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
                        height / 40, 255, max(2, height // 14), cv2.LINE_AA)
        y = (200 - height) // 2 + int(rng.integers(-10, 11))
        left = max(0, x - height // 8)
        right = min(800, left + height)
        page[y:y + height, left:right] = np.maximum(page[y:y + height, left:right], tile[:, :right - left])
        x += int(height * 0.8)
    alpha = page / 255.0
    paper = rng.uniform(215, 245) + rng.normal(0, 4, page.shape)
    image = np.clip(paper * (1 - alpha) + rng.uniform(10, 50) * alpha, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return "".join(map(str, labels))


def link_subset(paths: list[Path], folder: Path) -> Path:
    """A folder of symbolic links to ``paths`` (the batch reads exactly these files)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(paths):
        link = folder / f"{i // FILES_PER_FOLDER:03d}" / path.name
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(path.resolve())
    return folder


def run_measured(cmd: list[str]) -> tuple[float, float, float, str, float]:
    """(wall seconds, peak RSS of the process tree in MiB, peak RSS of the main process, stderr, CPU seconds
    of the whole tree: user + system of the batch and its workers)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        import psutil
    except ImportError:
        psutil = None
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_tree = peak_main = 0.0
    if psutil is not None:
        root = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                procs = [root, *root.children(recursive=True)]
                rss = [p.memory_info().rss for p in procs]
                peak_tree = max(peak_tree, sum(rss) / 2**20)
                peak_main = max(peak_main, rss[0] / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.02)
    _, err = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode not in (0, 10):
        raise SystemExit(f"batch failed ({process.returncode}): {err[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, peak_tree, peak_main, err, cpu


def batch_cmd(folder: Path, out: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "digitreader", "batch", str(folder), "--out", str(out), "-j", str(jobs),
            "--overwrite", "--no-progress"]


def accuracy(records: list[dict], truth: dict[str, str], data: Path) -> float:
    by_name = {Path(rel).name: text for rel, text in truth.items()}
    right = sum(by_name.get(Path(r["path"]).name) == "".join(r["lines"]) for r in records)
    return right / max(1, len(records))


def tesseract_run(paths: list[Path], jobs: int, binary: str) -> tuple[float, list[str], float]:
    """(wall seconds, digits read per file, CPU seconds of all tesseract processes)."""
    import resource

    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)

    def one(path: Path) -> str:  # one process per image, as scripts call it
        out = subprocess.run([binary, str(path), "-", *TESSERACT_ARGS], capture_output=True, text=True, env=env)
        return "".join(ch for ch in out.stdout if ch.isdigit())

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        texts = list(pool.map(one, paths))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - started, texts, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--files", type=int, default=1000, help="scans in the throughput run (default 1000)")
    parser.add_argument("--memory-files", default="1000,10000", help="file counts for peak memory (comma list)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON here")
    args = parser.parse_args()

    memory_counts = [int(n) for n in args.memory_files.split(",") if n.strip()]
    total = max([args.files, *memory_counts])
    started = time.perf_counter()
    paths, truth, source = generate(args.data, total, args.mnist)
    print(f"scans: {total} x 800x200 PNG ({source}) in {args.data} ({time.perf_counter() - started:.0f} s)",
          file=sys.stderr)
    report: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_before": os.getloadavg(),
                    "source": source, "jobs": args.jobs}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subset = link_subset(paths[:args.files], tmp / "throughput")
        # warm the ONNX model cache once so the timed run measures reading, not the one-time conversion
        subprocess.run([sys.executable, "-m", "digitreader", "batch", str(paths[0]), "--out", str(tmp / "warm.jsonl"),
                        "-j", "0", "--no-progress"], capture_output=True)
        out = tmp / "results.jsonl"
        wall, peak, peak_main, err, cpu = run_measured(batch_cmd(subset, out, args.jobs))
        records = [json.loads(line) for line in out.read_text().splitlines()]
        report["digitreader"] = {
            "files": args.files, "seconds": round(wall, 2), "images_per_s": round(args.files / wall, 1),
            "cpu_seconds": round(cpu, 2), "images_per_cpu_second": round(args.files / cpu, 1),
            "summary": err.strip().splitlines()[-1], "accuracy": round(accuracy(records, truth, args.data), 4),
            "peak_rss_mib": round(peak, 1)}
        print(f"digitreader batch -j {args.jobs}: {args.files} files in {wall:.1f} s = {args.files / wall:.1f} "
              f"images/s (start-up included), {args.files / cpu:.1f} images per CPU-second; "
              f"{report['digitreader']['summary']}", file=sys.stderr)

        binary = None if args.no_tesseract else shutil.which("tesseract")
        if binary is None:
            print("tesseract not found: install it with `apt-get install tesseract-ocr` (Debian/Ubuntu) or "
                  "`brew install tesseract`; reporting digitreader alone", file=sys.stderr)
        else:
            seconds, texts, cpu = tesseract_run(paths[:args.files], args.jobs, binary)
            names = [Path(p).name for p in paths[:args.files]]
            by_name = {Path(rel).name: text for rel, text in truth.items()}
            right = sum(by_name[n] == t for n, t in zip(names, texts))
            report["tesseract"] = {"files": args.files, "seconds": round(seconds, 2),
                                   "images_per_s": round(args.files / seconds, 1),
                                   "cpu_seconds": round(cpu, 2), "images_per_cpu_second": round(args.files / cpu, 1),
                                   "accuracy": round(right / args.files, 4), "parallel": args.jobs}
            print(f"tesseract x{args.jobs} processes: {args.files} files in {seconds:.1f} s = "
                  f"{args.files / seconds:.1f} images/s, {args.files / cpu:.1f} images per CPU-second", file=sys.stderr)

        report["memory"] = []
        for count in memory_counts:
            folder = link_subset(paths[:count], tmp / f"memory{count}")
            wall, peak, peak_main, err, _ = run_measured(batch_cmd(folder, tmp / f"memory{count}.jsonl", args.jobs))
            row = {"files": count, "seconds": round(wall, 1), "images_per_s": round(count / wall, 1),
                   "peak_rss_mib_all_processes": round(peak, 1), "peak_rss_mib_main": round(peak_main, 1)}
            report["memory"].append(row)
            print(f"memory, {count} files: peak RSS {peak:.0f} MiB (batch + workers), main process "
                  f"{peak_main:.0f} MiB; {count / wall:.1f} images/s", file=sys.stderr)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
