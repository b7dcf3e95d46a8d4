"""Webcam / video mode: stable readings, the threaded capture, keys, headless runs, recording, errors, and a
real window under Xvfb. Videos are written here from drawn numbers and a committed MNIST-derived sample."""

from __future__ import annotations

import http.server
import io
import json
import os
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLES, FakeClassifier, draw_number
from hypothesis import given, settings
from hypothesis import strategies as st

from digitreader.errors import CameraError, ExitCode
from digitreader.reader import DigitReader
from digitreader.webcam.app import RoiError, WebcamOptions, WebcamSession, clip_roi
from digitreader.webcam.capture import FrameSource, FrameTimeout
from digitreader.webcam.recorder import Recorder
from digitreader.webcam.stability import StabilityConfig, StabilityFilter

W, H = 640, 480
HANDWRITTEN = "651778970"  # samples/one_row_651778970.png: real MNIST test digits
# (number shown, frames): a glitch frame ("1" alone) and an empty gap must not produce readings.
SCRIPT = [("42", 8), ("", 3), (HANDWRITTEN, 6), ("1", 1), (HANDWRITTEN, 4), ("2024", 8)]
EXPECTED = ["42", HANDWRITTEN, "2024"]


# --- synthetic video ----------------------------------------------------------------------------------
def _paste(page: np.ndarray, picture: np.ndarray, rng: np.random.Generator) -> None:
    if picture.shape[1] > W - 40:
        scale = (W - 40) / picture.shape[1]
        picture = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    y = (H - picture.shape[0]) // 2 + int(rng.integers(-4, 5))
    x = (W - picture.shape[1]) // 2 + int(rng.integers(-4, 5))
    page[y:y + picture.shape[0], x:x + picture.shape[1]] = picture


def video_frame(text: str, rng: np.random.Generator) -> np.ndarray:
    """A 640x480 BGR frame: grey paper with ``text`` (drawn digits, or the handwritten sample), jitter, noise."""
    page = np.full((H, W, 3), 232, np.uint8)
    if text == HANDWRITTEN:
        _paste(page, cv2.imread(str(SAMPLES / f"one_row_{HANDWRITTEN}.png")), rng)
    elif text:
        _paste(page, cv2.cvtColor(draw_number(text, height=90, paper=232)[0], cv2.COLOR_GRAY2BGR), rng)
    noise = rng.normal(0, 4, page.shape)
    return np.clip(page + noise, 0, 255).astype(np.uint8)


def write_video(path: Path, script: list[tuple[str, int]], fps: float = 30.0, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    fourcc = "MJPG" if path.suffix == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    assert writer.isOpened()
    count = 0
    for text, frames in script:
        for _ in range(frames):
            writer.write(video_frame(text, rng))
            count += 1
    writer.release()
    return count


def count_frames(path: Path) -> int:
    capture, count = cv2.VideoCapture(str(path)), 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("video") / "numbers.avi"
    return path, write_video(path, SCRIPT)


def run_cli(*args: object, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "digitreader", "webcam", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)


# --- stability ------------------------------------------------------------------------------------------
def feed(config: StabilityConfig, texts: list[str]) -> list[tuple[int, str]]:
    stable = StabilityFilter(config)
    return [(i, out) for i, text in enumerate(texts) if (out := stable.update(text)) is not None]


def test_consecutive_frames_report_each_new_reading_once():
    texts = ["", "42", "42", "42", "42", "4", "42", "42", "42", "137", "137", "137", "137"]
    assert feed(StabilityConfig("consecutive", 3), texts) == [(3, "42"), (11, "137")]


def test_a_reading_shown_again_after_an_empty_gap_is_reported_again():
    texts = ["42"] * 3 + [""] * 3 + ["42"] * 3
    assert feed(StabilityConfig("consecutive", 3), texts) == [(2, "42"), (8, "42")]
    # a gap shorter than K frames is flicker: no second report
    assert feed(StabilityConfig("consecutive", 3), ["42"] * 3 + [""] * 2 + ["42"] * 3) == [(2, "42")]


def test_vote_ignores_flicker_that_consecutive_frames_would_not_survive():
    texts = ["42", "47", "42", "42", "47", "42", "42", "47", "42"]
    assert feed(StabilityConfig("consecutive", 3), texts) == []
    assert feed(StabilityConfig("vote", 5), texts) == [(3, "42")]
    assert feed(StabilityConfig("consecutive", 1), ["1", "1", "2"]) == [(0, "1"), (2, "2")]


def test_stability_config_is_checked_and_reset_forgets_history():
    with pytest.raises(ValueError):
        StabilityConfig("median", 3)
    with pytest.raises(ValueError):
        StabilityConfig("vote", 0)
    stable = StabilityFilter(StabilityConfig("consecutive", 2))
    assert stable.update("5") is None
    stable.reset()
    assert stable.update("5") is None and stable.update("5") == "5" and stable.current == "5"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["", "1", "12", "7"]), max_size=40), st.integers(1, 5),
       st.sampled_from(["consecutive", "vote"]))
def test_every_report_is_backed_by_its_frames(texts, frames, mode):
    """A reading is reported only on a frame showing it, after K equal frames (or a majority of the last N),
    never twice in a row, never empty."""
    reports = feed(StabilityConfig(mode, frames), texts)
    for n, (i, text) in enumerate(reports):
        assert text and texts[i] == text
        window = texts[max(0, i - frames + 1):i + 1]
        if mode == "consecutive":
            assert window == [text] * frames
        else:
            assert window.count(text) * 2 > frames
        if n and reports[n - 1][1] == text:  # the same number again: only after the view was empty
            assert "" in texts[reports[n - 1][0]:i]


# --- the capture thread -----------------------------------------------------------------------------
class FakeCapture:
    """A cv2.VideoCapture stand-in: ``count`` frames whose first pixel is the index, every ``period`` s; then
    ends (``then='end'``) or blocks forever (``then='block'``)."""

    def __init__(self, count: int, period: float = 0.0, opened: bool = True, then: str = "end",
                 fps: float = 0.0) -> None:
        self.count, self.period, self.opened, self.then, self.fps = count, period, opened, then, fps
        self.produced = 0
        self.released = threading.Event()

    def isOpened(self) -> bool:  # noqa: N802
        return self.opened

    def read(self):
        if self.produced >= self.count:
            if self.then == "block":  # a stalled camera: read() does not return for a while
                self.released.wait(0.5)
            return False, None
        time.sleep(self.period)
        image = np.zeros((4, 4, 3), np.uint8)
        image[0, 0, 0] = self.produced % 256
        self.produced += 1
        return True, image

    def get(self, prop: int) -> float:
        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.released.set()


def drain(source: FrameSource, delay: float = 0.0) -> list[int]:
    indices = []
    while (frame := source.get()) is not None:
        assert frame.image[0, 0, 0] == frame.index % 256
        indices.append(frame.index)
        time.sleep(delay)
    return indices


def test_a_file_source_delivers_every_frame_in_order_to_a_slow_reader():
    capture = FakeCapture(40)
    with FrameSource(lambda: capture, live=False, name="clip", timeout=5) as source:
        assert drain(source, delay=0.005) == list(range(40))
        assert source.dropped == 0


def test_a_live_source_drops_stale_frames_and_keeps_the_newest():
    capture = FakeCapture(150, period=0.002, then="block")
    with FrameSource(lambda: capture, live=True, name="camera 0", timeout=0.5) as source:
        indices = []
        with pytest.raises(FrameTimeout, match="stalled"):
            while True:
                indices.append(source.get().index)
                time.sleep(0.03)
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    assert source.dropped > 0 and len(indices) + source.dropped <= 150 and len(indices) < 100


def test_a_source_that_cannot_be_opened_or_sends_nothing_fails_with_a_camera_error():
    with FrameSource(lambda: FakeCapture(5, opened=False), live=True, name="camera 3", timeout=5) as source:
        with pytest.raises(CameraError, match="cannot open camera 3"):
            source.wait_opened()

    def broken():
        raise cv2.error("backend exploded")

    with FrameSource(broken, live=True, name="camera 4", timeout=5) as source:
        with pytest.raises(CameraError, match="backend exploded"):
            source.get()
    with FrameSource(lambda: FakeCapture(0, then="block"), live=True, name="camera 5", timeout=0.3) as source:
        with pytest.raises(FrameTimeout, match="no frame within 0.3 s"):
            source.get()
    assert FrameTimeout("x").exit_code == ExitCode.CAMERA and FrameTimeout("x").name == "CameraError"


def test_a_live_stream_that_ends_is_an_error_but_a_file_that_ends_is_not():
    with FrameSource(lambda: FakeCapture(3), live=True, name="rtsp://cam", timeout=5) as source:
        with pytest.raises(CameraError, match="ended or dropped after 3 frames"):
            drain(source)
    with FrameSource(lambda: FakeCapture(3), live=False, name="clip", timeout=5) as source:
        assert drain(source) == [0, 1, 2] and source.get() is None


def test_realtime_plays_a_file_at_its_frame_rate():
    with FrameSource(lambda: FakeCapture(6, fps=20.0), live=False, name="clip", timeout=5, realtime=True) as src:
        start = time.monotonic()
        assert drain(src) == list(range(6))
        assert time.monotonic() - start >= 5 / 20 * 0.9


# --- the session, in process (fake classifier: no TensorFlow) --------------------------------------------
class _ImagesCapture(FakeCapture):
    def __init__(self, images: list[np.ndarray]) -> None:
        super().__init__(len(images))
        self.images = images

    def read(self):
        if self.produced >= len(self.images):
            return False, None
        self.produced += 1
        return True, self.images[self.produced - 1]


def two_numbers_page() -> np.ndarray:
    """'42' on the left and '7' on the right of one 640x480 frame."""
    page = np.full((H, W), 235, np.uint8)
    left, right = draw_number("42", height=80)[0], draw_number("7", height=80)[0]
    page[100:100 + left.shape[0], 10:10 + left.shape[1]] = left
    page[100:100 + right.shape[0], 420:420 + right.shape[1]] = right
    return cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)


def session(images: list[np.ndarray], tmp_path: Path, **options) -> tuple[WebcamSession, io.StringIO]:
    out = io.StringIO()
    reader = DigitReader(FakeClassifier())
    opts = WebcamOptions(display=False, snapshot_dir=tmp_path, stability=StabilityConfig("consecutive", 2),
                         **options)
    source = FrameSource(lambda: _ImagesCapture(images), live=False, name="frames", timeout=5)
    return WebcamSession(reader, source, opts, out=out), out


def test_the_roi_limits_reading_and_boxes_stay_in_frame_coordinates(tmp_path):
    page = two_numbers_page()
    run, _ = session([page], tmp_path)
    assert len(run.read_frame(page).digits) == 3
    run.roi = (400, 50, 200, 200)
    digits = run.read_frame(page).digits
    assert len(digits) == 1 and digits[0].box[0] >= 420 and digits[0].box[1] >= 100
    full = run.read_frame(page).digits
    run.options.scale = 0.5  # read at half size: the same digit, its box back in full-frame pixels
    half = run.read_frame(page).digits
    assert len(half) == 1 and all(abs(a - b) <= 3 for a, b in zip(half[0].box, full[0].box))
    run.roi = None
    whole_half, whole_full = run.read_frame(page).digits, session([page], tmp_path)[0].read_frame(page).digits
    assert len(whole_half) == len(whole_full) == 3
    assert all(abs(a - b) <= 3 for h, f in zip(whole_half, whole_full) for a, b in zip(h.box, f.box))
    run.options.scale = 1.0
    run.roi = (700, 0, 50, 50)
    with pytest.raises(RoiError, match="outside the 640x480 frame"):
        run.read_frame(page)
    assert clip_roi((600, 400, 100, 100), W, H) == (600, 400, 40, 80) and clip_roi((0, 0, 5, 5), 0, 0) is None


@pytest.mark.parametrize("workers", [1, 2])
def test_a_headless_session_prints_json_lines_and_records_every_frame(tmp_path, workers):
    blank = np.full((H, W, 3), 235, np.uint8)
    images = [two_numbers_page()] * 3 + [blank] * 3 + [two_numbers_page()] * 2
    run, out = session(images, tmp_path, record=tmp_path / "out.avi", workers=workers)
    assert run.workers == workers
    assert run.run() == ExitCode.OK
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["frame"] for r in records] == [1, 7]
    first = records[0]
    assert set(first) >= {"timestamp", "frame", "text", "lines", "digits", "source", "model"}
    assert first["timestamp"].endswith("Z") and len(first["digits"]) == 3 and first["model"] == "fake"
    assert all(set(d) == {"value", "confidence", "box", "line"} for d in first["digits"])
    assert run.frames == 8 and len(run.latencies) == 8 and count_frames(tmp_path / "out.avi") == 8
    assert run.source_ended


def test_a_recorded_live_source_plays_in_real_time(tmp_path):
    """Frames dropped while reading repeat the overlay in the recording: one written frame per camera frame."""
    images = [two_numbers_page()] * 40
    capture = _ImagesCapture(images)
    capture.read = lambda inner=capture.read: (time.sleep(0.005), inner())[1]  # a 200 fps camera
    source = FrameSource(lambda: capture, live=True, name="camera 0", timeout=5)
    opts = WebcamOptions(display=False, record=tmp_path / "live.avi", stability=StabilityConfig("consecutive", 2))
    run = WebcamSession(DigitReader(FakeClassifier()), source, opts, out=io.StringIO())
    with pytest.raises(CameraError, match="ended or dropped"):
        run.run()
    first, last = run.record_start, run.last[0].index
    assert run.frames < last - first + 1 and source.dropped > 0
    assert count_frames(tmp_path / "live.avi") == last - first + 1


def test_max_frames_stops_early_and_reports_only_what_was_read(tmp_path):
    run, out = session([two_numbers_page()] * 10, tmp_path, max_frames=4, workers=2)
    assert run.run() == ExitCode.OK
    assert run.frames == 4 and not run.source_ended and len(out.getvalue().splitlines()) == 1


def test_keys_quit_pause_snapshot_and_change_the_minimum_confidence(tmp_path):
    run, _ = session([two_numbers_page()], tmp_path)
    run.on_key(-1)
    assert run.snapshot() == []  # nothing to save before the first frame
    with run.source:
        run.step(run.source.get())
    run.on_key(ord(" "))
    assert run.paused
    run.on_key(ord(" "))
    assert not run.paused
    for _ in range(3):
        run.on_key(ord("+"))
    assert run.reader.min_confidence == pytest.approx(0.15)
    run.on_key(ord("-"))
    assert run.reader.min_confidence == pytest.approx(0.10)
    for _ in range(30):
        run.on_key(ord("-"))
    assert run.reader.min_confidence == 0.0
    run.on_key(ord("s"))
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert len(saved) == 3 and saved[0].endswith(".json") and saved[1].endswith(".png") and ".raw." in saved[2]
    meta, png, raw = (tmp_path / name for name in saved)
    assert cv2.imread(str(png)).shape == (H, W, 3) and np.array_equal(cv2.imread(str(raw)), two_numbers_page())
    assert json.loads(meta.read_text())["frame"] == 0 and len(json.loads(meta.read_text())["digits"]) == 3
    run.on_key(ord("q") | 0x100000)  # modifier bits are ignored
    assert not run.running
    run.running = True
    run.on_key(27)
    assert not run.running


def test_the_recorder_rejects_unknown_formats_and_missing_folders(tmp_path):
    from digitreader.errors import OutputError

    with pytest.raises(OutputError, match="use one of"):
        Recorder(tmp_path / "out.webm", 30)
    with pytest.raises(OutputError, match="does not exist"):
        Recorder(tmp_path / "missing" / "out.mp4", 30)


# --- end to end through the command line (the shipped CNN) ------------------------------------------
def test_headless_video_gives_the_stable_readings_in_order_and_records_every_frame(video, tmp_path):
    path, frames = video
    out = run_cli("--source", path, "--no-display", "--record", tmp_path / "annotated.mp4")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["text"] for r in records] == EXPECTED
    assert [r["frame"] for r in records] == sorted(r["frame"] for r in records)
    for record in records:
        assert len(record["digits"]) == len(record["text"]) and record["model"] == "mnist_cnn.keras"
        assert all(0 <= x and x + w <= W and 0 <= y and y + h <= H for x, y, w, h in
                   (d["box"] for d in record["digits"]))
        assert record["video_time"] == pytest.approx(record["frame"] / 30, abs=1e-3)
    assert count_frames(tmp_path / "annotated.mp4") == frames
    capture = cv2.VideoCapture(str(tmp_path / "annotated.mp4"))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(30, abs=0.5)
    capture.release()


def test_roi_text_format_and_vote_from_the_command_line(video):
    path, _ = video
    # the left half of the frame: the first digits of each number
    out = run_cli("--source", path, "--no-display", "--format", "text", "--vote", "5", "--roi", "0,0,320,480",
                  "--workers", "1")
    assert out.returncode == 0, out.stderr
    readings = out.stdout.split()
    assert len(readings) == len(EXPECTED), readings
    assert all(full.startswith(part) and part != full for part, full in zip(readings, EXPECTED)), readings


def test_source_errors_give_one_line_and_an_exit_code_without_hanging(tmp_path):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    cases = [
        (["--source", tmp_path / "missing.mp4", "--no-display"], ExitCode.INPUT_NOT_FOUND, "not found"),
        (["--camera", "57", "--no-display", "--timeout", "5"], ExitCode.CAMERA, "cannot open camera 57"),
        (["--source", not_video, "--no-display"], ExitCode.CAMERA, "cannot open video source"),
        (["--camera", "1", "--source", not_video], ExitCode.USAGE, "not both"),
        (["--source", not_video, "--record", tmp_path / "x.webm", "--no-display"], ExitCode.OUTPUT, "use one of"),
    ]
    for args, code, message in cases:
        out = run_cli(*args, timeout=60)
        assert out.returncode == code, (args, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr
        if code != ExitCode.USAGE:
            assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_a_stream_that_never_sends_a_frame_times_out(tmp_path):
    """A server that accepts the connection and then says nothing: the first frame never comes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    try:
        start = time.monotonic()
        out = run_cli("--source", f"http://127.0.0.1:{port}/stream.mjpg", "--no-display", "--timeout", "1",
                      timeout=60)
        assert out.returncode == ExitCode.CAMERA, out.stderr
        assert "CameraError:" in out.stderr and "Traceback" not in out.stderr
        assert time.monotonic() - start < 50
    finally:
        server.close()


class _MjpegStream(http.server.BaseHTTPRequestHandler):
    """An IP-camera-like MJPEG stream over HTTP: '42' at 30 fps until ``stop`` is set (at most 60 s), then the
    camera goes away."""

    frame = b""
    stop = threading.Event()

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for _ in range(30 * 60):
            if self.stop.is_set():
                break
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                             % (len(self.frame), self.frame))
            time.sleep(1 / 30)

    def log_message(self, *args) -> None:
        pass


def test_a_live_stream_is_read_and_its_end_is_reported_as_a_dropped_source():
    _MjpegStream.frame = cv2.imencode(".jpg", video_frame("42", np.random.default_rng(1)))[1].tobytes()
    _MjpegStream.stop.clear()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _MjpegStream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    proc = subprocess.Popen([sys.executable, "-m", "digitreader", "webcam", "--source", url, "--no-display",
                             "-f", "text", "--timeout", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # the stable reading, while the stream still runs
        _MjpegStream.stop.set()  # the camera goes away
        rest, errors = proc.communicate(timeout=60)
    finally:
        _MjpegStream.stop.set()
        server.shutdown()
        server.server_close()
        if proc.poll() is None:
            proc.kill()
    assert first.strip() == "42" and rest.strip() == "", errors
    assert proc.returncode == ExitCode.CAMERA and "ended or dropped" in errors and "Traceback" not in errors


def test_the_window_needs_a_display(video):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = subprocess.run([sys.executable, "-m", "digitreader", "webcam", "--source", str(video[0])],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == ExitCode.DISPLAY and "--no-display" in out.stderr


# --- a real window under Xvfb ------------------------------------------------------------------------
@pytest.fixture
def xvfb():
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("Xvfb and xdotool are not installed (apt-get install xvfb xdotool; .ci/run does)")
    # -displayfd: Xvfb picks a free display itself and writes its number (other test runs may share the machine)
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_end,))
    os.close(write_end)
    number = b""
    with os.fdopen(read_end, "rb") as pipe:
        ready = select.select([pipe], [], [], 20)[0]
        while ready and not number.endswith(b"\n"):
            chunk = os.read(pipe.fileno(), 16)
            if not chunk:
                break
            number += chunk
    if not number.strip().isdigit():
        server.kill()
        pytest.skip("Xvfb did not start")
    display = f":{int(number)}"
    yield display
    server.terminate()
    server.wait(timeout=10)


def _xdotool(display: str, *args: str) -> str:
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=20,
                          env={**os.environ, "DISPLAY": display}).stdout


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def _screenshot(display: str) -> np.ndarray:
    from PIL import ImageGrab

    return np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB")).astype(int)


def _green_pixels(shot: np.ndarray) -> int:
    """Pixels of the green of confident digit boxes (RGB about 40, 170, 40)."""
    return int(((abs(shot[..., 0] - 40) < 30) & (abs(shot[..., 1] - 170) < 30) & (abs(shot[..., 2] - 40) < 30)).sum())


def _band_pixels(shot: np.ndarray) -> int:
    """Pixels of the dark status band behind "reading: ... fps" (RGB 32, 32, 32)."""
    return int((shot == 32).all(axis=-1).sum())


@pytest.mark.gui
def test_the_window_shows_the_overlay_takes_keys_and_selects_a_region(xvfb, video, tmp_path):
    env = {**os.environ, "DISPLAY": xvfb}
    proc = subprocess.Popen([sys.executable, "-m", "digitreader", "webcam", "--source", str(video[0]),
                             "--snapshot-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        found = _wait_for(lambda: _xdotool(xvfb, "search", "--onlyvisible", "--name", "digitreader webcam"), 120)
        assert found, f"no window appeared; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"
        window = _xdotool(xvfb, "search", "--onlyvisible", "--name", "digitreader webcam").split()[0]
        snapshots = lambda: sorted(tmp_path.glob("snapshot-*.json"))  # noqa: E731
        # the video ends quickly; the window then holds its last frame ("2024") until q
        for _ in range(3):
            time.sleep(1.0)
            _xdotool(xvfb, "windowfocus", "--sync", window, "key", "s")
            if _wait_for(lambda: snapshots() and json.loads(snapshots()[-1].read_text())["stable"] == "2024", 5):
                break
        assert json.loads(snapshots()[-1].read_text())["stable"] == "2024"
        # the window repaints on its own schedule: under load the first grab can predate the overlay
        assert _wait_for(lambda: _green_pixels(_screenshot(xvfb)) > 200, 10), "the window shows no boxes"
        assert _band_pixels(_screenshot(xvfb)) > 5000, "the window shows no status band"

        # r: the raw frame is shown for selection (no status band); drag a rectangle over the right half, Enter
        x, y = (int(v) for v in _xdotool(xvfb, "getwindowgeometry", window).split("Position: ")[1].split()[0]
                .split(","))
        count = len(snapshots())
        _xdotool(xvfb, "windowfocus", "--sync", window, "key", "r")
        assert _wait_for(lambda: _band_pixels(_screenshot(xvfb)) < 1000, 20), "r did not start the selection"
        _xdotool(xvfb, "mousemove", str(x + 330), str(y + 60), "mousedown", "1")
        for step in range(1, 11):
            _xdotool(xvfb, "mousemove", str(x + 330 + 29 * step), str(y + 60 + 40 * step))
        _xdotool(xvfb, "mouseup", "1")
        time.sleep(0.3)
        _xdotool(xvfb, "key", "Return")
        assert _wait_for(lambda: _band_pixels(_screenshot(xvfb)) > 5000, 20), "the selection did not end"
        # a late snapshot from the s presses above may land after ``count``: wait for one taken with the region
        for _ in range(3):
            _xdotool(xvfb, "windowfocus", "--sync", window, "key", "s")
            if _wait_for(lambda: len(snapshots()) > count
                         and json.loads(snapshots()[-1].read_text())["roi"] is not None, 10):
                break
        assert len(snapshots()) > count, "no snapshot after the region was selected"
        selected = json.loads(snapshots()[-1].read_text())
        assert selected["roi"] is not None and selected["roi"][0] >= 300, selected["roi"]
        assert 0 < len(selected["digits"]) < 4 and all(d["box"][0] >= selected["roi"][0]
                                                       for d in selected["digits"])

        _xdotool(xvfb, "windowfocus", "--sync", window, "key", "q")
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read().split() == EXPECTED
    finally:
        if proc.poll() is None:
            proc.kill()
