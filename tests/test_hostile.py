"""Hostile inputs, generated here, through the real CLI in a subprocess (issue 7).

Every row: a one-line error on stderr with the documented exit code (or the right reading where the
image is valid), no traceback, no hang (timeout), bounded memory (the CLI's peak RSS measured from a
wrapper process). The README's "Hostile inputs and security" table lists these rows by id; a test
checks that each row of the table is a case here and each case is in the table.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, draw_number

from digitreader.errors import ExitCode, ImageTooLargeError
from digitreader.imageio import check_pixel_limit, check_structure, decode_image, decode_pages, max_file_bytes
from digitreader.imagesize import DEFAULT_MAX_PIXELS, declared_sizes

Image = pytest.importorskip("PIL.Image", reason="Pillow writes the paletted GIF, CMYK JPEG and multi-page TIFF")

MLP = REPO / "output" / "mnist_mlp.keras"
TIMEOUT = 300  # seconds: a hang fails the row instead of stalling the suite
NUMBER = "31"
RSS_SLACK_KIB = 200 * 1024  # a refused input (a bomb) may use at most this much more than reading a small page
READ_SLACK_KIB = 550 * 1024  # an image that is read (up to 1 MP, thousands of specks) at most this much more
# (a page with candidate cuts loads the run reader, on onnxruntime: about 35 MB of it; the halftone page of 15,000
# specks peaked 569 MB without it, 591 MB with it, on a baseline of 93 MB)

# Runs the CLI as a child and writes the child's peak RSS (KiB) to $PEAK_RSS_FILE: memory is measured.
RSS_WRAPPER = (
    "import os, resource, subprocess, sys\n"
    "rc = subprocess.run([sys.executable, '-m', 'digitreader', *sys.argv[1:]]).returncode\n"
    "open(os.environ['PEAK_RSS_FILE'], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(rc)\n"
)


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    peak_rss_kib: int


def run_cli(*args: object, stdin: bytes | None = b"", env: dict[str, str] | None = None,
            cwd: Path | None = None, preexec: Callable[[], None] | None = None) -> Outcome:
    """The real CLI (``python -m digitreader``) in a subprocess, with a timeout and its peak memory."""
    fd, rss_file = tempfile.mkstemp(prefix="peak-rss-")
    os.close(fd)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", RSS_WRAPPER, *map(str, args)], input=stdin, capture_output=True,
            timeout=TIMEOUT, env={**os.environ, **(env or {}), "PEAK_RSS_FILE": rss_file}, cwd=cwd,
            preexec_fn=preexec)
        rss = int(Path(rss_file).read_text() or 0)
    finally:
        os.remove(rss_file)
    return Outcome(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"),
                   rss)


def encode(ext: str, image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


def pil_bytes(image: object, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def page(text: str = NUMBER) -> np.ndarray:
    return draw_number(text)[0]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A real, valid grey PNG of zeros: ~1000x smaller than the pixels it declares.

    Built from one deflate block of rows repeated (full flushes make the pieces independent), so
    making it never holds the whole image in memory.
    """
    rows_per_piece = max(1, (32 << 20) // (width + 1))
    while height % rows_per_piece:
        rows_per_piece -= 1
    piece = bytes(rows_per_piece * (width + 1))  # filter byte 0 + zero pixels, row after row
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressor.compress(piece)
    compressor.flush(zlib.Z_FULL_FLUSH)
    deflated = compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH)  # steady-state piece
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = first.compress(piece) + first.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(height // rows_per_piece):
        adler = zlib.adler32(piece, adler)
    stream = (b"\x78\xda" + head + deflated * (height // rows_per_piece - 1) + zlib.compressobj(9, zlib.DEFLATED, -15)
              .flush() + struct.pack(">I", adler))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", stream) + png_chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is rewritten to declare ``width`` x ``height``."""
    data = bytearray(encode(".jpg", page()))
    at = data.find(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


# ------------------------------------------------------------------ the corpus

@dataclass
class Case:
    make: Callable[[Path], list[object]]  # writes the inputs into a folder; returns the CLI arguments
    code: int
    error: str | None = None  # the error class named on stderr's one line
    message: str | None = None  # a phrase the error line must contain
    text: str | None = None  # exit 0: the exact reading ("" for no digits); None: any digits
    stdin: bytes = b""


def _file(name: str, data: bytes | Callable[[], bytes]) -> Callable[[Path], list[object]]:
    def make(folder: Path) -> list[object]:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data() if callable(data) else data)
        return ["-i", path, "-f", "json"]
    return make


def _rgba() -> bytes:
    grey = page()
    bgra = np.zeros((*grey.shape, 4), np.uint8)  # black ink on a transparent background
    bgra[:, :, 3] = 255 - grey
    return encode(".png", bgra)


def _tiff_pages() -> bytes:
    first, second = Image.fromarray(page(NUMBER)), Image.fromarray(page("47"))
    return pil_bytes(first, "TIFF", save_all=True, append_images=[second])


def _png_huge_chunk() -> bytes:
    """A small PNG whose IDAT chunk length says 4 GiB: OpenCV's reader allocated that much (found by fuzzing)."""
    data = bytearray(encode(".png", page()))
    at = data.find(b"IDAT") - 4
    data[at:at + 4] = struct.pack(">I", 0xFFFFFF8B)
    return bytes(data)


def _halftone() -> bytes:
    dots = np.full((1000, 1000), 255, np.uint8)
    dots[::8, ::8] = 0
    return encode(".png", cv2.erode(dots, np.ones((3, 3), np.uint8)))


def _junk_in_jpeg() -> bytes:
    """A JPEG with 55 stray bytes before its frame header: libjpeg decodes it and warns on stderr."""
    data = bytearray(encode(".jpg", page()))
    at = data.find(b"\xff\xc0")
    data[at:at] = bytes(55)
    return bytes(data)


def _directory(folder: Path) -> list[object]:
    (folder / "folder.png").mkdir()
    return ["-i", folder / "folder.png"]


def _dangling(folder: Path) -> list[object]:
    (folder / "gone.png").symlink_to(folder / "never-existed.png")
    return ["-i", folder / "gone.png"]


def _loop(folder: Path) -> list[object]:
    (folder / "a.png").symlink_to(folder / "b.png")
    (folder / "b.png").symlink_to(folder / "a.png")
    return ["-i", folder / "a.png"]


def _fifo(folder: Path) -> list[object]:
    os.mkfifo(folder / "pipe.png")  # opening it for reading would block forever: must not be opened
    return ["-i", folder / "pipe.png"]


def _max_pixels(folder: Path) -> list[object]:
    grey = page()
    _file("small.png", encode(".png", grey))(folder)
    return ["-i", folder / "small.png", "--max-pixels", grey.size - 1]


CASES: dict[str, Case] = {
    "zero-byte": Case(_file("empty.png", b""), 4, "ImageDecodeError", "empty file"),
    "text-named-png": Case(_file("notes.png", b"this is not an image\n" * 20), 4, "ImageDecodeError"),
    "truncated-png": Case(_file("cut.png", lambda: encode(".png", page())[:700]), 4, "ImageDecodeError"),
    "truncated-jpeg": Case(_file("cut.jpg", lambda: encode(".jpg", page())[:900]), 4, "ImageDecodeError"),
    "corrupt-jpeg-readable": Case(_file("junk.jpg", _junk_in_jpeg), 0, text=NUMBER),  # libjpeg's warning hidden
    "one-pixel": Case(_file("dot.png", lambda: encode(".png", np.full((1, 1), 128, np.uint8))), 0, text=""),
    "all-white": Case(_file("white.png", lambda: encode(".png", np.full((300, 400), 255, np.uint8))), 0, text=""),
    "all-black": Case(_file("black.png", lambda: encode(".png", np.zeros((300, 400), np.uint8))), 0, text=""),
    "pure-noise": Case(_file("noise.png", lambda: encode(
        ".png", np.random.default_rng(7).integers(0, 256, (300, 400), dtype=np.uint8))), 0),
    "halftone-dots": Case(_file("dots.png", _halftone), 0),  # 15 000 specks: hung for minutes before a8dffc9
    "thin-strip": Case(_file("strip.png", lambda: encode(".png", np.full((1, 6000), 90, np.uint8))), 0, text=""),
    "png-16-bit": Case(_file("deep.png", lambda: encode(".png", page().astype(np.uint16) * 257)), 0, text=NUMBER),
    "rgba-png": Case(_file("alpha.png", _rgba), 0, text=NUMBER),
    "paletted-gif": Case(_file("palette.gif", lambda: pil_bytes(
        Image.fromarray(page()).convert("RGB").quantize(16), "GIF")), 0, text=NUMBER),
    "float-tiff": Case(_file("float.tiff", lambda: encode(".tiff", page().astype(np.float32) / 255)), 0,
                       text=NUMBER),
    "float-tiff-nan": Case(_file("nan.tiff", lambda: encode(".tiff", np.full((60, 80), np.nan, np.float32))), 0,
                           text=""),
    "cmyk-jpeg": Case(_file("cmyk.jpg", lambda: pil_bytes(
        Image.fromarray(page()).convert("CMYK"), "JPEG", quality=95)), 0, text=NUMBER),
    "multi-page-tiff": Case(_file("pages.tiff", _tiff_pages), 0, text=NUMBER),  # `read` reads page 1
    "bomb-png-40000": Case(_file("bomb.png", lambda: png_bomb(40000, 40000)), 4, "ImageTooLargeError",
                           "40000x40000"),
    "png-chunk-length-bomb": Case(_file("chunk.png", _png_huge_chunk), 4, "ImageDecodeError", "past the end"),
    "bomb-jpeg-60000": Case(_file("bomb.jpg", lambda: jpeg_declaring(60000, 60000)), 4, "ImageTooLargeError",
                            "60000x60000"),
    "max-pixels-flag": Case(_max_pixels, 4, "ImageTooLargeError", "--max-pixels"),
    "directory": Case(_directory, 3, "InputNotFoundError", "is a directory"),
    "dangling-symlink": Case(_dangling, 3, "InputNotFoundError", "dangling symbolic link"),
    "symlink-loop": Case(_loop, 3, "InputNotFoundError", "symbolic link loop"),
    "fifo": Case(_fifo, 3, "InputNotFoundError", "not a regular file"),
    "device-file": Case(lambda folder: ["-i", "/dev/zero"], 3, "InputNotFoundError", "not a regular file"),
    "non-ascii-name": Case(_file("scans été/formulaire n° 31 ü.png", lambda: encode(".png", page())), 0,
                           text=NUMBER),
    "stdin-empty": Case(lambda folder: ["-i", "-"], 4, "ImageDecodeError", "no image data"),
    "stdin-garbage": Case(lambda folder: ["-i", "-"], 4, "ImageDecodeError", stdin=os.urandom(5000)),
}
# The rows that need more than a folder (another user, model files, a batch) and the test of each.
OTHER_ROWS = {
    "no-read-permission": "test_hostile.py::test_no_read_permission",
    "truncated-keras": "test_hostile.py::test_truncated_keras",
    "not-a-keras-zip": "test_hostile.py::test_not_a_keras_zip",
    "garbage-onnx": "test_hostile.py::test_garbage_onnx",
    "wrong-input-shape": "test_hostile.py::test_wrong_model_shape",
    "wrong-output-shape": "test_hostile.py::test_wrong_model_shape",
    "lambda-layer": "test_hostile.py::test_lambda_layer_is_refused_and_never_runs",
    "keras-zip-bomb": "test_hostile.py::test_keras_zip_bomb_is_refused_before_inflating",
    "meta-hash-mismatch": "test_hostile.py::test_meta_hash_mismatch",
    "meta-shape-mismatch": "test_hostile.py::test_meta_shape_mismatch",
    "batch-symlink-loop": "test_batch_faults.py::test_batch_reads_a_folder_of_hostile_files",
}


def check_error_line(out: Outcome, code: int, error: str | None, message: str | None) -> None:
    """Exit code as documented, one stderr line naming the error, nothing on stdout, no traceback."""
    assert "Traceback" not in out.stderr + out.stdout
    assert out.code == code, (out.code, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    if error:
        assert lines[0].startswith(f"{error}: "), lines[0]
    if message:
        assert message in lines[0], lines[0]
    assert out.stdout == ""


@pytest.fixture(scope="module", autouse=True)
def baseline_rss() -> int:
    """Peak RSS (KiB) of the CLI reading one small page: what a refused input may use, plus a little.

    The first run fills the session's model cache (and says so on stderr); the second is measured.
    """
    folder = Path(tempfile.mkdtemp(prefix="hostile-baseline-"))
    try:
        path = folder / "page.png"
        path.write_bytes(encode(".png", page()))
        for _ in ("fill the model cache", "measure"):
            out = run_cli("-i", path)
        assert out.code == 0 and out.stdout.strip() == NUMBER, out.stderr
        return out.peak_rss_kib
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("case_id", list(CASES))
def test_hostile_input(case_id: str, tmp_path: Path, baseline_rss: int) -> None:
    case = CASES[case_id]
    args = case.make(tmp_path)
    out = run_cli(*args, stdin=case.stdin, cwd=tmp_path)
    assert "Traceback" not in out.stderr + out.stdout
    if case.code != 0:
        check_error_line(out, case.code, case.error, case.message)
    else:
        assert out.code == 0, out.stderr
        assert out.stderr == "", out.stderr  # not even a decoder's warning
        record = json.loads(out.stdout)
        assert record["error"] is None
        if case.text is not None:
            assert record["text"] == case.text
        assert all(ch.isdigit() or ch in "?\n" for ch in record["text"])
        if case_id == "non-ascii-name":
            assert record["path"] == str(args[1])
    slack = RSS_SLACK_KIB if case.code else READ_SLACK_KIB
    assert out.peak_rss_kib < baseline_rss + slack, (out.peak_rss_kib, baseline_rss)


def test_max_pixels_flag_admits_what_it_allows(tmp_path: Path) -> None:
    """The same page refused under --max-pixels N-1 (see the corpus) is read with N and by default."""
    grey = page()
    path = tmp_path / "small.png"
    path.write_bytes(encode(".png", grey))
    for extra in (["--max-pixels", grey.size], []):
        out = run_cli("-i", path, *extra)
        assert out.code == 0 and out.stdout.strip() == NUMBER, out.stderr
    out = run_cli("-i", path, "--max-pixels", "0")
    assert out.code == ExitCode.USAGE and "Traceback" not in out.stderr


def drop_root_file_access() -> None:
    """In a child about to exec: remove root's power to read any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)
    from the capability bounding set, so file permissions apply to it as to any user."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_no_read_permission(tmp_path: Path) -> None:
    """A file the user may not read: exit 3 and one line. Root reads every file, so as root the CLI runs
    without the capabilities that let it (the same check as for an ordinary user)."""
    secret = tmp_path / "secret.png"
    secret.write_bytes(encode(".png", page()))
    secret.chmod(0o000)
    preexec = drop_root_file_access if os.geteuid() == 0 else None
    try:
        probe = subprocess.run([sys.executable, "-c", f"open({str(secret)!r}, 'rb')"], preexec_fn=preexec,
                               capture_output=True, timeout=60)
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot drop root's file-access capabilities here: {exc}")
    if probe.returncode == 0:
        pytest.skip("this user can read a mode-000 file (capabilities cannot be dropped)")
    out = run_cli("-i", secret, preexec=preexec)
    check_error_line(out, ExitCode.INPUT_NOT_FOUND, "InputNotFoundError", "Permission denied")


# ------------------------------------------------------------------ decompression bombs, in process

def _small_image_bytes() -> dict[str, bytes]:
    """A real small image in every format OpenCV reads here, each decodable, with its true size 53x37."""
    rgb = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    out = {ext: encode(ext, rgb) for ext in (".png", ".jpg", ".bmp", ".tiff", ".webp", ".ppm", ".sr", ".jp2")}
    out[".pgm"] = encode(".pgm", rgb[:, :, 0])
    out[".pfm"] = encode(".pfm", rgb.astype(np.float32) / 255)
    out[".hdr"] = encode(".hdr", rgb.astype(np.float32) / 255)
    pil = Image.fromarray(rgb)
    out[".gif"] = pil_bytes(pil.quantize(64), "GIF")
    out[".webp-lossless"] = pil_bytes(pil, "WEBP", lossless=True)
    out[".webp-alpha"] = pil_bytes(pil.convert("RGBA"), "WEBP")  # VP8X container
    out[".jpg-progressive"] = pil_bytes(pil, "JPEG", progressive=True)
    out[".bigtiff"] = pil_bytes(pil, "TIFF", big_tiff=True)
    out[".j2k"] = pil_bytes(pil, "JPEG2000", no_jp2=True)
    try:
        out[".avif"] = encode(".avif", rgb)
    except (cv2.error, AssertionError):
        pass
    return out


SMALL = _small_image_bytes()


@pytest.mark.parametrize("fmt", list(SMALL))
def test_declared_size_is_read_from_every_header(fmt: str) -> None:
    data = SMALL[fmt]
    assert declared_sizes(data)[0] == (53, 37)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None and decoded.shape[:2] == (37, 53)  # the header told the truth
    check_pixel_limit(data, fmt, max_pixels=53 * 37)
    check_structure(data, fmt)  # no sound file is refused by the structure check
    with pytest.raises(ImageTooLargeError, match="53x37"):
        check_pixel_limit(data, fmt, max_pixels=53 * 37 - 1)


def test_bomb_is_refused_without_calling_the_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = png_bomb(20000, 20000)  # under OpenCV's own 2**30 cap: only our limit stands in the way
    assert len(bomb) < 1 << 20 and declared_sizes(bomb) == [(20000, 20000)]

    def no_decoding(*args: object) -> None:
        raise AssertionError("the decoder was called on a decompression bomb")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    monkeypatch.setattr(cv2, "imdecodemulti", no_decoding)
    with pytest.raises(ImageTooLargeError) as err:
        decode_image(bomb, "bomb.png")
    assert err.value.exit_code == ExitCode.BAD_IMAGE and "20000x20000" in str(err.value)
    with pytest.raises(ImageTooLargeError):
        decode_pages(bomb, "bomb.png")


def test_small_bomb_decodes_under_a_larger_limit() -> None:
    """The bomb generator makes real PNGs: a small one decodes to zeros (so the refusals above are real)."""
    image = decode_image(png_bomb(300, 200), "zeros.png", max_pixels=DEFAULT_MAX_PIXELS)
    assert image.shape == (200, 300) and not image.any()


def test_multi_page_tiff_every_page_is_checked() -> None:
    small, huge = Image.fromarray(page()), Image.new("L", (12000, 10000))
    data = pil_bytes(small, "TIFF", save_all=True, append_images=[huge], compression="tiff_deflate")
    assert declared_sizes(data) == [(small.width, small.height), (12000, 10000)]
    decode_image(data, "pages.tiff", max_pixels=100_000)  # the first page alone is within the limit
    with pytest.raises(ImageTooLargeError, match="12000x10000"):
        decode_pages(data, "pages.tiff", max_pixels=100_000)


def test_file_size_is_capped_before_reading(tmp_path: Path) -> None:
    from digitreader.imageio import read_bytes

    big = tmp_path / "big.png"
    with open(big, "wb") as fh:  # sparse: no disk used
        fh.truncate(max_file_bytes(1000) + 1)
    with pytest.raises(ImageTooLargeError, match="bytes"):
        read_bytes(big, max_pixels=1000)


def test_forged_headers_do_not_crash_the_size_parser() -> None:
    """Every header cut short or overwritten with junk: a size or None, never an exception."""
    rng = np.random.default_rng(3)
    for data in SMALL.values():
        for cut in range(0, min(len(data), 200)):
            declared_sizes(data[:cut])
        for _ in range(200):
            junk = bytearray(data[:300])
            junk[rng.integers(0, len(junk))] = rng.integers(0, 256)
            sizes = declared_sizes(bytes(junk))
            assert sizes is None or all(isinstance(w, int) and isinstance(h, int) for w, h in sizes)


# ------------------------------------------------------------------ hostile model files

MODEL_SCRIPT = r"""
import os, sys
from pathlib import Path
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
out, marker = Path(sys.argv[1]), sys.argv[2]

def save(name, inputs, outputs):
    keras.Model(inputs, outputs).save(out / name)

x = keras.Input((32, 32, 1))
save("wrong_input.keras", x, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x)))
x = keras.Input((28, 28, 1))
save("wrong_output.keras", x, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x)))
# The lambda writes a marker file whenever it runs: when the model is built at load time, or called.
evil = eval("lambda t: (__import__('pathlib').Path(%r).write_text('code from the model file ran'), t)[1]" % marker)
x = keras.Input((28, 28, 1))
y = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(keras.layers.Lambda(evil)(x)))
save("lambda.keras", x, y)
os.remove(marker)  # it ran while the model was built here
keras.saving.load_model(out / "lambda.keras", safe_mode=False)  # unsafe loading runs it again...
print("unsafe load ran the lambda:", os.path.exists(marker))
os.remove(marker)
"""


@pytest.fixture(scope="module")
def hostile_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Model files made with Keras in a subprocess (TensorFlow stays out of the test process)."""
    folder = tmp_path_factory.mktemp("hostile-models")
    marker = folder / "lambda-ran.txt"
    out = subprocess.run([sys.executable, "-c", MODEL_SCRIPT, str(folder), str(marker)], capture_output=True,
                         text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert "unsafe load ran the lambda: True" in out.stdout  # the file really carries live code
    assert not marker.exists()
    return folder, marker


def _copy_model(folder: Path, name: str = "model.keras") -> Path:
    target = folder / name
    shutil.copy(MLP, target)
    shutil.copy(MLP.with_name("mnist_mlp.meta.json"), target.with_name(target.stem + ".meta.json"))
    return target


def _edit_meta(model: Path, **changes: object) -> None:
    meta_file = model.with_name(model.stem + ".meta.json")
    meta = json.loads(meta_file.read_text())
    meta.update(changes)
    meta_file.write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def image_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile-page") / "page.png"
    path.write_bytes(encode(".png", page()))
    return path


def test_truncated_keras(tmp_path: Path, image_file: Path) -> None:
    model = tmp_path / "cut.keras"
    model.write_bytes(MLP.read_bytes()[: MLP.stat().st_size // 2])
    check_error_line(run_cli("-i", image_file, "-m", model), ExitCode.MODEL, "ModelError", "cut.keras")


def test_not_a_keras_zip(tmp_path: Path, image_file: Path) -> None:
    import zipfile

    model = tmp_path / "junk.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", "{not json")
        archive.writestr("model.weights.h5", b"\x00" * 100)
    check_error_line(run_cli("-i", image_file, "-m", model), ExitCode.MODEL, "ModelError", "junk.keras")


def test_garbage_onnx(tmp_path: Path, image_file: Path) -> None:
    model = tmp_path / "junk.onnx"
    model.write_bytes(os.urandom(3000))
    check_error_line(run_cli("-i", image_file, "-m", model), ExitCode.MODEL, "ModelError", "junk.onnx")


@pytest.mark.parametrize("name, phrase", [("wrong_input.keras", "(32, 32, 1)"), ("wrong_output.keras", "(7,)")])
def test_wrong_model_shape(hostile_models: tuple[Path, Path], image_file: Path, name: str, phrase: str) -> None:
    folder, _ = hostile_models
    check_error_line(run_cli("-i", image_file, "-m", folder / name), ExitCode.MODEL, "ModelError", phrase)


@pytest.mark.parametrize("backend", ["auto", "keras"])
def test_lambda_layer_is_refused_and_never_runs(hostile_models: tuple[Path, Path], image_file: Path,
                                                backend: str) -> None:
    folder, marker = hostile_models
    out = run_cli("-i", image_file, "-m", folder / "lambda.keras", env={"DIGITREADER_BACKEND": backend})
    check_error_line(out, ExitCode.MODEL, "ModelError", "lambda.keras")
    assert not marker.exists(), "code from the model file ran"


def keras_zip_bomb(path: Path, member_bytes: int) -> None:
    """The shipped MLP's archive with its weights member replaced by ``member_bytes`` of zeros, deflated:
    a file of a few MB that declares (and inflates to) far more."""
    import zipfile

    with zipfile.ZipFile(MLP) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if not info.filename.endswith(".h5"):
                out.writestr(info, source.read(info))
                continue
            member = zipfile.ZipInfo(info.filename)
            member.compress_type = zipfile.ZIP_DEFLATED
            with out.open(member, "w", force_zip64=True) as fh:
                for _ in range(member_bytes >> 24):
                    fh.write(bytes(1 << 24))


def test_keras_zip_bomb_is_refused_before_inflating(tmp_path: Path, image_file: Path, baseline_rss: int) -> None:
    model = tmp_path / "bomb.keras"
    keras_zip_bomb(model, 512 << 20)
    assert model.stat().st_size < 4 << 20
    out = run_cli("-i", image_file, "-m", model)
    check_error_line(out, ExitCode.MODEL, "ModelError", "bomb.keras")
    assert out.peak_rss_kib < baseline_rss + RSS_SLACK_KIB, (out.peak_rss_kib, baseline_rss)


def test_meta_hash_mismatch(tmp_path: Path, image_file: Path) -> None:
    model = _copy_model(tmp_path)
    _edit_meta(model, model_sha256="0" * 64)  # as if the .keras file were replaced after training
    check_error_line(run_cli("-i", image_file, "-m", model), ExitCode.MODEL, "ModelError", "sha256")


def test_meta_shape_mismatch(tmp_path: Path, image_file: Path) -> None:
    model = _copy_model(tmp_path)
    meta = json.loads(model.with_name("model.meta.json").read_text())
    _edit_meta(model, input={**meta["input"], "shape": [32, 32, 1]})
    check_error_line(run_cli("-i", image_file, "-m", model), ExitCode.MODEL, "ModelError", "input")


# ------------------------------------------------------------------ the README table

def _readme_rows() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Hostile inputs and security", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\|\s*`([a-z0-9-]+)`\s*\|", section, flags=re.M)


def test_readme_table_lists_every_row_and_only_tested_rows() -> None:
    rows = _readme_rows()
    assert rows, "README has no hostile-input table"
    assert sorted(rows) == sorted(set(CASES) | set(OTHER_ROWS))
    for row, test in OTHER_ROWS.items():
        module, name = test.split("::")
        assert f"def {name}(" in (Path(__file__).parent / module).read_text(encoding="utf-8"), (row, test)


def test_decoder_chatter_is_hidden_and_fd2_restored_across_threads(capfd: pytest.CaptureFixture[str]) -> None:
    """Decoding a JPEG that makes libjpeg warn, from several threads at once: nothing reaches fd 2 and fd 2
    is the same file afterwards (the redirection is never restored out of order)."""
    from concurrent.futures import ThreadPoolExecutor

    data = _junk_in_jpeg()
    before = os.fstat(2)
    with ThreadPoolExecutor(4) as pool:
        shapes = list(pool.map(lambda _: decode_image(data, "junk.jpg").shape, range(16)))
    after = os.fstat(2)
    assert len(set(shapes)) == 1 and (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
    assert capfd.readouterr().err == ""
