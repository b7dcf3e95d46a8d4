"""Load digit datasets into MNIST-convention arrays (N, 28, 28) uint8, white on black.

Formats: Keras-style ``mnist.npz``; the four IDX files (gzipped or not) in a folder;
CSV (label then 784 pixels per row; one file, or a folder with ``*train*.csv`` and
``*test*.csv``); a folder of class sub-folders ``0/`` … ``9/`` of images (optionally
under ``train/`` and ``test/``); USPS in its common HDF5 layout (``train``/``test``
groups holding ``data`` and ``target``). Sources with a single split are divided
deterministically: every tenth sample (after a seeded shuffle) goes to the test split.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, DependencyError, InputNotFoundError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"}
HOLDOUT_SEED = 1234


@dataclass(frozen=True)
class Dataset:
    """Train and test splits in the MNIST convention plus provenance."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    format: str
    sha256: str

    def summary(self) -> str:
        return f"{self.format} {self.source}: {len(self.x_train)} train / {len(self.x_test)} test"


def load_dataset(path: str | Path | None) -> Dataset:
    """Load ``path`` in whichever supported format it is; ``None`` means Keras' MNIST download."""
    if path is None:
        return _load_keras_download()
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"dataset not found: {path}")
    if path.is_file():
        suffix = "".join(path.suffixes[-2:]).lower()
        if path.suffix.lower() == ".npz":
            return _load_npz(path)
        if path.suffix.lower() in {".h5", ".hdf5"}:
            return _load_usps_h5(path)
        if path.suffix.lower() == ".csv" or suffix == ".csv.gz":
            x, y = _read_csv(path)
            return _split_single(x, y, str(path), "csv", _hash_paths([path]))
        raise DataError(f"unsupported dataset file {path.name}: expected .npz, .csv, .h5 or a folder")
    return _load_folder(path)


@dataclass(frozen=True)
class ExtraCrops:
    """Ready-made 28x28 crops to train on besides a dataset's digits (``benchmarks/page_crops.py``)."""

    x: np.ndarray  # (N, 28, 28) uint8, white on black
    y: np.ndarray  # (N,) digits
    source_index: np.ndarray  # (N,) each crop's digit in the dataset's training split, or -1
    source: str
    sha256: str


def load_extra_crops(path: str | Path) -> ExtraCrops:
    """An npz of crops: ``x`` (N, 28, 28) uint8, ``y`` digits 0-9, optional ``mnist_index`` (the training
    digit each crop was drawn from, so that training can leave out those in its validation split)."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"extra crops not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("x", "y", "mnist_index") if k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if "x" not in arrays or "y" not in arrays:
        raise DataError(f"{path} lacks the arrays x and y of a crops file")
    x, y = arrays["x"], arrays["y"]
    if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8 or len(y) != len(x):
        raise DataError(f"{path}: x must be (N, 28, 28) uint8 with one label in y per crop")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{path}: labels must be digits 0-9")
    index = arrays.get("mnist_index", np.full(len(x), -1))
    if len(index) != len(x):
        raise DataError(f"{path}: mnist_index must hold one index per crop")
    return ExtraCrops(x, y.astype(np.int64), index.astype(np.int64), str(path), _hash_paths([path]))


# ---------------------------------------------------------------- formats


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("x_train", "y_train", "x_test", "y_test") if k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    missing = {"x_train", "y_train", "x_test", "y_test"} - arrays.keys()
    if missing:
        raise DataError(f"{path} lacks the key(s) {', '.join(sorted(missing))} of a Keras-style mnist.npz")
    return _checked(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                    str(path), "npz", _hash_paths([path]))


def _find_one(folder: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        hits = sorted(p for p in folder.glob(pattern) if p.is_file())
        if hits:
            return hits[0]
    return None


def _load_folder(folder: Path) -> Dataset:
    idx = {
        "x_train": _find_one(folder, ("train-images*idx3*", "train*images*")),
        "y_train": _find_one(folder, ("train-labels*idx1*", "train*labels*")),
        "x_test": _find_one(folder, ("t10k-images*idx3*", "test*images*", "t10k*images*")),
        "y_test": _find_one(folder, ("t10k-labels*idx1*", "test*labels*", "t10k*labels*")),
    }
    if all(idx.values()):
        arrays = {k: _read_idx(p) for k, p in idx.items()}
        return _checked(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                        str(folder), "idx", _hash_paths(list(idx.values())))
    train_csv = _find_one(folder, ("*train*.csv", "*train*.csv.gz"))
    test_csv = _find_one(folder, ("*test*.csv", "*test*.csv.gz"))
    if train_csv and test_csv:
        x_train, y_train = _read_csv(train_csv)
        x_test, y_test = _read_csv(test_csv)
        return _checked(x_train, y_train, x_test, y_test, str(folder), "csv",
                        _hash_paths([train_csv, test_csv]))
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        x_train, y_train, files_train = _read_class_folders(folder / "train")
        x_test, y_test, files_test = _read_class_folders(folder / "test")
        return _checked(x_train, y_train, x_test, y_test, str(folder), "folder",
                        _hash_paths(files_train + files_test))
    if any((folder / str(d)).is_dir() for d in range(10)):
        x, y, files = _read_class_folders(folder)
        return _split_single(x, y, str(folder), "folder", _hash_paths(files))
    raise DataError(
        f"{folder} holds no known dataset: expected the four MNIST IDX files, *train*.csv and "
        "*test*.csv, or class sub-folders 0/ … 9/ (optionally under train/ and test/)"
    )


def _open_maybe_gzip(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (the format MNIST is distributed in), gzipped or not."""
    try:
        with _open_maybe_gzip(path) as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:  # EOFError: truncated gzip
        raise DataError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header_end])
    expected = int(np.prod(shape))
    if len(raw) - header_end != expected:
        raise DataError(f"{path}: IDX payload is {len(raw) - header_end} bytes, header says {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_end).reshape(shape)


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``label,p0,...,p783``; a non-numeric header row is skipped."""
    try:
        with _open_maybe_gzip(path) as fh:
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except (OSError, EOFError) as exc:  # EOFError: truncated gzip
        raise DataError(f"cannot read CSV {path}: {exc}") from None
    if lines and not _is_number(lines[0].split(",")[0]):
        lines = lines[1:]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise DataError(f"{path}: no data rows")
    try:
        table = np.array([[int(float(v)) for v in ln.split(",")] for ln in lines], dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"{path}: non-numeric value ({exc})") from None
    except Exception:  # ragged rows
        raise DataError(f"{path}: rows differ in length; expected label then 784 pixels") from None
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: rows have {table.shape[-1]} values; expected label then 784 pixels")
    if table[:, 1:].min() < 0 or table[:, 1:].max() > 255:
        raise DataError(f"{path}: pixel values must be 0..255")
    return table[:, 1:].astype(np.uint8).reshape(-1, 28, 28), table[:, 0]


def _is_number(text: str) -> bool:
    """True for ``5``, ``5.0`` or ``5.000e+00`` (a data row), False for a header cell like ``label``."""
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def _read_class_folders(folder: Path) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """Images in ``folder/0`` … ``folder/9``, each normalised to MNIST's 28x28 convention."""
    from .imageio import decode_image_file
    from .normalise import digit_image_to_mnist

    images, labels, files = [], [], []
    for digit in range(10):
        sub = folder / str(digit)
        if not sub.is_dir():
            continue
        for file in sorted(p for p in sub.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            try:
                image = decode_image_file(file)
            except Exception as exc:  # one bad file should say which
                raise DataError(f"{file}: {exc}") from None
            images.append(np.clip(digit_image_to_mnist(image) * 255 + 0.5, 0, 255).astype(np.uint8))
            labels.append(digit)
            files.append(file)
    if not images:
        raise DataError(f"{folder}: no images in the class folders 0/ … 9/")
    return np.stack(images), np.array(labels), files


def _load_usps_h5(path: Path) -> Dataset:
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py comes with TensorFlow
        raise DependencyError("reading USPS .h5 needs h5py: pip install h5py") from None
    from .normalise import digit_image_to_mnist

    def split(group) -> tuple[np.ndarray, np.ndarray]:
        data = np.asarray(group["data"], dtype=np.float64)
        target = np.asarray(group["target"]).astype(np.int64).ravel()
        side = int(round(np.sqrt(data.shape[-1]))) if data.ndim == 2 else data.shape[-1]
        data = data.reshape(len(data), side, side)
        if data.max() <= 1.0 + 1e-6:
            data = data * 255.0
        grey = np.clip(data, 0, 255).astype(np.uint8)
        # USPS is light ink on a dark background like MNIST; normalise each to 20px box + CoM.
        x = np.stack([np.clip(digit_image_to_mnist(g, polarity="light") * 255 + 0.5, 0, 255)
                      for g in grey]).astype(np.uint8)
        return x, target

    try:
        with h5py.File(path, "r") as h5:
            if "train" not in h5 or "test" not in h5:
                raise DataError(f"{path}: expected HDF5 groups 'train' and 'test' (USPS layout)")
            x_train, y_train = split(h5["train"])
            x_test, y_test = split(h5["test"])
    except (OSError, KeyError) as exc:
        raise DataError(f"cannot read USPS HDF5 {path}: {exc}") from None
    return _checked(x_train, y_train, x_test, y_test, str(path), "usps-h5", _hash_paths([path]))


def _load_keras_download() -> Dataset:
    try:
        from .tf_quiet import import_keras

        keras = import_keras()
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:
        raise DataError(
            "no --data given and keras.datasets.mnist could not download MNIST "
            f"({type(exc).__name__}); pass --data PATH to a local mnist.npz"
        ) from None
    cached = Path.home() / ".keras" / "datasets" / "mnist.npz"
    digest = _hash_paths([cached]) if cached.exists() else "unknown"
    return _checked(x_train, y_train, x_test, y_test, "keras.datasets.mnist", "keras-download", digest)


# ---------------------------------------------------------------- helpers


def _split_single(x: np.ndarray, y: np.ndarray, source: str, fmt: str, digest: str) -> Dataset:
    order = np.random.default_rng(HOLDOUT_SEED).permutation(len(x))
    test = order[::10]
    train = np.setdiff1d(order, test)
    if len(train) == 0:
        train = test
    return _checked(x[train], y[train], x[test], y[test], source, fmt, digest)


def _checked(x_train, y_train, x_test, y_test, source: str, fmt: str, digest: str) -> Dataset:
    arrays = []
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        x = np.asarray(x)
        y = np.asarray(y).astype(np.int64).ravel()
        if x.ndim == 2 and x.shape[1] == 784:
            x = x.reshape(-1, 28, 28)
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataError(f"{source}: {name} images have shape {x.shape}; expected (N, 28, 28)")
        if len(x) != len(y):
            raise DataError(f"{source}: {len(x)} {name} images but {len(y)} labels")
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise DataError(f"{source}: {name} labels must be 0..9")
        if x.dtype != np.uint8:
            x = np.clip(x * (255.0 if x.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        arrays += [x, y.astype(np.uint8)]
    return Dataset(*arrays, source=source, format=fmt, sha256=digest)


def _hash_paths(paths: list[Path]) -> str:
    """sha256 of one file's bytes (as ``sha256sum`` prints), or of several files with their names."""
    digest = hashlib.sha256()
    for path in paths:
        if len(paths) > 1:
            digest.update(Path(path).name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
