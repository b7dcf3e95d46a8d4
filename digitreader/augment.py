"""Training-time augmentation on uint8 MNIST batches, in NumPy/OpenCV (never inside the model).

Random affine (rotation, anisotropic zoom, shear, shift), elastic distortion, stroke
thickening/thinning and blur: the ways real handwriting and imperfect crops differ from MNIST.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    rotation_deg: float = 12.0
    zoom: float = 0.12
    aspect: float = 0.10
    shear: float = 0.15
    shift_px: float = 2.5
    elastic_p: float = 0.3
    elastic_alpha: float = 6.0
    elastic_sigma: float = 4.0
    thicken_p: float = 0.12
    thin_p: float = 0.08
    blur_p: float = 0.08

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def random_affine(rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """A 2x3 affine matrix about the image centre."""
    angle = np.deg2rad(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
    zoom = rng.uniform(1 - cfg.zoom, 1 + cfg.zoom)
    aspect = rng.uniform(1 - cfg.aspect, 1 + cfg.aspect)
    shear = rng.uniform(-cfg.shear, cfg.shear)
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[zoom * aspect, shear], [0.0, zoom / aspect]])
    centre = np.array([13.5, 13.5])
    shift = rng.uniform(-cfg.shift_px, cfg.shift_px, size=2)
    offset = centre - linear @ centre + shift
    return np.hstack([linear, offset[:, None]]).astype(np.float32)


def elastic(image: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """Simard-style elastic distortion of one 28x28 image."""
    h, w = image.shape
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma) * alpha
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma) * alpha
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


_KERNEL = np.ones((2, 2), np.uint8)


def augment_batch(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Return an augmented copy of a (N, 28, 28) uint8 batch."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        img = cv2.warpAffine(image, random_affine(rng, cfg), (28, 28), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if rng.random() < cfg.elastic_p:
            img = elastic(img, rng, cfg.elastic_alpha, cfg.elastic_sigma)
        roll = rng.random()
        if roll < cfg.thicken_p:
            img = cv2.dilate(img, _KERNEL)
        elif roll < cfg.thicken_p + cfg.thin_p:
            img = cv2.erode(img, _KERNEL)
        if rng.random() < cfg.blur_p:
            img = cv2.GaussianBlur(img, (3, 3), 0.7)
        out[i] = img
    return out
