"""A convolutional variational autoencoder (Kingma and Welling 2014) for square images.

A plain module: it knows nothing of meta-learning. ``forward(x, eps)`` takes the reparameterisation
noise from the caller, so the caller's generator decides every random number.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from metagen.nn.blocks import check_image_network, conv_gn_act, encoder_layers
from metagen.nn.registry import register_network


@register_network("conv_vae")
class ConvVAE(nn.Module):
    """Encoder: conv 3x3, then stride-2 convs down to a 4..7 pixel base; decoder mirrors it.

    Args:
        image_size: side of the square input (28, 32, 64, 128).
        channels: 1 (grey) or 3 (RGB).
        latent_dim: size of the Gaussian latent.
        width: channels of the first layer; doubled at each halving up to ``4 * width``.
        likelihood: 'bernoulli' (logits; suits binary-ish glyphs) or 'gaussian' (unit-variance
            Gaussian on the sigmoid of the output; suits photos).
    """

    def __init__(
        self,
        image_size: int = 28,
        channels: int = 1,
        latent_dim: int = 32,
        width: int = 32,
        likelihood: Literal["bernoulli", "gaussian"] = "bernoulli",
    ):
        super().__init__()
        check_image_network(channels, likelihood)
        enc, widths, side = encoder_layers(image_size, channels, width)
        steps = len(widths) - 1
        self.image_size, self.channels, self.latent_dim, self.likelihood = image_size, channels, latent_dim, likelihood
        self.base_side, self.base_width = side, widths[-1]

        self.encoder = nn.Sequential(*enc, nn.Flatten())
        flat = widths[-1] * side * side
        self.to_stats = nn.Linear(flat, 2 * latent_dim)

        self.from_latent = nn.Sequential(nn.Linear(latent_dim, flat), nn.SiLU())
        dec = [conv_gn_act(widths[i + 1], widths[i], 4, 2, 1, transpose=True) for i in reversed(range(steps))]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(widths[0], channels, 3, 1, 1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, C, H, W] in [0, 1] -> (mu, logvar), each [B, latent_dim]."""
        mu, logvar = self.to_stats(self.encoder(x * 2.0 - 1.0)).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 6.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, latent_dim] -> output logits [B, C, H, W] (sigmoid gives the image in [0, 1])."""
        h = self.from_latent(z).view(-1, self.base_width, self.base_side, self.base_side)
        return self.decoder(h)

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, mu, logvar) for inputs ``x`` and standard-normal noise ``eps`` [B, latent_dim]."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mu, logvar
