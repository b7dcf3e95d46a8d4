"""Speed of digitreader against Tesseract 5, side by side in one run on the same images.

Measures (see benchmarks/README.md):
  cold    wall time of one CLI call on a sample (model cache filled), median of N alternating runs, and its
          peak memory (max RSS of the child process);
  warm    in-process latency of DigitReader.read on a 10-digit single-row 800x200 page (median);
  batch   one `digitreader read` process over M synthetic 800x200 pages, start-up included (images/s),
          and Tesseract over the same pages, one call per image (what scripts do).

    python benchmarks/speed.py --mnist ../shared/datasets/mnist.npz --json speed.json

Tesseract: Debian's `tesseract-ocr` package. When it is missing the script installs it with apt-get if it
runs as root, otherwise it says how and reports digitreader alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "one_row_651778970.png"
TESSERACT_ARGS = ["--psm", "7", "-c", "tessedit_char_whitelist=0123456789"]


def ensure_tesseract() -> str | None:
    """Path of the tesseract binary, installing Debian's package when possible; None (with a hint) if absent."""
    found = shutil.which("tesseract")
    if found:
        return found
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("tesseract not found: installing Debian's tesseract-ocr ...", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "tesseract-ocr"], check=False, env=env,
                       stdout=subprocess.DEVNULL)
        found = shutil.which("tesseract")
    if not found:
        print("tesseract not found; install it with `sudo apt-get install tesseract-ocr` (Debian/Ubuntu) "
              "to compare. Reporting digitreader alone.", file=sys.stderr)
    return found


def make_pages(out: Path, count: int, mnist: Path | None, seed: int = 0) -> tuple[list[Path], list[str]]:
    """``count`` 800x200 pages, each a 10-digit number in one row (MNIST test digits, else Hershey glyphs)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    digits_by_class = None
    if mnist is not None and mnist.exists():
        with np.load(mnist, allow_pickle=False) as data:
            x, y = data["x_test"], data["y_test"]
        digits_by_class = [x[y == d] for d in range(10)]
    else:
        print("MNIST not found: drawing digits with an OpenCV Hershey font instead", file=sys.stderr)
    paths, truths = [], []
    for index in range(count):
        labels = rng.integers(0, 10, size=10)
        page = np.zeros((200, 800), np.float32)
        x = 20
        for label in labels:
            if digits_by_class is not None:
                pool = digits_by_class[label]
                tile = cv2.resize(pool[rng.integers(len(pool))], (100, 100), interpolation=cv2.INTER_CUBIC)
            else:
                tile = np.zeros((100, 100), np.uint8)
                cv2.putText(tile, str(label), (22, 82), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.6, 255, 7, cv2.LINE_AA)
            y = 50 + int(rng.integers(-10, 11))
            page[y:y + 100, x - 12:x + 88] = np.maximum(page[y:y + 100, x - 12:x + 88], tile)
            x += 76
        alpha = page / 255.0
        paper = 235 + rng.normal(0, 4, page.shape)
        image = np.clip(paper * (1 - alpha) + 25 * alpha, 0, 255).astype(np.uint8)
        path = out / f"page_{index:04d}.png"
        cv2.imwrite(str(path), image)
        paths.append(path)
        truths.append("".join(map(str, labels)))
    return paths, truths


def timed_run(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) of the child, and its stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed with exit code {proc.returncode}")
    return elapsed, usage.ru_maxrss, out.decode(errors="replace")


def digitreader_cmd(*args: str) -> list[str]:
    exe = shutil.which("digitreader", path=str(Path(sys.executable).parent)) or shutil.which("digitreader")
    return [exe, *args] if exe else [sys.executable, "-m", "digitreader", *args]


def cold(model: Path, tesseract: str | None, runs: int) -> dict:
    cmd = digitreader_cmd("-i", str(SAMPLE), "-m", str(model))
    timed_run(cmd)  # fills the model cache (the first use of a model file exports it once)
    ours, theirs, rss_ours, rss_theirs = [], [], [], []
    for _ in range(runs):  # alternate, so both see the same machine state
        seconds, rss, text = timed_run(cmd)
        ours.append(seconds)
        rss_ours.append(rss)
        if tesseract:
            seconds, rss, _ = timed_run([tesseract, str(SAMPLE), "-", *TESSERACT_ARGS])
            theirs.append(seconds)
            rss_theirs.append(rss)
    result = {"image": SAMPLE.name, "runs": runs, "digitreader_s": statistics.median(ours),
              "digitreader_peak_mb": max(rss_ours) / 1024, "digitreader_text": text.strip()}
    if theirs:
        result.update(tesseract_s=statistics.median(theirs), tesseract_peak_mb=max(rss_theirs) / 1024,
                      ratio=statistics.median(ours) / statistics.median(theirs))
    return result


def warm(model: Path, page: Path, reads: int) -> dict:
    sys.path.insert(0, str(REPO))
    from digitreader import DigitReader
    from digitreader.imageio import decode_image_file

    reader = DigitReader(model)
    image = decode_image_file(page)
    for _ in range(10):
        text = reader.read(image).text
    samples = []
    for _ in range(reads):
        started = time.perf_counter()
        reader.read(image)
        samples.append(time.perf_counter() - started)
    return {"image": page.name, "reads": reads, "median_ms": statistics.median(samples) * 1000,
            "p90_ms": float(np.percentile(samples, 90)) * 1000, "digits": len(text), "text": text,
            "backend": getattr(reader.classifier, "backend", "keras")}


def throughput(model: Path, pages: list[Path], truths: list[str], tesseract: str | None,
               tesseract_limit: int) -> dict:
    seconds, rss, out = timed_run(digitreader_cmd("read", *map(str, pages), "-m", str(model), "--format", "json"))
    texts = [json.loads(line)["text"] for line in out.splitlines() if line.strip()]
    result = {"images": len(pages), "digitreader_s": seconds, "digitreader_images_per_s": len(pages) / seconds,
              "digitreader_peak_mb": rss / 1024,
              "digitreader_exact": sum(t == truth for t, truth in zip(texts, truths)) / len(pages)}
    if tesseract:
        subset = pages[:tesseract_limit]
        started = time.perf_counter()
        exact = 0
        for page, truth in zip(subset, truths):
            _, _, text = timed_run([tesseract, str(page), "-", *TESSERACT_ARGS])
            exact += "".join(ch for ch in text if ch.isdigit()) == truth
        elapsed = time.perf_counter() - started
        result.update(tesseract_images=len(subset), tesseract_s=elapsed,
                      tesseract_images_per_s=len(subset) / elapsed, tesseract_exact=exact / len(subset))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "output" / "mnist_cnn.keras")
    parser.add_argument("--mnist", type=Path, default=REPO.parent / "shared" / "datasets" / "mnist.npz")
    parser.add_argument("--work", type=Path, default=REPO / "bench-data" / "speed")
    parser.add_argument("--images", type=int, default=900, help="pages for the throughput run")
    parser.add_argument("--cold-runs", type=int, default=11)
    parser.add_argument("--warm-reads", type=int, default=300)
    parser.add_argument("--tesseract-limit", type=int, default=None, help="pages for Tesseract (default: all)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    tesseract = ensure_tesseract()
    pages, truths = make_pages(args.work, args.images, args.mnist)
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_avg_at_start": os.getloadavg()},
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                 cwd=REPO).stdout.strip(),
        "tesseract": subprocess.run([tesseract, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        if tesseract else None,
    }
    report["cold"] = cold(args.model, tesseract, args.cold_runs)
    print("cold:", json.dumps(report["cold"]), file=sys.stderr)
    report["warm"] = warm(args.model, pages[0], args.warm_reads)
    print("warm:", json.dumps(report["warm"]), file=sys.stderr)
    report["throughput"] = throughput(args.model, pages, truths, tesseract, args.tesseract_limit or len(pages))
    print("throughput:", json.dumps(report["throughput"]), file=sys.stderr)
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
