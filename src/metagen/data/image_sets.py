"""Restoration image sets: whole images (not classes), read from their zip or unpacked folder.

Train400, Set12, BSD68 and CBSD68 are the DnCNN sets (Zhang et al. 2017); Set5 (Bevilacqua et
al. 2012) and Set14 (Zeyde et al. 2010) the super-resolution sets. Each is found under the data
root as ``restoration/{train,test}/NAME.zip`` (or the ``NAME/`` folder), as in shared/data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from metagen.data.images import channel_mode, is_image_name, open_image, to_array
from metagen.data.sources import locate_tree
from metagen.errors import InputError
from metagen.paths import data_root


@dataclass(frozen=True)
class SetSpec:
    subfolder: str  # under restoration/
    inner: str  # folder inside the set that holds the images ("" for the set's own folder)
    colour: str  # "L", "RGB" or "file" (keep each file's own channels)


IMAGE_SETS: dict[str, SetSpec] = {
    "Train400": SetSpec("train", "", "L"),
    "Set12": SetSpec("test", "", "L"),
    "BSD68": SetSpec("test", "", "L"),
    "CBSD68": SetSpec("test", "", "RGB"),
    "Set5": SetSpec("test", "HR", "RGB"),
    "Set14": SetSpec("test", "", "file"),
}


@dataclass(frozen=True)
class NamedImage:
    """One image of a set: its file stem and its pixels, uint8 [H, W] (grey) or [H, W, 3]."""

    name: str
    pixels: np.ndarray


def load_image_set(name: str, root: str | Path | None = None) -> list[NamedImage]:
    """Every image of the set ``name``, sorted by file name. ``root`` is the data root (default
    ``$METAGEN_DATA``), a folder holding ``NAME.zip``, the zip itself or the unpacked folder."""
    if name not in IMAGE_SETS:
        raise InputError(f"unknown image set {name!r}; choose one of: {', '.join(IMAGE_SETS)}")
    spec = IMAGE_SETS[name]
    base = Path(root) if root is not None else data_root(f"image set {name}") / "restoration"
    tree, prefix = locate_tree(base, name, f"{name}.zip", spec.subfolder, f"image set {name}")
    folder = "/".join(p for p in (prefix, spec.inner) if p)
    files = [f for f in tree.files() if is_image_name(f) and str(PurePosixPath(f).parent) == (folder or ".")]
    if not files:
        raise InputError(f"image set {name}: no images in {tree.display(folder or '.')}")
    images = []
    for rel in files:
        image = open_image(tree.read(rel), tree.display(rel))
        mode = channel_mode(image) if spec.colour == "file" else spec.colour
        chw = to_array(image, mode, None)
        images.append(NamedImage(PurePosixPath(rel).stem, chw[0] if mode == "L" else chw.transpose(1, 2, 0)))
    return images
