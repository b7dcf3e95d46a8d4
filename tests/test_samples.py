"""Known answers: the shipped CNN reads every committed sample exactly (MNIST test digits, unseen in training)."""

import json

import pytest
from conftest import REPO, SAMPLES

from digitreader import DigitReader

TRUTH = json.loads((SAMPLES / "truth.json").read_text())
CNN = REPO / "output" / "mnist_cnn.keras"


@pytest.fixture(scope="module")
def reader():
    return DigitReader(CNN)


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_sample_reads_exactly(reader, name):
    result = reader.read(SAMPLES / name)
    assert result.lines == TRUTH[name]
    assert all(0.0 <= d.confidence <= 1.0 for d in result.digits)
    width, height = result.image_size
    boxes = [d.box for d in result.digits]
    assert all(0 <= x and 0 <= y and x + w <= width and y + h <= height for x, y, w, h in boxes)


def test_every_sample_has_a_truth_entry():
    images = {p.name for p in SAMPLES.glob("*.png")}
    assert images == set(TRUTH) and len(images) >= 6
    for name, lines in TRUTH.items():
        assert name.rsplit(".", 1)[0].endswith("_".join(lines))


def test_cli_prints_the_sample_number():
    import subprocess
    import sys

    name = next(n for n in TRUTH if n.startswith("one_row"))
    out = subprocess.run([sys.executable, "-m", "digitreader", "-i", str(SAMPLES / name), "-m", str(CNN)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == TRUTH[name][0]


def test_a_sample_scanned_at_a_quarter_of_its_size_reads_the_same(reader):
    """Digits 24 px tall (a low-resolution scan) are segmented on an enlarged copy; the boxes come back in
    the coordinates of the image read. Segmented as they are, this page read 651772970."""
    import cv2

    image = cv2.imread(str(SAMPLES / "one_row_651778970.png"))
    full = reader.read(image)
    small = reader.read(cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA))
    assert small.text == full.text == "651778970"
    for a, b in zip(small.digits, full.digits):
        assert all(abs(u - v / 4) <= 3 for u, v in zip(a.box, b.box))
