"""Classification losses and accuracy as pure functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` [B, N] against integer ``labels`` [B]."""
    return F.cross_entropy(logits, labels)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose arg-max is the label."""
    return float((logits.argmax(dim=1) == labels).float().mean())
