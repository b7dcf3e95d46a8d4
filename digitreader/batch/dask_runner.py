"""Run batch units on an existing Dask distributed cluster (``--scheduler tcp://HOST:PORT``).

Each Dask worker process loads the model once (the per-process reader cache of
:mod:`digitreader.batch.worker`) and reads inputs itself, so inputs must be paths every worker sees
(a shared file system) or fsspec URLs. Records come back to the client, which alone writes the output:
exactly once, in input order, with the same resume rules as a local run. Needs ``digitreader[dask]``.
"""

from __future__ import annotations

import threading
from typing import Any

from ..errors import DependencyError, DigitReaderError, ExitCode
from .worker import ReaderConfig, Task, process_unit


class SchedulerError(DigitReaderError):
    """The Dask scheduler cannot be reached."""

    exit_code = ExitCode.USAGE


class DaskBackend:
    """Submits units as Dask tasks; the window scales with the cluster's threads."""

    def __init__(self, address: str, config: ReaderConfig, timeout: float = 15.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise DependencyError("--scheduler needs Dask distributed: pip install 'digitreader[dask]'") from None
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        threads = sum(self.client.nthreads().values()) or 1
        self.window = max(4, 2 * threads + 2)
        self.config = config
        self._changed = threading.Event()

    def submit(self, tasks: list[Task]) -> Any:
        future = self.client.submit(process_unit, tasks, self.config, pure=False)
        future.add_done_callback(lambda _: self._changed.set())
        return future

    def wait_any(self, futures: list[Any], timeout: float) -> list[Any]:
        done = [future for future in futures if future.done()]
        if not done:
            self._changed.wait(timeout)
            self._changed.clear()
            done = [future for future in futures if future.done()]
        return done

    def is_worker_death(self, exc: BaseException) -> bool:
        from distributed import KilledWorker

        return isinstance(exc, KilledWorker)

    def death_detail(self) -> str:
        return "the Dask workers running it died"

    def restart(self) -> None:
        pass  # the cluster's nannies restart dead workers

    def close(self, cancel: bool) -> None:
        self.client.close()
