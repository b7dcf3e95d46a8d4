"""Stage 1: load any common image (PNG, JPEG, BMP, TIFF, WebP...) as uint8 grey or BGR.

Uses ``np.fromfile`` + ``cv2.imdecode`` so paths with spaces or non-ASCII characters work;
``-`` reads the image bytes from stdin. 16-bit images are scaled to 8 bits; alpha is
composited onto a background that contrasts with the ink.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageDecodeError, InputNotFoundError, OutputError

STDIN = "-"


def read_bytes(source: str | Path) -> bytes:
    """The raw bytes of an image file, or of stdin for ``-``."""
    if str(source) == STDIN:
        data = sys.stdin.buffer.read()
        if not data:
            raise ImageDecodeError("stdin: no image data")
        return data
    path = Path(source)
    if not path.exists():
        raise InputNotFoundError(f"image not found: {path}")
    if path.is_dir():
        raise InputNotFoundError(f"{path} is a directory, not an image")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputNotFoundError(f"cannot read {path}: {exc.strerror or exc}") from None


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode encoded image bytes to uint8 grey (H, W) or BGR (H, W, 3)."""
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        raise ImageDecodeError(f"{name}: not a decodable image (corrupt, truncated or unsupported format)")
    return to_uint8_image(image)


def decode_image_file(path: str | Path) -> np.ndarray:
    return decode_image(read_bytes(path), name=str(path))


def to_uint8_image(image: np.ndarray) -> np.ndarray:
    """Any decoded array -> uint8 grey or BGR: bit depth reduced, alpha composited."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image / 257.0 + 0.5).astype(np.uint8)
        elif np.issubdtype(image.dtype, np.floating):
            top = 1.0 if np.nanmax(image) <= 1.0 else 255.0
            image = np.clip(np.nan_to_num(image) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
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
