"""Restoration losses as pure functions: supervised (clean target) for the outer loop, and
self-supervised (the degraded image alone) for adapting to the image at hand.

The self-supervised loss is blind-spot masking (Krull et al. 2019, "Noise2Void"; Batson and Royer
2019, "Noise2Self: Blind Denoising by Self-Supervision"): a random subset of the *known* pixels is
replaced by the value of a random other pixel of their 5x5 neighbourhood and the network must
predict the degraded values there. The replaced value is an independent noisy sample, so the
network learns to rely on the context rather than the pixel itself, and is then used as it is on
unmasked images (as Noise2Void does). For pixel-independent noise the best prediction is the clean
value; for missing pixels and holes (inputs whose unknown pixels were filled by pull-push, see
``metagen.tasks.fill``), :func:`refill_loss` hides known pixels, fills them again the same way and
scores the prediction there: predicting hidden known pixels from their context is inpainting.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from metagen.tasks.fill import pull_push_fill


def supervised_loss(restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Mean squared error against the clean image."""
    return F.mse_loss(restored, clean)


def random_neighbours(x: torch.Tensor, gen: torch.Generator | None, radius: int = 2) -> torch.Tensor:
    """Per pixel, the value of a uniformly drawn other pixel within ``radius`` (reflecting at the
    borders). x [B, C, H, W]; one draw per pixel, shared by its channels."""
    b, _, h, w = x.shape
    side = 2 * radius + 1
    offsets = [(dy, dx) for dy in range(side) for dx in range(side) if (dy, dx) != (radius, radius)]
    draw = torch.randint(0, len(offsets), (b, 1, h, w), generator=gen).to(x.device)
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    out = torch.zeros_like(x)
    for i, (dy, dx) in enumerate(offsets):
        out = torch.where(draw == i, padded[:, :, dy : dy + h, dx : dx + w], out)
    return out


def blind_spot_loss(
    restore: Callable[[torch.Tensor], torch.Tensor],
    degraded: torch.Tensor,
    known: torch.Tensor,
    gen: torch.Generator | None,
    fraction: float = 1 / 16,
) -> torch.Tensor:
    """Self-supervised loss of ``restore`` on ``degraded`` [B, C, H, W]: replace ``fraction`` of the
    known pixels (``known`` [B, 1, H, W]) by random neighbours, score the prediction there."""
    hidden = _hide(known, gen, fraction)
    masked = degraded * (1 - hidden) + random_neighbours(degraded, gen) * hidden
    return _hidden_error(restore(masked), degraded, hidden)


def _hidden_error(restored: torch.Tensor, target: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hidden pixels (``hidden`` [B, 1, H, W], {0, 1}) and channels."""
    error = (restored - target) ** 2 * hidden
    return error.sum() / (hidden.sum() * target.shape[1]).clamp_min(1.0)


def _hide(known: torch.Tensor, gen: torch.Generator | None, fraction: float) -> torch.Tensor:
    """A random ``fraction`` of the known pixels, as a {0, 1} mask shaped like ``known``."""
    draw = torch.rand(known.shape, generator=gen) if gen is not None else torch.rand(known.shape)
    return (draw.to(known.device) < fraction).to(known.dtype) * known


def refill_loss(
    restore: Callable[[torch.Tensor], torch.Tensor],
    filled: torch.Tensor,
    known: torch.Tensor,
    gen: torch.Generator | None,
    fraction: float = 1 / 16,
) -> torch.Tensor:
    """Self-supervised inpainting loss on ``filled`` [B, C, H, W] (unknown pixels already filled):
    hide ``fraction`` of the known pixels (``known`` [B, 1, H, W], {0, 1}), fill them by pull-push
    from the pixels still known, and score the restorer's prediction of the hidden values."""
    hidden = _hide(known, gen, fraction)
    return _hidden_error(restore(pull_push_fill(filled, (known - hidden) > 0)), filled, hidden)


def rescale_loss(restore: Callable[[torch.Tensor], torch.Tensor], upscaled: torch.Tensor, scale: int) -> torch.Tensor:
    """Self-supervised super-resolution loss (Shocher et al. 2018, "Zero-Shot Super-Resolution
    Using Deep Internal Learning"): the input (a low-resolution image upscaled by ``scale``) is
    downscaled once more by ``scale`` and upscaled back, and the network must recover the input
    from that, learning the image's own step from coarse to fine. upscaled [B, C, H, W], H and W
    multiples of ``scale``."""
    h, w = upscaled.shape[-2:]
    coarser = F.interpolate(
        upscaled, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False
    )
    son = F.interpolate(coarser, size=(h, w), mode="bicubic", align_corners=False)
    return F.mse_loss(restore(son), upscaled)
