"""Feature spaces for the distribution metrics: a trained domain embedding (the protocol default),
raw pixels (needs nothing trained; only for quick checks), or InceptionV3 from a weights file.

A feature space is named and carries a checksum (the sha256 of its weights file), which every
report prints so that two numbers are compared only when they were measured in the same space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from metagen.errors import InputError

Embed = Callable[[torch.Tensor], np.ndarray]


@dataclass
class FeatureSpace:
    """``embed`` maps images [N, C, H, W] (float in [0, 1]) to features [N, D] (float64)."""

    name: str
    checksum: str
    image_size: int | None
    channels: int | None
    embed: Embed
    dataset: str | None = None
    train_classes: frozenset[str] = field(default_factory=frozenset)

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        if images.ndim != 4:
            raise InputError(f"expected images [N, C, H, W], got shape {tuple(images.shape)}")
        wanted = (self.channels, self.image_size, self.image_size)
        if self.image_size is not None and tuple(images.shape[1:]) != wanted:
            raise InputError(f"feature space {self.name} takes images of shape {wanted}, got {tuple(images.shape[1:])}")
        return self.embed(images)

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "checksum": self.checksum, "dataset": self.dataset}

    def check_unseen(self, classes: list[str], dataset: str) -> None:
        """Refuse to score classes the embedding was trained on: a metric in a space fitted to the
        test classes would flatter the generator."""
        if self.dataset is not None and self.dataset != dataset:
            raise InputError(f"feature space {self.name} was trained on {self.dataset!r}, not on {dataset!r}")
        seen = sorted(self.train_classes.intersection(classes))
        if seen:
            raise InputError(
                f"feature space {self.name} was trained on {len(seen)} of the evaluated classes (e.g. {seen[0]}); "
                "train it on the run's training classes only"
            )


def pixel_space() -> FeatureSpace:
    """Raw pixels as features (float64, flattened)."""
    return FeatureSpace("pixels", "none", None, None, lambda x: x.flatten(1).double().numpy())


def load_feature_space(run: str | Path, device: str = "cpu") -> FeatureSpace:
    """The embedding trained by ``metagen features train``, from its run directory or checkpoint."""
    from metagen.data.splits import ClassSplit
    from metagen.fewshot.adapt import load_run
    from metagen.fewshot.prototypes import PrototypeClassifier
    from metagen.train.state import EMBEDDING_KIND

    loaded = load_run(run, device, EMBEDDING_KIND)
    family = loaded.experiment.family
    assert isinstance(family, PrototypeClassifier)
    split = ClassSplit.from_json(loaded.record["split"])
    config = loaded.experiment.config
    return FeatureSpace(
        name=f"{config.data.dataset}-{loaded.experiment.network_spec['name']}@{loaded.step}",
        checksum=loaded.record["weights_sha256"],
        image_size=loaded.image_size,
        channels=loaded.channels,
        embed=family.embed,
        dataset=config.data.dataset,
        train_classes=frozenset(split.train) | frozenset(split.val),
    )
