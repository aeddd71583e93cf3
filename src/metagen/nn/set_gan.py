"""A set-conditioned GAN that reads K shots and generates new images of their class in one forward
pass, in the manner of the fusion GANs (MatchingGAN and F2GAN, Hong et al. 2020; LoFGAN, Gu et al.
2021): an encoder turns each shot into a map of local features; for each new image, a query from
its noise vector attends over the shots at every location (learned weighted fusion of local
features); the decoder turns the fused map and the noise into the image.

The discriminator judges realism and class membership: its score of an image given a set of shots
is a realism term plus the inner product of the image's embedding with a projection of the shots'
mean embedding (projection discriminator, Miyato and Koyama 2018, with the set in place of a class
label).
Plain modules with no running statistics (GroupNorm in the generator, none in the discriminator).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from metagen.nn.blocks import conv_gn_act, encoder_layers
from metagen.nn.gan import SNLinear, discriminator_layers
from metagen.nn.registry import register_network


class SetGenerator(nn.Module):
    def __init__(self, image_size: int, channels: int, latent_dim: int, width: int):
        super().__init__()
        enc, widths, base = encoder_layers(image_size, channels, width)
        steps, top = len(widths) - 1, widths[-1]
        self.encoder = nn.Sequential(*enc)
        self.query = nn.Linear(latent_dim, top)
        self.key = nn.Conv2d(top, top, 1)
        self.noise_map = nn.Linear(latent_dim, top * base * base)
        dec = [conv_gn_act(2 * top, top, 3, 1, 1)]
        dec += [conv_gn_act(widths[i + 1], widths[i], 4, 2, 1, transpose=True) for i in reversed(range(steps))]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(widths[0], channels, 3, 1, 1))
        self.top, self.base = top, base

    def fuse(self, shot_maps: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Local maps of the K shots [K, F, b, b] and noise [n, latent] -> fused maps [n, F, b, b]:
        at each location a softmax over the shots of query(z) . key(map)."""
        keys = self.key(shot_maps)
        logits = torch.einsum("nc,kchw->nkhw", self.query(z), keys) / math.sqrt(self.top)
        return torch.einsum("nkhw,kchw->nchw", torch.softmax(logits, dim=1), shot_maps)

    def forward(self, shots: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Shots [K, C, S, S] in [0, 1] (any K >= 1) and noise [n, latent] -> images [n, C, S, S] in [0, 1]."""
        fused = self.fuse(self.encoder(shots * 2 - 1), z)
        noise = self.noise_map(z).view(-1, self.top, self.base, self.base)
        return torch.sigmoid(self.decoder(torch.cat([fused, noise], dim=1)))


class SetDiscriminator(nn.Module):
    def __init__(self, image_size: int, channels: int, width: int, spectral_norm: bool, embed_dim: int = 128):
        super().__init__()
        blocks, features = discriminator_layers(image_size, channels, width, spectral_norm)
        linear = SNLinear if spectral_norm else nn.Linear
        self.blocks = nn.Sequential(*blocks, nn.Flatten())
        self.head = linear(features, 1)
        self.embed = linear(features, embed_dim)
        self.project = linear(embed_dim, embed_dim)

    def forward(self, x: torch.Tensor, shots: torch.Tensor) -> torch.Tensor:
        """Images [B, C, S, S] and the shots of the class they should belong to [K, C, S, S] -> logits [B]."""
        h = self.blocks(x * 2 - 1)
        anchor = self.project(self.embed(self.blocks(shots * 2 - 1)).mean(dim=0))
        return self.head(h).squeeze(1) + (self.embed(h) * anchor).sum(dim=1) / math.sqrt(anchor.shape[0])


@register_network("set_gan")
class SetGAN(nn.Module):
    """The set-conditioned generator and its discriminator as one module (``generator.*`` and
    ``discriminator.*``).

    Args:
    image_size: 28, 32, 64 or 128. channels: 1 or 3. latent_dim: size of each image's noise.
    width: generator width (doubled per halving, up to 4x). d_width: discriminator width.
    spectral_norm: spectrally normalised discriminator.
    """

    def __init__(self, image_size: int = 28, channels: int = 1, latent_dim: int = 64, width: int = 32,
                 d_width: int = 32, spectral_norm: bool = True):  # fmt: skip
        super().__init__()
        self.generator = SetGenerator(image_size, channels, latent_dim, width)
        self.discriminator = SetDiscriminator(image_size, channels, d_width, spectral_norm)
        self.image_size, self.channels, self.latent_dim = image_size, channels, latent_dim

    def forward(self, shots: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The discriminator's logits on images generated from ``shots`` and ``z`` [n]."""
        return self.discriminator(self.generator(shots, z), shots)
