"""An embedding network as a metric-based few-shot classifier (Prototypical Networks, Snell et al.
2017), trained episodically by the ``protonet`` learner; once trained it is also the domain
feature space of the evaluation metrics (``metagen features train``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from metagen.meta.inner import Params
from metagen.objectives.classification import accuracy
from metagen.objectives.prototypical import class_prototypes, prototype_logits, prototypical_loss
from metagen.tasks.task import Task

EMBED_BATCH = 512


class PrototypeClassifier:
    """Binds an embedding network to the prototypical episode loss and accuracy."""

    family = "embedding"
    kind = "feature-embedding"

    def __init__(self, model: nn.Module):
        self.model = model

    def episode_loss(self, params: Params, task: Task, gen: torch.Generator | None = None) -> torch.Tensor:
        """Prototypical loss of the task's queries against its support's class means (deterministic:
        ``gen`` is not used)."""
        support = functional_call(self.model, params, (task.support_x,))
        queries = functional_call(self.model, params, (task.query_x,))
        return prototypical_loss(support, task.support_y, queries, task.query_y, task.n_way)

    @torch.no_grad()
    def task_accuracy(self, params: Params, task: Task) -> float:
        """Nearest-prototype accuracy on the task's queries."""
        protos = class_prototypes(functional_call(self.model, params, (task.support_x,)), task.support_y, task.n_way)
        return accuracy(prototype_logits(functional_call(self.model, params, (task.query_x,)), protos), task.query_y)

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> np.ndarray:
        """Embeddings [N, D] (float64) of images [N, C, H, W] in [0, 1], computed in batches."""
        device = next(self.model.parameters()).device
        self.model.eval()
        chunks = [
            self.model(images[i : i + EMBED_BATCH].to(device)).double().cpu()
            for i in range(0, len(images), EMBED_BATCH)
        ]
        return torch.cat(chunks).numpy()
