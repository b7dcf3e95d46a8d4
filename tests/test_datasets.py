"""load_dataset: every supported format, written tiny into tmp_path (no MNIST, no Keras needed)."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitreader.datasets import load_dataset
from digitreader.errors import DataError, ExitCode, InputNotFoundError

FONT = cv2.FONT_HERSHEY_SIMPLEX


# ---------------------------------------------------------------- writers


def tagged_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct 28x28 uint8 images: pixel (0, 0) and (0, 1) encode the index, the rest is noise."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    x[:, 0, 0] = np.arange(n) % 256
    x[:, 0, 1] = np.arange(n) // 256
    y = (np.arange(n) * 7 % 10).astype(np.uint8)
    return x, y


def image_ids(x: np.ndarray) -> list[int]:
    return [int(img[0, 0]) + 256 * int(img[0, 1]) for img in x]


def write_idx(path: Path, array: np.ndarray, gzipped: bool, payload_delta: int = 0) -> None:
    magic = 0x00000800 | array.ndim  # unsigned byte, then the number of dimensions
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = array.astype(np.uint8).tobytes()
    payload = payload + b"\0" * payload_delta if payload_delta >= 0 else payload[:payload_delta]
    data = header + payload
    path.write_bytes(gzip.compress(data) if gzipped else data)


def write_idx_folder(folder: Path, x_train, y_train, x_test, y_test, gzipped: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gzipped else ""
    write_idx(folder / f"train-images-idx3-ubyte{ext}", x_train, gzipped)
    write_idx(folder / f"train-labels-idx1-ubyte{ext}", y_train, gzipped)
    write_idx(folder / f"t10k-images-idx3-ubyte{ext}", x_test, gzipped)
    write_idx(folder / f"t10k-labels-idx1-ubyte{ext}", y_test, gzipped)
    return folder


def csv_text(x: np.ndarray, y: np.ndarray, header: bool) -> str:
    rows = []
    if header:
        rows.append("label," + ",".join(f"pixel{i}" for i in range(784)))
    for img, label in zip(x, y):
        rows.append(f"{label}," + ",".join(str(int(v)) for v in img.ravel()))
    return "\n".join(rows) + "\n"


def glyph_image(digit: int, height: int, width: int, dark_on_light: bool, offset: tuple[int, int]) -> np.ndarray:
    """A ``height`` x ``width`` picture of ``digit`` drawn off-centre, in either polarity."""
    paper, ink = (245, 15) if dark_on_light else (10, 230)
    img = np.full((height, width), paper, np.uint8)
    thickness = max(2, height // 16)
    scale = cv2.getFontScaleFromHeight(FONT, int(height * 0.45), thickness)
    cv2.putText(img, str(digit), offset, FONT, scale, ink, thickness, cv2.LINE_AA)
    return img


def write_class_folders(root: Path, per_class: int) -> None:
    """``root/0`` … ``root/9`` of PNGs of several sizes and both polarities."""
    variants = [(80, 60, True, (8, 50)), (50, 90, False, (40, 40)), (120, 100, True, (50, 100)),
                (64, 64, False, (10, 45))]
    for digit in range(10):
        sub = root / str(digit)
        sub.mkdir(parents=True)
        for k in range(per_class):
            h, w, dark, offset = variants[(digit + k) % len(variants)]
            assert cv2.imwrite(str(sub / f"{digit}_{k}.png"), glyph_image(digit, h, w, dark, offset))


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    m = cv2.moments(img.astype(np.float32))
    return m["m10"] / m["m00"], m["m01"] / m["m00"]


def assert_mnist_like(x: np.ndarray) -> None:
    """White digits on black, ink centred like MNIST."""
    assert x.dtype == np.uint8 and x.ndim == 3 and x.shape[1:] == (28, 28)
    for img in x:
        assert img.max() >= 200, "the stroke core should be (nearly) white"
        corners = np.concatenate([img[:3, :3], img[:3, -3:], img[-3:, :3], img[-3:, -3:]])
        assert corners.max() <= 30 and np.median(img) == 0, "the background should be black"
        ys, xs = np.nonzero(img > 30)
        assert max(np.ptp(ys), np.ptp(xs)) + 1 <= 22, "the digit should fit MNIST's 20 px box"
        assert (img > 127).mean() < 0.4, "ink should be a minority of the pixels (white on black)"
        cx, cy = centre_of_mass(img)
        assert abs(cx - 14) <= 1.5 and abs(cy - 14) <= 1.5, (cx, cy)


# ---------------------------------------------------------------- npz



def assert_splits_equal(ds, x_train, y_train, x_test, y_test):
    """The loaded dataset holds exactly these train and test arrays."""
    for got, expected in ((ds.x_train, x_train), (ds.y_train, y_train), (ds.x_test, x_test), (ds.y_test, y_test)):
        np.testing.assert_array_equal(got, expected)

def test_npz_round_trip_and_sha256(tmp_path):
    x_train, y_train = tagged_images(30, seed=1)
    x_test, y_test = tagged_images(12, seed=2)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    ds = load_dataset(path)

    assert ds.format == "npz"
    assert_splits_equal(ds, x_train, y_train, x_test, y_test)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.uint8
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "30 train / 12 test" in ds.summary()


def test_npz_float_images_in_unit_range_become_uint8(tmp_path):
    x, y = tagged_images(10)
    path = tmp_path / "float.npz"
    np.savez(path, x_train=x.astype(np.float32) / 255.0, y_train=y, x_test=x[:3].astype(np.float32) / 255.0,
             y_test=y[:3])
    ds = load_dataset(path)
    assert ds.x_train.dtype == np.uint8
    assert np.abs(ds.x_train.astype(int) - x.astype(int)).max() <= 1


def test_npz_with_object_arrays_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((28, 28), np.uint8), np.zeros((28, 28), np.uint8)
    np.savez(path, x_train=ragged, y_train=np.array([1, 2]), x_test=ragged, y_test=np.array([1, 2]))
    with pytest.raises(DataError):
        load_dataset(path)


def test_npz_missing_keys_is_data_error(tmp_path):
    path = tmp_path / "partial.npz"
    x, y = tagged_images(5)
    np.savez(path, x_train=x, y_train=y)
    with pytest.raises(DataError, match="x_test"):
        load_dataset(path)


def test_npz_with_wrong_image_shape_is_data_error(tmp_path):
    path = tmp_path / "small.npz"
    np.savez(path, x_train=np.zeros((4, 16, 16), np.uint8), y_train=np.zeros(4, np.uint8),
             x_test=np.zeros((2, 16, 16), np.uint8), y_test=np.zeros(2, np.uint8))
    with pytest.raises(DataError, match="28, 28"):
        load_dataset(path)


def test_npz_label_out_of_range_is_data_error(tmp_path):
    path = tmp_path / "labels.npz"
    x, _ = tagged_images(4)
    np.savez(path, x_train=x, y_train=np.array([0, 1, 2, 10]), x_test=x, y_test=np.array([0, 1, 2, 3]))
    with pytest.raises(DataError, match="0..9"):
        load_dataset(path)


# ---------------------------------------------------------------- IDX


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_idx_folder(tmp_path, gzipped):
    x_train, y_train = tagged_images(25, seed=3)
    x_test, y_test = tagged_images(7, seed=4)
    folder = write_idx_folder(tmp_path / "idx", x_train, y_train, x_test, y_test, gzipped)

    ds = load_dataset(folder)

    assert ds.format == "idx"
    assert_splits_equal(ds, x_train, y_train, x_test, y_test)
    assert len(ds.sha256) == 64


def test_idx_gzip_and_plain_hash_differently_but_read_the_same(tmp_path):
    x_train, y_train = tagged_images(10, seed=3)
    x_test, y_test = tagged_images(4, seed=4)
    plain = load_dataset(write_idx_folder(tmp_path / "a", x_train, y_train, x_test, y_test, False))
    packed = load_dataset(write_idx_folder(tmp_path / "b", x_train, y_train, x_test, y_test, True))
    np.testing.assert_array_equal(plain.x_train, packed.x_train)
    assert plain.sha256 != packed.sha256


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("delta", [-1, 5], ids=["short", "long"])
def test_idx_wrong_payload_length_is_data_error(tmp_path, gzipped, delta):
    x_train, y_train = tagged_images(6)
    folder = write_idx_folder(tmp_path / "idx", x_train, y_train, x_train[:2], y_train[:2], gzipped)
    ext = ".gz" if gzipped else ""
    write_idx(folder / f"train-images-idx3-ubyte{ext}", x_train, gzipped, payload_delta=delta)
    with pytest.raises(DataError, match="payload"):
        load_dataset(folder)


def test_truncated_gzip_idx_is_data_error(tmp_path):
    x_train, y_train = tagged_images(6)
    folder = write_idx_folder(tmp_path / "idx", x_train, y_train, x_train[:2], y_train[:2], True)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(DataError, match="train-images"):
        load_dataset(folder)


def test_idx_wrong_magic_is_data_error(tmp_path):
    x_train, y_train = tagged_images(6)
    folder = write_idx_folder(tmp_path / "idx", x_train, y_train, x_train[:2], y_train[:2], False)
    raw = bytearray((folder / "t10k-labels-idx1-ubyte").read_bytes())
    raw[2] = 0x0D  # float32 element type
    (folder / "t10k-labels-idx1-ubyte").write_bytes(bytes(raw))
    with pytest.raises(DataError, match="IDX"):
        load_dataset(folder)


# ---------------------------------------------------------------- CSV


@pytest.mark.parametrize("header", [False, True], ids=["no-header", "header"])
def test_single_csv_is_split_one_in_ten(tmp_path, header):
    x, y = tagged_images(50, seed=5)
    path = tmp_path / "digits.csv"
    path.write_text(csv_text(x, y, header))

    ds = load_dataset(path)

    assert ds.format == "csv"
    assert len(ds.x_test) == 5 and len(ds.x_train) == 45
    train_ids, test_ids = image_ids(ds.x_train), image_ids(ds.x_test)
    assert not set(train_ids) & set(test_ids)
    assert sorted(train_ids + test_ids) == list(range(50))
    # every image keeps its own label and pixels
    for xs, ys, ids in ((ds.x_train, ds.y_train, train_ids), (ds.x_test, ds.y_test, test_ids)):
        np.testing.assert_array_equal(xs, x[ids])
        np.testing.assert_array_equal(ys, y[ids])
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_single_csv_split_is_deterministic_and_header_independent(tmp_path):
    x, y = tagged_images(40, seed=6)
    plain, headed = tmp_path / "plain.csv", tmp_path / "headed.csv"
    plain.write_text(csv_text(x, y, header=False))
    headed.write_text(csv_text(x, y, header=True))
    a, b, c = load_dataset(plain), load_dataset(plain), load_dataset(headed)
    assert image_ids(a.x_test) == image_ids(b.x_test) == image_ids(c.x_test)
    assert len(a.x_test) == 4


def test_csv_with_float_values_keeps_its_first_row(tmp_path):
    """CSV written as floats (e.g. numpy.savetxt's default) has no header: no row may be dropped."""
    x, y = tagged_images(20, seed=7)
    path = tmp_path / "floats.csv"
    np.savetxt(path, np.column_stack([y, x.reshape(20, -1)]).astype(np.float64), delimiter=",")
    ds = load_dataset(path)
    assert len(ds.x_train) + len(ds.x_test) == 20
    assert sorted(image_ids(ds.x_train) + image_ids(ds.x_test)) == list(range(20))


def test_gzipped_csv(tmp_path):
    x, y = tagged_images(20, seed=8)
    path = tmp_path / "digits.csv.gz"
    path.write_bytes(gzip.compress(csv_text(x, y, header=True).encode()))
    ds = load_dataset(path)
    assert sorted(image_ids(ds.x_train) + image_ids(ds.x_test)) == list(range(20))


def test_truncated_gzipped_csv_is_data_error(tmp_path):
    x, y = tagged_images(5)
    path = tmp_path / "digits.csv.gz"
    path.write_bytes(gzip.compress(csv_text(x, y, header=False).encode())[:-12])
    with pytest.raises(DataError):
        load_dataset(path)


def test_csv_folder_with_train_and_test_files(tmp_path):
    x_train, y_train = tagged_images(15, seed=9)
    x_test, y_test = tagged_images(6, seed=10)
    folder = tmp_path / "csvs"
    folder.mkdir()
    (folder / "mnist_train.csv").write_text(csv_text(x_train, y_train, header=True))
    (folder / "mnist_test.csv").write_text(csv_text(x_test, y_test, header=False))

    ds = load_dataset(folder)

    assert ds.format == "csv"
    assert_splits_equal(ds, x_train, y_train, x_test, y_test)


@pytest.mark.parametrize("columns", [784, 786])
def test_csv_wrong_column_count_is_data_error(tmp_path, columns):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join("3," + ",".join(["0"] * (columns - 1)) for _ in range(3)) + "\n")
    with pytest.raises(DataError, match="784"):
        load_dataset(path)


def test_csv_ragged_rows_are_data_error(tmp_path):
    x, y = tagged_images(3)
    lines = csv_text(x, y, header=False).splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0]
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError):
        load_dataset(path)


def test_csv_pixel_out_of_range_is_data_error(tmp_path):
    path = tmp_path / "range.csv"
    path.write_text("3," + ",".join(["300"] * 784) + "\n")
    with pytest.raises(DataError, match="0..255"):
        load_dataset(path)


# ---------------------------------------------------------------- class folders


def test_class_folders_are_normalised_to_mnist(tmp_path):
    root = tmp_path / "digits"
    write_class_folders(root, per_class=3)

    ds = load_dataset(root)

    assert ds.format == "folder"
    assert len(ds.x_train) + len(ds.x_test) == 30 and len(ds.x_test) == 3
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert np.bincount(labels, minlength=10).tolist() == [3] * 10
    assert_mnist_like(np.concatenate([ds.x_train, ds.x_test]))


def test_class_folder_polarity_does_not_matter(tmp_path):
    root = tmp_path / "digits"
    dark = glyph_image(7, 80, 60, True, (8, 50))
    (root / "7").mkdir(parents=True)
    cv2.imwrite(str(root / "7" / "dark.png"), dark)
    cv2.imwrite(str(root / "7" / "light.png"), 255 - dark)
    ds = load_dataset(root)
    a, b = np.concatenate([ds.x_train, ds.x_test]).astype(np.float64)
    assert_mnist_like(np.stack([a, b]).astype(np.uint8))
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_class_folders_under_train_and_test(tmp_path):
    write_class_folders(tmp_path / "set" / "train", per_class=2)
    write_class_folders(tmp_path / "set" / "test", per_class=1)

    ds = load_dataset(tmp_path / "set")

    assert ds.format == "folder"
    assert len(ds.x_train) == 20 and len(ds.x_test) == 10
    assert ds.y_test.tolist() == list(range(10))
    assert np.bincount(ds.y_train, minlength=10).tolist() == [2] * 10
    assert_mnist_like(ds.x_test)


def test_class_folder_with_undecodable_image_names_it(tmp_path):
    write_class_folders(tmp_path / "digits", per_class=1)
    (tmp_path / "digits" / "4" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match="broken.png"):
        load_dataset(tmp_path / "digits")


# ---------------------------------------------------------------- USPS HDF5


def usps_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 256) float in [0, 1], light digits on dark 16x16, like the common usps.h5."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    data = np.zeros((n, 16, 16), np.float64)
    for i, digit in enumerate(y):
        img = np.zeros((16, 16), np.uint8)
        cv2.putText(img, str(digit), (3 + int(rng.integers(0, 2)), 13), FONT, 0.45, 255, 1, cv2.LINE_AA)
        data[i] = img / 255.0
    return data.reshape(n, 256), y


def test_usps_h5(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "usps.h5"
    train, y_train = usps_images(20, 0)
    test, y_test = usps_images(10, 1)
    with h5py.File(path, "w") as h5:
        h5.create_dataset("train/data", data=train)
        h5.create_dataset("train/target", data=y_train)
        h5.create_dataset("test/data", data=test)
        h5.create_dataset("test/target", data=y_test)

    ds = load_dataset(path)

    assert ds.format == "usps-h5"
    assert ds.x_train.shape == (20, 28, 28) and ds.x_test.shape == (10, 28, 28)
    assert ds.y_train.tolist() == y_train.tolist() and ds.y_test.tolist() == y_test.tolist()
    assert_mnist_like(np.concatenate([ds.x_train, ds.x_test]))
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_h5_without_usps_groups_is_data_error(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("images", data=np.zeros((2, 256)))
    with pytest.raises(DataError, match="train"):
        load_dataset(path)


# ---------------------------------------------------------------- errors and provenance


def test_missing_path_is_input_not_found(tmp_path):
    with pytest.raises(InputNotFoundError) as info:
        load_dataset(tmp_path / "nowhere.npz")
    assert info.value.exit_code == ExitCode.INPUT_NOT_FOUND == 3


@pytest.mark.parametrize("name", ["digits.txt", "digits.json", "mnist.npy"])
def test_unsupported_file_is_data_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"0,1,2\n")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert info.value.exit_code == ExitCode.DATA


def test_corrupt_npz_is_data_error(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(DataError):
        load_dataset(path)


def test_folder_without_a_dataset_is_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    with pytest.raises(DataError, match="no known dataset"):
        load_dataset(tmp_path / "empty")


def test_multi_file_hash_changes_with_any_file(tmp_path):
    x_train, y_train = tagged_images(8)
    folder = write_idx_folder(tmp_path / "idx", x_train, y_train, x_train[:3], y_train[:3], False)
    before = load_dataset(folder).sha256
    write_idx(folder / "t10k-labels-idx1-ubyte", (y_train[:3] + 1) % 10, False)
    assert load_dataset(folder).sha256 != before
