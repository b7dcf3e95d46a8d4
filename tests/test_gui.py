"""A real OpenCV window under Xvfb: ``--show`` opens it, draws the boxes, and a key closes it."""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, draw_number

from digitreader.imageio import write_image

pytestmark = pytest.mark.gui
MLP = REPO / "output" / "mnist_mlp.keras"


@pytest.fixture
def xvfb():
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("Xvfb and xdotool are not installed (apt-get install xvfb xdotool; .ci/run does)")
    display = f":{90 + os.getpid() % 9}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = f"/tmp/.X11-unix/X{display[1:]}"
    for _ in range(100):
        if os.path.exists(socket):
            break
        time.sleep(0.05)
    else:
        server.kill()
        pytest.skip("Xvfb did not start")
    yield display
    server.terminate()
    server.wait(timeout=10)


def _find_window(display: str, name: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name], capture_output=True,
                             text=True, env={**os.environ, "DISPLAY": display})
        if out.stdout.strip():
            return out.stdout.split()[0]
        time.sleep(0.3)
    return None


def test_show_opens_a_window_with_the_overlay_and_closes_on_a_key(xvfb, tmp_path):
    page = tmp_path / "page.png"
    write_image(page, draw_number("42", height=120)[0])
    env = {**os.environ, "DISPLAY": xvfb}
    proc = subprocess.Popen([sys.executable, "-m", "digitreader", "-i", str(page), "-m", str(MLP), "--show"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        window = _find_window(xvfb, "digitreader", timeout=120)
        assert window, f"no window appeared; stderr: {proc.stderr.read1().decode() if proc.poll() else ''}"
        from PIL import ImageGrab

        coloured, deadline = 0, time.monotonic() + 10  # the first grab may predate the repaint on a busy machine
        while coloured <= 100 and time.monotonic() < deadline:
            time.sleep(0.5)
            shot = np.asarray(ImageGrab.grab(xdisplay=xvfb).convert("RGB")).astype(int)
            green = (abs(shot[..., 0] - 40) < 30) & (abs(shot[..., 1] - 170) < 30) & (abs(shot[..., 2] - 40) < 30)
            orange_or_red = (shot[..., 0] > 180) & (shot[..., 2] < 80) & (shot[..., 1] < 170)
            coloured = int((green | orange_or_red).sum())
        assert coloured > 100, "the window shows no coloured boxes"
        subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", "q"], env=env, timeout=20)
        assert proc.wait(timeout=30) == 0
        assert len(proc.stdout.read().decode().strip()) == 2
    finally:
        if proc.poll() is None:
            proc.kill()
