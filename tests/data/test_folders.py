"""Class-folder data sets: formats, conversions and every malformed folder."""

import zipfile
from pathlib import Path

import numpy as np
import pytest

from metagen.data.folders import load_image_folders
from metagen.errors import InputError
from tests.conftest import write_image


def test_loads_assorted_formats(class_folder: Path):
    ds = load_image_folders(class_folder, use_cache=False)
    assert ds.num_classes == 3 and ds.images.shape == (18, 1, 20, 20)
    assert ds.class_names == ["class0", "class1", "class2"]
    np.testing.assert_array_equal(ds.class_sizes(), [6, 6, 6])


def test_resize_and_rgb_conversion(class_folder: Path):
    ds = load_image_folders(class_folder, channels=3, size=16, use_cache=False)
    assert ds.images.shape == (18, 3, 16, 16)


def test_zip_of_class_folders_equals_folder(class_folder: Path, tmp_path: Path):
    archive = tmp_path / "classes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in class_folder.rglob("*"):
            if f.is_file():
                z.write(f, f.relative_to(class_folder).as_posix())
    a = load_image_folders(class_folder, use_cache=False)
    b = load_image_folders(archive, use_cache=False)
    np.testing.assert_array_equal(a.images, b.images)


def test_empty_class_folder(class_folder: Path):
    (class_folder / "class3").mkdir()
    with pytest.raises(InputError, match="class3: class folder has no images"):
        load_image_folders(class_folder, use_cache=False)


def test_empty_root(tmp_path: Path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match="no class folders"):
        load_image_folders(tmp_path / "nothing", use_cache=False)


def test_mix_of_grey_and_rgb_is_refused_unless_converted(class_folder: Path):
    write_image(class_folder / "class1" / "colour.png", np.tile(np.array([255, 0, 0], dtype=np.uint8), (20, 20, 1)))
    with pytest.raises(InputError, match="mix of grey and colour"):
        load_image_folders(class_folder, use_cache=False)
    ds = load_image_folders(class_folder, channels=1, use_cache=False)
    assert ds.images.shape[1] == 1 and ds.images.shape[0] == 19


def test_corrupt_image_inside_a_class_is_named(class_folder: Path):
    (class_folder / "class2" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(InputError, match=r"class2/broken\.png"):
        load_image_folders(class_folder, use_cache=False)


def test_min_images_filter(class_folder: Path):
    (class_folder / "class0" / "img0.png").unlink()
    ds = load_image_folders(class_folder, min_images=6, use_cache=False)
    assert ds.class_names == ["class1", "class2"]


def test_cache_is_keyed_by_content(class_folder: Path):
    a = load_image_folders(class_folder)
    write_image(class_folder / "class0" / "img0.png", np.zeros((20, 20), dtype=np.uint8))
    b = load_image_folders(class_folder)
    assert not np.array_equal(a.images, b.images)
    assert (b.images[b.indices_of(0)] == 0).all(axis=(1, 2, 3)).sum() == 1
