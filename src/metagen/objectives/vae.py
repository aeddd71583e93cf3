"""The VAE objective as a pure function (Kingma and Welling 2014, "Auto-Encoding Variational Bayes")."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, exp(logvar)) || N(0, I) ) summed over latent dimensions: [B]."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Negative log-likelihood of ``x`` under the decoder output, summed over pixels: [B].

    'bernoulli': ``logits`` parameterise independent Bernoullis (x in [0, 1] as soft targets).
    'gaussian': unit-variance Gaussian with mean sigmoid(logits) on the [0, 1] scale, scaled by 1/0.1^2
    (a fixed observation std of 0.1), constant term included.
    """
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    if likelihood == "gaussian":
        sigma = 0.1
        sq = (torch.sigmoid(logits) - x).pow(2) / (2 * sigma**2)
        return (sq + math.log(sigma * math.sqrt(2 * math.pi))).flatten(1).sum(1)
    raise ValueError(f"unknown likelihood {likelihood!r}")


BLUR_TRUNCATE = 3.0  # a blur kernel reaches this many standard deviations, as scipy.ndimage's default


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Images [B, C, H, W] blurred by a Gaussian of std ``sigma`` pixels, separably, each channel on
    its own, with the edge pixels repeated outside (scipy.ndimage.gaussian_filter's 'nearest' mode and
    kernel radius); differentiable."""
    if not 0 < sigma < math.inf:
        raise ValueError(f"a Gaussian blur needs a positive, finite std in pixels, got {sigma}")
    radius = int(BLUR_TRUNCATE * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = (kernel / kernel.sum()).repeat(x.shape[1], 1, 1, 1)  # [C, 1, 1, 2r + 1]
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel, groups=x.shape[1])
    return F.conv2d(rows, kernel.transpose(2, 3), groups=x.shape[1])


def blurred_reconstruction_nll(logits: torch.Tensor, x: torch.Tensor, likelihood: str, sigma: float) -> torch.Tensor:
    """``reconstruction_nll`` of the images blurred by a Gaussian of std ``sigma`` pixels, under the
    decoder's mean image blurred the same way: [B]. A coarse alignment term, as coarse-to-fine image
    registration compares blurred images (Lucas and Kanade 1981; Bouguet 2001, pyramidal
    Lucas-Kanade): where a stroke of the output lies further than its width from the matching stroke
    of x, the pixel likelihood's gradient cannot tell which way to move it; the blurred one can."""
    mean = gaussian_blur(torch.sigmoid(logits), sigma).clamp(1e-6, 1 - 1e-6)
    return reconstruction_nll(torch.logit(mean), gaussian_blur(x, sigma), likelihood)


def negative_elbo(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, likelihood: str, beta: float = 1.0
) -> torch.Tensor:
    """Mean over the batch of -ELBO = reconstruction NLL + beta * KL, in nats per image."""
    return (reconstruction_nll(logits, x, likelihood) + beta * gaussian_kl(mu, logvar)).mean()


def gaussian_kl_per_dimension(
    mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """KL( N(mu_q, exp(logvar_q)) || N(mu_p, exp(logvar_p)) ) of each dimension, elementwise."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1.0)


def gaussian_kl_between(
    mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """KL( N(mu_q, exp(logvar_q)) || N(mu_p, exp(logvar_p)) ) summed over the last dimension."""
    return gaussian_kl_per_dimension(mu_q, logvar_q, mu_p, logvar_p).sum(-1)


def set_negative_elbo(
    terms: dict[str, torch.Tensor], x: torch.Tensor, likelihood: str, free_bits: float = 0.0, fit_prior: bool = False
) -> torch.Tensor:
    """Negative ELBO of images ``x`` [B, ...] given a set's context (Edwards and Storkey 2017), in
    nats per image: reconstruction NLL + KL(q(z | x, c) || p(z | c)) per image, plus the context's
    KL(q(c | set) || N(0, I)) shared out over the B images. ``terms`` is ``SetVAE.forward``'s output.

    ``free_bits`` > 0 (Kingma et al. 2016, "Improved Variational Inference with Inverse
    Autoregressive Flow"): each latent dimension's KL, averaged over the batch, counts as at least
    ``free_bits`` nats, so the objective stops pressing z's dimensions below that and z keeps
    information about each image (a training objective, no longer a bound). Below that floor the KL
    has no gradient at all, so the learned prior p(z | c) stops learning too and generation draws z
    from wherever it stands. ``fit_prior`` keeps the prior fitted to the posterior there: its
    gradient is the unclamped KL's, with the posterior held fixed, while the floor spares only the
    posterior (the value of the loss is unchanged)."""
    nll = reconstruction_nll(terms["logits"], x, likelihood)
    kl_c = gaussian_kl(terms["mu_c"][None], terms["logvar_c"][None])[0]
    posterior, prior = (terms["mu_z"], terms["logvar_z"]), (terms["prior_mu"], terms["prior_logvar"])
    spare_prior = fit_prior and free_bits > 0  # the floor's (absent) gradient reaches the posterior alone
    kl_dims = gaussian_kl_per_dimension(*posterior, *(t.detach() if spare_prior else t for t in prior))
    kl_z = kl_dims.mean(0).clamp_min(free_bits).sum() if free_bits > 0 else kl_dims.sum(-1).mean()
    if spare_prior:  # the prior's gradient is the unclamped KL's; the loss value is unchanged
        fitted = gaussian_kl_per_dimension(*(t.detach() for t in posterior), *prior).sum(-1).mean()
        kl_z = kl_z + fitted - fitted.detach()
    return nll.mean() + kl_z + kl_c / x.shape[0]


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


def importance_log_weights(
    logits: torch.Tensor,
    x: torch.Tensor,
    z: torch.Tensor,
    posterior: tuple[torch.Tensor, torch.Tensor],
    prior: tuple[torch.Tensor, torch.Tensor],
    likelihood: str,
) -> torch.Tensor:
    """log p(x | z) + log p(z) - log q(z | x) per image [N], for latents ``z`` [N, D] drawn from the
    posterior (mu, logvar) and the decoder's ``logits`` at ``z``; ``prior`` is (mu, logvar) too."""
    return (
        -reconstruction_nll(logits, x, likelihood)
        + gaussian_log_density(z, *prior)
        - gaussian_log_density(z, *posterior)
    )


def importance_weighted_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """The importance-weighted lower bound on log p(x) (Burda et al. 2016, "Importance Weighted
    Autoencoders") from ``log_weights`` [S, B] of S posterior samples per image: log of the mean
    weight, per image [B]. S = 1 is the ELBO; it tightens towards log p(x) as S grows."""
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])
