import cv2
import numpy as np
import pytest

from digitreader.errors import ExitCode, ImageDecodeError, InputNotFoundError
from digitreader.imageio import decode_image, decode_image_file, to_grey, write_image


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tiff", ".webp"])
def test_common_formats_round_trip(tmp_path, suffix):
    img = np.full((40, 60), 200, np.uint8)
    img[10:30, 20:25] = 10
    path = tmp_path / f"page{suffix}"
    write_image(path, img)
    back = decode_image_file(path)
    assert back.dtype == np.uint8 and back.shape[:2] == (40, 60)
    assert abs(int(to_grey(back)[20, 22]) - 10) < 30


def test_non_ascii_path_with_spaces(tmp_path):
    path = tmp_path / "scans été" / "formulaire n° 1.png"
    write_image(path, np.zeros((10, 10), np.uint8))
    assert decode_image_file(path).shape == (10, 10)


def test_16_bit_is_scaled_to_8_bit(tmp_path):
    img = np.full((8, 8), 65535, np.uint16)
    img[0, 0] = 0
    ok, buf = cv2.imencode(".png", img)
    out = decode_image(buf.tobytes())
    assert out.dtype == np.uint8 and out[1, 1] == 255 and out[0, 0] == 0


def test_alpha_is_composited_on_contrasting_background():
    bgra = np.zeros((10, 10, 4), np.uint8)
    bgra[4:6, 4:6] = (0, 0, 0, 255)  # dark ink, transparent paper
    ok, buf = cv2.imencode(".png", bgra)
    out = decode_image(buf.tobytes())
    assert out.shape == (10, 10, 3)
    assert out[0, 0].tolist() == [255, 255, 255] and out[5, 5].tolist() == [0, 0, 0]


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputNotFoundError) as err:
        decode_image_file(tmp_path / "nope.png")
    assert err.value.exit_code == ExitCode.INPUT_NOT_FOUND
    with pytest.raises(InputNotFoundError):
        decode_image_file(tmp_path)


@pytest.mark.parametrize("payload", [b"", b"this is text, not a picture", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_undecodable_bytes(payload):
    with pytest.raises(ImageDecodeError) as err:
        decode_image(payload, "x.png")
    assert err.value.exit_code == ExitCode.BAD_IMAGE
