"""Append-only result files for ``digitreader batch``: JSON Lines and CSV, indexed by item key on open.

A group of records is one ``os.write`` on an ``O_APPEND`` descriptor followed by ``fsync``; on open, a torn
tail (a partial last line, or a CSV record missing some of its digit rows) is cut off and anything
malformed before it is refused. A failed write (disk full...) raises OutputError and is cut back.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from ..errors import OutputError
from .inputs import item_key

log = logging.getLogger("digitreader.batch")

CSV_COLUMNS = ("path", "page", "text", "error", "model", "digits",
               "line", "index", "value", "confidence", "x", "y", "w", "h")
Record = dict[str, Any]


def lock_output(fd: int, name: str) -> None:
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
        lock_output(self._fd, path)
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


def csv_records(path: str) -> Iterator[Record]:
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
