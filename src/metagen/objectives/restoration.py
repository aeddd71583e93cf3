"""Restoration losses as pure functions: supervised (clean target) for the outer loop, and
self-supervised (the degraded image alone) for adapting to the image at hand.

The self-supervised loss is blind-spot masking (Batson and Royer 2019, "Noise2Self: Blind
Denoising by Self-Supervision"; Krull et al. 2019, "Noise2Void"): a random subset of the *known*
pixels is replaced by the mean of its known 3x3 neighbours and the network must predict the
degraded values there. For pixel-independent noise the best prediction is the clean value; for
missing pixels and holes, predicting hidden known pixels from their context is inpainting.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

RING = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])


def supervised_loss(restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Mean squared error against the clean image."""
    return F.mse_loss(restored, clean)


def neighbour_mean(x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Per pixel, the mean of the known pixels among its 8 neighbours (0 where none is known).
    x [B, C, H, W], known [B, 1, H, W] float (1 known, 0 missing)."""
    c = x.shape[1]
    ring = RING.to(x)[None, None].expand(c, 1, 3, 3)
    total = F.conv2d(F.pad(x * known, (1, 1, 1, 1), mode="reflect"), ring, groups=c)
    count = F.conv2d(F.pad(known, (1, 1, 1, 1), mode="reflect"), RING.to(x)[None, None])
    return total / count.clamp_min(1.0)


def blind_spot_loss(
    restore: Callable[[torch.Tensor], torch.Tensor],
    degraded: torch.Tensor,
    known: torch.Tensor,
    gen: torch.Generator | None,
    fraction: float = 1 / 16,
) -> torch.Tensor:
    """Self-supervised loss of ``restore`` on ``degraded`` [B, C, H, W]: hide ``fraction`` of the
    known pixels (``known`` [B, 1, H, W]) behind their neighbours' mean, score the prediction there."""
    draw = torch.rand(known.shape, generator=gen) if gen is not None else torch.rand(known.shape)
    hidden = (draw.to(known.device) < fraction).to(known.dtype) * known
    masked = degraded * (1 - hidden) + neighbour_mean(degraded, known) * hidden
    error = (restore(masked) - degraded) ** 2 * hidden
    return error.sum() / (hidden.sum() * degraded.shape[1]).clamp_min(1.0)
