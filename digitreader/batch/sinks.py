"""Result sinks for ``digitreader batch``: JSON Lines, CSV and SQLite, each resumable and exactly-once.

Every sink appends durably: a group of records is one ``os.write`` on an ``O_APPEND`` descriptor followed
by ``fsync`` (JSONL, CSV) or one SQLite transaction (``synchronous=FULL``). On open, an existing output is
indexed by its keys (input path + page) so finished items are skipped; a torn tail left by a crash or a
power cut (a partial last line, or a CSV record missing some of its digit rows) is cut off first.
A failed write (disk full...) raises :class:`~digitreader.errors.OutputError` and leaves every record
already written intact.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ..errors import OutputError
from .fs import is_url, url_to_fs
from .inputs import item_key

log = logging.getLogger("digitreader.batch")

FORMATS = ("jsonl", "csv", "sqlite")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
            ".sqlite": "sqlite", ".sqlite3": "sqlite", ".db": "sqlite"}
CSV_COLUMNS = ("path", "page", "text", "error", "model", "digits",
               "line", "index", "value", "confidence", "x", "y", "w", "h")
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id          INTEGER PRIMARY KEY,
    path        TEXT    NOT NULL,
    page        INTEGER NOT NULL,
    text        TEXT    NOT NULL,
    lines       TEXT    NOT NULL,  -- JSON array of strings, one per row of digits
    model       TEXT    NOT NULL,
    error       TEXT,              -- NULL when the image was read
    digit_count INTEGER NOT NULL,
    UNIQUE (path, page)
);
CREATE TABLE IF NOT EXISTS digits (
    image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,  -- position in reading order (the JSON record's digits list)
    line        INTEGER NOT NULL,
    idx         INTEGER NOT NULL,  -- position within its line
    value       INTEGER NOT NULL,
    confidence  REAL    NOT NULL,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
    PRIMARY KEY (image_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS digits_value ON digits(value);
CREATE INDEX IF NOT EXISTS images_text ON images(text);
CREATE INDEX IF NOT EXISTS images_failed ON images(error) WHERE error IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('schema', 'digitreader-batch 1');
"""

Record = dict[str, Any]


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
        yield from _csv_records(path)
    else:
        yield from _sqlite_records(path)


# --- shared append-only file machinery -----------------------------------------------------------


def _lock(fd: int, name: str) -> None:
    """One batch per output file: a second concurrent run would break exactly-once."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise OutputError(f"{name} is being written by another digitreader batch") from None


def _append(fd: int, data: bytes, name: str) -> None:
    """Append ``data`` and fsync; on failure cut the file back to where it was, then raise OutputError."""
    start = os.lseek(fd, 0, os.SEEK_END)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError as exc:
        try:
            os.ftruncate(fd, start)
        except OSError:
            pass
        raise OutputError(f"cannot write {name}: {exc.strerror or exc}") from None


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _AppendSink:
    """An append-only text file indexed by item key; subclasses parse and format records."""

    def __init__(self, path: str) -> None:
        self.name = path
        existed = os.path.exists(path)
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot open {path}: {exc.strerror or exc}") from None
        if not existed:
            _fsync_dir(path)
        _lock(self._fd, path)
        self._index: dict[bytes, bool] = {}
        try:
            end = self._scan()
            size = os.fstat(self._fd).st_size
            if end < size:
                log.warning("%s: cut a torn last record (%d bytes) left by an interrupted run", path, size - end)
                os.ftruncate(self._fd, end)
                os.fsync(self._fd)
            if end == 0:
                self._write_header()
        except OSError as exc:
            os.close(self._fd)
            raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None
        except OutputError:
            os.close(self._fd)
            raise

    def _scan(self) -> int:
        """Index the existing records; return the byte offset where the intact part ends."""
        raise NotImplementedError

    def _write_header(self) -> None:
        pass

    def _encode(self, records: list[Record]) -> bytes:
        raise NotImplementedError

    def lookup(self, path: str, page: int) -> bool | None:
        return self._index.get(item_key(path, page))

    def write(self, records: list[Record]) -> None:
        if not records:
            return
        _append(self._fd, self._encode(records), self.name)
        for record in records:
            self._index[item_key(record["path"], record["page"])] = record["error"] is not None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        """(offset, line) of every line, the last one possibly without its newline."""
        offset = 0
        with open(self._fd, "rb", closefd=False) as handle:
            handle.seek(0)
            for line in handle:
                yield offset, line
                offset += len(line)


class JsonlSink(_AppendSink):
    """One JSON object per line: the ``read --format json`` record plus ``page``."""

    def _scan(self) -> int:
        end, bad_at = 0, None
        for offset, line in self._lines():
            if bad_at is not None:
                raise OutputError(f"{self.name}: line at byte {bad_at} is not a JSON record; "
                                  "not a digitreader batch output? (--overwrite starts again)")
            try:
                record = json.loads(line) if line.endswith(b"\n") else None
                key = item_key(record["path"], int(record["page"])) if record is not None else None
            except (ValueError, TypeError, KeyError):
                key = None
            if key is None:
                bad_at = offset  # torn or garbage: fine only as the last line
                continue
            self._index[key] = record.get("error") is not None
            end = offset + len(line)
        return end

    def _encode(self, records: list[Record]) -> bytes:
        return "".join(_json_line(r) for r in records).encode("utf-8")


class CsvSink(_AppendSink):
    """One row per digit (a record with no digit, or a failed one, is a single row with empty digit columns)."""

    def _write_header(self) -> None:
        _append(self._fd, _csv_bytes([list(CSV_COLUMNS)]), self.name)

    def _scan(self) -> int:
        end, group, expected, got, failed = 0, None, 0, 0, False
        for offset, row, size in _csv_rows(self._fd, self.name):
            if offset == 0:
                if tuple(row) != CSV_COLUMNS:
                    raise OutputError(f"{self.name} is not a digitreader batch CSV (unexpected header); "
                                      "--overwrite starts again")
                end = size
                continue
            try:
                if len(row) != len(CSV_COLUMNS):
                    raise ValueError
                key, count = (row[0], int(row[1])), int(row[5])
            except ValueError:
                raise OutputError(f"{self.name}: malformed row at byte {offset}; --overwrite starts again") from None
            if key != group:
                if group is not None and got != expected:
                    raise OutputError(f"{self.name}: record {group[0]} page {group[1]} is missing digit rows "
                                      "before other records; --overwrite starts again")
                group, expected, got, failed = key, max(1, count), 0, bool(row[3])
            got += 1
            if got == expected:  # a record is complete only with all its digit rows
                self._index[item_key(*group)] = failed
                end = offset + size
        return end

    def _encode(self, records: list[Record]) -> bytes:
        return _csv_bytes([row for record in records for row in record_to_csv_rows(record)])


def _json_line(record: Record) -> str:
    """One JSON line, UTF-8 text; a path that is not valid Unicode (a Linux file name in another encoding)
    is written with \\u escapes, which read back to the same key."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record)
    return line + "\n"


def _sql_text(text: str | None) -> str | None:
    """Text SQLite can store: undecodable file-name bytes become \\xNN (the same on every lookup)."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def record_to_csv_rows(record: Record) -> list[list[Any]]:
    base = [record["path"], record["page"], " ".join(record["lines"]), record["error"] or "", record["model"],
            len(record["digits"])]
    if not record["digits"]:
        return [base + [""] * 8]
    rows, index_in_line = [], {}
    for digit in record["digits"]:
        index = index_in_line.get(digit["line"], 0)
        index_in_line[digit["line"]] = index + 1
        rows.append(base + [digit["line"], index, digit["value"], f"{digit['confidence']:.6f}", *digit["box"]])
    return rows


def _csv_bytes(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8", "surrogateescape")


def _csv_rows(fd_or_path: int | str, name: str = "") -> Iterator[tuple[int, list[str], int]]:
    """(offset, row, size in bytes) of each complete CSV row (a quoted field may span lines); a torn
    last row (no newline, or an open quote) is not yielded."""
    closefd = not isinstance(fd_or_path, int)
    with open(fd_or_path, "rb", closefd=closefd) as handle:
        handle.seek(0)
        offset, buffer = 0, b""
        for line in handle:
            buffer += line
            if not buffer.endswith(b"\n") or buffer.count(b'"') % 2:
                continue  # torn, or inside a quoted field
            text = buffer.decode("utf-8", "surrogateescape")
            rows = list(csv.reader(io.StringIO(text, newline="")))
            if len(rows) != 1:
                raise OutputError(f"{name or fd_or_path}: unreadable CSV at byte {offset}; --overwrite starts again")
            yield offset, rows[0], len(buffer)
            offset += len(buffer)
            buffer = b""


def _csv_records(path: str) -> Iterator[Record]:
    current: Record | None = None
    for offset, row, _ in _csv_rows(path):
        if offset == 0:
            continue
        path_, page, text, error, model, count = row[:6]
        key = (path_, int(page))
        if current is None or (current["path"], current["page"]) != key:
            if current is not None:
                yield current
            lines = text.split(" ") if text else []
            current = {"path": path_, "page": int(page), "text": "\n".join(lines), "lines": lines, "digits": [],
                       "model": model, "error": error or None}
        if row[6] != "":
            line, _, value, confidence, x, y, w, h = row[6:]
            current["digits"].append({"value": int(value), "confidence": float(confidence),
                                      "box": [int(x), int(y), int(w), int(h)], "line": int(line)})
    if current is not None:
        yield current


# --- SQLite ------------------------------------------------------------------------------------


class SqliteSink:
    """Tables ``images`` (one row per record) and ``digits`` (one row per digit), indexed; see README."""

    def __init__(self, path: str) -> None:
        self.name = path
        try:
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot open {path}: {exc.strerror or exc}") from None
        _lock(self._lock_fd, path)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(SQLITE_SCHEMA)
        except sqlite3.Error as exc:
            os.close(self._lock_fd)
            raise OutputError(f"cannot use {path} as a SQLite database: {exc}") from None

    def lookup(self, path: str, page: int) -> bool | None:
        row = self._db.execute("SELECT error IS NOT NULL FROM images WHERE path = ? AND page = ?",
                               (_sql_text(path), page)).fetchone()
        return None if row is None else bool(row[0])

    def write(self, records: list[Record]) -> None:
        if not records:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for record in records:
                cursor = self._db.execute(
                    "INSERT INTO images (path, page, text, lines, model, error, digit_count) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (_sql_text(record["path"]), record["page"], record["text"], json.dumps(record["lines"]),
                     record["model"], _sql_text(record["error"]), len(record["digits"])))
                image_id = cursor.lastrowid
                self._db.executemany(
                    "INSERT INTO digits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(image_id, seq, int(row[6]), int(row[7]), int(row[8]), digit["confidence"], *digit["box"])
                     for seq, (digit, row) in enumerate(zip(record["digits"], record_to_csv_rows(record)))])
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise OutputError(f"cannot write {self.name}: {exc}") from None

    def close(self) -> None:
        if self._lock_fd >= 0:
            self._db.close()
            os.close(self._lock_fd)
            self._lock_fd = -1


def _sqlite_records(path: str) -> Iterator[Record]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for image_id, path_, page, text, lines, model, error in db.execute(
                "SELECT id, path, page, text, lines, model, error FROM images ORDER BY id"):
            digits = [{"value": value, "confidence": confidence, "box": [x, y, w, h], "line": line}
                      for value, confidence, x, y, w, h, line in db.execute(
                          "SELECT value, confidence, x, y, w, h, line FROM digits WHERE image_id = ? ORDER BY seq",
                          (image_id,))]
            yield {"path": path_, "page": page, "text": text, "lines": json.loads(lines), "digits": digits,
                   "model": model, "error": error}
    finally:
        db.close()


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
