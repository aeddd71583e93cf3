"""Faces as classes by identity: the CelebA identity subset and AT&T (ORL) faces.

CelebA (Liu et al. 2015): ``celeba_identity_subset_aligned128/faces/<identity>/<image>.jpg``,
aligned 128x128 RGB. AT&T faces (Olivetti Research Laboratory, Samaria and Harter 1994):
``att_faces/s1..s40/1..10.pgm``, 92x112 grey. Both load from the zip or the unpacked folder.
"""

from __future__ import annotations

from pathlib import Path

from metagen.data.cache import cached_dataset
from metagen.data.dataset import ClassImageDataset, from_class_arrays
from metagen.data.folders import channel_mode_for, decode_groups, group_by_class
from metagen.data.sources import FileTree, locate_tree

LOADER_VERSION = 1

CELEBA_STEM = "celeba_identity_subset_aligned128"
ATT_STEM = "att_faces"
ATT_ZIP = "att_faces_orl.zip"


def _load_faces(
    tree: FileTree, prefix: str, name: str, size: int, channels: int, min_images: int, use_cache: bool
) -> ClassImageDataset:
    mode = channel_mode_for(channels)
    transform = {"loader": name, "version": LOADER_VERSION, "size": size, "mode": mode}

    def build() -> ClassImageDataset:
        groups = group_by_class(tree, prefix=prefix)
        arrays = decode_groups(tree, groups, mode, size)
        return from_class_arrays(name, arrays, [g.split("/")[-1] for g in groups])

    return cached_dataset(tree.digest(), transform, build, use_cache).with_min_images(min_images)


def load_celeba_identities(
    root: str | Path, size: int = 64, channels: int = 3, min_images: int = 1, use_cache: bool = True
) -> ClassImageDataset:
    """The CelebA identity subset: one class per identity (299 identities, 6,275 faces)."""
    tree, stem = locate_tree(root, CELEBA_STEM, f"{CELEBA_STEM}.zip", "faces", "face data")
    prefix = f"{stem}/faces" if stem else "faces"
    return _load_faces(tree, prefix, "celeba-identities", size, channels, min_images, use_cache)


def load_att_faces(
    root: str | Path, size: int = 64, channels: int = 1, min_images: int = 1, use_cache: bool = True
) -> ClassImageDataset:
    """AT&T faces: 40 people x 10 images, grey; resized to ``size`` x ``size``."""
    tree, stem = locate_tree(root, ATT_STEM, ATT_ZIP, "faces", "face data")
    return _load_faces(tree, stem, "att-faces", size, channels, min_images, use_cache)
