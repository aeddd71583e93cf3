"""The 4-block convolutional classifier of the MAML paper's Omniglot experiments.

Finn, Abbeel and Levine (2017), after Vinyals et al. (2016): four blocks of 3x3 convolution
(64 filters), batch normalisation and ReLU; for Omniglot, stride-2 convolutions instead of
max-pooling; the final feature map is averaged over space and fed to a linear layer.

Batch normalisation uses the statistics of the batch in front of it, in training and at test
time alike (``track_running_stats=False``), as MAML's reference code does ("transductive"
batch norm). It keeps no running statistics, so the network has no buffers and nothing leaks
between tasks.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from metagen.nn.registry import register_network


@register_network("conv4")
class Conv4Classifier(nn.Module):
    """Args:
    image_size: side of the square input (any size that survives four halvings).
    channels: 1 or 3.
    num_classes: outputs (N of the N-way tasks).
    width: filters per convolution (64 in the paper).
    downsample: 'stride' (Omniglot, as in the paper) or 'maxpool' (2x2 max-pooling after each block).
    """

    def __init__(
        self,
        image_size: int = 28,
        channels: int = 1,
        num_classes: int = 5,
        width: int = 64,
        downsample: Literal["stride", "maxpool"] = "stride",
    ):
        super().__init__()
        if downsample not in ("stride", "maxpool"):
            raise ValueError(f"downsample must be 'stride' or 'maxpool', got {downsample!r}")
        if image_size < 16:
            raise ValueError(f"image_size {image_size} is too small for four halvings")
        blocks = []
        for i in range(4):
            stride = 2 if downsample == "stride" else 1
            blocks += [
                nn.Conv2d(channels if i == 0 else width, width, 3, stride, 1, bias=False),  # BN's shift is the bias
                nn.BatchNorm2d(width, track_running_stats=False),
                nn.ReLU(),
            ]
            if downsample == "maxpool":
                blocks.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(width, num_classes)
        self.image_size, self.channels, self.num_classes = image_size, channels, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] in [0, 1] -> logits [B, num_classes]."""
        return self.head(self.features(x).mean(dim=(2, 3)))
