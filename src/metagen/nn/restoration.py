"""Restoration networks: plain modules mapping a degraded image to a restored one.

DnCNN (Zhang et al. 2017, "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image
Denoising"): a stack of 3x3 convolutions with ReLU that predicts the noise, subtracted from the
input (residual learning). The published model has batch normalisation; its released weights
(the KAIR model zoo) have it folded into the convolutions' biases, so this network has none, which
also keeps it free of running statistics for meta-learning.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from metagen.errors import CheckpointError, InputError
from metagen.nn.registry import register_network


@register_network("dncnn")
class DnCNN(nn.Module):
    """Args:
    channels: 1 (grey) or 3 (colour).
    depth: convolution layers (17 for DnCNN-S, 20 for the blind DnCNN-B).
    width: filters per hidden layer (64 in the paper).
    """

    def __init__(self, channels: int = 1, depth: int = 17, width: int = 64):
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be at least 2, got {depth}")
        layers: list[nn.Module] = []
        for i in range(depth):
            layers.append(nn.Conv2d(channels if i == 0 else width, channels if i == depth - 1 else width, 3, padding=1))
            if i < depth - 1:
                layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)
        self.channels, self.depth, self.width = channels, depth, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] (degraded, values in [0, 1]) -> restored [B, C, H, W] = x - predicted noise."""
        return x - self.body(x)


# the KIND of ``KIND:PATH``, how a published model is named (``--model``, ``train.init_from``)
PUBLISHED_KINDS = ("dncnn25",)


def published_spec(spec: str) -> tuple[str, str] | None:
    """``KIND:PATH`` naming published weights (KIND one of ``PUBLISHED_KINDS``) as (KIND, PATH);
    None for anything else, such as a run folder."""
    kind, sep, path = spec.partition(":")
    return (kind, path) if sep and kind in PUBLISHED_KINDS else None


def load_kair_dncnn(path: str | Path) -> DnCNN:
    """The published DnCNN weights as released in the KAIR model zoo (``dncnn_25.pth`` and its
    kin): a state dict ``model.0.weight`` ... ``model.{2(depth-1)}.bias`` of convolutions with ReLUs
    between them. The file is read with ``torch.load(weights_only=True)``, which runs no code."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"DnCNN weights not found: {p}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling or zip failure means a corrupt or foreign file
        raise CheckpointError(f"{p}: not a readable PyTorch weights file ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{p}: expected a state dict of tensors")
    convs = sorted({int(k.split(".")[1]) for k in state if k.startswith("model.") and k.endswith(".weight")})
    if not convs or convs != list(range(0, 2 * len(convs), 2)):
        raise CheckpointError(f"{p}: not a KAIR DnCNN state dict (expected keys model.0.weight, model.2.weight, ...)")
    first = state["model.0.weight"]
    net = DnCNN(channels=first.shape[1], depth=len(convs), width=first.shape[0])
    mapped = {f"body.{i}.{kind}": state.get(f"model.{i}.{kind}") for i in convs for kind in ("weight", "bias")}
    missing = [k for k, v in mapped.items() if v is None]
    expected = net.state_dict()
    wrong = [k for k, v in mapped.items() if v is not None and v.shape != expected[k].shape]
    if missing or wrong or len(state) != len(mapped):
        raise CheckpointError(
            f"{p}: DnCNN weights do not match the architecture (missing {missing}, wrong shape {wrong})"
        )
    net.load_state_dict(mapped)
    return net.eval()
