"""Stable readings: a frame's text counts only once it has held for K frames, or wins a vote over N.

Pure Python, no OpenCV: :class:`StabilityFilter` sees one text per frame and says when the stable
reading changes. An empty text (no digits in view) is a state too: it clears the stable reading, so the
same number shown again after a gap is reported again.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class StabilityConfig:
    """``consecutive``: K identical frames in a row; ``vote``: a strict majority of the last N frames."""

    mode: str = "consecutive"
    frames: int = 3

    def __post_init__(self) -> None:
        if self.mode not in ("consecutive", "vote"):
            raise ValueError("mode must be 'consecutive' or 'vote'")
        if self.frames < 1:
            raise ValueError("frames must be at least 1")

    def describe(self) -> str:
        if self.mode == "vote":
            return f"majority of the last {self.frames} frames"
        return f"{self.frames} identical frames in a row"


class StabilityFilter:
    """Feed one text per frame to :meth:`update`; it returns a text when that text has just become the
    stable reading (once per change; never for the empty text). ``current`` is the stable text now."""

    def __init__(self, config: StabilityConfig | None = None) -> None:
        self.config = config or StabilityConfig()
        self.current: str = ""
        self._window: deque[str] = deque(maxlen=self.config.frames)
        self._run_text: str | None = None
        self._run_length = 0

    def reset(self) -> None:
        """Forget the history (after the region of interest changes, say); the stable reading is kept."""
        self._window.clear()
        self._run_text, self._run_length = None, 0

    def _stable_after(self, text: str) -> str | None:
        """Record ``text`` for one frame; the text that is stable after it, or None (no decision)."""
        if self.config.mode == "consecutive":
            if text == self._run_text:
                self._run_length += 1
            else:
                self._run_text, self._run_length = text, 1
            return text if self._run_length >= self.config.frames else None
        self._window.append(text)
        winner, votes = Counter(self._window).most_common(1)[0]
        return winner if votes * 2 > self.config.frames else None

    def update(self, text: str) -> str | None:
        """One frame's text. Returns it when a new non-empty reading became stable on this frame.

        (A reading can only become stable on a frame showing it, so the caller's current frame result
        is the one to report.)"""
        stable = self._stable_after(text)
        if stable is None or stable == self.current:
            return None
        self.current = stable
        return stable or None
