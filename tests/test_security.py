"""Security (issue 7): no pickle or code loading from user files, output paths that cannot escape.

The shipped model's pinned hash is tested in tests/test_fastpath.py
(``test_a_tampered_shipped_model_is_refused_before_loading``), Keras safe mode against a Lambda layer in
tests/test_hostile.py, and ``batch --annotate-dir`` names in tests/test_batch.py
(``test_no_output_name_can_escape_the_annotate_dir``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, draw_number

from digitreader.errors import ExitCode

PACKAGE = REPO / "digitreader"
MLP = REPO / "output" / "mnist_mlp.keras"
SOURCES = sorted(PACKAGE.rglob("*.py"))

# Ways to run code from, or unpickle, a file: none may appear in the package.
FORBIDDEN = {
    r"\bimport\s+(c?pickle|marshal|shelve|dill|cloudpickle|joblib)\b": "a pickle-family module",
    r"\bfrom\s+(c?pickle|marshal|shelve|dill|cloudpickle|joblib)\b": "a pickle-family module",
    r"allow_pickle\s*=\s*True": "np.load(..., allow_pickle=True)",
    r"\btorch\.load\(": "torch.load",
    r"\byaml\.(unsafe_)?load\(": "yaml.load",
    r"(?<![\w.])(eval|exec)\(": "eval/exec",
    r"safe_mode\s*=\s*False": "Keras unsafe loading",
    r"enable_unsafe_deserialization": "Keras unsafe loading",
    r"shell\s*=\s*True": "a shell",
    r"\bos\.system\(": "a shell",
}


def test_sources_are_found() -> None:
    assert len(SOURCES) > 20 and PACKAGE / "imageio.py" in SOURCES


@pytest.mark.parametrize("pattern", list(FORBIDDEN))
def test_no_pickle_or_code_loading_in_the_package(pattern: str) -> None:
    hits = [f"{path.relative_to(REPO)}:{n}: {line.strip()}" for path in SOURCES
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(pattern, line) and not line.lstrip().startswith("#")]
    assert not hits, f"{FORBIDDEN[pattern]}: {hits}"


def test_every_np_load_refuses_pickles_and_every_keras_load_is_safe() -> None:
    for path in [*SOURCES, *sorted((REPO / "benchmarks").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        for call in re.findall(r"np\.load\([^)]*\)", text):  # numpy's default is allow_pickle=False
            assert "allow_pickle" not in call or "allow_pickle=False" in call, f"{path.name}: {call}"
        for call in re.findall(r"load_model\([^)]*\)", text):
            assert "safe_mode=True" in call, f"{path.name}: {call}"


class _Payload:
    """Unpickling this runs code: it writes a marker file (``exec`` is found by name in builtins)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('unpickled')",)


def test_a_pickled_npz_dataset_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled.txt"
    evil = tmp_path / "evil.npz"
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    labels = np.zeros(1, np.uint8)
    np.savez(evil, x_train=payload, y_train=labels, x_test=payload, y_test=labels)
    with np.load(evil, allow_pickle=True) as data:  # the file is live: unpickling it runs the payload
        data["x_test"]
    assert marker.exists()
    marker.unlink()
    for command in (["evaluate", "--data", evil, "-m", MLP], ["train", "--arch", "mlp", "--data", evil,
                                                            "--out", tmp_path / "m.keras", "--epochs", "1"]):
        out = subprocess.run([sys.executable, "-m", "digitreader", *map(str, command)], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == ExitCode.DATA, out.stderr
        assert out.stderr.strip().splitlines()[-1].startswith("DataError: ") and "Traceback" not in out.stderr
        assert not marker.exists(), "a pickle in a user file was loaded"


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_output_files_named_from_inputs_stay_in_their_folder(tmp_path: Path) -> None:
    """Inputs with '..', spaces, separators-like and odd names: every annotated image and debug picture
    lands inside the folder given, and nothing is written anywhere else."""
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    page = cv2.imencode(".png", draw_number("31", height=40)[0])[1].tobytes()
    names = ["../up.png", "..png", "...png", "a b/../c.png", "-rf.png", "x\\..\\y.png", "new\nline.png"]
    (work / "a b").mkdir()
    for name in names:
        (work / name).write_bytes(page)
    before = _files(tmp_path)
    annotated, debug = work / "annotated", work / "debug"
    out = subprocess.run([sys.executable, "-m", "digitreader", "read", "-o", "annotated", "--debug-dir", "debug",
                          "-m", MLP, "--", *names], capture_output=True, text=True, timeout=300, cwd=work)
    assert out.returncode == ExitCode.OK, out.stderr
    assert out.stdout.count("31") == len(names)
    new = _files(tmp_path) - before
    assert new and all(annotated in p.parents or debug in p.parents for p in new), sorted(new)
    assert len([p for p in new if annotated in p.parents]) == len(names)
    assert all(p.parent in (annotated, debug) for p in new)  # flat: no name made a sub-folder
    assert not any(name in {p.name for p in new} for name in ("up.png", "c.png"))
    assert os.listdir(annotated) and os.listdir(debug)
