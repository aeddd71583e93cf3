"""The prototypical-network loss as pure functions (Snell, Swersky and Zemel 2017, "Prototypical
Networks for Few-shot Learning"): each class is the mean embedding of its support images, and a
query is scored by its negative squared Euclidean distance to every class mean."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def class_prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """Mean embedding per episode label: [S, D] with labels in range(n_way) -> [n_way, D]."""
    one_hot = F.one_hot(labels, n_way).to(embeddings.dtype)  # [S, N]
    return (one_hot.T @ embeddings) / one_hot.sum(dim=0).clamp_min(1.0)[:, None]


def prototype_logits(queries: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """Negative squared Euclidean distances [Q, N] from each query [Q, D] to each prototype [N, D]."""
    return -torch.cdist(queries, prototypes).pow(2)


def prototypical_loss(
    support: torch.Tensor, support_y: torch.Tensor, queries: torch.Tensor, query_y: torch.Tensor, n_way: int
) -> torch.Tensor:
    """Cross-entropy of the query labels under the softmax over negative distances to prototypes."""
    return F.cross_entropy(prototype_logits(queries, class_prototypes(support, support_y, n_way)), query_y)
