"""Every bad image gives one clear InputError that names the file."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from metagen.data.images import read_image_file
from metagen.errors import InputError
from tests.conftest import write_image


def test_reads_grey_and_rgb_with_conversion_and_resize(tmp_path: Path):
    rgb = write_image(tmp_path / "a.png", np.full((10, 14, 3), 200, dtype=np.uint8))
    assert read_image_file(rgb).shape == (3, 10, 14)
    assert read_image_file(rgb, "L", 8).shape == (1, 8, 8)
    assert read_image_file(rgb, "L").max() == 200


def test_truncated_image(tmp_path: Path):
    good = write_image(tmp_path / "good.png", np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    bad = tmp_path / "cut.png"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputError, match=r"cut\.png: corrupt or truncated"):
        read_image_file(bad)


def test_corrupt_bytes_in_jpeg(tmp_path: Path):
    bad = tmp_path / "noise.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"noise\.jpg"):
        read_image_file(bad)


def test_zero_byte_file(tmp_path: Path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.png: empty file"):
        read_image_file(tmp_path / "empty.png")


def test_non_image_with_image_extension(tmp_path: Path):
    (tmp_path / "notes.png").write_text("this is text, not a picture")
    with pytest.raises(InputError, match=r"notes\.png: not an image"):
        read_image_file(tmp_path / "notes.png")


def test_decompression_bomb_refused(tmp_path: Path, monkeypatch):
    big = write_image(tmp_path / "big.png", np.zeros((100, 100), dtype=np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels is over the limit now
    with pytest.raises(InputError, match=r"big\.png: image too large"):
        read_image_file(big)


def test_missing_path_and_folder(tmp_path: Path):
    with pytest.raises(InputError, match="image not found"):
        read_image_file(tmp_path / "nope.png")
    with pytest.raises(InputError, match="is a folder"):
        read_image_file(tmp_path)
