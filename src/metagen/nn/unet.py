"""A small U-Net for restoration (Ronneberger et al. 2015, "U-Net: Convolutional Networks for
Biomedical Image Segmentation"): an encoder that halves the resolution ``levels`` times, a decoder
that doubles it back with skip connections, and a residual output (the network predicts the
correction to its input). No normalisation, so it keeps no running statistics.

``bias_free=True`` drops every additive constant (the convolutions' biases), as the bias-free
networks of Mohan et al. 2020 ("Robust and interpretable blind image denoising via bias-free
convolutional neural networks", ICLR) do: with ReLU and max-pooling the network is then
positively homogeneous, f(a x) = a f(x) for a > 0, which those authors show lets a denoiser
generalise to noise levels above the range it was trained on."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from metagen.nn.registry import register_network


def _double_conv(c_in: int, c_out: int, bias: bool) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=bias),
        nn.ReLU(),
    )


@register_network("unet")
class UNet(nn.Module):
    """Args:
    channels: 1 (grey) or 3 (colour).
    width: filters at full resolution (doubled at each level).
    levels: halvings (inputs of any size work: the decoder matches the encoder's sizes).
    bias_free: no additive constants anywhere (Mohan et al. 2020); see the module's docstring.
    """

    def __init__(self, channels: int = 1, width: int = 32, levels: int = 2, bias_free: bool = False):
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        widths = [width * 2**i for i in range(levels + 1)]
        bias = not bias_free
        self.down = nn.ModuleList([_double_conv(channels, widths[0], bias)])
        self.down.extend(_double_conv(widths[i], widths[i + 1], bias) for i in range(levels))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2, bias=bias) for i in reversed(range(levels))
        )
        self.merge = nn.ModuleList(_double_conv(2 * widths[i], widths[i], bias) for i in reversed(range(levels)))
        self.out = nn.Conv2d(widths[0], channels, 1, bias=bias)
        self.channels, self.width, self.levels, self.bias_free = channels, width, levels, bias_free

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] (degraded) -> restored [B, C, H, W] = x + predicted correction."""
        skips, h = [], x
        for i, block in enumerate(self.down):
            h = block(h if i == 0 else F.max_pool2d(h, 2, ceil_mode=True))
            skips.append(h)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            h = up(h)[..., : skip.shape[-2], : skip.shape[-1]]
            h = merge(
                torch.cat([F.pad(h, (0, skip.shape[-1] - h.shape[-1], 0, skip.shape[-2] - h.shape[-2])), skip], 1)
            )
        return x + self.out(h)
