"""Geometric self-ensemble: a restorer run on the eight rotations and mirror images of its input,
each output turned back and the eight averaged.

Timofte et al. 2016 ("Seven ways to improve example-based single image super resolution", CVPR)
introduced it; Lim et al. 2017 (EDSR+, "Enhanced deep residual networks for single image
super-resolution") and the KAIR test scripts (their "x8" mode) use it for super-resolution and
denoising. A restorer that is not exactly equivariant to the dihedral group makes a different
error on each transformed copy, and the average cancels part of it at eight times the inference
cost, with no retraining.
"""

from __future__ import annotations

from typing import Callable

import torch

DIHEDRAL = tuple((turns, mirror) for turns in range(4) for mirror in (False, True))


def transform(image: torch.Tensor, turns: int, mirror: bool) -> torch.Tensor:
    """``image`` [..., H, W] mirrored left-right (when ``mirror``), then turned ``turns`` quarter
    turns: one of the eight symmetries of the square."""
    out = image.flip(-1) if mirror else image
    return torch.rot90(out, turns, dims=(-2, -1))


def untransform(image: torch.Tensor, turns: int, mirror: bool) -> torch.Tensor:
    """The inverse of :func:`transform` with the same ``turns`` and ``mirror``."""
    out = torch.rot90(image, -turns, dims=(-2, -1))
    return out.flip(-1) if mirror else out


def self_ensemble(restore: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor) -> torch.Tensor:
    """The mean over the eight symmetries g of the square of g^-1(restore(g(image))), for an
    ``image`` batch [B, C, H, W] (H and W swap on the quarter turns, so ``restore`` must take both
    orientations)."""
    outputs = [untransform(restore(transform(image, turns, mirror)), turns, mirror) for turns, mirror in DIHEDRAL]
    return torch.stack(outputs).mean(dim=0)
