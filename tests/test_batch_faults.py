"""``digitreader batch`` under faults, through the real CLI in a subprocess (issue 7).

- every hostile file of tests/test_hostile.py mixed into one folder, with symlink loops (of files and of
  folders), a FIFO and a decompression bomb: each bad file gets a failed record saying why, the good ones
  are read, nothing hangs;
- the output disk full, for real: the kernel refuses writes past RLIMIT_FSIZE (EFBIG) in the middle of
  the run: exit 7 with one error line, every record already written is whole and kept, and the re-run
  finishes the rest exactly once.

A worker process killed mid-run (SIGKILL) is tested in tests/test_batch.py
(``test_a_killed_worker_process_is_reported_and_its_images_are_read_again`` and the SIGKILL crash test).
"""

from __future__ import annotations

import csv
import io
import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import draw_number
from test_hostile import CASES, encode

from digitreader.errors import ExitCode

TIMEOUT = 300
FOLDER_CASES = [case_id for case_id in CASES if case_id not in ("device-file", "stdin-empty", "stdin-garbage")]
# How the batch treats a row whose single-image outcome differs: a folder is walked (nothing to record),
# the page over a small --max-pixels is read under the default limit, a TIFF gives one record per page.
BATCH_TEXTS = {"max-pixels-flag": ["31"], "multi-page-tiff": ["31", "47"]}


def batch(*args: object, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "digitreader", "batch", *map(str, args)], capture_output=True,
                          text=True, timeout=TIMEOUT, preexec_fn=preexec)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_batch_reads_a_folder_of_hostile_files(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    for case_id in FOLDER_CASES:
        (root / case_id).mkdir(parents=True)
        CASES[case_id].make(root / case_id)
    (root / "folder-loop").mkdir()
    (root / "folder-loop" / "again").symlink_to(root, target_is_directory=True)  # never followed
    out = tmp_path / "results.jsonl"
    run = batch(root, "--out", out, "-j", "2", "--batch-size", "3", "--ext", "png,jpg,tiff,gif")
    assert "Traceback" not in run.stderr + run.stdout
    assert run.returncode == ExitCode.PARTIAL, run.stderr
    records = jsonl(out)
    keys = [(r["path"], r["page"]) for r in records]
    assert len(set(keys)) == len(keys)
    by_case: dict[str, list[dict]] = {}
    for record in records:
        by_case.setdefault(Path(record["path"]).relative_to(root).parts[0], []).append(record)
    assert set(by_case) == set(FOLDER_CASES) - {"directory"}
    for case_id, got in by_case.items():
        case = CASES[case_id]
        if case_id in BATCH_TEXTS:
            assert [r["text"] for r in got] == BATCH_TEXTS[case_id] and all(r["error"] is None for r in got)
        elif case.code == 0:
            assert all(r["error"] is None for r in got), (case_id, got)
            if case.text is not None:
                assert [r["text"] for r in got] == [case.text], case_id
        else:
            assert got and all(r["error"] and r["digits"] == [] for r in got), (case_id, got)
            if case.message and case_id != "max-pixels-flag":
                assert all(case.message in r["error"] for r in got), (case_id, got)
    assert len(by_case["symlink-loop"]) == 2  # a.png and b.png, each with its own error
    failed = sum(r["error"] is not None for r in records)
    assert f"{len(records) - failed} done, {failed} failed" in run.stderr


def _pages(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        paths.append(folder / f"{i:02d}.png")
        paths[-1].write_bytes(encode(".png", draw_number(str(10 + 7 * i), height=40)[0]))
    return paths


def _file_size_limit(limit: int):
    def apply() -> None:  # Python ignores SIGXFSZ: a write past the limit fails with EFBIG, like a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _rows(path: Path, fmt: str) -> list[list[str]]:
    """The output's records as lists of fields, confidences rounded to 4 places (batching may move the 6th)."""
    text = path.read_text(encoding="utf-8")
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        column = rows[0].index("confidence")
        return rows[:1] + [row[:column] + [f"{float(row[column]):.4f}" if row[column] else ""] + row[column + 1:]
                           for row in rows[1:]]
    out = []
    for record in map(json.loads, text.splitlines()):
        for digit in record["digits"]:
            digit["confidence"] = round(digit["confidence"], 4)
        out.append([json.dumps(record, sort_keys=True)])
    return out


@pytest.mark.parametrize("fmt, jobs", [("jsonl", "2"), ("csv", "0")])
def test_output_disk_full_keeps_every_finished_record(tmp_path: Path, fmt: str, jobs: str) -> None:
    _pages(tmp_path / "scans", 12)
    reference = tmp_path / f"reference.{fmt}"
    assert batch(tmp_path / "scans", "--out", reference, "-j", jobs, "--batch-size", "2").returncode == ExitCode.OK
    expected = _rows(reference, fmt)
    out = tmp_path / f"results.{fmt}"
    limit = reference.stat().st_size * 2 // 5  # the disk fills up about 40 % of the way through
    run = batch(tmp_path / "scans", "--out", out, "-j", jobs, "--batch-size", "2", preexec=_file_size_limit(limit))
    assert "Traceback" not in run.stderr
    assert run.returncode == ExitCode.OUTPUT, run.stderr
    assert "OutputError: " in run.stderr and "File too large" in run.stderr
    kept = out.read_bytes()
    assert 0 < len(kept) <= limit and kept.endswith(b"\n")  # whole records only: no torn tail left behind
    kept_rows = _rows(out, fmt)
    assert len(kept_rows) >= 2 and kept_rows == expected[:len(kept_rows)]  # what was finished, in order
    rerun = batch(tmp_path / "scans", "--out", out, "-j", jobs, "--batch-size", "2")
    assert rerun.returncode == ExitCode.OK, rerun.stderr
    assert _rows(out, fmt) == expected  # every page exactly once: none lost, none doubled
