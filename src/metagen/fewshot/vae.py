"""The VAE as a few-shot generator: its task loss for the meta-learner, and how it samples after
adaptation.

Meta-training (see ``metagen.meta``) learns an initialisation from which a few inner steps on a
class's images fit the VAE to that class (Reptile on a VAE, or MAML / Meta-SGD with the query
ELBO as outer loss). To generate, the adapted encoder maps the K shots to their posteriors, and
each new image decodes a random convex mixture of the shots' latent means (flat Dirichlet weights) plus
Gaussian noise scaled by ``temperature`` times the shots' posterior std. Mixing shots rather than
decoding one of them is what makes the outputs new images of the class, not copies of the shots.
"""

from __future__ import annotations

import torch
from torch.func import functional_call

from metagen.meta.inner import Params, with_params
from metagen.nn.vae import ConvVAE
from metagen.objectives.vae import importance_log_weights, importance_weighted_bound, negative_elbo


class VAEGenerator:
    """Binds a ``ConvVAE`` to its objective (the negative ELBO) and its few-shot sampler."""

    family = "vae"
    kind = "fewshot-generator"

    def __init__(self, model: ConvVAE, beta: float = 1.0, temperature: float = 0.5):
        self.model, self.beta, self.temperature = model, beta, temperature

    def task_loss(
        self, params: Params, images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        """Negative ELBO (nats per image) of ``images`` [B, C, H, W] under ``params``; the episode
        ``labels`` are not used (one-class generation tasks)."""
        eps = torch.randn(images.shape[0], self.model.latent_dim, generator=gen, device=gen.device).to(images.device)
        logits, mu, logvar = functional_call(self.model, params, (images, eps))
        return negative_elbo(logits, images, mu, logvar, self.model.likelihood, self.beta)

    @torch.no_grad()
    def log_likelihood_bound(
        self, params: Params, shots: torch.Tensor, images: torch.Tensor, samples: int, gen: torch.Generator
    ) -> torch.Tensor:
        """A lower bound on log p(image) per image [B] (nats) under the VAE adapted to ``shots``
        (``params``) with its N(0, I) prior: the importance-weighted bound with ``samples`` draws
        from the encoder's posterior. (The sampler draws latents near the shots' instead.)"""
        net = with_params(self.model, params)
        mu, logvar = net.encode(images)
        eps = torch.randn(samples, *mu.shape, generator=gen, device=gen.device).to(images.device)
        z = (mu + torch.exp(0.5 * logvar) * eps).flatten(0, 1)
        repeated = images.repeat(samples, 1, 1, 1)
        mu, logvar = mu.repeat(samples, 1), logvar.repeat(samples, 1)
        zeros = torch.zeros_like(mu)
        log_w = importance_log_weights(net.decode(z), repeated, z, (mu, logvar), (zeros, zeros), net.likelihood)
        return importance_weighted_bound(log_w.view(samples, len(images)))

    @torch.no_grad()
    def sample(self, params: Params, shots: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` new images [n, C, H, W] in [0, 1] of the class of ``shots`` [K, C, H, W]."""
        net = with_params(self.model, params)
        mu, logvar = net.encode(shots)  # [K, D]
        k = shots.shape[0]
        weights = torch.empty(n, k, device=gen.device).exponential_(generator=gen).to(shots.device)
        weights = weights / weights.sum(dim=1, keepdim=True)  # rows ~ Dirichlet(1, ..., 1), [n, K]
        centre = weights @ mu
        spread = weights @ torch.exp(0.5 * logvar)
        noise = torch.randn(n, self.model.latent_dim, generator=gen, device=gen.device).to(shots.device)
        z = centre + self.temperature * spread * noise
        return torch.sigmoid(net.decode(z))
