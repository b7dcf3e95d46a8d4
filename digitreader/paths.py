"""Where the shipped models live, however the package was installed."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

DEFAULT_MODEL_NAME = "mnist_cnn.keras"
VERIFIER_MODEL_NAME = "digit_verifier.keras"  # the single-digit verifier used when splitting touching digits
PAIR_MODEL_NAME = "digit_pairs.keras"  # the pair reader: two touching or overlapping digits read together
RUN_MODEL_NAME = "digit_runs.keras"  # the run reader: 1 to 4 touching digits read whole
MODEL_ENV = "DIGITREADER_MODEL"
SHARE_SUBDIR = Path("share") / "digitreader" / "output"
# The shipped models' sha256, pinned in code: a shipped model file that does not match is refused before it is
# loaded, even if its .meta.json was changed with it. Re-training a shipped model means updating these
# (tests/test_fastpath.py checks they match the files in output/).
SHIPPED_SHA256 = {
    "mnist_cnn.keras": "2d229f4f67bd5c98f258176857ea688704a976cc6a4151dd87e6d63bfa56ea68",
    "mnist_mlp.keras": "14d6c715c2b3dee59d2d1dcc52075dfad89b8d763105b53a84f3ea11998133ca",
    "digit_verifier.keras": "92cc6d81a4d2adbc3de1c256de42fe0ef496247ef5a36032d2d9af446642f4ef",
    "digit_pairs.keras": "7268f0de1bee9a32117ae873e1b44539011723811b2fe1a5e486e0a45ce68d99",
    "digit_runs.keras": "bdc60c4dfaec422700ddf3c4cd5c1c7ffa891ce0096be41222bba107aacf2516",
}


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


def pinned_sha256(model_path: str | Path) -> str | None:
    """The pinned hash when ``model_path`` is one of the shipped model files, else ``None``."""
    path = Path(model_path)
    if path.name not in SHIPPED_SHA256:
        return None
    try:
        folder = path.resolve().parent
    except OSError:
        return None
    if any(folder == d.resolve() for d in shipped_model_dirs() if d.exists()):
        return SHIPPED_SHA256[path.name]
    return None
