"""The one table of user-facing errors and the process exit codes they map to.

Every error a user can cause is a :class:`DigitReaderError` subclass carrying its
:class:`ExitCode`. The CLI prints ``ErrorName: message`` on one stderr line and exits
with that code; tracebacks are shown only with ``-v``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in README.md ("Exit codes")."""

    OK = 0
    INTERNAL = 1  # a bug: unexpected exception (traceback with -v)
    USAGE = 2  # bad flag or argument (click's own code)
    INPUT_NOT_FOUND = 3  # image or data path does not exist / cannot be read
    BAD_IMAGE = 4  # file exists but is not a decodable image
    MODEL = 5  # model missing, corrupt, incompatible or failing its metadata check
    DATA = 6  # training/evaluation data missing or malformed
    OUTPUT = 7  # cannot write an output file
    DISPLAY = 8  # --show requested but no display / GUI available
    DEPENDENCY = 9  # an optional dependency needed for this request is not installed
    PARTIAL = 10  # several inputs: at least one failed, the others were read
    CAMERA = 11  # camera or video source cannot be opened, stalled or dropped
    INTERRUPTED = 130  # Ctrl-C


class DigitReaderError(Exception):
    """Base class of every error caused by the user's input or environment."""

    exit_code: ExitCode = ExitCode.INTERNAL

    @property
    def name(self) -> str:
        return type(self).__name__


class InputNotFoundError(DigitReaderError):
    exit_code = ExitCode.INPUT_NOT_FOUND


class ImageDecodeError(DigitReaderError):
    exit_code = ExitCode.BAD_IMAGE


class ImageTooLargeError(ImageDecodeError):
    """The image declares more pixels than the limit (``--max-pixels``): refused before it is decoded."""


class ModelError(DigitReaderError):
    exit_code = ExitCode.MODEL


class DataError(DigitReaderError):
    exit_code = ExitCode.DATA


class OutputError(DigitReaderError):
    exit_code = ExitCode.OUTPUT


class DisplayError(DigitReaderError):
    exit_code = ExitCode.DISPLAY


class DependencyError(DigitReaderError):
    exit_code = ExitCode.DEPENDENCY


class CameraError(DigitReaderError):
    exit_code = ExitCode.CAMERA


# (code, meaning) rows for the README and `digitreader --help-exit-codes`.
EXIT_CODE_TABLE: list[tuple[int, str, str]] = [
    (ExitCode.OK, "OK", "success (also: an image with no digits)"),
    (ExitCode.INTERNAL, "INTERNAL", "unexpected internal error (a bug; rerun with -v for the traceback)"),
    (ExitCode.USAGE, "USAGE", "bad command-line usage: unknown flag, bad value"),
    (ExitCode.INPUT_NOT_FOUND, "INPUT_NOT_FOUND", "an input path does not exist or is not a readable file"),
    (ExitCode.BAD_IMAGE, "BAD_IMAGE", "an input file is not a decodable image"),
    (ExitCode.MODEL, "MODEL", "model file missing, corrupt, or not matching its metadata"),
    (ExitCode.DATA, "DATA", "training/evaluation data missing or malformed"),
    (ExitCode.OUTPUT, "OUTPUT", "an output file cannot be written"),
    (ExitCode.DISPLAY, "DISPLAY", "--show needs a display and OpenCV's GUI support"),
    (ExitCode.DEPENDENCY, "DEPENDENCY", "an optional dependency for this request is not installed"),
    (ExitCode.PARTIAL, "PARTIAL", "several images: at least one failed (its record has an error), the rest were read"),
    (ExitCode.CAMERA, "CAMERA", "webcam: the camera or video source cannot be opened, stalled or dropped"),
    (ExitCode.INTERRUPTED, "INTERRUPTED", "interrupted by Ctrl-C"),
]
