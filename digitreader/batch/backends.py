"""Where batch units run: in this process (``-j 0``) or in N worker processes (``-j N``).

A backend submits units (lists of :class:`~digitreader.batch.worker.Task`) and returns futures. When a
worker process dies (killed, out of memory, a crash in a native library) the pool is restarted and the
runner reads the units that were in flight one image at a time to find the culprit.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from .worker import ReaderConfig, Task, UnitResult, init_worker_process, process_unit


class Backend(Protocol):
    window: int  # units in flight (and finished, waiting to be written in order) at most

    def submit(self, tasks: list[Task]) -> Any: ...

    def wait_any(self, futures: list[Any], timeout: float) -> list[Any]: ...

    def is_worker_death(self, exc: BaseException) -> bool: ...

    def death_detail(self) -> str: ...

    def restart(self) -> None: ...

    def close(self, cancel: bool) -> None: ...


class InProcessBackend:
    """Runs each unit at once in this process (``-j 0``; tests inject a classifier here)."""

    window = 1

    def __init__(self, config: ReaderConfig, reader: Any = None) -> None:
        self.config = config
        self.reader = reader

    def submit(self, tasks: list[Task]) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(process_unit(tasks, self.config, self.reader))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def wait_any(self, futures: list[Any], timeout: float) -> list[Any]:
        return list(futures)

    def is_worker_death(self, exc: BaseException) -> bool:
        return False

    def death_detail(self) -> str:
        return ""

    def restart(self) -> None:
        pass

    def close(self, cancel: bool) -> None:
        pass


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Hold Ctrl-C in this thread while worker processes may be started. A child inherits the signal mask,
    so it cannot be interrupted while it boots, before its initializer ignores SIGINT (which would print a
    KeyboardInterrupt traceback from the child); the parent gets the signal as soon as the block ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class ProcessBackend:
    """``jobs`` spawned worker processes, each loading the model once (on its first unit)."""

    def __init__(self, config: ReaderConfig, jobs: int, window: int | None = None) -> None:
        self.config = config
        self.jobs = jobs
        self.window = window or 4 * jobs
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=init_worker_process)

    def submit(self, tasks: list[Task]) -> cf.Future:
        try:
            with _sigint_blocked():  # the pool may start a worker process here
                return self._pool.submit(process_unit, tasks, self.config)
        except cf.process.BrokenProcessPool as exc:  # a worker died since the last wait: report it like the rest
            future: cf.Future = cf.Future()
            future.set_exception(exc)
            return future

    def wait_any(self, futures: list[Any], timeout: float) -> list[Any]:
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def is_worker_death(self, exc: BaseException) -> bool:
        return isinstance(exc, cf.process.BrokenProcessPool)

    def death_detail(self) -> str:
        """How the pool's dead worker ended (e.g. 'killed by SIGKILL'), when it can be told.

        The pool terminates the surviving workers (SIGTERM) once one died, and its manager thread may be
        reaping the dead one right now: look for up to a second, preferring a code other than SIGTERM.
        """
        processes = getattr(self._pool, "_processes", None) or {}
        deadline = time.monotonic() + 1.0
        while True:
            codes = [process.exitcode for process in list(processes.values())]
            ended = [code for code in codes if code not in (None, 0)]
            ended.sort(key=lambda code: code == -signal.SIGTERM)
            if (ended and ended[0] != -signal.SIGTERM) or time.monotonic() > deadline:
                break  # SIGTERM alone may be the pool ending the survivors: wait for the culprit's code
            time.sleep(0.05)
        if not ended:
            return "ended abruptly"
        code = ended[0]
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self, cancel: bool) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


def unit_result(future: Any) -> UnitResult:
    return future.result()
