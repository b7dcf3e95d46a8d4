"""digitreader batch: inputs, sinks, resume exactly once, torn tails, bad files, annotate-dir, exit codes,
a SIGKILL crash test, Ctrl-C, and the same job on a Dask LocalCluster."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import draw_number

from digitreader.batch import BatchOptions, iter_records, run_batch
from digitreader.batch.backends import InProcessBackend
from digitreader.batch.filesink import CSV_COLUMNS
from digitreader.batch.inputs import count_tiff_pages, iter_items, iter_sources
from digitreader.batch.worker import annotation_target, safe_relative_parts
from digitreader.cli import main
from digitreader.errors import ExitCode, OutputError
from digitreader.reader import DigitReader

SCANS = 96  # enough that a kill lands mid-run even on a fast machine
NUMBERS = ["12", "345", "6", "7890", "21", "43", "5", "608", "9", "17", "2", "33"]


class InkClassifier:
    """A test double whose answer depends only on the crop itself (not on its place in the batch)."""

    name = "ink"

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, np.float32).reshape(len(crops), -1)
        probs = np.full((len(crops), 10), 0.02, np.float32)
        probs[np.arange(len(crops)), (crops.sum(axis=1) * 7).astype(int) % 10] = 0.82
        return probs


def write_page(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), draw_number(text, height=40)[0])
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """scans/ with pages in sub-folders, mixed-case extensions, a hidden file, a text file and a 3-page TIFF."""
    root = tmp_path / "scans"
    write_page(root / "b.png", "12")
    write_page(root / "a.PNG", "345")
    write_page(root / "sub" / "c.jpg", "6")
    write_page(root / "sub" / "deeper" / "d.bmp", "78")
    write_page(root / ".hidden.png", "9")
    (root / "notes.txt").write_text("not an image")
    pages = [draw_number(t, height=40)[0] for t in ("1", "22", "333")]
    assert cv2.imwritemulti(str(root / "multi.tif"), pages)
    return root


def options(tmp_path: Path, inputs, out: str = "results.jsonl", **kwargs) -> BatchOptions:
    kwargs.setdefault("classifier", InkClassifier())
    return BatchOptions(inputs=[str(i) for i in inputs], out=str(tmp_path / out), **kwargs)


def records(path: Path) -> list[dict]:
    return list(iter_records(str(path)))


def keys(recs: list[dict]) -> list[tuple[str, int]]:
    return [(r["path"], r["page"]) for r in recs]


# --- inputs ---------------------------------------------------------------------------------------


def test_folder_is_walked_recursively_sorted_with_case_insensitive_extensions(tree):
    items = list(iter_items(iter_sources([str(tree)])))
    rel = [(os.path.relpath(i.path, tree), i.page) for i in items]
    assert rel == [("a.PNG", 0), ("b.png", 0), ("multi.tif", 0), ("multi.tif", 1), ("multi.tif", 2),
                   ("sub/c.jpg", 0), ("sub/deeper/d.bmp", 0)]
    assert all(i.pages == 3 for i in items if i.path.endswith("multi.tif"))


def test_glob_ext_and_list_file(tree, tmp_path):
    names = [os.path.relpath(s.path, tree) for s in iter_sources([str(tree)], glob="*.png")]
    assert names == ["b.png"]  # the pattern is case-sensitive ('*.png' does not take a.PNG); --ext is not
    names = [os.path.relpath(s.path, tree) for s in iter_sources([str(tree)], glob="sub/*")]
    assert names == ["sub/c.jpg", "sub/deeper/d.bmp"]
    from digitreader.batch.inputs import parse_extensions

    names = [os.path.relpath(s.path, tree) for s in iter_sources([str(tree)], extensions=parse_extensions("png,BMP"))]
    assert names == ["a.PNG", "b.png", "sub/deeper/d.bmp"]
    listing = tmp_path / "todo.txt"
    listing.write_text(f"# scans to do\n{tree / 'sub' / 'c.jpg'}\n\n{tree / 'b.png'}\n{tree / 'sub' / 'deeper'}\n")
    names = [os.path.relpath(s.path, tree) for s in iter_sources([f"@{listing}"])]
    assert names == ["sub/c.jpg", "b.png", "sub/deeper/d.bmp"]  # the list's order; folders expanded


def test_tiff_page_count_reads_only_the_directory_chain(tree, tmp_path):
    with open(tree / "multi.tif", "rb") as handle:
        assert count_tiff_pages(handle) == 3
    with open(tree / "b.png", "rb") as handle:
        assert count_tiff_pages(handle) is None


def test_multipage_tiff_pages_are_items_with_their_page_index(tree, tmp_path):
    summary = run_batch(options(tmp_path, [tree / "multi.tif"]))
    got = records(tmp_path / "results.jsonl")
    assert [r["page"] for r in got] == [0, 1, 2] and summary.done == 3
    reader = DigitReader(InkClassifier())
    for record, text in zip(got, ("1", "22", "333")):
        expected = reader.read(draw_number(text, height=40)[0], path=record["path"]).as_dict()
        assert record == {"path": expected.pop("path"), "page": record["page"], **expected}


def test_pdf_pages_are_items_when_pypdfium2_is_installed(tmp_path, monkeypatch):
    pytest.importorskip("pypdfium2", reason="PDF pages need the [pdf] extra (pypdfium2)")
    from PIL import Image

    pages = [Image.fromarray(draw_number(text, height=40)[0]) for text in ("12", "345")]
    pages[0].save(tmp_path / "scan.pdf", "PDF", save_all=True, append_images=pages[1:], resolution=200)
    summary = run_batch(options(tmp_path, [tmp_path / "scan.pdf"]))
    got = records(tmp_path / "results.jsonl")
    assert [(r["page"], len(r["digits"]), r["error"]) for r in got] == [(0, 2, None), (1, 3, None)]
    assert summary.exit_code == ExitCode.OK

    from digitreader.batch import pdf
    from digitreader.errors import DependencyError

    def missing():
        raise DependencyError("reading PDF pages needs pypdfium2: pip install 'digitreader[pdf]'")

    monkeypatch.setattr(pdf, "_pdfium", missing)
    summary = run_batch(options(tmp_path, [tmp_path / "scan.pdf"], out="without.jsonl"))
    (record,) = records(tmp_path / "without.jsonl")
    assert "digitreader[pdf]" in record["error"] and summary.exit_code == ExitCode.PARTIAL


# --- sinks ------------------------------------------------------------------------------------------


def test_jsonl_record_is_the_read_json_record_plus_page(tree, tmp_path):
    summary = run_batch(options(tmp_path, [tree]))
    got = records(tmp_path / "results.jsonl")
    assert summary.exit_code == ExitCode.OK and summary.done == 7 and summary.failed == 0
    reader = DigitReader(InkClassifier())
    first = got[0]
    assert list(first) == ["path", "page", "text", "lines", "digits", "model", "error"]
    expected = reader.read(first["path"]).as_dict()
    assert {k: v for k, v in first.items() if k != "page"} == expected
    assert summary.digits == sum(len(r["digits"]) for r in got) > 0


def test_three_sinks_hold_the_same_records(tree, tmp_path):
    for fmt in ("jsonl", "csv", "sqlite"):
        assert run_batch(options(tmp_path, [tree], out=f"r.{fmt}")).exit_code == 0
    base = records(tmp_path / "r.jsonl")
    for fmt in ("csv", "sqlite"):
        other = records(tmp_path / f"r.{fmt}")
        assert keys(other) == keys(base)
        for a, b in zip(base, other):
            assert {k: a[k] for k in ("text", "lines", "model", "error")} == {k: b[k] for k in ("text", "lines",
                                                                                                  "model", "error")}
            assert [(d["value"], d["box"], d["line"]) for d in a["digits"]] == \
                   [(d["value"], d["box"], d["line"]) for d in b["digits"]]
            assert np.allclose([d["confidence"] for d in a["digits"]], [d["confidence"] for d in b["digits"]],
                               atol=1e-6)


def test_csv_schema_one_row_per_digit_and_one_row_for_a_record_without_digits(tmp_path):
    write_page(tmp_path / "in" / "a.png", "12")
    cv2.imwrite(str(tmp_path / "in" / "blank.png"), np.full((60, 120), 235, np.uint8))
    run_batch(options(tmp_path, [tmp_path / "in"], out="r.csv"))
    rows = list(csv.reader(open(tmp_path / "r.csv", newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(Path(r[0]).name, r[5], r[6], r[7]) for r in rows[1:]] == [
        ("a.png", "2", "0", "0"), ("a.png", "2", "0", "1"), ("blank.png", "0", "", "")]


def test_sqlite_schema_tables_indexes_and_queries(tree, tmp_path):
    run_batch(options(tmp_path, [tree, tmp_path / "missing.png"], out="r.sqlite"))
    db = sqlite3.connect(tmp_path / "r.sqlite")
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"images", "digits"} <= tables
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"digits_value", "images_failed"} <= indexes
    assert db.execute("SELECT count(*) FROM images").fetchone()[0] == 8
    failed = db.execute("SELECT path, error FROM images WHERE error IS NOT NULL").fetchall()
    assert len(failed) == 1 and failed[0][0].endswith("missing.png") and "not found" in failed[0][1]
    digits = db.execute("SELECT count(*) FROM digits").fetchone()[0]
    assert digits == db.execute("SELECT sum(digit_count) FROM images").fetchone()[0] > 0
    row = db.execute("SELECT i.path, i.page, d.value FROM digits d JOIN images i ON i.id = d.image_id "
                     "WHERE i.path LIKE '%multi.tif' ORDER BY i.page, d.seq").fetchall()
    assert [r[1] for r in row] == [0, 1, 1, 2, 2, 2]


def test_remote_output_goes_through_a_staged_copy(tree, tmp_path):
    fsspec = pytest.importorskip("fsspec", reason="fsspec is installed by the [dask] and [test] extras")
    url = f"memory://batch-test-{os.getpid()}/results.jsonl"
    first = run_batch(BatchOptions(inputs=[str(tree / "b.png")], out=url, classifier=InkClassifier(),
                                   staging_dir=tmp_path / "staging"))
    assert first.done == 1 and not list((tmp_path / "staging").iterdir())  # uploaded, staging removed
    second = run_batch(BatchOptions(inputs=[str(tree / "b.png"), str(tree / "a.PNG")], out=url,
                                    classifier=InkClassifier(), staging_dir=tmp_path / "staging"))
    assert (second.skipped, second.done) == (1, 1)
    lines = fsspec.open(url, "rt").open().read().splitlines()
    assert [Path(json.loads(line)["path"]).name for line in lines] == ["b.png", "a.PNG"]


# --- resume, torn tails, overwrite ---------------------------------------------------------------------


def test_rerun_skips_recorded_items_and_reads_new_ones(tree, tmp_path):
    first = run_batch(options(tmp_path, [tree]))
    write_page(tree / "sub" / "new.png", "44")
    second = run_batch(options(tmp_path, [tree]))
    assert (second.skipped, second.done, second.failed) == (first.done, 1, 0)
    got = keys(records(tmp_path / "results.jsonl"))
    assert len(got) == len(set(got)) == 8


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_torn_last_record_is_cut_and_redone_once(tree, tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    run_batch(options(tmp_path, [tree], out=out.name))
    complete = records(out)
    data = out.read_bytes()
    if fmt == "jsonl":
        out.write_bytes(data[:-25])  # the last line loses its end
    else:  # the last record loses its last digit row (and a half row more)
        lines = data.splitlines(keepends=True)
        out.write_bytes(b"".join(lines[:-1]) + lines[-1][:7])
    summary = run_batch(options(tmp_path, [tree], out=out.name))
    assert summary.done == 1 and summary.skipped == len(complete) - 1
    assert records(out) == complete
    if fmt == "jsonl":
        assert all(json.loads(line) for line in out.read_text().splitlines())


def test_garbage_in_the_middle_is_refused_not_silently_dropped(tree, tmp_path):
    out = tmp_path / "results.jsonl"
    run_batch(options(tmp_path, [tree]))
    lines = out.read_text().splitlines(keepends=True)
    out.write_text(lines[0] + "{not json\n" + "".join(lines[1:]))
    summary = run_batch(options(tmp_path, [tree]))
    assert isinstance(summary.fatal, OutputError) and summary.exit_code == ExitCode.OUTPUT
    assert len(out.read_text().splitlines()) == len(lines) + 1  # untouched


def test_overwrite_starts_again(tree, tmp_path):
    for fmt in ("jsonl", "sqlite"):
        run_batch(options(tmp_path, [tree], out=f"r.{fmt}"))
        again = run_batch(options(tmp_path, [tree], out=f"r.{fmt}", overwrite=True))
        assert again.skipped == 0 and again.done == 7
        assert len(records(tmp_path / f"r.{fmt}")) == 7


@pytest.mark.skipif(sys.platform != "linux", reason="file names that are not valid UTF-8 exist on Linux")
def test_file_names_that_are_not_unicode_resume_in_every_format(tmp_path):
    folder = tmp_path / "in"
    write_page(folder / "a.png", "12")
    odd = os.path.join(str(folder).encode(), b"caf\xe9-\xff.png")  # Latin-1 bytes, not UTF-8
    with open(odd, "wb") as handle:
        handle.write(cv2.imencode(".png", draw_number("34", height=40)[0])[1].tobytes())
    for fmt in ("jsonl", "csv", "sqlite"):
        first = run_batch(options(tmp_path, [folder], out=f"r.{fmt}"))
        again = run_batch(options(tmp_path, [folder], out=f"r.{fmt}"))
        assert (first.done, first.failed, again.skipped, again.done) == (2, 0, 2, 0), fmt


def test_same_file_named_twice_is_read_once(tree, tmp_path):
    summary = run_batch(options(tmp_path, [tree, tree / "b.png"]))
    assert summary.duplicates == 1 and len(records(tmp_path / "results.jsonl")) == 7


# --- bad files, faults -----------------------------------------------------------------------------


def test_bad_files_are_recorded_and_the_batch_goes_on(tmp_path):
    folder = tmp_path / "in"
    write_page(folder / "a.png", "12")
    (folder / "b.png").write_bytes(b"this is not a PNG")
    (folder / "c.png").write_bytes(b"")
    (folder / "d.png").write_bytes(cv2.imencode(".png", draw_number("5")[0])[1].tobytes()[:60])  # truncated
    write_page(folder / "e.png", "34")
    summary = run_batch(options(tmp_path, [folder, tmp_path / "missing.png"]))
    got = records(tmp_path / "results.jsonl")
    assert [Path(r["path"]).name for r in got] == ["a.png", "b.png", "c.png", "d.png", "e.png", "missing.png"]
    assert [r["error"] is None for r in got] == [True, False, False, False, True, False]
    assert all(r["digits"] == [] and r["error"] for r in got if r["error"])
    assert (summary.done, summary.failed, summary.exit_code) == (2, 4, ExitCode.PARTIAL)
    rerun = run_batch(options(tmp_path, [folder, tmp_path / "missing.png"]))
    assert rerun.skipped_failed == 4 and rerun.exit_code == ExitCode.PARTIAL  # failures are still reported


def test_disk_full_stops_with_output_error_and_keeps_finished_records(tree, tmp_path, monkeypatch):
    from digitreader.batch import sinks

    calls = {"n": 0}
    real_write = os.write

    def failing_write(fd, data):
        calls["n"] += 1
        if calls["n"] == 3:
            real_write(fd, bytes(data)[:10])  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(sinks.os, "write", failing_write)
    summary = run_batch(options(tmp_path, [tree], batch_size=2))
    assert isinstance(summary.fatal, OutputError) and "No space left" in str(summary.fatal)
    assert summary.exit_code == ExitCode.OUTPUT
    kept = records(tmp_path / "results.jsonl")
    assert len(kept) == summary.done == 4 and (tmp_path / "results.jsonl").read_bytes().endswith(b"\n")
    monkeypatch.setattr(sinks.os, "write", real_write)
    rest = run_batch(options(tmp_path, [tree], batch_size=2))
    assert rest.skipped == 4 and len(records(tmp_path / "results.jsonl")) == 7


class PoisonError(Exception):
    """Stands in for BrokenProcessPool: the worker process died."""


class DyingWorkerBackend(InProcessBackend):
    """Any unit holding poison.png 'kills its worker process'."""

    window = 3

    def submit(self, tasks):
        if any(t.path.endswith("poison.png") for t in tasks):
            import concurrent.futures as cf

            future = cf.Future()
            future.set_exception(PoisonError())
            return future
        return super().submit(tasks)

    def is_worker_death(self, exc):
        return isinstance(exc, PoisonError)

    def death_detail(self):
        return "killed by SIGSEGV"


def test_a_dead_worker_is_reported_and_only_its_image_fails(tmp_path):
    folder = tmp_path / "in"
    for i, text in enumerate(NUMBERS[:6]):
        write_page(folder / f"{i}.png", text)
    write_page(folder / "3a_poison.png", "1")
    opts = options(tmp_path, [folder], batch_size=3)
    backend = DyingWorkerBackend(opts.reader_config(), DigitReader(InkClassifier()))
    summary = run_batch(opts, backend=backend)
    got = records(tmp_path / "results.jsonl")
    assert [Path(r["path"]).name for r in got] == ["0.png", "1.png", "2.png", "3.png", "3a_poison.png", "4.png",
                                                    "5.png"]
    dead = [r for r in got if r["error"]]
    assert len(dead) == 1 and dead[0]["path"].endswith("poison.png")
    assert "worker process died" in dead[0]["error"] and "SIGSEGV" in dead[0]["error"]
    assert summary.worker_deaths >= 1 and summary.exit_code == ExitCode.PARTIAL


# --- annotate-dir -------------------------------------------------------------------------------------


def test_annotate_dir_mirrors_the_input_tree(tree, tmp_path):
    out = tmp_path / "annotated"
    run_batch(options(tmp_path, [tree], annotate_dir=str(out)))
    made = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert made == ["a.PNG.annotated.png", "b.png.annotated.png", "multi.tif.p000.annotated.png",
                    "multi.tif.p001.annotated.png", "multi.tif.p002.annotated.png", "sub/c.jpg.annotated.png",
                    "sub/deeper/d.bmp.annotated.png"]
    assert cv2.imread(str(out / "b.png.annotated.png")).shape[2] == 3


def test_no_output_name_can_escape_the_annotate_dir(tmp_path, monkeypatch):
    out = tmp_path / "out" / "annotated"
    out.mkdir(parents=True)
    assert safe_relative_parts("../../etc/passwd") == ["__", "__", "etc", "passwd"]
    assert safe_relative_parts("/abs/./x.png") == ["abs", "x.png"]
    for rel in ("../../x.png", "/tmp/x.png", "a/../../../x.png", "..", "C:\\x.png", "a/\0/b.png"):
        target = Path(annotation_target(str(out), rel)).resolve()
        assert out.resolve() in target.parents, rel
    outside = tmp_path / "outside"
    outside.mkdir()
    (out / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(OutputError):
        annotation_target(str(out), "link/x.png")
    # end to end: list entries with '..' and a symlinked sub-folder never write outside DIR
    write_page(tmp_path / "in" / "link" / "x.png", "3")
    write_page(tmp_path / "y.png", "4")
    listing = tmp_path / "in" / "todo.txt"
    listing.write_text("../y.png\nlink/x.png\n")
    monkeypatch.chdir(tmp_path / "in")
    summary = run_batch(options(tmp_path, [f"@{listing}"], annotate_dir=str(out)))
    assert summary.done == 2 and summary.annotation_errors == 1 and summary.exit_code == ExitCode.PARTIAL
    assert (out / "__" / "y.png.annotated.png").exists()
    assert list(outside.iterdir()) == [] and not (tmp_path / "y.png.annotated.png").exists()


# --- the command line ---------------------------------------------------------------------------------


def test_cli_exit_codes_and_quiet_stderr(tree, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(tree / "b.png"), "--out", str(out), "-j", "0"]) == ExitCode.OK
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("batch: 1 done, 0 failed, 0 skipped") and "\r" not in err  # no bar
    assert main(["batch", str(tree / "b.png"), str(tmp_path / "nope.png"), "--out", str(out), "-j", "0"]) == \
        ExitCode.PARTIAL
    assert "1 skipped" in capsys.readouterr().err
    assert main(["batch", str(tree), "--out", str(tmp_path / "r.txt")]) == ExitCode.USAGE
    (tmp_path / "file").write_text("x")
    assert main(["batch", str(tree), "--out", str(tmp_path / "file" / "r.jsonl")]) == ExitCode.OUTPUT
    assert "OutputError" in capsys.readouterr().err
    assert main(["batch", str(tree), "--out", str(out), "-m", str(tmp_path / "no.keras")]) == ExitCode.MODEL


@pytest.mark.parametrize(("flag", "role", "jobs"), [("--verifier", "single-digit verifier", "0"),
                                                     ("--pair-reader", "pair reader", "1")])
def test_batch_helper_model_options(tree, tmp_path, capsys, flag, role, jobs):
    """none reads without the helper (in process, or in a worker process); a digit model given as the helper
    is a one-line ModelError."""
    out = tmp_path / "v.jsonl"
    assert main(["batch", str(tree / "b.png"), "--out", str(out), "-j", jobs, flag, "none"]) == ExitCode.OK
    assert json.loads(out.read_text().splitlines()[0])["error"] is None
    capsys.readouterr()
    mlp = Path(__file__).resolve().parents[1] / "output" / "mnist_mlp.keras"
    code = main(["batch", str(tree / "b.png"), "--out", str(tmp_path / "w.jsonl"), "-j", jobs, flag, str(mlp)])
    assert code == ExitCode.MODEL
    assert f"not a {role}" in capsys.readouterr().err


def test_readme_documents_batch_exit_codes_and_schemas():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Batch processing", 1)[1].split("\n## ", 1)[0]
    for needle in ("--scheduler", "--overwrite", "--annotate-dir", "CREATE TABLE", "| 10 |", "| 130 |",
                   "page", "exactly once"):
        assert needle in section, needle


# --- crash, Ctrl-C, Dask: real processes, real model ------------------------------------------------------


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crash") / "scans"
    for i in range(SCANS):
        write_page(root / f"{i // 16}" / f"{i:03d}.png", NUMBERS[i % len(NUMBERS)] + str(i % 10))
    (root / "0" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return root


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def batch_process(*args, **kwargs) -> subprocess.Popen:
    """``digitreader batch`` in its own process group, with SIGINT's default action even when the test run
    itself was started ignoring it (a background job of a non-interactive shell), as a terminal user's is."""
    return subprocess.Popen([sys.executable, "-m", "digitreader", "batch", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_default_sigint, **kwargs)


def wait_for_records(out: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError(f"no {count} records in {timeout} s")


def same_results(a: list[dict], b: list[dict]) -> None:
    assert keys(a) == keys(b)
    for x, y in zip(a, b):
        assert (x["text"], x["error"], x["model"]) == (y["text"], y["error"], y["model"]), x["path"]
        assert [(d["value"], d["box"], d["line"]) for d in x["digits"]] == \
               [(d["value"], d["box"], d["line"]) for d in y["digits"]]
        assert np.allclose([d["confidence"] for d in x["digits"]], [d["confidence"] for d in y["digits"]],
                           atol=1e-4)


@pytest.fixture(scope="module")
def uninterrupted(scans, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("reference") / "reference.jsonl"
    process = batch_process(scans, "--out", out, "-j", "1", "--batch-size", "4")
    _, err = process.communicate(timeout=300)
    assert process.returncode == ExitCode.PARTIAL, err  # the corrupt file
    got = records(out)
    assert len(got) == SCANS + 1 and sum(r["error"] is not None for r in got) == 1
    return got


@pytest.mark.parametrize("fmt", ["jsonl", "sqlite"])
def test_sigkill_mid_run_then_rerun_records_every_file_exactly_once(scans, uninterrupted, tmp_path, fmt):
    out = tmp_path / f"results.{fmt}"
    process = batch_process(scans, "--out", out, "-j", "2", "--batch-size", "1")
    if fmt == "jsonl":
        wait_for_records(out, 8, process)
    else:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(f"file:{out}?mode=ro", uri=True, timeout=5) as db:
                    if db.execute("SELECT count(*) FROM images").fetchone()[0] >= 8:
                        break
            except sqlite3.Error:
                pass
            time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the batch and its worker processes, at once
    process.wait(timeout=30)
    partial = records(out)
    assert 8 <= len(partial) < SCANS + 1, "killed too late to test anything"
    rerun = batch_process(scans, "--out", out, "-j", "2", "--batch-size", "3")
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == ExitCode.PARTIAL, err
    assert f"{len(partial)} skipped".encode() in err
    final = records(out)
    assert len(set(keys(final))) == len(final) == SCANS + 1
    same_results(final, uninterrupted)


def test_ctrl_c_stops_cleanly_with_a_summary_and_the_rerun_finishes(scans, uninterrupted, tmp_path):
    out = tmp_path / "results.csv"
    process = batch_process(scans, "--out", out, "-j", "2", "--batch-size", "1")
    wait_for_records(out, 6, process)
    os.killpg(process.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole process group
    _, err = process.communicate(timeout=120)
    assert process.returncode == ExitCode.INTERRUPTED, err
    assert b"interrupted:" in err and b"re-run the same command to resume" in err and b"Traceback" not in err
    rerun = batch_process(scans, "--out", out, "-j", "1")
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == ExitCode.PARTIAL, err
    same_results(records(out), uninterrupted)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_a_batch_started_ignoring_sigint_keeps_ignoring_it(scans, uninterrupted, tmp_path):
    """nohup-style or background runs: an ignored SIGINT is never turned into an interrupt, not even one
    that lands while records are being written."""
    out = tmp_path / "results.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "digitreader", "batch", str(scans), "--out", str(out), "-j", "2",
                                "--batch-size", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, preexec_fn=_ignore_sigint)
    wait_for_records(out, 3, process)
    for _ in range(20):  # some land while records are being written
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.02)
    _, err = process.communicate(timeout=300)
    assert process.returncode == ExitCode.PARTIAL, err
    same_results(records(out), uninterrupted)


def test_dask_local_cluster_gives_the_local_results(scans, uninterrupted, tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask is optional: pip install 'digitreader[dask]'")
    pytest.importorskip("fsspec", reason="fsspec URLs need the [dask] extra")
    url = scans.as_uri()
    local = tmp_path / "local.jsonl"
    assert run_batch(BatchOptions(inputs=[url], out=str(local), jobs=0, batch_size=4)).exit_code == ExitCode.PARTIAL
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        summary = run_batch(BatchOptions(inputs=[url], out=(tmp_path / "dask.jsonl").as_uri(),
                                         scheduler=cluster.scheduler_address, batch_size=4))
        assert summary.exit_code == ExitCode.PARTIAL and summary.done == SCANS and summary.failed == 1
        again = run_batch(BatchOptions(inputs=[url], out=(tmp_path / "dask.jsonl").as_uri(),
                                       scheduler=cluster.scheduler_address))
        assert again.skipped == SCANS + 1 and again.done == 0
    dask_records, local_records = records(tmp_path / "dask.jsonl"), records(local)
    assert all(r["path"].startswith("file://") for r in dask_records)
    same_results(dask_records, local_records)


def test_a_killed_worker_process_is_reported_and_its_images_are_read_again(scans, uninterrupted, tmp_path):
    psutil = pytest.importorskip("psutil", reason="psutil finds the worker processes (installed with dask)")
    out = tmp_path / "results.jsonl"
    process = batch_process(scans, "--out", out, "-j", "2", "--batch-size", "2")
    wait_for_records(out, 4, process)
    workers = [p for p in psutil.Process(process.pid).children()
               if "resource_tracker" not in " ".join(p.cmdline())]
    os.kill(workers[0].pid, signal.SIGKILL)
    _, err = process.communicate(timeout=300)
    assert process.returncode == ExitCode.PARTIAL, err  # the corrupt file only
    assert b"a worker process died (killed by SIGKILL)" in err and b" worker processes died -> " in err
    same_results(records(out), uninterrupted)


def test_progress_bar_is_drawn_when_stderr_is_a_terminal(tree, tmp_path):
    pty = pytest.importorskip("pty", reason="needs a pseudo-terminal (POSIX)")
    master, slave = pty.openpty()
    out = tmp_path / "r.jsonl"
    done = subprocess.run([sys.executable, "-m", "digitreader", "batch", str(tree), "--out", str(out), "-j", "0"],
                          stdout=subprocess.DEVNULL, stderr=slave, timeout=300)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert done.returncode == ExitCode.OK
    assert b"img/s" in shown and b"7/7" in shown and b"batch: 7 done" in shown
