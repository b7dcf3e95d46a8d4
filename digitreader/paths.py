"""Where the shipped models live, however the package was installed."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

DEFAULT_MODEL_NAME = "mnist_cnn.keras"
MODEL_ENV = "DIGITREADER_MODEL"
SHARE_SUBDIR = Path("share") / "digitreader" / "output"


def shipped_model_dirs() -> list[Path]:
    """Candidate folders holding the shipped ``output/`` models, most specific first.

    A source checkout or editable install uses the repository's ``output/`` beside the package;
    a regular (wheel) install gets the same files as data files under ``<prefix>/share/digitreader``.
    """
    candidates = [Path(__file__).resolve().parent.parent / "output"]
    prefixes = [sysconfig.get_path("data"), sys.prefix, sys.base_prefix, site.getuserbase()]
    candidates += [Path(p) / SHARE_SUBDIR for p in prefixes if p]
    seen: list[Path] = []
    for path in candidates:
        if path not in seen:
            seen.append(path)
    return seen


def default_model_path(name: str = DEFAULT_MODEL_NAME) -> Path:
    """``$DIGITREADER_MODEL`` if set, else the first shipped copy of ``name`` (or its first candidate)."""
    if name == DEFAULT_MODEL_NAME and os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV])
    dirs = shipped_model_dirs()
    for folder in dirs:
        if (folder / name).is_file():
            return folder / name
    return dirs[0] / name
