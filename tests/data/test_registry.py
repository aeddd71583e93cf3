"""Every registered data set loads through the registry and splits into disjoint parts."""

import pytest

from metagen.data.registry import DATASETS, class_split, load_dataset
from metagen.data.splits import apply_split
from metagen.errors import InputError

ROOTS = {
    "glyphs": lambda data, folder: None,
    "omniglot": lambda data, folder: data / "omniglot",
    "omniglot-maml": lambda data, folder: data / "omniglot",
    "omniglot-background": lambda data, folder: data / "omniglot",
    "omniglot-evaluation": lambda data, folder: data / "omniglot",
    "celeba": lambda data, folder: data / "faces",
    "att": lambda data, folder: data / "faces",
    "mnist": lambda data, folder: data / "mnist",
    "folders": lambda data, folder: folder,
}


def test_every_entry_has_a_test_root():
    assert set(ROOTS) == set(DATASETS)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_entry_loads_and_splits(name, shared_data, class_folder):
    size = 16 if name == "folders" else None
    ds = load_dataset(name, ROOTS[name](shared_data, class_folder), size=size)
    assert ds.num_classes >= 3 and ds.images.dtype.name == "uint8"
    split = class_split(name, ds, seed=0)
    parts = [set(split.train), set(split.val), set(split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert apply_split(ds, split, "train").num_classes == len(split.train)


def test_unknown_dataset_and_bad_size():
    with pytest.raises(InputError, match="unknown data set 'imagenet'; choose one of: att, celeba"):
        load_dataset("imagenet")
    with pytest.raises(InputError, match="image size must be between"):
        load_dataset("glyphs", size=2)
