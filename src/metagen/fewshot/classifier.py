"""A network as a few-shot classifier for the meta-learner: cross-entropy on episode labels."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from metagen.meta.inner import Params
from metagen.objectives.classification import accuracy, cross_entropy


class FewShotClassifier:
    """Binds a classification network to its task loss and its accuracy."""

    family = "classifier"
    kind = "fewshot-classifier"

    def __init__(self, model: nn.Module):
        self.model = model

    def task_loss(
        self, params: Params, images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        """Cross-entropy of the episode ``labels`` given ``images`` under ``params``."""
        return cross_entropy(functional_call(self.model, params, (images,)), labels)

    @torch.no_grad()
    def accuracy(self, params: Params, images: torch.Tensor, labels: torch.Tensor) -> float:
        return accuracy(functional_call(self.model, params, (images,)), labels)
