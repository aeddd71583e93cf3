"""Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training"): the same random colour, translation and cutout applied to real and generated images
before the discriminator sees them, so a discriminator trained on a few shots cannot simply memorise
them. Every operation is differentiable in the images, and seeded by a torch generator.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _uniform(shape: tuple[int, ...], gen: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(shape, generator=gen).to(like)


def color(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5) per image; images in [0, 1]."""
    b = x.shape[0]
    x = x + (_uniform((b, 1, 1, 1), gen, x) - 0.5)
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_uniform((b, 1, 1, 1), gen, x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform((b, 1, 1, 1), gen, x) + 0.5) + mean


def translation(x: torch.Tensor, gen: torch.Generator | None = None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size in each direction, filling with zeros."""
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (b,), generator=gen).tolist()
    dx = torch.randint(-sx, sx + 1, (b,), generator=gen).tolist()
    padded = F.pad(x, (sx, sx, sy, sy))
    return torch.stack([padded[i, :, sy - dy[i] : sy - dy[i] + h, sx - dx[i] : sx - dx[i] + w] for i in range(b)])


def cutout(x: torch.Tensor, gen: torch.Generator | None = None, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ``ratio`` times the image's sides at a random place in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b,), generator=gen)
    cx = torch.randint(0, w + (1 - cw % 2), (b,), generator=gen)
    ys, xs = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    top, left = (cy - ch // 2)[:, None, None], (cx - cw // 2)[:, None, None]
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return x * (~inside).to(x)[:, None]


def diff_augment(x: torch.Tensor, policy: Sequence[str] = POLICIES, gen: torch.Generator | None = None) -> torch.Tensor:
    """Apply the operations of ``policy`` in order (a subset of ``POLICIES``)."""
    ops = {"color": color, "translation": translation, "cutout": cutout}
    for name in policy:
        if name not in ops:
            raise ValueError(f"unknown DiffAugment operation {name!r}; choose from: {', '.join(POLICIES)}")
        x = ops[name](x, gen)
    return x
