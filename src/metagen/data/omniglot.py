"""Omniglot (Lake et al. 2015): 1,623 hand-drawn characters from 50 alphabets, 20 drawings each.

``images_background`` holds 964 characters (30 alphabets) and ``images_evaluation`` 659 (20
alphabets). Files are 105x105 1-bit PNGs, black strokes on white; metagen returns white strokes on
black, resized with antialiasing (28x28 by default, the convention of Santoro et al. 2016 and
Finn et al. 2017), and keeps each character's alphabet as class metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from metagen.data.cache import cached_dataset
from metagen.data.dataset import ClassImageDataset, from_class_arrays
from metagen.data.folders import decode_groups, group_by_class
from metagen.data.sources import FileTree, locate_tree
from metagen.errors import InputError

Subset = Literal["background", "evaluation"]
LOADER_VERSION = 1

# The official archives (github.com/brendenlake/omniglot, python/), with the md5 sums published
# alongside them and used by the common loaders. The copy in ../shared/data was re-zipped, so its
# md5 differs: the loader reads either, the downloader insists on these.
OFFICIAL_ZIPS = {
    "background": (
        "https://github.com/brendenlake/omniglot/raw/master/python/images_background.zip",
        "68d2efa1b9178cc56df9314c21c6e718",
    ),
    "evaluation": (
        "https://github.com/brendenlake/omniglot/raw/master/python/images_evaluation.zip",
        "6b91aef0f799c5bb55b94e3f2daec811",
    ),
}


def locate_omniglot(root: str | Path, subset: Subset) -> tuple[FileTree, str]:
    """Find the ``images_<subset>`` zip or folder at or below ``root``.

    ``root`` may be the zip itself, the unpacked ``images_<subset>`` folder, or a folder holding
    either (directly or in an ``omniglot`` sub-folder). Returns the tree and the prefix of the
    alphabet folders inside it.
    """
    if subset not in OFFICIAL_ZIPS:
        raise InputError(f"Omniglot subset must be 'background' or 'evaluation', got {subset!r}")
    stem = f"images_{subset}"
    return locate_tree(root, stem, f"{stem}.zip", "omniglot", "Omniglot")


def load_omniglot(
    root: str | Path, subset: Subset = "background", size: int = 28, use_cache: bool = True
) -> ClassImageDataset:
    """Load one Omniglot subset as a class data set (class name ``Alphabet/characterNN``)."""
    tree, prefix = locate_omniglot(root, subset)
    transform = {"loader": "omniglot", "version": LOADER_VERSION, "subset": subset, "size": size}

    def build() -> ClassImageDataset:
        groups = group_by_class(tree, prefix=prefix, depth=2)
        arrays = decode_groups(tree, groups, "L", size, invert=True)
        meta = [{"alphabet": name.split("/")[0]} for name in groups]
        return from_class_arrays(f"omniglot-{subset}", arrays, list(groups), meta)

    return cached_dataset(tree.digest(), transform, build, use_cache)
