"""Signal-dependent noise levels, estimated from one noisy image: the noise-level function.

Real noise is rarely one Gaussian level over the whole image. Photon noise grows with the
intensity (Poisson: variance proportional to it) and multiplicative noise such as speckle grows
with its square. Foi et al. 2008 ("Practical Poissonian-Gaussian noise modeling and fitting for
single-image raw-data") estimate the variance as a function of the intensity from a single image:
in smooth places, a wavelet detail coefficient measures only noise and a local mean measures the
intensity, so binning the coefficients by the local mean and taking a robust level per bin traces
the curve. Here the curve is var(x) = a + b x + c x^2 (a, b, c >= 0): Gaussian (a), Poisson (b)
and multiplicative (c) noise and their mixtures, fitted by non-negative least squares to the
binned levels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import nnls

# median(|N(0, 1)|): turns a median absolute deviation into a standard deviation
MAD_TO_STD = 0.6744897501960817


def haar_blocks(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2x2 blocks of x [B, C, H, W] (odd last rows and columns dropped): their means and their
    finest diagonal Haar coefficients, each [B, C, H // 2, W // 2]. For white noise of variance s^2
    the coefficient of a flat block has variance s^2; the mean has s^2 / 4."""
    h, w = x.shape[-2:]
    x = x[..., : h - h % 2, : w - w % 2]
    a, b, c, d = x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return (a + b + c + d) / 4, (a - b - c + d) / 2


def block_levels(means: torch.Tensor, window: int = 3) -> torch.Tensor:
    """The intensity at each 2x2 block, from the block ``means`` of :func:`haar_blocks`: the mean
    of the ``window`` x ``window`` blocks around it. One block's own mean carries the noise of four
    pixels; binned by it, blocks whose noise pulled them down would land among darker ones, and
    their larger noise would inflate the level there (with multiplicative noise, most at the dark
    end). Nine blocks cut that noise by three."""
    pad = window // 2
    return F.avg_pool2d(F.pad(means, (pad, pad, pad, pad), mode="replicate"), window, stride=1)


NOISE_ESTIMATORS = ("haar", "weak_texture")


def fit_noise_level_function(noisy: torch.Tensor, bins: int = 16, estimator: str = "haar") -> torch.Tensor:
    """The coefficients (a, b, c) of var(x) = a + b x + c x^2, [3], for the images of ``noisy``
    [B, C, H, W] together: one curve for the batch, which holds crops of one image (adaptation) or
    patches of one task (training), so that the fit sees many blocks. The curve is the non-negative
    least-squares fit to ``bins`` points (intensity, variance) (Foi et al. 2008, with a quadratic
    term for multiplicative noise). ``estimator`` 'haar': the blocks of :func:`haar_blocks` split
    into groups of equal size by their intensity (:func:`block_levels`), each group's variance
    robust (median absolute diagonal coefficient over 0.6745, squared); 'weak_texture': the 7 x 7
    patches split by their mean, each group's variance from its weak-texture patches
    (``metagen.objectives.weak_texture``), which counts less texture as noise. With white noise the
    points scatter around one level and the fit is close to flat."""
    if estimator not in NOISE_ESTIMATORS:
        raise ValueError(f"the noise estimator must be one of {NOISE_ESTIMATORS}, got {estimator!r}")
    noisy = noisy.detach().float()
    if estimator == "weak_texture":
        from metagen.objectives.weak_texture import binned_weak_texture_levels

        level, variance = binned_weak_texture_levels(noisy, bins)
    else:
        level, variance = haar_levels(noisy, bins)
    coefficients, _ = nnls(np.stack([np.ones_like(level), level, level**2], axis=1), variance)
    return torch.tensor(coefficients, dtype=noisy.dtype, device=noisy.device)


def haar_levels(noisy: torch.Tensor, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The (intensity, variance) points of the 'haar' estimator of :func:`fit_noise_level_function`
    for the images of ``noisy`` [B, C, H, W] together."""
    means, details = haar_blocks(noisy)
    mean, detail = block_levels(means).flatten().cpu().numpy(), details.flatten().abs().cpu().numpy()
    groups = [g for g in np.array_split(np.argsort(mean, kind="stable"), min(bins, mean.size)) if g.size]
    level = np.array([mean[g].mean() for g in groups], dtype=np.float64)
    variance = np.array([(np.median(detail[g]) / MAD_TO_STD) ** 2 for g in groups], dtype=np.float64)
    return level, variance


def noise_std_map(noisy: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """Each pixel's noise standard deviation [B, C, H, W] under the fitted curve (``coefficients``
    [3] from :func:`fit_noise_level_function`), evaluated at its block's intensity as the fit saw
    it (:func:`block_levels`; its own value would tie the level to the noise it carries)."""
    h, w = noisy.shape[-2:]
    levels = block_levels(haar_blocks(F.pad(noisy.detach(), (0, w % 2, 0, h % 2), mode="replicate"))[0])
    level = levels.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)[..., :h, :w].clamp_min(0)
    a, b, c = coefficients.tolist()
    return (a + b * level + c * level**2).clamp_min(0).sqrt()
