"""Restoration losses as pure functions: supervised (clean target) for the outer loop, and
self-supervised (the degraded image alone) for adapting to the image at hand.

The self-supervised loss is blind-spot masking (Krull et al. 2019, "Noise2Void"; Batson and Royer
2019, "Noise2Self: Blind Denoising by Self-Supervision"): a random subset of the *known* pixels is
replaced by the value of a random other pixel of their 5x5 neighbourhood and the network must
predict the degraded values there. The replaced value is an independent noisy sample, so the
network learns to rely on the context rather than the pixel itself, and is then used as it is on
unmasked images (as Noise2Void does). For pixel-independent noise the best prediction is the clean
value; for missing pixels and holes (inputs whose unknown pixels were filled by a spline, see
``metagen.tasks.fill``), :func:`refill_loss` hides known pixels, fills them again the same way and
scores the prediction there: predicting hidden known pixels from their context is inpainting.

The alternative for noise is re-noising (Moran et al. 2020, "Noisier2Noise: Learning to Denoise
from Unpaired Noisy Data"), :func:`renoise_loss`: noise of the image's own estimated level is added
once more and the network, given the noisier image, is scored against a target whose expectation
is the clean image.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from metagen.objectives.noise_level import (
    MAD_TO_STD,
    NOISE_ESTIMATORS,
    fit_noise_level_function,
    haar_blocks,
    noise_std_map,
)
from metagen.tasks.fill import fill_unknown


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
    hide ``fraction`` of the known pixels (``known`` [B, 1, H, W], {0, 1}), fill them as the input
    was filled (``fill_unknown``) from the pixels still known, and score the restorer's prediction
    of the hidden values. The refill starts from ``filled``, which solves the same problem with the
    hidden pixels known, so it converges in a fraction of a cold start's steps."""
    hidden = _hide(known, gen, fraction)
    refilled = fill_unknown(filled, (known - hidden) > 0, start=filled)
    return _hidden_error(restore(refilled), filled, hidden)


def rescale_loss(restore: Callable[[torch.Tensor], torch.Tensor], upscaled: torch.Tensor, scale: int) -> torch.Tensor:
    """Self-supervised super-resolution loss (Shocher et al. 2018, "Zero-Shot Super-Resolution
    Using Deep Internal Learning"): the input (a low-resolution image upscaled by ``scale``) is
    downscaled once more by ``scale`` and upscaled back, and the network must recover the input
    from that, learning the image's own step from coarse to fine. upscaled [B, C, H, W], H and W
    multiples of ``scale``."""
    return F.mse_loss(restore(coarser_copy(upscaled, scale)), upscaled)


def coarser_copy(upscaled: torch.Tensor, scale: int) -> torch.Tensor:
    """The input of :func:`rescale_loss` (ZSSR's "son"): ``upscaled`` [B, C, H, W] downscaled by
    ``scale`` (bicubic, antialiased) and upscaled back to its size; H and W multiples of ``scale``."""
    h, w = upscaled.shape[-2:]
    coarser = F.interpolate(
        upscaled, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False
    )
    return F.interpolate(coarser, size=(h, w), mode="bicubic", align_corners=False)


def estimate_noise_sigma(x: torch.Tensor) -> torch.Tensor:
    """Blind estimate of the standard deviation of white noise in each image of x [B, C, H, W]
    (Donoho and Johnstone 1994): the median absolute value of the finest diagonal Haar wavelet
    coefficients over 0.6745. Natural images carry little energy there, so they measure the noise.
    Returns [B, 1, 1, 1]."""
    _, diagonal = haar_blocks(x)
    return diagonal.abs().flatten(1).median(dim=1).values.view(-1, 1, 1, 1) / MAD_TO_STD


def estimated_noise_std(noisy: torch.Tensor, noise_model: str = "white", estimator: str = "haar") -> torch.Tensor:
    """The noise's standard deviation in ``noisy`` [B, C, H, W], estimated blind: with
    ``noise_model`` 'white', one level per image ([B, 1, 1, 1]); with 'signal', one per pixel from
    the noise-level function fitted to the batch (Foi et al. 2008; ``metagen.objectives.noise_level``,
    [B, C, H, W]). ``estimator``: 'haar', from the finest diagonal wavelet coefficients
    (:func:`estimate_noise_sigma`), or 'weak_texture', from the patches with the least texture
    (Liu et al. 2013; ``metagen.objectives.weak_texture``)."""
    if noise_model == "signal":
        return noise_std_map(noisy, fit_noise_level_function(noisy, estimator=estimator))
    if estimator == "weak_texture":
        from metagen.objectives.weak_texture import estimate_noise_sigma_weak_texture

        return estimate_noise_sigma_weak_texture(noisy)
    if estimator != "haar":
        raise ValueError(f"the noise estimator must be one of {NOISE_ESTIMATORS}, got {estimator!r}")
    return estimate_noise_sigma(noisy.detach())


def renoise_loss(
    restore: Callable[[torch.Tensor], torch.Tensor],
    noisy: torch.Tensor,
    gen: torch.Generator | None,
    alpha: float = 0.5,
    noise_model: str = "white",
    noise_std: torch.Tensor | None = None,
) -> torch.Tensor:
    """Self-supervised denoising loss by re-noising (Noisier2Noise, Moran et al. 2020), blind.

    With y = x + n the noisy image and m fresh noise of y's estimated level, the network sees
    z = y + alpha * m and is scored against y - m / alpha: for Gaussian n and m of the same level,
    E[n | z] = E[m / alpha | z], so given z that target's expectation is E[x | z] and the loss is
    the supervised one up to a constant (for alpha = 1, n and m are simply exchangeable). A small
    ``alpha`` keeps the input near the real noise level at the price of a noisier target.
    ``noise_model``: 'white', one level per image (:func:`estimate_noise_sigma`), or 'signal', a
    level that depends on the intensity (``metagen.objectives.noise_level``: Poisson, speckle),
    so that m has n's distribution where n's level varies. ``noise_std``: the level already
    estimated (:func:`estimated_noise_std`, broadcastable to ``noisy``), instead of estimating it
    here with ``noise_model``. noisy [B, C, H, W]."""
    sigma = estimated_noise_std(noisy, noise_model) if noise_std is None else noise_std
    draw = torch.randn(noisy.shape, generator=gen) if gen is not None else torch.randn(noisy.shape)
    extra = draw.to(noisy.device) * sigma
    return F.mse_loss(restore(noisy + alpha * extra), noisy - extra / alpha)
