"""The batch progress bar (stderr, only when it is a terminal) and the end-of-run summary."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import DigitReaderError, ExitCode


@dataclass
class Summary:
    """What a batch run did. ``exit_code`` is the process exit code documented in the README."""

    out: str = ""
    done: int = 0  # read this run
    failed: int = 0  # recorded with an error this run
    skipped: int = 0  # already recorded by an earlier run
    skipped_failed: int = 0  # ... of which recorded with an error
    duplicates: int = 0  # the same file and page named twice in this run's inputs
    digits: int = 0
    seconds: float = 0.0
    annotation_errors: int = 0
    worker_deaths: int = 0
    interrupted: bool = False
    fatal: DigitReaderError | None = None

    @property
    def images_per_second(self) -> float:
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.fatal is not None:
            return int(self.fatal.exit_code)
        if self.interrupted:
            return int(ExitCode.INTERRUPTED)
        if self.failed or self.skipped_failed or self.annotation_errors:
            return int(ExitCode.PARTIAL)
        return int(ExitCode.OK)

    def line(self) -> str:
        earlier = f" ({self.skipped_failed} failed earlier)" if self.skipped_failed else ""
        skipped = f"{self.skipped} skipped{earlier}"
        parts = [f"{self.done} done", f"{self.failed} failed", skipped]
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicate inputs ignored")
        parts += [f"{self.digits} digits", f"{self.images_per_second:.1f} images/s ({self.seconds:.1f} s)"]
        if self.annotation_errors:
            parts.append(f"{self.annotation_errors} annotated pictures not written")
        if self.worker_deaths:
            parts.append(f"{self.worker_deaths} worker processes died")
        head = "interrupted" if self.interrupted else ("stopped" if self.fatal else "batch")
        tail = "; re-run the same command to resume" if self.interrupted or self.fatal else ""
        return f"{head}: " + ", ".join(parts) + f" -> {self.out}{tail}"


class Progress:
    """A tqdm bar with images/s and ETA on stderr when it is a terminal; nothing otherwise.

    The total is counted in a background thread (a second walk over the inputs' names) so the first
    images are read at once.
    """

    def __init__(self, enabled: bool, count: Callable[[], Iterable[Any]] | None = None) -> None:
        self._bar = None
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        try:
            sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
        except (OSError, ValueError, AttributeError):
            sized = False
        self._bar = tqdm(total=None, unit="img", file=sys.stderr, smoothing=0.1, desc="batch",
                         dynamic_ncols=sized, ncols=None if sized else 100,  # a terminal without a size
                         nrows=None if sized else 50)
        self._total: int | None = None
        if count is not None:
            threading.Thread(target=self._count, args=(count,), daemon=True).start()

    def _count(self, count: Callable[[], Iterable[Any]]) -> None:
        try:
            self._total = sum(1 for _ in count())
        except Exception:  # a total is a nicety; the batch reports its own errors
            self._total = None

    def update(self, n: int = 1, failed: int = 0) -> None:
        if self._bar is None:
            return
        if self._total is not None and self._bar.total != self._total:
            self._bar.total = self._total
            self._bar.refresh()
        self._bar.update(n)
        if failed:
            self._bar.set_postfix(failed=failed, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
