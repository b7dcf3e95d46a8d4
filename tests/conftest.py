"""Shared fixtures: synthetic pages drawn with OpenCV fonts (no MNIST, no Keras needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "datasets" / "mnist.npz"
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session", autouse=True)
def isolated_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every CLI subprocess, through the environment) uses one fresh ONNX cache, never ~/.cache."""
    import os

    cache = tmp_path_factory.mktemp("model-cache")
    saved = os.environ.get("DIGITREADER_CACHE_DIR")
    os.environ["DIGITREADER_CACHE_DIR"] = str(cache)
    yield cache
    if saved is None:
        os.environ.pop("DIGITREADER_CACHE_DIR", None)
    else:
        os.environ["DIGITREADER_CACHE_DIR"] = saved


def draw_number(text: str, height: int = 80, ink: int = 20, paper: int = 235, gap: float = 0.5,
                size: tuple[int, int] | None = None) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A grey page with ``text`` drawn digit by digit; returns the page and each digit's true box."""
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, max(2, height // 10)
    scale = cv2.getFontScaleFromHeight(font, height, thickness)
    glyphs = []
    for char in text:
        (w, h), base = cv2.getTextSize(char, font, scale, thickness)
        tile = np.zeros((h + base + 2 * thickness, w + 2 * thickness), np.uint8)
        cv2.putText(tile, char, (thickness, h + thickness), font, scale, 255, thickness, cv2.LINE_AA)
        ys, xs = np.nonzero(tile > 60)
        glyphs.append(tile[ys.min():ys.max() + 1, xs.min():xs.max() + 1])
    width = sum(g.shape[1] for g in glyphs) + int(gap * height) * (len(glyphs) + 1) + 40
    page_h = max(g.shape[0] for g in glyphs) + 80
    canvas = np.zeros((page_h, width), np.uint8)
    boxes, x = [], 20 + int(gap * height)
    for g in glyphs:
        y = (page_h - g.shape[0]) // 2
        canvas[y:y + g.shape[0], x:x + g.shape[1]] = np.maximum(canvas[y:y + g.shape[0], x:x + g.shape[1]], g)
        boxes.append((x, y, g.shape[1], g.shape[0]))
        x += g.shape[1] + int(gap * height)
    alpha = canvas.astype(np.float32) / 255
    page = (paper * (1 - alpha) + ink * alpha + 0.5).astype(np.uint8)
    if size is not None:
        page = cv2.copyMakeBorder(page, 0, max(0, size[1] - page.shape[0]), 0, max(0, size[0] - page.shape[1]),
                                  cv2.BORDER_CONSTANT, value=paper)
    return page, boxes


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


class FakeClassifier:
    """Stands in for a Keras model in plumbing tests: predicts class (crop index mod 10), confidence 0.9."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        self.calls.append(len(crops))
        probs = np.full((len(crops), 10), 0.1 / 9, np.float32)
        probs[np.arange(len(crops)), np.arange(len(crops)) % 10] = 0.9
        return probs


@pytest.fixture
def fake_classifier() -> FakeClassifier:
    return FakeClassifier()


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    if not MNIST.exists():
        pytest.skip(f"full MNIST not found at {MNIST} (see dataset/README.md)")
    return MNIST
