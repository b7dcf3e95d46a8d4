"""The one result type of a read, and its exporters (text, JSON, CSV).

JSON schema (stable, see README "JSON schema"):
``{"path": str, "text": str, "lines": [str], "digits": [{"value": int, "confidence": float,
"box": [x, y, w, h], "line": int}], "model": str, "error": null | str}``; read with
``charset="decimal"``, a record also has ``"marks": [{"char": "." | "," | "-", "box": [x, y, w, h],
"line": int}]`` and its text and lines include those characters where they are written.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

CSV_HEADER = ("path", "line", "index", "value", "confidence", "x", "y", "w", "h")
UNSURE = "?"


@dataclass(frozen=True)
class Digit:
    """One classified digit: its value, softmax confidence, box (x, y, w, h) and row index."""

    value: int
    confidence: float
    box: tuple[int, int, int, int]
    line: int

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": round(self.confidence, 6), "box": list(self.box),
                "line": self.line}


@dataclass(frozen=True)
class Mark:
    """A separator read with ``charset="decimal"``: ``.``, ``,`` or ``-``, its box and row index."""

    char: str
    box: tuple[int, int, int, int]
    line: int

    def as_dict(self) -> dict[str, Any]:
        return {"char": self.char, "box": list(self.box), "line": self.line}


CHARSETS = ("digits", "decimal")


@dataclass(frozen=True)
class Result:
    """What digitreader read from one image (or why it could not)."""

    path: str
    digits: tuple[Digit, ...] = ()
    model: str = ""
    error: str | None = None
    min_confidence: float = 0.0
    image_size: tuple[int, int] | None = field(default=None, compare=False)  # (width, height)
    marks: tuple[Mark, ...] = ()
    charset: str = "digits"

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def lines(self) -> list[str]:
        """One string per row of digits, top to bottom; digits below ``min_confidence`` are ``?``."""
        rows: dict[int, list[tuple[float, str]]] = {}
        for digit in self.digits:
            char = str(digit.value) if digit.confidence >= self.min_confidence else UNSURE
            rows.setdefault(digit.line, []).append((len(rows.get(digit.line, [])), char))
        if self.marks:  # separators go between the digits by the x of their centres
            for line, row in rows.items():
                centres = [d.box[0] + d.box[2] / 2 for d in self.digits if d.line == line]
                row[:] = [(x, c) for x, (_, c) in zip(centres, row)]
            for mark in self.marks:
                rows.setdefault(mark.line, []).append((mark.box[0] + mark.box[2] / 2, mark.char))
        return ["".join(c for _, c in sorted(rows[k], key=lambda t: t[0])) for k in sorted(rows)]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def as_dict(self) -> dict[str, Any]:
        record = {"path": self.path, "text": self.text, "lines": self.lines,
                  "digits": [d.as_dict() for d in self.digits], "model": self.model, "error": self.error}
        if self.charset == "decimal":
            record["marks"] = [m.as_dict() for m in self.marks]
        return record

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False)

    def csv_rows(self) -> list[list[Any]]:
        rows, index_in_line = [], {}
        for digit in self.digits:
            index = index_in_line.get(digit.line, 0)
            index_in_line[digit.line] = index + 1
            rows.append([self.path, digit.line, index, digit.value, f"{digit.confidence:.6f}", *digit.box])
        return rows


def to_text(results: list[Result], with_paths: bool) -> str:
    """One line per row of digits; with several images ``path<TAB>number`` (rows joined by spaces)."""
    out = []
    for result in results:
        if with_paths:
            out.append(f"{result.path}\t{' '.join(result.lines) if result.ok else ''}")
        elif result.ok:
            out.extend(result.lines)
    return "\n".join(out) + ("\n" if out else "")


def to_json_lines(results: list[Result]) -> str:
    return "".join(r.to_json() + "\n" for r in results)


def to_csv(results: list[Result], header: bool = True) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(CSV_HEADER)
    for result in results:
        writer.writerows(result.csv_rows())
    return buffer.getvalue()
