"""Result sinks for ``digitreader batch``: JSON Lines, CSV and SQLite, each resumable and exactly-once.

Every sink appends durably: a group of records is one ``os.write`` on an ``O_APPEND`` descriptor followed
by ``fsync`` (JSONL, CSV) or one SQLite transaction (``synchronous=FULL``). On open, an existing output is
indexed by its keys (input path + page) so finished items are skipped; a torn tail left by a crash or a
power cut (a partial last line, or a CSV record missing some of its digit rows) is cut off first.
A failed write (disk full...) raises :class:`~digitreader.errors.OutputError` and leaves every record
already written intact.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ..errors import OutputError
from .filesink import CsvSink, JsonlSink, Record, csv_records
from .fs import is_url, url_to_fs
from .sqlite_sink import SqliteSink, sqlite_records

FORMATS = ("jsonl", "csv", "sqlite")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
            ".sqlite": "sqlite", ".sqlite3": "sqlite", ".db": "sqlite"}


class Sink(Protocol):
    """Where batch records go. ``lookup`` says whether an item is recorded (and whether it failed)."""

    name: str

    def lookup(self, path: str, page: int) -> bool | None: ...  # None: not recorded; True: recorded failed

    def write(self, records: list[Record]) -> None: ...  # durable when it returns

    def close(self) -> None: ...


def format_for(out: str, fmt: str | None = None) -> str:
    """The sink format: ``fmt`` if given, else from the output's extension."""
    if fmt:
        return fmt
    suffix = os.path.splitext(out.rstrip("/"))[1].lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot tell the output format of {out!r}: use .jsonl, .csv or .sqlite, or --format")
    return SUFFIXES[suffix]


def open_sink(out: str, fmt: str | None = None, overwrite: bool = False, staging_dir: Path | None = None) -> Sink:
    """Open (create, or resume) the output ``out``: a local path, ``file://`` URL, or other fsspec URL.

    Object stores cannot append: a remote output is kept in a local staging file (resumed after a crash)
    and uploaded whole when the sink is closed.
    """
    fmt = format_for(out, fmt)
    if is_url(out):
        fs, inner = url_to_fs(out)
        if _is_local_fs(fs):
            return _open_local(inner, fmt, overwrite)
        return StagedSink(out, fmt, overwrite, staging_dir)
    return _open_local(out, fmt, overwrite)


def _is_local_fs(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def _open_local(path: str, fmt: str, overwrite: bool) -> Sink:
    if overwrite:
        for suffix in ("", "-wal", "-shm", "-journal") if fmt == "sqlite" else ("",):
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise OutputError(f"cannot remove {path + suffix}: {exc.strerror or exc}") from None
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {parent}: {exc.strerror or exc}") from None
    return {"jsonl": JsonlSink, "csv": CsvSink, "sqlite": SqliteSink}[fmt](path)


def iter_records(out: str, fmt: str | None = None) -> Iterator[Record]:
    """Every record of a batch output, in file order, as the JSON record (for any of the three formats)."""
    fmt = format_for(out, fmt)
    path = url_to_fs(out)[1] if is_url(out) and _is_local_fs(url_to_fs(out)[0]) else out
    if fmt == "jsonl":
        with open(path, "rb") as handle:
            for line in handle:
                if line.endswith(b"\n"):
                    yield json.loads(line)
    elif fmt == "csv":
        yield from csv_records(path)
    else:
        yield from sqlite_records(path)


# --- remote outputs ----------------------------------------------------------------------------


class StagedSink:
    """A remote (fsspec) output written through a local staging copy, uploaded when closed."""

    def __init__(self, url: str, fmt: str, overwrite: bool, staging_dir: Path | None) -> None:
        self.name = url
        self._fs, self._remote = url_to_fs(url)
        folder = Path(staging_dir or _default_staging_dir())
        tag = hashlib.sha256(url.encode()).hexdigest()[:16]
        self._local = folder / f"{tag}-{os.path.basename(self._remote.rstrip('/')) or 'results'}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not overwrite and not self._local.exists() and self._fs.exists(self._remote):
                self._fs.get(self._remote, str(self._local))  # resume from the last upload
        except OSError as exc:
            raise OutputError(f"cannot stage {url} in {folder}: {exc}") from None
        self._sink = _open_local(str(self._local), fmt, overwrite)

    def lookup(self, path: str, page: int) -> bool | None:
        return self._sink.lookup(path, page)

    def write(self, records: list[Record]) -> None:
        self._sink.write(records)

    def close(self) -> None:
        self._sink.close()
        try:
            self._fs.put(str(self._local), self._remote)
        except OSError as exc:
            raise OutputError(f"cannot upload {self.name} (the results are in {self._local}): {exc}") from None
        self._local.unlink(missing_ok=True)


def _default_staging_dir() -> Path:
    from ..onnx_cache import default_cache_dir

    return default_cache_dir() / "batch-staging"
