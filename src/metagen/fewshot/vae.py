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

import copy

import torch
from torch.func import functional_call

from metagen.meta.inner import Params
from metagen.nn.vae import ConvVAE
from metagen.objectives.vae import negative_elbo


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
    def sample(self, params: Params, shots: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` new images [n, C, H, W] in [0, 1] of the class of ``shots`` [K, C, H, W]."""
        net = copy.deepcopy(self.model)
        net.load_state_dict({k: v.detach() for k, v in params.items()})
        mu, logvar = net.encode(shots)  # [K, D]
        k = shots.shape[0]
        weights = torch.empty(n, k, device=gen.device).exponential_(generator=gen).to(shots.device)
        weights = weights / weights.sum(dim=1, keepdim=True)  # rows ~ Dirichlet(1, ..., 1), [n, K]
        centre = weights @ mu
        spread = weights @ torch.exp(0.5 * logvar)
        noise = torch.randn(n, self.model.latent_dim, generator=gen, device=gen.device).to(shots.device)
        z = centre + self.temperature * spread * noise
        return torch.sigmoid(net.decode(z))
