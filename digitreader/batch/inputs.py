"""Expand batch inputs (folders, files, ``@list.txt``, fsspec URLs) into a stream of items, one per page.

Order is deterministic: arguments in the order given; a folder's files in sorted path order (walked
depth-first, one folder listing in memory at a time, so memory does not grow with the number of files);
a list file's lines in their order. Every page of a multi-page TIFF or a PDF is its own item.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from ..errors import DigitReaderError, InputNotFoundError
from .fs import is_url, open_input, url_to_fs
from .pdf import is_pdf, pdf_page_count

DEFAULT_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".gif",
    ".pbm", ".pgm", ".ppm", ".pnm", ".jp2", ".sr", ".ras", ".pdf",
})
TIFF_EXTENSIONS = (".tif", ".tiff")
MAX_TIFF_PAGES = 100_000


@dataclass(frozen=True)
class Source:
    """One input file (not yet split into pages); ``rel`` is the name mirrored under ``--annotate-dir``."""

    path: str
    rel: str
    error: str | None = None  # e.g. a folder that cannot be listed: recorded as a failed item


@dataclass(frozen=True)
class Item:
    """One unit of work: a page of an input file."""

    path: str
    page: int
    pages: int
    rel: str
    error: str | None = None


def item_key(path: str, page: int) -> bytes:
    """The resume key of an item (input path + page), as a compact digest."""
    return hashlib.blake2b(f"{page}\0{path}".encode("utf-8", "surrogatepass"), digest_size=16).digest()


def parse_extensions(text: str | None) -> frozenset[str]:
    """``"png,JPG,.tif"`` -> ``{".png", ".jpg", ".tif"}``; None gives the default image extensions."""
    if not text:
        return DEFAULT_EXTENSIONS
    return frozenset("." + part.strip().lower().lstrip(".") for part in text.split(",") if part.strip())


def iter_sources(inputs: Iterable[str], glob: str | None = None,
                 extensions: frozenset[str] = DEFAULT_EXTENSIONS) -> Iterator[Source]:
    """Every input file, in deterministic order; ``@FILE`` arguments are lists of inputs, one per line."""
    for arg in inputs:
        if arg.startswith("@") and len(arg) > 1:
            for line in _list_lines(arg[1:]):
                yield from _expand(line, glob, extensions)
        else:
            yield from _expand(arg, glob, extensions)


def iter_items(sources: Iterable[Source]) -> Iterator[Item]:
    """Split sources into items: one per page of a multi-page TIFF or a PDF, else one per file (page 0)."""
    for source in sources:
        pages, error = 1, source.error
        if error is None and source.path.lower().endswith(TIFF_EXTENSIONS):
            pages = max(1, tiff_page_count_of(source.path) or 1)
        elif error is None and is_pdf(source.path):
            pages, error = _pdf_pages(source.path)
        for page in range(pages):
            yield Item(source.path, page, pages, source.rel if pages == 1 else f"{source.rel}.p{page:03d}", error)


def _pdf_pages(path: str) -> tuple[int, str | None]:
    """(pages, error) of a PDF; an unreadable file is one item that the worker reports."""
    try:
        with open_input(path) as handle:
            return max(1, pdf_page_count(handle)), None
    except DigitReaderError as exc:
        return 1, f"{path}: {exc}"
    except (OSError, ValueError):
        return 1, None


def _list_lines(list_path: str) -> Iterator[str]:
    """Non-blank, non-comment lines of a list file, streamed."""
    try:
        handle = open_input(list_path) if is_url(list_path) else open(list_path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise InputNotFoundError(f"cannot read list file {list_path}: {exc.strerror or exc}") from None
    with handle:
        for raw in handle:
            line = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
            if line.strip() and not line.lstrip().startswith("#"):
                yield line


def _expand(arg: str, glob: str | None, extensions: frozenset[str]) -> Iterator[Source]:
    if is_url(arg):
        yield from _expand_url(arg, glob, extensions)
        return
    path = os.path.normpath(arg) if arg else arg
    if os.path.isdir(path):
        yield from _walk_local(path, "", glob, extensions)
    else:  # a file named explicitly is read whatever its extension; a missing one is recorded as failed
        yield Source(path, _named_rel(path))


def _named_rel(path: str) -> str:
    """The mirrored name of a file named directly: its path as written, without root or drive."""
    drive, rest = os.path.splitdrive(path)
    return rest.replace(os.sep, "/").lstrip("/") or "input"


def _wanted(rel: str, glob: str | None, extensions: frozenset[str]) -> bool:
    name = posixpath.basename(rel)
    if name.startswith("."):
        return False
    if posixpath.splitext(name)[1].lower() not in extensions:
        return False
    if glob is None:
        return True
    return fnmatch.fnmatchcase(rel if "/" in glob else name, glob)


def _entry_kind(entry: os.DirEntry) -> tuple[str, bool, bool]:
    """(name, is a real folder, is to be read as a file). Links to folders are neither. Anything else that is
    not a folder counts as a file, so a dangling link, a symlink loop, a FIFO or a device with an image name
    gets a failed record saying why (reading refuses it) instead of silently vanishing or failing the folder."""
    real_dir = entry.is_dir(follow_symlinks=False)
    try:
        linked_dir = not real_dir and entry.is_dir()
    except OSError:  # a symlink loop
        linked_dir = False
    return entry.name, real_dir, not real_dir and not linked_dir


def _walk_local(root: str, prefix: str, glob: str | None, extensions: frozenset[str]) -> Iterator[Source]:
    """Depth-first, entries sorted by name; hidden entries and symlinked folders are not followed."""
    folder = os.path.join(root, prefix) if prefix else root
    try:
        with os.scandir(folder) as scan:
            entries = sorted(_entry_kind(entry) for entry in scan)
    except OSError as exc:
        yield Source(folder, prefix or ".", error=f"cannot list folder {folder}: {exc.strerror or exc}")
        return
    for name, is_dir, is_file in entries:
        rel = f"{prefix}/{name}" if prefix else name
        if is_dir:
            if not name.startswith("."):
                yield from _walk_local(root, rel, glob, extensions)
        elif is_file and _wanted(rel, glob, extensions):
            yield Source(os.path.join(root, *rel.split("/")), rel)


def _expand_url(url: str, glob: str | None, extensions: frozenset[str]) -> Iterator[Source]:
    fs, root = url_to_fs(url)
    try:
        is_dir = fs.isdir(root)
    except OSError:
        is_dir = False
    if not is_dir:
        yield Source(url, _named_rel(root))
        return
    yield from _walk_url(fs, root.rstrip("/"), "", glob, extensions)


def _walk_url(fs, root: str, prefix: str, glob: str | None, extensions: frozenset[str]) -> Iterator[Source]:
    folder = f"{root}/{prefix}" if prefix else root
    try:
        listing = fs.ls(folder, detail=True)
    except OSError as exc:
        yield Source(fs.unstrip_protocol(folder), prefix or ".", error=f"cannot list folder {folder}: {exc}")
        return
    entries = sorted((posixpath.basename(e["name"].rstrip("/")), e.get("type") == "directory") for e in listing)
    for name, is_dir in entries:
        rel = f"{prefix}/{name}" if prefix else name
        if is_dir:
            if not name.startswith("."):
                yield from _walk_url(fs, root, rel, glob, extensions)
        elif _wanted(rel, glob, extensions):
            yield Source(fs.unstrip_protocol(f"{root}/{rel}"), rel)


def tiff_page_count_of(path: str) -> int | None:
    """Pages of a TIFF file from its directory chain (None when unreadable or not a TIFF)."""
    try:
        with open_input(path) as handle:
            return count_tiff_pages(handle)
    except (OSError, ValueError):
        return None


def count_tiff_pages(handle: IO[bytes], limit: int = MAX_TIFF_PAGES) -> int | None:
    """Walk a TIFF's (or BigTIFF's) chain of image directories without decoding any pixels."""
    head = handle.read(16)
    if head[:4] in (b"II*\0", b"MM\0*"):
        big = False
    elif head[:4] in (b"II+\0", b"MM\0+"):
        big = True
    else:
        return None
    order = "<" if head[:2] == b"II" else ">"
    offset_fmt, count_fmt, entry_size = (order + "Q", order + "Q", 20) if big else (order + "I", order + "H", 12)
    offset_raw = head[8:16] if big else head[4:8]
    if len(offset_raw) < struct.calcsize(offset_fmt):
        return None
    offset = struct.unpack(offset_fmt, offset_raw)[0]
    pages, seen = 0, set()
    while offset and offset not in seen and pages < limit:
        seen.add(offset)
        handle.seek(offset)
        raw = handle.read(struct.calcsize(count_fmt))
        if len(raw) < struct.calcsize(count_fmt):
            break
        pages += 1
        handle.seek(offset + len(raw) + struct.unpack(count_fmt, raw)[0] * entry_size)
        raw = handle.read(struct.calcsize(offset_fmt))
        if len(raw) < struct.calcsize(offset_fmt):
            break
        offset = struct.unpack(offset_fmt, raw)[0]
    return pages
