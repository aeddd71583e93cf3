"""The in-memory data set type every loader returns: images grouped by class.

Data contract: ``images`` is uint8 [N, C, H, W]; ``labels`` is int64 [N] with values in
``range(num_classes)``; ``class_names[c]`` names class ``c`` and ``class_meta[c]`` holds its metadata
(for Omniglot, its alphabet). Images of one class need not be contiguous.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from metagen.errors import InputError


@dataclass
class ClassImageDataset:
    """Images of many classes, uint8 [N, C, H, W], with one integer label per image."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    class_meta: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 [N, C, H, W], got {self.images.dtype} {self.images.shape}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError("labels must have one entry per image")
        if not self.class_meta:
            self.class_meta = [{} for _ in self.class_names]
        if len(self.class_meta) != len(self.class_names):
            raise ValueError("class_meta must have one entry per class")
        if len(self.class_names) == 0:
            raise InputError(f"data set {self.name!r} has no classes")
        self._index = [np.flatnonzero(self.labels == c) for c in range(len(self.class_names))]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.images.shape[2]), int(self.images.shape[3])

    def indices_of(self, c: int) -> np.ndarray:
        """Indices into ``images`` of the images of class ``c``."""
        return self._index[c]

    def images_of(self, c: int) -> np.ndarray:
        return self.images[self._index[c]]

    def class_sizes(self) -> np.ndarray:
        return np.array([len(ix) for ix in self._index], dtype=np.int64)

    def subset(self, classes: Sequence[int], name: str | None = None) -> "ClassImageDataset":
        """A new data set holding only ``classes`` (relabelled 0..len-1 in the given order)."""
        classes = list(classes)
        parts = [self._index[c] for c in classes]
        idx = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        labels = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(parts)]) if parts else idx
        return ClassImageDataset(
            name=name or self.name,
            images=self.images[idx],
            labels=labels,
            class_names=[self.class_names[c] for c in classes],
            class_meta=[self.class_meta[c] for c in classes],
        )

    def with_min_images(self, min_images: int) -> "ClassImageDataset":
        """Only the classes with at least ``min_images`` images."""
        keep = [c for c in range(self.num_classes) if len(self._index[c]) >= min_images]
        if not keep:
            raise InputError(f"data set {self.name!r}: no class has {min_images} or more images")
        return self.subset(keep)

    def class_index(self, class_name: str) -> int:
        try:
            return self.class_names.index(class_name)
        except ValueError:
            raise InputError(f"data set {self.name!r} has no class {class_name!r}") from None

    def info(self) -> dict[str, Any]:
        """Counts for ``metagen data info``."""
        sizes = self.class_sizes()
        h, w = self.image_size
        return {
            "dataset": self.name,
            "classes": self.num_classes,
            "images": int(self.images.shape[0]),
            "image_size": [h, w],
            "channels": self.channels,
            "images_per_class": {"min": int(sizes.min()), "max": int(sizes.max()), "mean": float(sizes.mean())},
        }


def from_class_arrays(
    name: str, per_class: list[np.ndarray], class_names: list[str], class_meta: list[dict] | None = None
) -> ClassImageDataset:
    """Build a data set from one uint8 [n_c, C, H, W] array per class."""
    if not per_class:
        raise InputError(f"data set {name!r} has no classes")
    labels = np.concatenate([np.full(len(a), i, dtype=np.int64) for i, a in enumerate(per_class)])
    return ClassImageDataset(name, np.concatenate(per_class), labels, class_names, class_meta or [])


def rotation_augmented(ds: ClassImageDataset) -> ClassImageDataset:
    """Add each class rotated by 90, 180 and 270 degrees as three new classes.

    This is the Omniglot convention of Santoro et al. (2016) and Finn et al. (2017, MAML): it
    quadruples the training classes. Apply it after splitting, to the training classes only.
    """
    per_class, names, meta = [], [], []
    for k, suffix in enumerate(("", "/rot90", "/rot180", "/rot270")):
        for c in range(ds.num_classes):
            per_class.append(np.ascontiguousarray(np.rot90(ds.images_of(c), k=k, axes=(2, 3))))
            names.append(ds.class_names[c] + suffix)
            meta.append({**ds.class_meta[c], "rotation": 90 * k})
    return from_class_arrays(ds.name + "+rot", per_class, names, meta)
