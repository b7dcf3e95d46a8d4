"""What a batch worker runs: read a unit of files (several images per classifier call) into records.

Runs in a worker process (``-j N``), on a Dask worker, or in the calling process (``-j 0``). Each process
loads the model once (:func:`cached_reader`) and keeps it for every unit it is given.
"""

from __future__ import annotations

import os
import posixpath
import signal
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DigitReaderError, ModelError, OutputError
from ..imagesize import DEFAULT_MAX_PIXELS
from ..result import Result
from .fs import is_url, read_input_bytes, url_to_fs
from .pdf import is_pdf, render_pdf_page

ANNOTATED_SUFFIX = ".annotated.png"


@dataclass(frozen=True)
class ReaderConfig:
    """How each worker builds its reader (picklable: it travels to worker processes and Dask workers)."""

    model: str | None = None  # None: the shipped CNN, found on the worker
    cache_dir: str | None = None
    polarity: str = "auto"
    min_confidence: float = 0.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    annotate_dir: str | None = None
    verifier: str | None = "auto"  # the single-digit verifier: "auto" (shipped), a path valid on every worker, None
    pair_reader: str | None = "auto"  # the pair reader, given the same ways
    run_reader: str | None = "auto"  # the run reader, given the same ways


@dataclass(frozen=True)
class Task:
    """One input file of a unit and the pages of it to read (with their names under --annotate-dir)."""

    path: str
    total_pages: int
    pages: tuple[int, ...]
    rels: tuple[str, ...]
    error: str | None = None  # known before reading (e.g. a folder that cannot be listed)


@dataclass
class UnitResult:
    records: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    pid: int = 0


_READER: tuple[ReaderConfig, Any] | None = None
_READER_LOCK = threading.Lock()


def init_worker_process() -> None:
    """Worker processes leave Ctrl-C to the parent (which stops cleanly) and use one thread each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # started with SIGINT blocked (see backends._sigint_blocked)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    import cv2

    cv2.setNumThreads(1)


def cached_reader(config: ReaderConfig) -> Any:
    """This process's DigitReader for ``config``, loaded on first use and kept."""
    global _READER
    with _READER_LOCK:
        if _READER is None or _READER[0] != config:
            from ..reader import DigitReader

            reader = DigitReader(config.model, polarity=config.polarity, min_confidence=config.min_confidence,
                                 cache_dir=config.cache_dir, max_pixels=config.max_pixels,
                                 verifier=config.verifier, pair_reader=config.pair_reader,
                                 run_reader=config.run_reader,
                                 threads=1)  # parallelism comes from the worker processes
            _READER = (config, reader)
        return _READER[1]


def process_unit(tasks: list[Task], config: ReaderConfig, reader: Any = None) -> UnitResult:
    """Read every page of ``tasks``; bad files become records with their error. ModelError propagates."""
    reader = reader if reader is not None else cached_reader(config)
    slots: list[tuple[str, int, str, np.ndarray | None, str | None]] = []
    for task in tasks:
        slots.extend(_decode_task(task, config.max_pixels))
    results = _read_images(reader, [(path, image) for path, _, _, image, _ in slots if image is not None])
    out = UnitResult(records=[], pid=os.getpid())
    for path, page, rel, image, error in slots:
        if image is None:
            result = Result(path, model=reader.classifier.name, error=error, min_confidence=reader.min_confidence)
        else:
            result = results.pop(0)
            if result.ok and config.annotate_dir is not None:
                warning = _annotate(config.annotate_dir, rel, image, result)
                if warning:
                    out.warnings.append(warning)
        out.records.append(make_record(result, page))
    return out


def make_record(result: Result, page: int) -> dict[str, Any]:
    """The ``read --format json`` record of ``result`` with ``page`` after ``path``."""
    record = result.as_dict()
    return {"path": record.pop("path"), "page": page, **record}


def _decode_task(task: Task, max_pixels: int) -> list[tuple[str, int, str, np.ndarray | None, str | None]]:
    from ..imageio import decode_image, decode_pages

    if task.error is not None:
        return [(task.path, page, rel, None, task.error) for page, rel in zip(task.pages, task.rels)]
    try:
        data = read_input_bytes(task.path, max_pixels)
    except DigitReaderError as exc:
        return [(task.path, page, rel, None, str(exc)) for page, rel in zip(task.pages, task.rels)]
    slots = []
    for page, rel in zip(task.pages, task.rels):
        try:
            if is_pdf(task.path):
                image = render_pdf_page(data, page, task.path, max_pixels)
            elif task.total_pages == 1:
                image = decode_image(data, task.path, max_pixels)
            else:
                image = decode_pages(data, task.path, max_pixels, start=page, count=1)[0]
            slots.append((task.path, page, rel, image, None))
        except DigitReaderError as exc:
            slots.append((task.path, page, rel, None, str(exc)))
        except Exception as exc:  # a decoder failure we did not foresee: this file fails, the batch goes on
            slots.append((task.path, page, rel, None, f"cannot decode: {type(exc).__name__}: {exc}"))
    return slots


def _read_images(reader: Any, pending: list[tuple[str, np.ndarray]]) -> list[Result]:
    """One batched read; if it fails, read one by one so only the offending image gets the error."""
    if not pending:
        return []
    try:
        return reader.read_many([image for _, image in pending], [path for path, _ in pending])
    except ModelError:
        raise
    except Exception as exc:
        if len(pending) > 1:
            return [result for item in pending for result in _read_images(reader, [item])]
        message = str(exc) if isinstance(exc, DigitReaderError) else f"cannot read: {type(exc).__name__}: {exc}"
        return [Result(pending[0][0], model=reader.classifier.name, error=message,
                       min_confidence=reader.min_confidence)]


# --- annotated pictures ------------------------------------------------------------------------


def safe_relative_parts(rel: str) -> list[str]:
    """Path components of ``rel`` that cannot climb out of a folder: no root, no ``..``, no empty parts."""
    parts = []
    for part in rel.replace("\\", "/").split("/"):
        part = part.replace("\0", "_")
        if part in ("", "."):
            continue
        if part == "..":
            part = "__"
        if len(part) >= 2 and part[1] == ":":  # a Windows drive letter
            part = part.replace(":", "_")
        parts.append(part)
    return parts or ["image"]


def annotation_target(annotate_dir: str, rel: str) -> str:
    """Where the annotated picture of ``rel`` goes: ``DIR/<rel>.annotated.png``, always inside DIR.

    Raises OutputError when a symbolic link inside DIR would lead the picture out of it.
    """
    parts = safe_relative_parts(rel)
    parts[-1] += ANNOTATED_SUFFIX
    if is_url(annotate_dir):
        return posixpath.join(annotate_dir.rstrip("/"), *parts)
    root = os.path.realpath(annotate_dir)
    target = os.path.join(root, *parts)
    parent = os.path.realpath(os.path.dirname(target))
    if parent != root and not parent.startswith(root + os.sep):
        raise OutputError(f"refusing to write {target}: it resolves outside {annotate_dir} (a symbolic link)")
    if os.path.islink(target):
        os.unlink(target)  # replace the link itself, never write through it
    return target


def _annotate(annotate_dir: str, rel: str, image: np.ndarray, result: Result) -> str | None:
    """Write the annotated picture; a failure is a warning (the record is still written)."""
    from ..draw import annotate_image
    from ..imageio import write_image

    try:
        target = annotation_target(annotate_dir, rel)
        picture = annotate_image(image, result)
        if is_url(target):
            import cv2

            ok, encoded = cv2.imencode(".png", picture)
            fs, inner = url_to_fs(target)
            fs.makedirs(posixpath.dirname(inner), exist_ok=True)
            with fs.open(inner, "wb") as handle:
                handle.write(encoded.tobytes())
        else:
            write_image(target, picture)
    except (DigitReaderError, OSError) as exc:
        return f"{result.path}: annotated picture not written: {exc}"
    return None
