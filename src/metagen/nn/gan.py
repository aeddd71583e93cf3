"""DCGAN-style generator and discriminator (Radford et al. 2016) for 28, 32, 64 and 128 pixels, grey
or RGB, as plain modules for the meta-learning engine: no running statistics (GroupNorm in the
generator, none in the discriminator), so nothing leaks between tasks.

Spectral normalisation (Miyato et al. 2018) is an option of the discriminator. It is computed
exactly (the largest singular value of each reshaped weight) at every forward pass instead of by
power iteration, whose state would be a buffer carried from task to task. With ``num_classes`` the
discriminator is a projection discriminator (Miyato and Koyama 2018, "cGANs with Projection
Discriminator") and the generator is class-conditional through a learned class embedding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from metagen.nn.blocks import downsample_steps
from metagen.nn.registry import register_network


def _spectral(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` divided by its largest singular value (as a [out, in * k * k] matrix), taken as
    the square root of the largest eigenvalue of the smaller Gram matrix (W W^T or W^T W): the same
    value as an SVD's, at a fraction of its cost for wide or tall matrices."""
    w = weight.flatten(1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return weight / torch.linalg.eigvalsh(gram)[-1].clamp_min(1e-12).sqrt()


class SNConv2d(nn.Conv2d):
    """A convolution whose weight is spectrally normalised at every call, statelessly."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, _spectral(self.weight), self.bias)


class SNLinear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, _spectral(self.weight), self.bias)


def discriminator_layers(
    image_size: int, channels: int, width: int, spectral_norm: bool
) -> tuple[list[nn.Module], int]:
    """The DCGAN discriminator's convolutional trunk (a 3x3 convolution, then stride-2 ones down to
    the base side, LeakyReLU 0.2, no normalisation layers) and the size of its flattened output."""
    steps, base = downsample_steps(image_size)
    conv = SNConv2d if spectral_norm else nn.Conv2d
    widths = [width * min(2**i, 8) for i in range(steps + 1)]
    layers: list[nn.Module] = [conv(channels, widths[0], 3, padding=1), nn.LeakyReLU(0.2)]
    for i in range(steps):
        layers += [conv(widths[i], widths[i + 1], 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    return layers, widths[-1] * base * base


@register_network("dcgan_generator")
class DCGANGenerator(nn.Module):
    """Args:
    image_size: 28, 32, 64 or 128. channels: 1 or 3. latent_dim: size of z.
    width: filters at the last (full-resolution) block, doubled at each coarser one (capped at 8x).
    num_classes: 0 for an unconditional generator; otherwise a class embedding is added to z.
    """

    def __init__(self, image_size: int = 28, channels: int = 1, latent_dim: int = 64, width: int = 32,
                 num_classes: int = 0):  # fmt: skip
        super().__init__()
        steps, base = downsample_steps(image_size)
        widths = [width * min(2 ** (steps - i), 8) for i in range(steps + 1)]  # coarse to fine
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.project = nn.Linear(latent_dim, widths[0] * base * base)
        blocks: list[nn.Module] = []
        for i in range(steps):
            blocks += [
                nn.ConvTranspose2d(widths[i], widths[i + 1], 4, stride=2, padding=1, bias=False),
                nn.GroupNorm(min(8, widths[i + 1]), widths[i + 1]),
                nn.ReLU(),
            ]
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Conv2d(widths[-1], channels, 3, padding=1)
        self.base, self.top = base, widths[0]
        self.image_size, self.channels, self.latent_dim, self.num_classes = (
            image_size,
            channels,
            latent_dim,
            num_classes,
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """z [B, latent_dim] (and class labels [B] if conditional) -> images [B, C, S, S] in [0, 1]."""
        if self.embed is not None:
            if labels is None:
                raise ValueError("a class-conditional generator needs labels")
            z = z + self.embed(labels)
        h = F.relu(self.project(z)).view(-1, self.top, self.base, self.base)
        return torch.sigmoid(self.out(self.blocks(h)))


@register_network("dcgan_discriminator")
class DCGANDiscriminator(nn.Module):
    """Args:
    image_size: 28, 32, 64 or 128. channels: 1 or 3. width: filters of the first block, doubled per block.
    spectral_norm: normalise every weight by its spectral norm. num_classes: 0, or a projection discriminator.
    """

    def __init__(self, image_size: int = 28, channels: int = 1, width: int = 32, spectral_norm: bool = False,
                 num_classes: int = 0):  # fmt: skip
        super().__init__()
        blocks, features = discriminator_layers(image_size, channels, width, spectral_norm)
        linear = SNLinear if spectral_norm else nn.Linear
        self.blocks = nn.Sequential(*blocks)
        self.head = linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes else None
        self.image_size, self.channels, self.num_classes = image_size, channels, num_classes

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """images [B, C, S, S] in [0, 1] -> logits [B]; with classes, plus the projection <embed(y), h>."""
        h = self.blocks(x * 2 - 1).flatten(1)
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            if labels is None:
                raise ValueError("a projection discriminator needs labels")
            out = out + (self.embed(labels) * h).sum(dim=1)
        return out


@register_network("dcgan")
class DCGAN(nn.Module):
    """A generator and its discriminator as one module (parameters ``generator.*`` and
    ``discriminator.*``), so a meta-learner adapts and meta-trains both (FIGR, DAWSON).

    Args:
    image_size, channels: as for both halves. latent_dim: size of z. width: generator width.
    d_width: discriminator width. spectral_norm: spectrally normalised discriminator.
    num_classes: 0, or a class-conditional generator with a projection discriminator.
    """

    def __init__(self, image_size: int = 28, channels: int = 1, latent_dim: int = 64, width: int = 32,
                 d_width: int = 32, spectral_norm: bool = False, num_classes: int = 0):  # fmt: skip
        super().__init__()
        self.generator = DCGANGenerator(image_size, channels, latent_dim, width, num_classes)
        self.discriminator = DCGANDiscriminator(image_size, channels, d_width, spectral_norm, num_classes)
        self.image_size, self.channels = image_size, channels
        self.latent_dim, self.num_classes = latent_dim, num_classes

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator's logits on generated images D(G(z)) [B]."""
        return self.discriminator(self.generator(z, labels), labels)
