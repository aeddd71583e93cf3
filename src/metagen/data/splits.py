"""Seeded, disjoint class splits (train / validation / test), stored as JSON by class name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from metagen.data.dataset import ClassImageDataset
from metagen.errors import InputError

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class ClassSplit:
    """Class names of each part. The parts are disjoint; ``seed`` and ``source`` say how it was made."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    seed: int | None = None
    source: str = ""

    def __post_init__(self) -> None:
        parts = [set(self.train), set(self.val), set(self.test)]
        for i in range(3):
            for j in range(i + 1, 3):
                both = parts[i] & parts[j]
                if both:
                    raise InputError(
                        f"class split is not disjoint: {sorted(both)[:3]} in both {SPLIT_NAMES[i]} and {SPLIT_NAMES[j]}"
                    )

    def part(self, name: str) -> tuple[str, ...]:
        if name not in SPLIT_NAMES:
            raise InputError(f"split part must be one of {', '.join(SPLIT_NAMES)}, got {name!r}")
        return getattr(self, name)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "source": self.source,
            "train": list(self.train),
            "val": list(self.val),
            "test": list(self.test),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "ClassSplit":
        try:
            return cls(
                tuple(obj["train"]), tuple(obj["val"]), tuple(obj["test"]), obj.get("seed"), obj.get("source", "")
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"not a class split (needs train, val and test lists of class names): {exc}") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "ClassSplit":
        try:
            return cls.from_json(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: cannot read class split ({exc})") from None


def _count(n: int, part: float | int) -> int:
    return int(part) if isinstance(part, int) or part >= 1 else int(round(part * n))


def make_split(class_names: list[str], val: float | int, test: float | int, seed: int, source: str = "") -> ClassSplit:
    """Shuffle ``class_names`` with ``seed`` and cut off ``val`` and ``test`` classes (fractions
    below 1, or counts). Every part but train may be empty; train may not."""
    n = len(class_names)
    n_val, n_test = _count(n, val), _count(n, test)
    if n_val < 0 or n_test < 0 or n_val + n_test >= n:
        raise InputError(
            f"cannot split {n} classes into {n_val} validation and {n_test} test classes and a training part"
        )
    order = np.random.default_rng(seed).permutation(n)
    names = [class_names[i] for i in order]
    return ClassSplit(
        train=tuple(sorted(names[n_val + n_test :])),
        val=tuple(sorted(names[:n_val])),
        test=tuple(sorted(names[n_val : n_val + n_test])),
        seed=seed,
        source=source,
    )


def apply_split(ds: ClassImageDataset, split: ClassSplit, part: str) -> ClassImageDataset:
    """The classes of ``ds`` in one part of ``split`` (an error names any class ``ds`` lacks)."""
    names = split.part(part)
    index = {name: i for i, name in enumerate(ds.class_names)}
    missing = [n for n in names if n not in index]
    if missing:
        raise InputError(f"split names {len(missing)} classes that data set {ds.name!r} lacks, e.g. {missing[:3]}")
    if not names:
        raise InputError(f"the {part} part of the split of {ds.name!r} is empty")
    return ds.subset([index[n] for n in names], name=f"{ds.name}[{part}]")


def packaged_split(name: str) -> ClassSplit:
    """A split committed in the package (``metagen/data/splits/<name>.json``)."""
    ref = resources.files("metagen.data") / "splits" / f"{name}.json"
    if not ref.is_file():
        raise InputError(f"no packaged split named {name!r}")
    return ClassSplit.from_json(json.loads(ref.read_text()))
