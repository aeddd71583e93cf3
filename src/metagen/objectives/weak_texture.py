"""Noise level from an image's weak-texture patches (Liu, Tanaka and Okutomi 2013, "Single-Image
Noise Level Estimation for Blind Denoising"), each level read from the tail of the patches'
covariance eigenvalues (Chen, Zhu and Heng 2015, "An Efficient Statistical Method for Image Noise
Level Estimation").

The median absolute finest wavelet coefficient (Donoho and Johnstone 1994; ``estimate_noise_sigma``)
counts fine texture as noise: on BSD68 it reads 16.5 for noise of level 15
(``benchmarks/noise_estimation.py``). Liu et al. keep the patches whose gradient energy (the
summed squared differences between neighbouring pixels in the patch) is no more than noise of the
current level would give with high probability, and estimate the level again from those, a few
rounds. The level of a set of patches is the mean of the largest set of smallest eigenvalues of
their covariance whose mean is also their median (Chen et al.: noise alone spreads its eigenvalues
symmetrically; structure adds large ones), which, unlike the smallest eigenvalue Liu et al. take,
is not pulled down by the spread of a sample covariance's eigenvalues.

For white noise of variance s^2, a patch's gradient energy is n^T M n with M = Dh^T Dh + Dv^T Dv
(Dh, Dv: the differences inside the patch); the threshold is a quantile of the gamma distribution
with its mean (s^2 tr M) and variance (2 s^4 tr M^2).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import gamma

PATCH = 7  # Liu et al.'s patch side
CONFIDENCE = 0.99  # the share of pure-noise patches kept
ROUNDS = 3
# fewest patches per intensity group of the noise-level function: a 49-dimensional covariance from
# fewer spreads its noise eigenvalues (Marchenko-Pastur), and the tail rule then reads low (a test
# checks that an adaptation batch's groups read pure noise within 6%, their mean within 3%)
GROUP_PATCHES = 4000


def gradient_energy(x: torch.Tensor, patch: int = PATCH) -> torch.Tensor:
    """The summed squared horizontal and vertical differences inside each ``patch`` x ``patch``
    patch of x [B, C, H, W], [B, C, L], in the order of ``F.unfold``'s patches."""
    across = (x[..., :, 1:] - x[..., :, :-1]) ** 2
    down = (x[..., 1:, :] - x[..., :-1, :]) ** 2
    size = patch * (patch - 1)
    energy = F.avg_pool2d(across, (patch, patch - 1), stride=1) + F.avg_pool2d(down, (patch - 1, patch), stride=1)
    return (energy * size).flatten(2)


def channel_patches(x: torch.Tensor, patch: int = PATCH) -> torch.Tensor:
    """The ``patch`` x ``patch`` patches of each channel of x [B, C, H, W]: [B, C, L, patch^2]."""
    b, c, h, w = x.shape
    return F.unfold(x.reshape(b * c, 1, h, w), patch).transpose(1, 2).reshape(b, c, -1, patch * patch)


@functools.cache
def _energy_gamma(patch: int) -> tuple[float, float]:
    """The gamma distribution (shape, scale per unit noise variance) matching the mean and variance
    of a patch's gradient energy under white noise."""
    side = np.arange(patch * patch).reshape(patch, patch)
    rows = [(a, b) for a, b in zip(side[:, :-1].ravel(), side[:, 1:].ravel())]
    rows += [(a, b) for a, b in zip(side[:-1].ravel(), side[1:].ravel())]
    differences = np.zeros((len(rows), patch * patch))
    for i, (a, b) in enumerate(rows):
        differences[i, a], differences[i, b] = -1.0, 1.0
    m = differences.T @ differences
    trace, trace_squared = float(np.trace(m)), float(np.trace(m @ m))
    return trace**2 / (2 * trace_squared), 2 * trace_squared / trace


def tail_variance(eigenvalues: torch.Tensor) -> float:
    """The noise variance from ascending ``eigenvalues`` [D]: the mean of the largest set of
    smallest ones whose mean is at most their median (Chen et al. 2015). One eigenvalue is its own
    median, so there is always such a set."""
    counts = torch.arange(1, eigenvalues.numel() + 1)
    means = eigenvalues.cumsum(0) / counts
    medians = (eigenvalues[(counts - 1) // 2] + eigenvalues[counts // 2]) / 2
    return float(means[torch.nonzero(means <= medians * (1 + 1e-9)).max()])


def _variance_of(patches: torch.Tensor) -> float:
    centred = patches - patches.mean(dim=0)
    covariance = centred.T @ centred / max(len(patches) - 1, 1)
    return tail_variance(torch.linalg.eigvalsh(covariance).clamp_min(0))


def weak_texture_variance(patches: torch.Tensor, energy: torch.Tensor, patch: int = PATCH) -> float:
    """The noise variance of a set of ``patches`` [N, patch^2] with their gradient ``energy`` [N]:
    estimated from all of them, then, ``ROUNDS`` times, from those whose energy is below the
    ``CONFIDENCE`` quantile of pure noise at the current estimate (while at least twice as many
    remain as a patch has pixels)."""
    patches, energy = patches.double(), energy.double()
    shape, scale = _energy_gamma(patch)
    variance = _variance_of(patches)
    for _ in range(ROUNDS):
        if variance <= 0:
            break
        weak = energy < float(gamma.ppf(CONFIDENCE, shape, scale=scale * variance))
        if int(weak.sum()) < 2 * patches.shape[1]:
            break
        variance = _variance_of(patches[weak])
    return variance


def too_small(x: torch.Tensor, patch: int = PATCH) -> bool:
    """Whether each image of x [B, C, H, W] has fewer ``patch`` x ``patch`` patches than twice a
    patch's pixels: too few for a covariance of that many dimensions."""
    h, w = x.shape[-2:]
    return max(h - patch + 1, 0) * max(w - patch + 1, 0) * x.shape[1] < 2 * patch * patch


def estimate_noise_sigma_weak_texture(x: torch.Tensor, patch: int = PATCH) -> torch.Tensor:
    """Blind estimate of the standard deviation of white noise in each image of x [B, C, H, W]
    (the patches of every channel pooled): see the module. Returns [B, 1, 1, 1]. An image with too
    few patches for their covariance (:func:`too_small`) gets the wavelet estimate instead."""
    x = x.detach()
    if too_small(x, patch):
        from metagen.objectives.restoration import estimate_noise_sigma

        return estimate_noise_sigma(x)
    patches, energy = channel_patches(x, patch), gradient_energy(x, patch)
    levels = [weak_texture_variance(p.flatten(0, 1), e.flatten(), patch) ** 0.5 for p, e in zip(patches, energy)]
    return torch.tensor(levels, dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)


def binned_weak_texture_levels(noisy: torch.Tensor, bins: int, patch: int = PATCH) -> tuple[np.ndarray, np.ndarray]:
    """The points of a noise-level function (``metagen.objectives.noise_level``) for the images of
    ``noisy`` [B, C, H, W] together: their patches split into ``bins`` groups of equal size by their
    mean intensity (fewer where a group would hold under ``GROUP_PATCHES``), and per group (mean
    intensity, :func:`weak_texture_variance`); the wavelet points (``noise_level.haar_levels``)
    where the images are too small (:func:`too_small`)."""
    noisy = noisy.detach()
    if too_small(noisy, patch):
        from metagen.objectives.noise_level import haar_levels

        return haar_levels(noisy, bins)
    patches = channel_patches(noisy, patch).reshape(-1, patch * patch)
    energy = gradient_energy(noisy, patch).flatten()
    means = patches.mean(dim=1)
    bins = max(1, min(bins, len(means) // GROUP_PATCHES))
    groups = [g for g in torch.argsort(means, stable=True).tensor_split(bins) if len(g)]
    levels = np.array([float(means[g].mean()) for g in groups])
    variances = np.array([weak_texture_variance(patches[g], energy[g], patch) for g in groups])
    return levels, variances
