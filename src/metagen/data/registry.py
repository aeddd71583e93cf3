"""Data sets by name: how each is loaded and how its classes are split for meta-learning.

Every entry is one decorated function; ``tests/data/test_registry.py`` runs them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from metagen.data.dataset import ClassImageDataset
from metagen.data.faces import load_att_faces, load_celeba_identities
from metagen.data.folders import load_image_folders
from metagen.data.glyphs import load_glyphs
from metagen.data.mnist import load_mnist
from metagen.data.omniglot import load_omniglot
from metagen.data.splits import ClassSplit, make_split, packaged_split
from metagen.errors import InputError
from metagen.paths import data_root


@dataclass(frozen=True)
class DatasetEntry:
    load: Callable[..., ClassImageDataset]
    split: Callable[[ClassImageDataset, int], ClassSplit]
    needs_root: bool
    default_size: int
    default_channels: int | None
    description: str


DATASETS: dict[str, DatasetEntry] = {}


def register(name: str, needs_root: bool, default_size: int, default_channels: int | None, description: str):
    def wrap(split: Callable[[ClassImageDataset, int], ClassSplit]):
        def decorator(load: Callable[..., ClassImageDataset]):
            DATASETS[name] = DatasetEntry(load, split, needs_root, default_size, default_channels, description)
            return load

        return decorator

    return wrap


def _seeded_split(val: float | int, test: float | int):
    return lambda ds, seed: make_split(ds.class_names, val, test, seed, source=f"seeded: val={val}, test={test}")


def _omniglot_split(ds: ClassImageDataset, seed: int) -> ClassSplit:
    """The project's Omniglot protocol: train on images_background less a seeded 64 characters
    held out for validation; test on all of images_evaluation."""
    background = [n for n in ds.class_names if n.startswith("background/")]
    evaluation = tuple(sorted(n for n in ds.class_names if n.startswith("evaluation/")))
    part = make_split(background, 64, 0, seed)
    return ClassSplit(
        part.train, part.val, evaluation, seed, "omniglot protocol: 64 background characters for validation"
    )


def _packaged(name: str):
    return lambda ds, seed: packaged_split(name)


@register("glyphs", False, 28, 1, "characters rendered from matplotlib's fonts (ships with the install)")(
    _seeded_split(0.1, 0.15)
)
def _glyphs(root: Path | None, size: int, channels: int | None, **options: Any) -> ClassImageDataset:
    return load_glyphs(size=size, **options)


@register("omniglot", True, 28, 1, "Omniglot background + evaluation (1,623 characters x 20)")(_omniglot_split)
def _omniglot(root: Path, size: int, channels: int | None, **options: Any) -> ClassImageDataset:
    parts = [load_omniglot(root, subset, size, **options) for subset in ("background", "evaluation")]
    return _merge(parts, "omniglot")


def _maml_split(ds: ClassImageDataset, seed: int) -> ClassSplit:
    """The split of Finn et al. (2017) and Santoro et al. (2016): all 1,623 characters shuffled,
    1,200 for meta-training, the other 423 for testing (rotations are added to training by
    ``data.rotations``)."""
    part = make_split(ds.class_names, 0, ds.num_classes - 1200, seed)
    return ClassSplit(part.train, (), part.test, seed, "MAML protocol: 1200 training characters, the rest for testing")


@register("omniglot-maml", True, 28, 1, "Omniglot, all 1,623 characters, split 1,200 / 423 as in MAML")(_maml_split)
def _omniglot_maml(root: Path, size: int, channels: int | None, **options: Any) -> ClassImageDataset:
    return _omniglot(root, size, channels, **options)


@register("omniglot-background", True, 28, 1, "Omniglot images_background (964 characters x 20)")(_seeded_split(64, 0))
def _omniglot_background(root: Path, size: int, channels: int | None, **options: Any) -> ClassImageDataset:
    return load_omniglot(root, "background", size, **options)


@register("omniglot-evaluation", True, 28, 1, "Omniglot images_evaluation (659 characters x 20)")(
    _seeded_split(0.1, 0.2)
)
def _omniglot_evaluation(root: Path, size: int, channels: int | None, **options: Any) -> ClassImageDataset:
    return load_omniglot(root, "evaluation", size, **options)


@register("celeba", True, 64, 3, "CelebA identity subset, one class per identity")(_packaged("celeba_identities"))
def _celeba(root: Path, size: int, channels: int | None, min_images: int = 1, **options: Any) -> ClassImageDataset:
    return load_celeba_identities(root, size, channels or 3, min_images, **options)


@register("att", True, 64, 1, "AT&T (ORL) faces, 40 people x 10")(_packaged("att_faces"))
def _att(root: Path, size: int, channels: int | None, min_images: int = 1, **options: Any) -> ClassImageDataset:
    return load_att_faces(root, size, channels or 1, min_images, **options)


@register("mnist", True, 28, 1, "MNIST IDX files (digits as classes)")(_seeded_split(0, 0))
def _mnist(root: Path, size: int, channels: int | None, split: str = "t10k", **options: Any) -> ClassImageDataset:
    ds = load_mnist(root, split)
    if size != 28:
        raise InputError(f"MNIST images are 28x28; size={size} is not supported for mnist")
    return ds


@register("folders", True, 32, None, "any folder (or zip) with one sub-folder of images per class")(
    _seeded_split(0.1, 0.2)
)
def _folders(root: Path, size: int, channels: int | None, **options: Any) -> ClassImageDataset:
    return load_image_folders(root, channels, size, **options)


def _merge(parts: list[ClassImageDataset], name: str) -> ClassImageDataset:
    offsets = np.cumsum([0] + [p.num_classes for p in parts[:-1]])
    subset_names = [p.name.split("-")[-1] for p in parts]
    return ClassImageDataset(
        name,
        np.concatenate([p.images for p in parts]),
        np.concatenate([p.labels + off for p, off in zip(parts, offsets)]),
        [f"{s}/{n}" for p, s in zip(parts, subset_names) for n in p.class_names],
        [m for p in parts for m in p.class_meta],
    )


def dataset_entry(name: str) -> DatasetEntry:
    if name not in DATASETS:
        raise InputError(f"unknown data set {name!r}; choose one of: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def load_dataset(
    name: str, root: str | Path | None = None, size: int | None = None, channels: int | None = None, **options: Any
) -> ClassImageDataset:
    """Load the data set ``name``; ``root`` defaults to ``$METAGEN_DATA`` for those that need one."""
    entry = dataset_entry(name)
    if entry.needs_root:
        root = Path(root) if root else data_root(f"data set {name!r}")
        if not root.exists():
            raise InputError(f"data set {name!r}: root {root} does not exist")
    size = size or entry.default_size
    if size < 4 or size > 1024:
        raise InputError(f"image size must be between 4 and 1024 pixels, got {size}")
    try:
        return entry.load(
            Path(root) if root else None, size, channels if channels is not None else entry.default_channels, **options
        )
    except TypeError as exc:
        raise InputError(f"data set {name!r}: bad option ({exc})") from None


def class_split(name: str, ds: ClassImageDataset, seed: int) -> ClassSplit:
    """The data set's standard split of classes into train / val / test."""
    return dataset_entry(name).split(ds, seed)
