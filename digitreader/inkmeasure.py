"""Two measures of the handwriting in an ink mask (uint8, 255 = ink): its stroke width and its digit height."""

from __future__ import annotations

import cv2
import numpy as np


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width of binary ink: 2 x area / perimeter."""
    contours, _ = cv2.findContours((mask > 0).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float((mask > 0).sum()) / perimeter if perimeter else 0.0


def digit_height(mask: np.ndarray) -> float:
    """Median height of the mask's components at least half as tall as the tallest (the writing)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    heights = np.array([stats[i, cv2.CC_STAT_HEIGHT] for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= 4],
                       float)
    if not len(heights):
        return 0.0
    return float(np.median(heights[heights >= 0.5 * heights.max()]))
