"""Local paths and fsspec URLs (``s3://``, ``gs://``, ``file://``...) behind one small interface.

fsspec is imported only when a URL is used (optional extra ``digitreader[dask]``).
"""

from __future__ import annotations

import re
from typing import IO, Any

from ..errors import DependencyError, ImageTooLargeError, InputNotFoundError
from ..imageio import max_file_bytes, read_bytes
from ..imagesize import DEFAULT_MAX_PIXELS

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(path: str) -> bool:
    """True for ``protocol://...`` strings (handled by fsspec), False for plain local paths."""
    return bool(_URL.match(str(path)))


def url_to_fs(url: str) -> tuple[Any, str]:
    """``(filesystem, path inside it)`` for an fsspec URL; a clear error when fsspec or its backend is missing."""
    try:
        import fsspec.core
    except ImportError:
        raise DependencyError(f"{url}: URLs need fsspec: pip install 'digitreader[dask]'") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise DependencyError(f"{url}: no fsspec filesystem for this URL ({exc})") from None


def read_input_bytes(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The bytes of one input file, local or URL (size capped as for local files); InputNotFoundError
    when it cannot be read."""
    if not is_url(path):
        return read_bytes(path, max_pixels)
    fs, inner = url_to_fs(path)
    limit = max_file_bytes(max_pixels)
    try:
        with fs.open(inner, "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise ImageTooLargeError(f"{path}: more than {limit} bytes, too large for --max-pixels {max_pixels}")
        return data
    except FileNotFoundError:
        raise InputNotFoundError(f"image not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise InputNotFoundError(f"cannot read {path}: {exc}") from None


def open_input(path: str) -> IO[bytes]:
    """A binary file object for a local path or URL (used to read TIFF headers)."""
    if not is_url(path):
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    fs, inner = url_to_fs(path)
    return fs.open(inner, "rb")
