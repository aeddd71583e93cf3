"""Data sets and transforms: loaders return a ``ClassImageDataset``; no task logic lives here."""

from metagen.data.dataset import ClassImageDataset, rotation_augmented
from metagen.data.registry import DATASETS, class_split, load_dataset
from metagen.data.splits import ClassSplit, apply_split, make_split

__all__ = [
    "ClassImageDataset",
    "ClassSplit",
    "DATASETS",
    "apply_split",
    "class_split",
    "load_dataset",
    "make_split",
    "rotation_augmented",
]
