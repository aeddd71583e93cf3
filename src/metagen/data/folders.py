"""Image folders with one sub-folder per class (PNG, JPEG, BMP, PGM, TIFF; grey or RGB)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from metagen.data.cache import cached_dataset
from metagen.data.dataset import ClassImageDataset, from_class_arrays
from metagen.data.images import (
    ColourMode,
    channel_mode,
    is_image_name,
    open_image,
    to_array,
)
from metagen.data.sources import FileTree
from metagen.errors import InputError

LOADER_VERSION = 1


def group_by_class(tree: FileTree, prefix: str = "", depth: int = 1) -> dict[str, list[str]]:
    """Map each class (the first ``depth`` folder levels below ``prefix``) to its image files.

    Raises ``InputError`` for a class folder with no images in it, or when no class is found.
    """
    base = PurePosixPath(prefix) if prefix else None
    groups: dict[str, list[str]] = defaultdict(list)
    for rel in tree.files():
        p = PurePosixPath(rel)
        if base is not None:
            if base not in p.parents:
                continue
            p = p.relative_to(base)
        if len(p.parts) < depth + 1:
            continue  # files beside the class folders are not images of a class
        cls = "/".join(p.parts[:depth])
        if is_image_name(p.name):
            groups[cls].append(rel)
    for d in tree.dirs():
        p = PurePosixPath(d)
        if base is not None:
            if base not in p.parents:
                continue
            p = p.relative_to(base)
        if len(p.parts) == depth and "/".join(p.parts) not in groups:
            raise InputError(f"{tree.display(d)}: class folder has no images")
    if not groups:
        where = tree.display(prefix) if prefix else str(tree.path)
        raise InputError(f"{where}: no class folders with images found (expected <class>/<image> files)")
    return dict(sorted(groups.items()))


def decode_groups(
    tree: FileTree,
    groups: dict[str, list[str]],
    mode: ColourMode | None,
    size: int | tuple[int, int] | None,
    invert: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Decode every file of every class into uint8 [n, C, H, W] arrays, one per class.

    With ``mode`` None the channel count is taken from the files, and a mix of grey and colour
    images is an error (pass the channels explicitly to convert them all). All images must end up
    the same size: give ``size`` to resize them.
    """
    decoded: list[list[np.ndarray]] = []
    seen_modes: dict[str, str] = {}
    for files in groups.values():
        arrays = []
        for rel in files:
            image = open_image(tree.read(rel), tree.display(rel))
            file_mode = channel_mode(image)
            seen_modes.setdefault(file_mode, tree.display(rel))
            if mode is None and len(seen_modes) > 1:
                raise InputError(
                    f"{tree.path}: a mix of grey and colour images (grey: {seen_modes['L']}, colour: "
                    f"{seen_modes['RGB']}); choose the channels (1 or 3) to convert them all"
                )
            arr = to_array(image, mode or file_mode, size)
            arrays.append(255 - arr if invert else arr)
        if progress:
            progress(len(files))
        decoded.append(arrays)
    shapes = {a.shape for arrays in decoded for a in arrays}
    if len(shapes) > 1:
        raise InputError(f"{tree.path}: images of different sizes {sorted(shapes)[:3]}...; give an image size")
    return [np.stack(arrays) for arrays in decoded]


def load_image_folders(
    root: str | Path,
    channels: int | None = None,
    size: int | None = None,
    min_images: int = 1,
    name: str | None = None,
    use_cache: bool = True,
) -> ClassImageDataset:
    """Load ``root/<class>/<image>`` (a folder or a zip of one) as a class data set.

    ``channels`` 1 or 3 converts every image; None keeps the files' own (and refuses a mix).
    ``size`` resizes to size x size with antialiasing. ``min_images`` drops smaller classes.
    """
    mode = channel_mode_for(channels)
    tree = FileTree(root)
    transform = {"loader": "folders", "version": LOADER_VERSION, "mode": mode, "size": size}

    def build() -> ClassImageDataset:
        groups = group_by_class(tree)
        arrays = decode_groups(tree, groups, mode, size)
        return from_class_arrays(name or Path(root).name, arrays, list(groups))

    return cached_dataset(tree.digest(), transform, build, use_cache).with_min_images(min_images)


def channel_mode_for(channels: int | None) -> ColourMode | None:
    """Map a channel count (1, 3 or None) to a Pillow mode, refusing anything else."""
    if channels is None:
        return None
    if channels not in (1, 3):
        raise InputError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
    return "L" if channels == 1 else "RGB"
