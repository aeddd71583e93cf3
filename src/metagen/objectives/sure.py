"""Stein's unbiased risk estimate (SURE): the mean squared error of a denoiser, estimated from the
noisy image alone.

For y = x + n with n Gaussian, independent across pixels, of known standard deviation s_i at pixel
i, and a weakly differentiable denoiser f, Stein's lemma (Stein 1981) gives

    E ||f(y) - x||^2 / N = E [ ||f(y) - y||^2 / N - mean(s^2) + (2 / N) sum_i s_i^2 df_i/dy_i ],

so the right-hand side, computable without x, is an unbiased estimate of the error. The divergence
term of a network has no closed form; Monte-Carlo SURE (Ramani, Blu and Unser 2008, "Monte-Carlo
SURE: A Black-Box Optimization of Regularization Parameters for General Denoising Algorithms")
estimates it with one random probe b ~ N(0, I) and one more pass:

    sum_i s_i^2 df_i/dy_i ~ b^T (s^2 * (f(y + eps b) - f(y))) / eps.

Here it chooses how many self-supervised steps to adapt a restorer to the image at hand, as SURE
chooses when to stop fitting a deep image prior (Metzler et al. 2018, "Unsupervised Learning with
Stein's Unbiased Risk Estimator"; Jo et al. 2021, "Rethinking Deep Image Prior for Denoising"), and
it is itself a self-supervised loss (:func:`sure_loss`): minimised over a network's weights on noisy
images alone, it trains a denoiser as the supervised error would (Soltanayev and Chun 2018,
"Training Deep Learning Based Denoisers without Ground Truth Data"). Unlike re-noising
(``metagen.objectives.restoration.renoise_loss``) it sees the image at its own noise level, with no
noise added to the input or the target.
With a noise level that depends on the intensity (Poisson, speckle: ``metagen.objectives.noise_level``)
the levels come from the noisy image and the noise is only approximately Gaussian, so the estimate
is then an approximation.
"""

from __future__ import annotations

from typing import Callable

import torch

# Ramani et al. 2008 take eps = max(y) / 1000: small enough for the finite difference to follow the
# derivative, large enough for single precision
PROBE_SCALE = 1e-3


def monte_carlo_sure(
    denoise: Callable[[torch.Tensor], torch.Tensor],
    noisy: torch.Tensor,
    noise_std: torch.Tensor,
    gen: torch.Generator | None = None,
    epsilon: float | None = None,
) -> torch.Tensor:
    """Estimated mean squared error per image [B] of ``denoise`` on ``noisy`` [B, C, H, W], whose
    noise has standard deviation ``noise_std`` (broadcastable to ``noisy``: one level per image, or
    one per pixel). Two passes of ``denoise``; ``epsilon`` defaults to max |y| / 1000 per batch.
    Differentiable in ``denoise``'s weights; call it under ``torch.no_grad()`` to only estimate."""
    noisy = noisy.detach()
    variance = (noise_std.detach().to(noisy) ** 2).expand_as(noisy)
    eps = float(epsilon if epsilon is not None else PROBE_SCALE * max(float(noisy.abs().max()), 1e-6))
    draw = torch.randn(noisy.shape, generator=gen) if gen is not None else torch.randn(noisy.shape)
    probe = draw.to(noisy.device)
    out = denoise(noisy)
    moved = denoise(noisy + eps * probe)
    fit = ((out - noisy) ** 2).flatten(1).mean(1)
    divergence = (probe * variance * (moved - out)).flatten(1).mean(1) / eps
    return fit - variance.flatten(1).mean(1) + 2 * divergence


def sure_loss(
    denoise: Callable[[torch.Tensor], torch.Tensor],
    noisy: torch.Tensor,
    noise_std: torch.Tensor,
    gen: torch.Generator | None = None,
) -> torch.Tensor:
    """The self-supervised denoising loss of Soltanayev and Chun 2018: Monte-Carlo SURE of
    ``denoise`` on the batch ``noisy`` [B, C, H, W] (noise of standard deviation ``noise_std``,
    broadcastable to it), averaged over the batch; its gradient in the weights is, in expectation
    over the noise, the supervised mean squared error's. A fresh probe per call."""
    return monte_carlo_sure(denoise, noisy, noise_std, gen).mean()
