"""Fuzz the decode + read path: image bytes -> decode (header size check, OpenCV) -> segmentation ->
normalisation -> a real classifier (the shipped CNN through the ONNX fast path) -> splitting, merging,
result. Any exception other than a DigitReaderError (a clean, documented refusal) is a crash; an input
that takes more than --slow seconds is a hang candidate. Both are saved and counted, and the run goes on.

Engines:
- ``atheris`` (coverage-guided libFuzzer; ``pip install atheris``): digitreader's own Python code is
  instrumented, so mutations that reach new branches of segmentation/normalisation are kept;
- ``random``: a plain mutation fuzzer over the same seeds (bit flips, byte runs, splices, header field
  edits), for machines without atheris.

Seeds: small valid PNG, JPEG, TIFF, BMP, PGM, WebP and GIF pages of handwritten-style numbers, plus
"raw" inputs (``RAW0`` + height, width, channels + pixels) that skip the decoder and hand arbitrary
pixels to segmentation.

    nice -n 10 python benchmarks/fuzz.py --seconds 720 --out fuzz-out            # atheris when installed
    nice -n 10 python benchmarks/fuzz.py --engine random --seconds 60 --out fuzz-out

Writes ``OUT/summary.json`` (executions, crashes, slow inputs, time) and ``OUT/crashes/``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import resource
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MAX_PIXELS = 4_000_000  # enough for any seed and its mutations; keeps each execution well under a second
RAW_MAGIC = b"RAW0"
MEMORY_ALERT_MB = 1000  # an input that raises the process's peak RSS by more than this is saved


def seeds() -> dict[str, bytes]:
    """Small valid images in every common format, and raw pixel inputs."""
    import cv2

    sys.path.insert(0, str(REPO / "tests"))
    from conftest import draw_number

    out: dict[str, bytes] = {}
    pages = {"31": draw_number("31", height=40)[0], "4096": draw_number("4096", height=28, gap=0.2)[0],
             "7": draw_number("7", height=60, ink=230, paper=20)[0]}
    for name, page in pages.items():
        colour = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
        for ext in (".png", ".jpg", ".bmp", ".pgm", ".tiff", ".webp"):
            ok, buf = cv2.imencode(ext, page if ext != ".bmp" else colour)
            if ok:
                out[f"{name}{ext}"] = buf.tobytes()
        ok, buf = cv2.imencode(".png", np.dstack([colour, 255 - page]))
        out[f"{name}-rgba.png"] = buf.tobytes()
        out[f"{name}.raw"] = raw_input(page)
    try:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(pages["31"]).convert("P").save(buf, "GIF")
        out["31.gif"] = buf.getvalue()
    except ImportError:
        pass
    return out


def raw_input(image: np.ndarray) -> bytes:
    channels = 1 if image.ndim == 2 else image.shape[2]
    return RAW_MAGIC + bytes([image.shape[0] % 256, image.shape[0] // 256, image.shape[1] % 256,
                              image.shape[1] // 256, channels]) + image.tobytes()


def from_raw(data: bytes) -> np.ndarray:
    """RAW0 h(2) w(2) c(1) pixels: any height/width up to 2000, 1/3/4 channels; pixels tiled from the rest."""
    h = max(1, min(2000, data[4] + 256 * data[5]))
    w = max(1, min(2000, data[6] + 256 * data[7]))
    c = (1, 3, 4)[data[8] % 3] if data[8] not in (1, 3, 4) else data[8]
    body = np.frombuffer(data[9:] or b"\x00", np.uint8)
    pixels = np.resize(body, h * w * c)
    return pixels.reshape((h, w) if c == 1 else (h, w, c))


class Hang(BaseException):
    """Raised in the main thread when one input runs past --hang seconds (not an Exception: never caught
    as one by the code under test)."""


def _raise_hang(signum: int, frame: object) -> None:
    raise Hang()


class Target:
    """One execution: decode and read, classifying the outcome."""

    def __init__(self, out: Path, slow: float, hang: float = 0.0) -> None:
        from digitreader.errors import DigitReaderError
        from digitreader.imageio import decode_image
        from digitreader.reader import DigitReader
        from digitreader.result import to_csv, to_text

        self.expected = DigitReaderError
        self.decode = decode_image
        self.to_csv, self.to_text = to_csv, to_text
        self.reader = DigitReader(max_pixels=MAX_PIXELS)
        self.out, self.slow, self.hang = out, slow, hang
        warnings.simplefilter("error", RuntimeWarning)  # numpy's warnings would print on the user's stderr
        self.hangs: list[dict] = []
        self.memory_inputs: list[dict] = []
        if hang:
            signal.signal(signal.SIGALRM, _raise_hang)
        (out / "crashes").mkdir(parents=True, exist_ok=True)
        self.executions = self.refused = self.read = self.digits = 0
        self.crashes: dict[str, dict] = {}
        self.slow_inputs: list[dict] = []
        self.longest = 0.0
        self.on_progress: Callable[[], None] | None = None
        self.last_report = time.monotonic()

    def __call__(self, data: bytes) -> None:
        self.executions += 1
        start = time.perf_counter()
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if self.hang:
            signal.setitimer(signal.ITIMER_REAL, self.hang)  # a hang is recorded, and the run goes on
        try:
            image = from_raw(data) if data.startswith(RAW_MAGIC) and len(data) >= 9 else \
                self.decode(data, "fuzz", MAX_PIXELS)
            result = self.reader.read(image)
            json.loads(result.to_json())
            self.to_csv([result])
            self.to_text([result], with_paths=True)
            self.read += 1
            self.digits += len(result.digits)
        except self.expected:
            self.refused += 1
        except Hang:
            self._save(data, "hang", time.perf_counter() - start, self.hangs)
        except Exception as exc:  # a crash: keep the input and the first traceback per location
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            if key not in self.crashes:
                digest = hashlib.sha1(data).hexdigest()[:12]
                (self.out / "crashes" / f"crash-{digest}").write_bytes(data)
                self.crashes[key] = {"input": f"crashes/crash-{digest}", "count": 0,
                                     "traceback": traceback.format_exc()}
                print(f"CRASH {key}", file=sys.stderr, flush=True)
            self.crashes[key]["count"] += 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.perf_counter() - start
        self.longest = max(self.longest, elapsed)
        if self.on_progress is not None and time.monotonic() - self.last_report > 15:
            self.last_report = time.monotonic()
            self.on_progress()  # libFuzzer ends the process with _exit(): atexit handlers never run
        if self.slow < elapsed < (self.hang or float("inf")):
            self._save(data, "slow", elapsed, self.slow_inputs)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
        if grown_mb > MEMORY_ALERT_MB:  # one input raised the peak by this much: a memory bomb candidate
            self._save(data, "memory", elapsed, self.memory_inputs)
            self.memory_inputs[-1]["peak_growth_mb"] = round(grown_mb)

    def _save(self, data: bytes, kind: str, seconds: float, into: list[dict]) -> None:
        digest = hashlib.sha1(data).hexdigest()[:12]
        (self.out / "crashes" / f"{kind}-{digest}").write_bytes(data)
        into.append({"input": f"crashes/{kind}-{digest}", "seconds": round(seconds, 2)})
        print(f"{kind.upper()} {seconds:.1f} s: {kind}-{digest}", file=sys.stderr, flush=True)

    def summary(self, engine: str, seconds: float) -> dict:
        return {"engine": engine, "seconds": round(seconds, 1), "executions": self.executions,
                "executions_per_second": round(self.executions / max(seconds, 1e-9), 1),
                "refused_cleanly": self.refused, "read": self.read, "digits_read": self.digits,
                "crashes": len(self.crashes), "crash_details": self.crashes, "hangs": self.hangs,
                "slow_inputs": self.slow_inputs, "memory_inputs": self.memory_inputs,
                "slowest_seconds": round(self.longest, 3), "max_pixels": MAX_PIXELS,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def mutate(data: bytes, corpus: list[bytes], rng: random.Random) -> bytes:
    """One to eight random edits: bit flips, byte runs, interesting values, cuts, inserts, splices."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not buf:
            buf = bytearray(rng.choice(corpus))
        op = rng.randrange(7)
        at = rng.randrange(len(buf))
        if op == 0:
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[at:at + rng.randint(1, 16)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 2:  # header fields: sizes, counts, offsets at their extremes
            value = rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF])
            buf[at:at + 4] = value.to_bytes(4, rng.choice(["big", "little"]))
        elif op == 3:
            del buf[at:at + rng.randint(1, max(1, len(buf) // 4))]
        elif op == 4:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif op == 5:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other))
            buf = buf[:at] + bytearray(other[cut:cut + rng.randint(1, 4096)])
        else:
            buf = buf[:at]
    return bytes(buf)


def run_random(target: Target, corpus: list[bytes], seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    for data in corpus:
        target(data)
    while time.monotonic() < deadline:
        target(mutate(rng.choice(corpus), corpus, rng))


def run_atheris(target: Target, corpus_dir: Path, seconds: float, seed: int) -> None:
    import atheris

    argv = [sys.argv[0], str(corpus_dir), f"-max_total_time={int(seconds)}", f"-seed={seed}", "-max_len=150000",
            "-timeout=300", "-rss_limit_mb=6144", "-print_final_stats=1", "-close_fd_mask=0"]
    atheris.Setup(argv, target)
    try:
        atheris.Fuzz()
    except SystemExit:
        pass


def replay(paths: list[Path], out: Path, slow: float) -> int:
    """Re-run saved inputs (crashes, slow inputs): outcome and seconds for each."""
    target = Target(out, slow)
    for path in paths:
        before = (len(target.crashes), target.refused, target.read)
        start = time.perf_counter()
        target(path.read_bytes())
        outcome = ("crash" if len(target.crashes) > before[0] else "refused" if target.refused > before[1]
                   else "read")
        print(f"{path}: {outcome} in {time.perf_counter() - start:.1f} s")
    return 1 if target.crashes else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slow", type=float, default=10.0, help="Seconds after which an input counts as slow.")
    parser.add_argument("--hang", type=float, default=120.0,
                        help="Seconds after which an input is stopped and counted as a hang (0: never; "
                             "the random engine only, libFuzzer has its own -timeout).")
    parser.add_argument("--replay", type=Path, nargs="+", help="Run these saved inputs once each and report.")
    args = parser.parse_args()
    if args.replay:
        return replay(args.replay, args.out, args.slow)
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "random"
    args.out.mkdir(parents=True, exist_ok=True)
    corpus_dir = args.out / "corpus"
    corpus_dir.mkdir(exist_ok=True)
    seed_files = seeds()
    for name, data in seed_files.items():
        (corpus_dir / name).write_bytes(data)
    if engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=["digitreader"]):
            import digitreader.imageio  # noqa: F401
            import digitreader.imagesize  # noqa: F401
            import digitreader.normalise  # noqa: F401
            import digitreader.reader  # noqa: F401
            import digitreader.segment  # noqa: F401
    target = Target(args.out, args.slow, args.hang if engine == "random" else 0.0)
    start = time.monotonic()
    summary_path = args.out / "summary.json"

    import atexit

    def write_summary() -> None:  # libFuzzer ends the process itself when max_total_time is reached
        summary = target.summary(engine, time.monotonic() - start)
        summary["seeds"] = len(seed_files)
        summary["command"] = " ".join([Path(sys.executable).name, *sys.argv])
        summary_path.write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps({k: v for k, v in summary.items() if k != "crash_details"}), file=sys.stderr, flush=True)

    atexit.register(write_summary)
    target.on_progress = write_summary
    if engine == "atheris":
        run_atheris(target, corpus_dir, args.seconds, args.seed)
    else:
        run_random(target, list(seed_files.values()), args.seconds, args.seed)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
