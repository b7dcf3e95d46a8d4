"""End to end through a real subprocess: exit codes, stdout formats, stdin, errors without tracebacks."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, draw_number

from digitreader.imageio import write_image

MLP = REPO / "output" / "mnist_mlp.keras"


def run(*args, stdin=None, env=None, cwd=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "digitreader", *map(str, args)], input=stdin,
                          capture_output=True, cwd=cwd, env=full_env, timeout=300)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    path = tmp_path_factory.mktemp("pages") / "page one.png"
    write_image(path, draw_number("31")[0])
    return path


def test_help_and_version_do_not_import_tensorflow():
    code = ("import sys; from digitreader.cli import main; rc = main(['--help']); "
            "print(rc, 'tensorflow' in sys.modules, 'cv2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "0 False False"
    version = run("--version")
    assert version.returncode == 0 and b"digitreader" in version.stdout


def test_help_lists_exit_codes():
    out = run("--help")
    assert out.returncode == 0 and b"Exit codes" in out.stdout and b"INPUT_NOT_FOUND" in out.stdout


def test_read_prints_digits_json_csv_and_annotation(page, tmp_path):
    annotated = tmp_path / "annotated.png"
    out = run("-i", page, "-m", MLP, "--format", "json", "-o", annotated)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert set(record) == {"path", "text", "lines", "digits", "model", "error"}
    assert len(record["digits"]) == 2 and record["error"] is None and record["model"] == "mnist_mlp.keras"
    assert all(set(d) == {"value", "confidence", "box", "line"} for d in record["digits"])
    assert annotated.exists() and annotated.stat().st_size > 0
    assert b"Traceback" not in out.stderr and b"tensorflow" not in out.stderr.lower()

    out = run("read", page, page, "-m", MLP, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out.stdout.decode())))
    assert rows[0] == ["path", "line", "index", "value", "confidence", "x", "y", "w", "h"] and len(rows) == 5


def test_stdin_dash(page):
    out = run("-i", "-", "-m", MLP, "--format", "json", stdin=page.read_bytes())
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["path"] == "-" and len(json.loads(out.stdout)["digits"]) == 2


@pytest.mark.parametrize("args, code, message", [
    (["-i", "missing.png", "-m", MLP], 3, b"InputNotFoundError"),
    (["-i", "NOT_IMAGE", "-m", MLP], 4, b"ImageDecodeError"),
    (["-i", "PAGE", "-m", "no_such_model.keras"], 5, b"ModelError"),
    (["-i", "PAGE", "-m", "NOT_IMAGE"], 5, b"ModelError"),
    (["-i", "PAGE", "--no-such-flag"], 2, b"No such option"),
    (["-i", "PAGE", "-m", MLP, "--show"], 8, b"DisplayError"),
])
def test_user_errors_one_line_and_exit_code(tmp_path, page, args, code, message):
    not_image = tmp_path / "text.png"
    not_image.write_text("hello")
    args = [str(page) if a == "PAGE" else str(not_image) if a == "NOT_IMAGE" else a for a in args]
    out = run(*args, env={"DISPLAY": ""}, cwd=tmp_path)
    assert out.returncode == code
    assert message in out.stderr and b"Traceback" not in out.stderr
    assert out.stdout == b""
    if code != 2:
        assert len(out.stderr.strip().splitlines()) == 1


def test_several_images_one_bad_keeps_the_good(tmp_path, page):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x00" * 10)
    out = run("read", page, bad, "-m", MLP, "--format", "json")
    assert out.returncode == 10
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["error"] is None for r in records] == [True, False]
    assert len(records[0]["digits"]) == 2


def test_default_model_works_from_any_directory(tmp_path, page):
    out = run("-i", page, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().isdigit() and len(out.stdout.strip()) == 2


def test_batch_without_out_is_a_usage_error():
    out = run("batch", "x")
    assert out.returncode == 2 and b"--out" in out.stderr
