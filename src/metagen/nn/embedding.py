"""Embedding networks: images to feature vectors, for metric-based few-shot learning and as the
domain feature space of the evaluation metrics (FID, KID, precision/recall, fidelity).

The 4-block encoder of Prototypical Networks (Snell et al. 2017, after Vinyals et al. 2016): 3x3
convolution, normalisation, ReLU and 2x2 max-pooling, four times. GroupNorm replaces BatchNorm so
the network keeps no running statistics; the last feature map is averaged over space, so the
embedding has ``width`` dimensions whatever the image size.
"""

from __future__ import annotations

import torch
from torch import nn

from metagen.nn.registry import register_network


@register_network("conv4_embedding")
class Conv4Embedding(nn.Module):
    """Args:
    image_size: side of the square input (16 or more: four halvings).
    channels: 1 or 3.
    width: filters per convolution, and the embedding's dimension (64 in the paper).
    """

    def __init__(self, image_size: int = 28, channels: int = 1, width: int = 64):
        super().__init__()
        if image_size < 16:
            raise ValueError(f"image_size {image_size} is too small for four halvings")
        blocks: list[nn.Module] = []
        for i in range(4):
            blocks += [
                nn.Conv2d(channels if i == 0 else width, width, 3, padding=1, bias=False),  # GroupNorm shifts
                nn.GroupNorm(min(8, width), width),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        self.features = nn.Sequential(*blocks)
        self.image_size, self.channels, self.width = image_size, channels, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] in [0, 1] -> embeddings [B, width]."""
        return self.features(x).mean(dim=(2, 3))
