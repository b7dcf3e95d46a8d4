"""The batch loop: stream items, skip recorded ones, run units on a backend, write records in input order.

Exactly once: an item is skipped when the output already holds its key (input path + page); records
are written by this process only, in input order, each group durable (fsync / a committed transaction)
before the next. Memory: the inputs are streamed, at most ``window`` units are in flight or waiting to
be written, and the only per-item state is a 16-byte key in a set.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DigitReaderError, ExitCode
from ..imagesize import DEFAULT_MAX_PIXELS
from ..result import Result
from .backends import Backend, InProcessBackend, ProcessBackend
from .inputs import Item, item_key, iter_items, iter_sources, parse_extensions
from .progress import Progress, Summary
from .sinks import Sink, open_sink
from .worker import ReaderConfig, Task, UnitResult, make_record

log = logging.getLogger("digitreader.batch")

DEFAULT_BATCH_SIZE = 16  # images per classifier call (and per unit of work)
MAX_CONSECUTIVE_DEATHS = 3
POLL_SECONDS = 0.5


class WorkerError(DigitReaderError):
    """Worker processes keep dying even on single images (the model or a library crashes them)."""

    exit_code = ExitCode.INTERNAL


@dataclass
class BatchOptions:
    """Everything ``digitreader batch`` does, as one object (the CLI builds it; tests and scripts too)."""

    inputs: list[str]
    out: str
    fmt: str | None = None  # jsonl | csv | sqlite; default from out's extension
    jobs: int = 0  # worker processes; 0 reads in this process
    glob: str | None = None
    extensions: str | None = None  # "png,jpg"; default: every image type OpenCV reads
    overwrite: bool = False
    annotate_dir: str | None = None
    model: str | None = None
    cache_dir: str | None = None
    polarity: str = "auto"
    min_confidence: float = 0.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    verifier: str | None = "auto"  # see DigitReader
    pair_reader: str | None = "auto"  # see DigitReader
    run_reader: str | None = "auto"  # see DigitReader
    batch_size: int = DEFAULT_BATCH_SIZE
    scheduler: str | None = None  # a Dask scheduler address: tcp://HOST:PORT
    classifier: Any = None  # an in-process classifier object (jobs=0 only), e.g. a test double
    progress: bool = False
    staging_dir: Path | None = None  # local copies of remote (fsspec) outputs

    def reader_config(self) -> ReaderConfig:
        return ReaderConfig(model=self.model, cache_dir=self.cache_dir, polarity=self.polarity,
                            min_confidence=self.min_confidence, max_pixels=self.max_pixels,
                            annotate_dir=self.annotate_dir, verifier=self.verifier,
                            pair_reader=self.pair_reader, run_reader=self.run_reader)

    def items(self) -> Iterator[Item]:
        return iter_items(iter_sources(self.inputs, self.glob, parse_extensions(self.extensions)))


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def make_backend(options: BatchOptions) -> Backend:
    config = options.reader_config()
    if options.scheduler:
        from .dask_runner import DaskBackend

        return DaskBackend(options.scheduler, config)
    if options.jobs <= 0 or options.classifier is not None:
        reader = None
        if options.classifier is not None:
            from ..reader import DigitReader

            reader = DigitReader(options.classifier, polarity=options.polarity,
                                 min_confidence=options.min_confidence, max_pixels=options.max_pixels,
                                 verifier=options.verifier, pair_reader=options.pair_reader,
                                 run_reader=options.run_reader)
        return InProcessBackend(config, reader)
    return ProcessBackend(config, options.jobs)


def run_batch(options: BatchOptions, backend: Backend | None = None, sink: Sink | None = None) -> Summary:
    """Run a batch to the end, or until Ctrl-C / a fatal error; the summary says which (``exit_code``).

    Fatal errors (the output cannot be written, the model cannot be loaded) stop the run: the records
    already written stay, and :attr:`Summary.fatal` holds the error. Bad input files never stop it.
    """
    started = time.monotonic()
    summary = Summary(out=options.out)
    progress = Progress(False)
    try:
        backend = backend or make_backend(options)  # a bad --scheduler is refused before the output is touched
        try:
            sink = sink or open_sink(options.out, options.fmt, options.overwrite, options.staging_dir)
        except BaseException:
            backend.close(cancel=True)
            raise
        try:
            if options.annotate_dir is not None:
                _prepare_annotate_dir(options.annotate_dir)
            progress = Progress(options.progress, count=options.items)
            _Run(options, sink, summary, progress).loop(backend)
        finally:
            progress.close()
            sink.close()
    except DigitReaderError as exc:
        summary.fatal = summary.fatal or exc
    finally:
        summary.seconds = time.monotonic() - started
    return summary


def _prepare_annotate_dir(folder: str) -> None:
    from ..errors import OutputError
    from .fs import is_url, url_to_fs

    try:
        if is_url(folder):
            fs, inner = url_to_fs(folder)
            fs.makedirs(inner, exist_ok=True)
        else:
            os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None


class _Run:
    """One run's state: units in flight, finished units waiting for their turn, and the counts."""

    def __init__(self, options: BatchOptions, sink: Sink, summary: Summary, progress: Progress) -> None:
        self.options = options
        self.sink = sink
        self.summary = summary
        self.progress = progress
        self.seen: set[bytes] = set()
        self.units: dict[int, list[Task]] = {}
        self.ready: dict[int, list[dict[str, Any]]] = {}
        self.next_write = 0
        self.stopping = False
        self.model_name = ""

    def loop(self, backend: Backend) -> None:
        self.backend = backend
        units = self._units()
        inflight: dict[Any, int] = {}
        next_seq, exhausted, cancel = 0, False, False
        try:
            while True:
                try:
                    while not self.stopping and not exhausted and next_seq - self.next_write < backend.window:
                        tasks = next(units, None)
                        if tasks is None:
                            exhausted = True
                            break
                        self.units[next_seq] = tasks
                        inflight[backend.submit(tasks)] = next_seq
                        next_seq += 1
                    if not inflight:
                        break
                    self._collect(backend.wait_any(list(inflight), POLL_SECONDS), inflight)
                    self._write_ready()
                except KeyboardInterrupt:
                    if self.stopping:
                        cancel = True
                        break
                    self.stopping = self.summary.interrupted = True
                    log.warning("stopping: finishing %d units in flight (Ctrl-C again to stop at once)", len(inflight))
        except BaseException:
            cancel = True
            raise
        finally:
            backend.close(cancel=cancel)

    def _units(self) -> Iterator[list[Task]]:
        """Units of up to batch_size images not yet recorded; pages of one file share a task."""
        tasks: list[Task] = []
        images = 0
        for item in self.options.items():
            key = item_key(item.path, item.page)
            if key in self.seen:
                self.summary.duplicates += 1
                continue
            self.seen.add(key)
            status = self.sink.lookup(item.path, item.page)
            if status is not None:
                self.summary.skipped += 1
                self.summary.skipped_failed += int(status)
                self.progress.update(1)
                continue
            last = tasks[-1] if tasks else None
            if last is not None and last.path == item.path and last.total_pages == item.pages:
                tasks[-1] = Task(last.path, last.total_pages, (*last.pages, item.page), (*last.rels, item.rel),
                                 last.error)
            else:
                tasks.append(Task(item.path, item.pages, (item.page,), (item.rel,), item.error))
            images += 1
            if images >= self.options.batch_size:
                yield tasks
                tasks, images = [], 0
        if tasks:
            yield tasks

    def _collect(self, done: list[Any], inflight: dict[Any, int]) -> None:
        broken = []
        for future in done:
            seq = inflight.pop(future)
            try:
                result: UnitResult = future.result()
            except DigitReaderError:
                raise  # the model cannot be loaded: every unit would fail the same way
            except Exception as exc:
                if not self.backend.is_worker_death(exc):
                    raise
                broken.append(seq)
                continue
            self._finished(seq, result)
        if broken:
            # The pool is gone: every unit in flight failed with it. Gather them, restart, isolate the culprit.
            for future in list(inflight):
                seq = inflight.pop(future)
                try:
                    self._finished(seq, future.result())
                except Exception as exc:
                    if not self.backend.is_worker_death(exc):
                        raise
                    broken.append(seq)
            detail = self.backend.death_detail()
            self.summary.worker_deaths += 1
            log.error("a worker process died (%s); reading the %d units in flight again, one image at a time",
                      detail, len(broken))
            self.backend.restart()
            for seq in sorted(broken):
                self._finished(seq, self._isolate(self.units[seq]))

    def _isolate(self, tasks: list[Task]) -> UnitResult:
        """Read a unit one image per unit of work; an image that kills its worker is recorded as failed."""
        out = UnitResult(records=[])
        deaths = 0
        for task in tasks:
            for page, rel in zip(task.pages, task.rels):
                single = Task(task.path, task.total_pages, (page,), (rel,), task.error)
                future = self.backend.submit([single])
                while not self.backend.wait_any([future], POLL_SECONDS):
                    pass
                try:
                    result = future.result()
                except DigitReaderError:
                    raise
                except Exception as exc:
                    if not self.backend.is_worker_death(exc):
                        raise
                    deaths += 1
                    self.summary.worker_deaths += 1
                    detail = self.backend.death_detail()
                    if deaths >= MAX_CONSECUTIVE_DEATHS:
                        raise WorkerError(f"worker processes keep dying ({detail}), last while reading "
                                          f"{task.path}; is the model or an image library crashing?") from None
                    log.error("%s: the worker process died while reading it (%s)", task.path, detail)
                    self.backend.restart()
                    error = f"the worker process died while reading this image ({detail})"
                    out.records.append(make_record(Result(task.path, model=self._model_name(), error=error,
                                                          min_confidence=self.options.min_confidence), page))
                    continue
                deaths = 0
                out.records.extend(result.records)
                out.warnings.extend(result.warnings)
        return out

    def _model_name(self) -> str:
        if self.model_name:
            return self.model_name
        if self.options.classifier is not None:
            return self.options.classifier.name
        return os.path.basename(self.options.model) if self.options.model else "mnist_cnn.keras"

    def _finished(self, seq: int, result: UnitResult) -> None:
        self.ready[seq] = result.records
        if result.records and not self.model_name:
            self.model_name = result.records[0]["model"]
        for warning in result.warnings:
            self.summary.annotation_errors += 1
            log.error("%s", warning)

    def _write_ready(self) -> None:
        """Write finished units in input order; each write is durable before the counts move on."""
        while self.next_write in self.ready:
            with _interrupts_deferred():  # Ctrl-C never splits a write from its bookkeeping
                records = self.ready.pop(self.next_write)
                self.units.pop(self.next_write, None)
                self.sink.write(records)
                self.next_write += 1
                self._count(records)

    def _count(self, records: list[dict[str, Any]]) -> None:
        failed = sum(record["error"] is not None for record in records)
        self.summary.failed += failed
        self.summary.done += len(records) - failed
        self.summary.digits += sum(len(record["digits"]) for record in records)
        for record in records:
            if record["error"] is not None:
                log.debug("%s (page %d): %s", record["path"], record["page"], record["error"])
        self.progress.update(len(records), self.summary.failed)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block is done, then raise KeyboardInterrupt (main thread only). A signal
    the process was started ignoring (a background job of a non-interactive shell ignores SIGINT) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:  # only when the block succeeded: an error from it is not hidden
        raise KeyboardInterrupt
