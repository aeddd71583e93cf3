"""Restoration tasks: patches of one training image under one degradation at one level.

Data contract: ``support_x`` / ``query_x`` are degraded patches [S|Q, C, P, P] float32, their
unknown pixels (inpainting) filled by a spline in tension (``metagen.tasks.fill``);
``support_y`` is the bool mask of known pixels [S, 1, P, P] (the inner loop sees no clean image);
``query_y`` is the clean patches [Q, C, P, P] float32 in [0, 1]. Support and query patches are
distinct crops of the same image with the same degradation instance (the same noise level).

Super-resolution tasks (``Downscale``) instead carry the inner loop's self-supervised pairs, as
MZSR does (Soh et al. 2020): ``support_y`` is the degraded support patches themselves (float) and
``support_x`` their coarser copies (``metagen.objectives.restoration.coarser_copy``), so that the
supervised loss on the support is the rescaling loss that adapts to a low-resolution image at test
time (ZSSR, Shocher et al. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from metagen.errors import ConfigError, InputError
from metagen.objectives.restoration import coarser_copy
from metagen.tasks.degradations import Degradation, Downscale
from metagen.tasks.fill import fill_unknown
from metagen.tasks.task import Task


def _augment(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of the 8 flips and rotations (DnCNN's augmentation)."""
    patch = np.rot90(patch, int(rng.integers(0, 4)))
    return np.ascontiguousarray(patch[:, ::-1] if rng.random() < 0.5 else patch)


@dataclass
class _Drawn:
    """One task's patches before the fill: the clean arrays, the degraded patches and their known-pixel masks."""

    clean: list[np.ndarray]
    degraded: torch.Tensor  # [S + Q, C, P, P]
    known: torch.Tensor  # [S + Q, 1, P, P] bool
    degradation: Degradation


def _stack(arrays: list[np.ndarray]) -> torch.Tensor:
    """[H, W] or [H, W, C] float arrays as one float32 tensor [N, C, H, W]."""
    chw = [a[None] if a.ndim == 2 else a.transpose(2, 0, 1) for a in arrays]
    return torch.from_numpy(np.stack(chw).astype(np.float32))


class RestorationSampler:
    """Draws restoration tasks from uint8 images [H, W] or [H, W, C] and a list of degradations.

    Patches are cut and degraded on the CPU, task by task from the RNG; the fill of lost pixels
    (conjugate gradients, most of a task's cost) then runs once for a whole meta-batch on
    ``device``, where the tasks are returned: on a GPU it costs little next to the network."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        degradations: Sequence[Degradation],
        patch: int,
        support: int,
        query: int,
        device: torch.device | str = "cpu",
    ):
        if not images:
            raise InputError("restoration training needs at least one image")
        if not degradations:
            raise InputError("restoration training needs at least one degradation")
        small = [im.shape[:2] for im in images if min(im.shape[:2]) < patch]
        if small:
            raise InputError(f"patch size {patch} is larger than an image of {small[0]}")
        uneven = [d.spec() for d in degradations if isinstance(d, Downscale) and patch % d.scale]
        if uneven:
            raise ConfigError(f"patch size {patch} is not a multiple of the scale of {uneven[0]}")
        self.images, self.degradations = list(images), list(degradations)
        self.patch, self.support, self.query = patch, support, query
        self.channels = 1 if images[0].ndim == 2 else images[0].shape[2]
        self.device = torch.device(device)

    def _crop(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        top = rng.integers(0, image.shape[0] - self.patch + 1)
        left = rng.integers(0, image.shape[1] - self.patch + 1)
        return _augment(image[top : top + self.patch, left : left + self.patch].astype(np.float32) / 255.0, rng)

    def _draw(self, rng: np.random.Generator) -> _Drawn:
        image = self.images[int(rng.integers(len(self.images)))]
        degradation = self.degradations[int(rng.integers(len(self.degradations)))].instance(rng)
        clean = [self._crop(image, rng) for _ in range(self.support + self.query)]
        degraded = [degradation.apply(c, rng) for c in clean]
        known = np.stack([np.ones(c.shape[:2], bool) if d.known is None else d.known for c, d in zip(clean, degraded)])
        return _Drawn(clean, _stack([d.image for d in degraded]), torch.from_numpy(known)[:, None], degradation)

    def _task(self, drawn: _Drawn, inputs: torch.Tensor) -> Task:
        s, degradation = self.support, drawn.degradation
        support_x, support_y = inputs[:s], drawn.known[:s].to(self.device)
        if isinstance(degradation, Downscale):
            support_x, support_y = coarser_copy(inputs[:s], degradation.scale), inputs[:s]
        return Task(
            support_x=support_x,
            support_y=support_y,
            query_x=inputs[s:],
            query_y=_stack(drawn.clean[s:]).to(self.device),
            classes=(),
            meta={"degradation": degradation.spec()},
        )

    def sample_batch(self, rng: np.random.Generator, n: int) -> list[Task]:
        """``n`` tasks on ``self.device``, their lost pixels filled together."""
        drawn = [self._draw(rng) for _ in range(n)]
        degraded = torch.cat([d.degraded for d in drawn]).to(self.device)
        known = torch.cat([d.known for d in drawn]).to(self.device)
        inputs = fill_unknown(degraded, known).split(self.support + self.query)
        return [self._task(d, x) for d, x in zip(drawn, inputs)]

    def sample(self, rng: np.random.Generator) -> Task:
        return self.sample_batch(rng, 1)[0]
