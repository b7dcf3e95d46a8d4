"""Stage 1: load any common image (PNG, JPEG, BMP, TIFF, WebP...) as uint8 grey or BGR.

Uses ``np.fromfile``-style byte reads + ``cv2.imdecode`` so paths with spaces or non-ASCII characters
work; ``-`` reads the image bytes from stdin. 16-bit images are scaled to 8 bits; alpha is
composited onto a background that contrasts with the ink.

Hostile files are refused cheaply: only regular files are read (not directories, devices, FIFOs),
the file size is capped, and an image whose header declares more than ``max_pixels`` pixels (a
decompression bomb) is refused before any pixel is decoded (see :mod:`digitreader.imagesize`).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageDecodeError, ImageTooLargeError, InputNotFoundError, OutputError
from .imagesize import DEFAULT_MAX_PIXELS, declared_sizes, structure_problem

STDIN = "-"
log = logging.getLogger(__name__)
_STDERR_LOCK = threading.Lock()
BYTES_PER_PIXEL_CAP = 8  # 16-bit RGBA, uncompressed: no honest file of max_pixels pixels is larger


def max_file_bytes(max_pixels: int) -> int:
    """The largest encoded file accepted for a pixel limit (uncompressed 16-bit RGBA plus 16 MiB)."""
    return BYTES_PER_PIXEL_CAP * max_pixels + (16 << 20)


def read_bytes(source: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The raw bytes of a regular image file, or of stdin for ``-``, at most :func:`max_file_bytes` long."""
    limit = max_file_bytes(max_pixels)
    if str(source) == STDIN:
        data = sys.stdin.buffer.read(limit + 1)
        if not data:
            raise ImageDecodeError("stdin: no image data")
        if len(data) > limit:
            raise ImageTooLargeError(f"stdin: more than {limit} bytes, too large for --max-pixels {max_pixels}")
        return data
    path = Path(source)
    info = _stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise InputNotFoundError(f"{path} is a directory, not an image")
    if not stat.S_ISREG(info.st_mode):
        raise InputNotFoundError(f"{path} is not a regular file (a device, FIFO or socket), not an image")
    if info.st_size > limit:
        raise ImageTooLargeError(f"{path}: {info.st_size} bytes, too large for --max-pixels {max_pixels}")
    try:
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except OSError as exc:
        raise InputNotFoundError(f"cannot read {path}: {exc.strerror or exc}") from None


def _stat(path: Path) -> os.stat_result:
    """``os.stat`` with each failure named: missing, dangling or looping link, no permission."""
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputNotFoundError(f"{path}: symbolic link loop") from None
        if exc.errno == errno.ENOENT and os.path.islink(path):
            raise InputNotFoundError(f"{path}: dangling symbolic link (its target does not exist)") from None
        if exc.errno == errno.ENOENT:
            raise InputNotFoundError(f"image not found: {path}") from None
        raise InputNotFoundError(f"cannot read {path}: {exc.strerror or exc}") from None


def check_pixel_limit(data: bytes, name: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS,
                      all_pages: bool = False) -> None:
    """Refuse an image whose header declares more than ``max_pixels`` pixels, before decoding it.

    Only the first page counts unless ``all_pages`` (multi-page TIFF decoded page by page: every page
    is checked, and so is their total).
    """
    sizes = declared_sizes(data)
    if not sizes:
        return
    pages = sizes if all_pages else sizes[:1]
    for width, height in pages:
        _check_size(width, height, name, max_pixels)
    if all_pages and sum(w * h for w, h in pages) > max_pixels:
        raise ImageTooLargeError(f"{name}: {len(pages)} pages of {sum(w * h for w, h in pages)} pixels in all, "
                                 f"over the limit of {max_pixels} (--max-pixels)")


def check_structure(data: bytes, name: str = "image") -> None:
    """Refuse a file whose structure would make the decoder allocate far more than the file holds."""
    problem = structure_problem(data)
    if problem:
        raise ImageDecodeError(f"{name}: corrupt or truncated: {problem}")


def _check_size(width: int, height: int, name: str, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(f"{name} declares {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), "
                                 f"over the limit of {max_pixels} (--max-pixels); refused before decoding")


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Keep OpenCV's and the codecs' own warnings (libpng, libjpeg's "Corrupt JPEG data: ...") off the
    user's stderr while decoding: our one-line error says it all. They are logged at debug level (-v)."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        with _native_stderr_to_debug_log():
            yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


@contextmanager
def _native_stderr_to_debug_log() -> Iterator[None]:
    """Redirect file descriptor 2 (where C libraries print) to a temporary file, then log what it got.

    fd 2 is process-wide: one decode at a time holds the redirection (a lock), so threads never restore
    each other's copies."""
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            sink = tempfile.TemporaryFile()
        except (OSError, ValueError, AttributeError):
            sink = None
        try:
            saved = os.dup(2)
        except OSError:  # no usable fd 2: nothing to hide
            saved = None
        if sink is None or saved is None:
            if sink is not None:
                sink.close()
            yield
            return
        try:
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            chatter = sink.read(4096).decode("utf-8", "replace").strip()
            sink.close()
    if chatter:
        log.debug("decoder messages: %s", chatter.replace("\n", " | "))


def decode_image(data: bytes, name: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes to uint8 grey (H, W) or BGR (H, W, 3); the first page of a multi-page file."""
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    check_pixel_limit(data, name, max_pixels)
    check_structure(data, name)
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        with _quiet_opencv():
            image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        raise ImageDecodeError(f"{name}: not a decodable image (corrupt, truncated or unsupported format)")
    _check_size(image.shape[1], image.shape[0], name, max_pixels)  # a header the size parser did not know
    return to_uint8_image(image)


def decode_image_file(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    return decode_image(read_bytes(path, max_pixels), name=str(path), max_pixels=max_pixels)


def decode_pages(data: bytes, name: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS,
                 start: int = 0, count: int | None = None) -> list[np.ndarray]:
    """Decode pages ``start``..``start + count - 1`` (default: all) of a multi-page image (TIFF) to uint8
    grey or BGR; a single-page file is one page. Each page's declared size is checked before decoding
    (all pages and their total when decoding all of them)."""
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    if count is None:
        check_pixel_limit(data, name, max_pixels, all_pages=True)
    else:
        for width, height in (declared_sizes(data) or [])[start:start + count]:
            _check_size(width, height, name, max_pixels)
    check_structure(data, name)
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        with _quiet_opencv():
            ok, pages = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED, [], (start, start + (count or 1 << 30)))
    except cv2.error:
        ok, pages = False, ()
    if not ok or not pages or any(page is None or page.size == 0 for page in pages):
        where = "" if start == 0 and count is None else f" (page {start})"
        raise ImageDecodeError(f"{name}{where}: not a decodable image (corrupt, truncated, no such page "
                               "or unsupported format)")
    for page in pages:
        _check_size(page.shape[1], page.shape[0], name, max_pixels)
    return [to_uint8_image(page) for page in pages]


def to_uint8_image(image: np.ndarray) -> np.ndarray:
    """Any decoded array -> uint8 grey or BGR: bit depth reduced, alpha composited."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)  # integer shift: no float copy of a big image
        elif np.issubdtype(image.dtype, np.floating):  # NaN is black, infinities are the extremes
            values = np.nan_to_num(image.astype(np.float32, copy=False), nan=0.0, posinf=255.0, neginf=0.0)
            top = 1.0 if values.size == 0 or values.max() <= 1.0 else 255.0
            image = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = _composite_alpha(image)
    if image.ndim == 3 and image.shape[2] == 2:  # grey + alpha
        image = _composite_alpha(np.dstack([image[:, :, 0]] * 3 + [image[:, :, 1]]))
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ImageDecodeError(f"unsupported image layout {image.shape}")
    return np.ascontiguousarray(image)


def _composite_alpha(bgra: np.ndarray) -> np.ndarray:
    """Put transparent pixels on white when the visible ink is dark, on black when it is light."""
    alpha = bgra[:, :, 3:4].astype(np.float32) / 255.0
    colour = bgra[:, :, :3].astype(np.float32)
    opaque = alpha[:, :, 0] > 0.5
    if opaque.all():
        return np.ascontiguousarray(bgra[:, :, :3])
    ink_is_dark = not opaque.any() or colour[opaque].mean() < 128
    background = 255.0 if ink_is_dark else 0.0
    return (colour * alpha + background * (1 - alpha) + 0.5).astype(np.uint8)


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 grey view of a grey or BGR image."""
    image = to_uint8_image(image)
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Encode by extension and write (non-ASCII paths work); ``-`` writes PNG to stdout."""
    suffix = ".png" if str(path) == STDIN else (Path(path).suffix.lower() or ".png")
    try:
        ok, encoded = cv2.imencode(suffix, image)
    except cv2.error:
        ok = False
    if not ok:
        raise OutputError(f"cannot encode an image as {suffix} for {path}")
    if str(path) == STDIN:
        sys.stdout.buffer.write(encoded.tobytes())
        return
    path = Path(path)
    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        encoded.tofile(str(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
