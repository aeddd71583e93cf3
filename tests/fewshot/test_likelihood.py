"""The likelihood bounds the VAEs report: the importance-weighted bound against numpy and
torch.distributions, its relation to the ELBO, and against an independent estimate of log p(x) by
brute-force sampling from the prior (tiny latent spaces, where that estimate converges)."""

import math

import numpy as np
import torch
from torch.distributions import Normal

from metagen.fewshot.set_vae import SetVAEGenerator
from metagen.fewshot.vae import VAEGenerator
from metagen.nn.set_vae import SetVAE, random_fusion
from metagen.nn.vae import ConvVAE
from metagen.objectives.vae import (
    gaussian_kl,
    gaussian_log_density,
    importance_weighted_bound,
    reconstruction_nll,
)


def _logmeanexp(x: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(x, dim=0) - math.log(x.shape[0])


def test_log_density_and_bound_match_references():
    g = torch.Generator().manual_seed(0)
    z, mu, logvar = (torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(3))
    ref = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(gaussian_log_density(z, mu, logvar), ref)
    w = torch.randn(50, 4, generator=g, dtype=torch.float64) * 30
    expected = np.log(np.mean(np.exp(w.numpy() - w.numpy().max(0)), axis=0)) + w.numpy().max(0)
    np.testing.assert_allclose(importance_weighted_bound(w).numpy(), expected, rtol=1e-12)


def _tiny_vae() -> VAEGenerator:
    torch.manual_seed(0)
    return VAEGenerator(ConvVAE(latent_dim=2, width=8).double())


def test_vae_bound_is_the_elbo_at_one_sample_and_tightens_with_more():
    family = _tiny_vae()
    params = dict(family.model.named_parameters())
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    draws = x.repeat(400, 1, 1, 1)  # 400 independent bounds per image, in one batch
    one = family.log_likelihood_bound(params, x, draws, 1, gen).view(400, 3).mean(0)
    with torch.no_grad():  # the ELBO with the analytic KL, by Monte Carlo over the reconstruction term
        mu, logvar = family.model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(400, *mu.shape, generator=gen, dtype=torch.float64)
        nll = reconstruction_nll(family.model.decode(z.flatten(0, 1)), draws, "bernoulli").view(400, 3).mean(0)
        elbo = -(nll + gaussian_kl(mu, logvar))
    assert torch.all((one - elbo).abs() < 0.01 * elbo.abs())  # E[log w] with one sample is the ELBO
    many = family.log_likelihood_bound(params, x, x.repeat(20, 1, 1, 1), 64, gen).view(20, 3).mean(0)
    assert torch.all(many >= one)


def test_vae_bound_approaches_log_likelihood_by_prior_sampling():
    family = _tiny_vae()
    params = dict(family.model.named_parameters())
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    bound = family.log_likelihood_bound(params, x, x, 256, torch.Generator().manual_seed(4))
    z = torch.randn(4000, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with torch.no_grad():
        logits = family.model.decode(z)
        exact = torch.stack([_logmeanexp(-reconstruction_nll(logits, xi.expand_as(logits), "bernoulli")) for xi in x])
    assert torch.all((bound - exact).abs() < 0.5)  # nats, of about 550: both are Monte Carlo estimates


def test_set_vae_bound_approaches_conditional_log_likelihood_by_prior_sampling():
    torch.manual_seed(0)
    net = SetVAE(latent_dim=2, context_dim=4, width=8, hidden=16, local_levels=1).double()
    family = SetVAEGenerator(net)
    gen = torch.Generator().manual_seed(1)
    shots = torch.rand(3, 1, 28, 28, generator=gen, dtype=torch.float64)
    x = torch.rand(2, 1, 28, 28, generator=gen, dtype=torch.float64)
    bound = family.log_likelihood_bound(dict(net.named_parameters()), shots, x, 256, gen)
    n = 4000
    with torch.no_grad():  # sample the generative process: z from p(z | c), fusion weights from their prior
        features, maps = net.features_and_maps(shots)
        c, _ = net.context(features)
        prior_mu, prior_logvar = net.latent_prior(c[None]).chunk(2, dim=-1)
        z = prior_mu + torch.exp(0.5 * prior_logvar.clamp(-10, 6)) * torch.randn(
            n, 2, generator=gen, dtype=torch.float64
        )
        logits = net.decode(z, c, net.shot_terms(maps, random_fusion(n, 3, gen).double(), n))
        exact = torch.stack([_logmeanexp(-reconstruction_nll(logits, xi.expand_as(logits), "bernoulli")) for xi in x])
    assert torch.all((bound - exact).abs() < 0.5)  # nats, of about 550: both are Monte Carlo estimates
