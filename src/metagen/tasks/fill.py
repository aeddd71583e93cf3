"""Filling unknown pixels before a restorer sees them: pull-push interpolation (Gortler et al. 1996,
"The Lumigraph", section 3.3), a classical multi-resolution fill.

Pull: the known pixels are averaged into ever coarser levels, each level carrying how much known
data stands behind each of its pixels (a weight in [0, 1]). Push: from the coarsest level back to
the finest, each pixel keeps its own value in proportion to its weight and takes the rest from the
upsampled coarser level. Known pixels come back exactly; holes of any size get a smooth fill that
blends their surroundings. A restoration network then only has to refine the fill, which is an
input it can learn to correct, rather than guess from zeros that cannot be told from black.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _sum_pool(t: torch.Tensor) -> torch.Tensor:
    """2x2 sums, zero-padding odd sides (zero weight: padding carries no data)."""
    h, w = t.shape[-2:]
    return F.avg_pool2d(F.pad(t, (0, w % 2, 0, h % 2)), 2) * 4


def pull_push_fill(x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """``x`` [B, C, H, W] with its unknown pixels (``known`` [B, 1, H, W], bool or {0, 1}, False
    where unknown) replaced by the pull-push interpolation of the known ones. Known pixels are
    unchanged; an image with no known pixel at all is filled with zeros."""
    weight = known.to(x.dtype)
    if bool((weight > 0).all()):
        return x
    values, weights = [x * weight], [weight]  # values premultiplied by their weight
    while min(values[-1].shape[-2:]) > 1 and not bool((weights[-1] > 0).all()):
        total = _sum_pool(weights[-1])
        values.append(_sum_pool(values[-1]) / total.clamp_min(1e-12) * total.clamp(max=1))
        weights.append(total.clamp(max=1))
    filled = values[-1] / weights[-1].clamp_min(1e-12)
    for value, weight in zip(reversed(values[:-1]), reversed(weights[:-1])):
        up = F.interpolate(filled, scale_factor=2, mode="bilinear", align_corners=False)
        up = up[..., : value.shape[-2], : value.shape[-1]]
        filled = value + (1 - weight) * up  # value is premultiplied: weight * own + (1 - weight) * coarse
    return torch.where(known.bool(), x, filled)
