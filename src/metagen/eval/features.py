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
EmbedWithLogits = Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray]]


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
    with_logits: EmbedWithLogits | None = None  # classifier spaces (Inception): features and logits at once

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        self._check(images)
        return self.embed(images)

    def features_and_logits(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Features and, where the space is a classifier's (Inception), its logits for the IS."""
        self._check(images)
        return self.with_logits(images) if self.with_logits else (self.embed(images), None)

    def _check(self, images: torch.Tensor) -> None:
        if images.ndim != 4:
            raise InputError(f"expected images [N, C, H, W], got shape {tuple(images.shape)}")
        wanted = (self.channels, self.image_size, self.image_size)
        if self.image_size is not None and tuple(images.shape[1:]) != wanted:
            raise InputError(f"feature space {self.name} takes images of shape {wanted}, got {tuple(images.shape[1:])}")

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


INCEPTION_SIZE = 299
INCEPTION_BATCH = 64


def load_inception(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, str]:
    """The FID InceptionV3 with the weights in ``path`` (the ``pt_inception-2015-12-05`` state dict,
    or the same tensors as safetensors) and the file's sha256. No code runs while loading."""
    import hashlib

    from safetensors.torch import load_file

    from metagen.errors import CheckpointError
    from metagen.nn.inception import FIDInceptionV3

    p = Path(path)
    if not p.is_file():
        raise InputError(f"Inception weights not found: {p}")
    try:
        if p.suffix == ".safetensors":
            state = load_file(p)
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt, truncated or foreign file
        raise CheckpointError(f"{p}: not a readable weights file ({type(exc).__name__}: {exc})") from None
    net = FIDInceptionV3()
    own = net.state_dict()
    if not isinstance(state, dict):
        raise CheckpointError(f"{p}: expected a state dict of tensors")
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if getattr(state[k], "shape", None) != own[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{p}: not FID InceptionV3 weights (missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]})"
        )
    net.load_state_dict(state)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    return net.to(device).eval(), digest


def inception_space(path: str | Path, device: str = "cpu") -> FeatureSpace:
    """InceptionV3 pool3 features (2048-d) with the preprocessing of the published FID numbers:
    pixel values on the 0..255 scale, TensorFlow-1 bilinear resize to 299x299, then (x - 128) / 128
    (the TensorFlow FID graph's own scaling). Grey images are repeated to three channels."""
    from metagen.nn.inception import resize_bilinear_tf1

    net, digest = load_inception(path, device)

    @torch.no_grad()
    def with_logits(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        if images.shape[1] not in (1, 3):
            raise InputError(f"Inception features need 1- or 3-channel images, got {images.shape[1]} channels")
        feats, logits = [], []
        for i in range(0, len(images), INCEPTION_BATCH):
            x = images[i : i + INCEPTION_BATCH].to(device).float() * 255.0
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            f, lg = net.features_and_logits((resize_bilinear_tf1(x, INCEPTION_SIZE) - 128.0) / 128.0)
            feats.append(f.double().cpu())
            logits.append(lg.double().cpu())
        return torch.cat(feats).numpy(), torch.cat(logits).numpy()

    def embed(images: torch.Tensor) -> np.ndarray:
        return with_logits(images)[0]

    return FeatureSpace(f"inception-v3:{Path(path).name}", digest, None, None, embed, with_logits=with_logits)
