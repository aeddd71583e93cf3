"""A set-conditioned VAE in the manner of the Neural Statistician (Edwards and Storkey 2017,
"Towards a Neural Statistician"): a statistic network pools the features of a set of images (the
shots) into a Gaussian posterior over a context c; each image has its own latent z with a prior
p(z | c) and a posterior q(z | x, c); the decoder generates x from (z, c).

A plain module with no running statistics. ``forward`` computes everything the episode ELBO needs
from a context set and the images to explain, with the caller's noise, so the caller decides every
random number; ``generate`` samples new images of the set's class in one forward pass.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from metagen.nn.blocks import check_image_network, conv_gn_act, encoder_layers
from metagen.nn.registry import register_network


def _mlp(c_in: int, hidden: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(c_in, hidden), nn.SiLU(), nn.Linear(hidden, c_out))


def _gaussian(stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu, logvar = stats.chunk(2, dim=-1)
    return mu, logvar.clamp(-10.0, 6.0)


@register_network("set_vae")
class SetVAE(nn.Module):
    """Args:
    image_size: 28, 32, 64 or 128. channels: 1 or 3. latent_dim: size of each image's z.
    context_dim: size of the set's context c. width: channels of the first convolution, doubled at
    each halving up to 4x. hidden: width of the fully connected layers.
    likelihood: 'bernoulli' (glyphs) or 'gaussian' (photos), as for ``conv_vae``.
    """

    def __init__(
        self,
        image_size: int = 28,
        channels: int = 1,
        latent_dim: int = 32,
        context_dim: int = 64,
        width: int = 32,
        hidden: int = 256,
        likelihood: Literal["bernoulli", "gaussian"] = "bernoulli",
    ):
        super().__init__()
        check_image_network(channels, likelihood)
        enc, widths, side = encoder_layers(image_size, channels, width)
        steps = len(widths) - 1
        flat = widths[-1] * side * side
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, hidden), nn.SiLU())
        self.statistic = _mlp(hidden, hidden, hidden)  # applied per image, then mean-pooled over the set
        self.context_posterior = _mlp(hidden, hidden, 2 * context_dim)
        self.latent_posterior = _mlp(hidden + context_dim, hidden, 2 * latent_dim)
        self.latent_prior = _mlp(context_dim, hidden, 2 * latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(latent_dim + context_dim, flat), nn.SiLU())
        dec = [conv_gn_act(widths[i + 1], widths[i], 4, 2, 1, transpose=True) for i in reversed(range(steps))]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(widths[0], channels, 3, 1, 1))
        self.image_size, self.channels, self.likelihood = image_size, channels, likelihood
        self.latent_dim, self.context_dim = latent_dim, context_dim
        self.base_side, self.base_width = side, widths[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images [B, C, H, W] in [0, 1] -> features [B, hidden]."""
        return self.encoder(x * 2.0 - 1.0)

    def context(self, set_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features of one set [K, hidden] (any K >= 1) -> the context posterior (mu, logvar) [context_dim]."""
        return _gaussian(self.context_posterior(self.statistic(set_features).mean(dim=0)))

    def decode(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Latents [B, latent_dim] and a context [context_dim] -> output logits [B, C, H, W]."""
        h = self.from_latent(torch.cat([z, c.expand(len(z), -1)], dim=1))
        return self.decoder(h.view(-1, self.base_width, self.base_side, self.base_side))

    def forward(
        self, context_set: torch.Tensor, images: torch.Tensor, eps_c: torch.Tensor, eps_z: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The terms of the ELBO of ``images`` [B, ...] given the context of ``context_set`` [K, ...]:
        output logits, the context posterior, and the latent posterior and prior; ``eps_c``
        [context_dim] and ``eps_z`` [B, latent_dim] are standard-normal noise."""
        mu_c, logvar_c = self.context(self.features(context_set))
        c = mu_c + torch.exp(0.5 * logvar_c) * eps_c
        cs = c.expand(len(images), -1)
        mu_z, logvar_z = _gaussian(self.latent_posterior(torch.cat([self.features(images), cs], dim=1)))
        prior_mu, prior_logvar = _gaussian(self.latent_prior(cs))
        z = mu_z + torch.exp(0.5 * logvar_z) * eps_z
        return {
            "logits": self.decode(z, c),
            "mu_c": mu_c,
            "logvar_c": logvar_c,
            "mu_z": mu_z,
            "logvar_z": logvar_z,
            "prior_mu": prior_mu,
            "prior_logvar": prior_logvar,
        }

    def generate(self, shots: torch.Tensor, eps_z: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """New images [n, C, H, W] in [0, 1] of the class of ``shots`` [K, ...] in one pass: the
        context's posterior mean, latents from its prior p(z | c) (std scaled by ``temperature``)."""
        c, _ = self.context(self.features(shots))
        prior_mu, prior_logvar = _gaussian(self.latent_prior(c[None]))
        z = prior_mu + temperature * torch.exp(0.5 * prior_logvar) * eps_z
        return torch.sigmoid(self.decode(z, c))
