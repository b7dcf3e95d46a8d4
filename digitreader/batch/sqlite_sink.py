"""The SQLite result sink of ``digitreader batch``: tables ``images`` and ``digits``, one transaction per group."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator

from ..errors import OutputError
from .filesink import Record, lock_output, record_to_csv_rows

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


def _sql_text(text: str | None) -> str | None:
    """Text SQLite can store: undecodable file-name bytes become \\xNN (the same on every lookup)."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")



class SqliteSink:
    """Tables ``images`` (one row per record) and ``digits`` (one row per digit), indexed; see README."""

    def __init__(self, path: str) -> None:
        self.name = path
        try:
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot open {path}: {exc.strerror or exc}") from None
        lock_output(self._lock_fd, path)
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


def sqlite_records(path: str) -> Iterator[Record]:
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
