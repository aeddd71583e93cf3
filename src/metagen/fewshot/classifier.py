"""A network as a few-shot classifier for the meta-learner: cross-entropy on episode labels."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from metagen.fewshot.prototypes import PrototypeClassifier
from metagen.meta.inner import Params
from metagen.meta.learners import MetaLearner
from metagen.objectives.classification import accuracy, cross_entropy
from metagen.tasks.sampler import EpisodeSampler
from metagen.tasks.task import Task


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
    def task_accuracy(self, params: Params, task: Task) -> float:
        """Accuracy on the task's queries under (adapted) ``params``."""
        return accuracy(functional_call(self.model, params, (task.query_x,)), task.query_y)


def task_accuracies(
    learner: MetaLearner,
    family: FewShotClassifier | PrototypeClassifier,
    sampler: EpisodeSampler,
    tasks: int,
    seed: int,
    steps: int,
) -> list[float]:
    """Query accuracy after ``steps`` adaptation steps on each of ``tasks`` tasks drawn with ``seed``
    (the same seed gives the same tasks and the same scores)."""
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    device = next(learner.model.parameters()).device
    scores = []
    for _ in range(tasks):
        task = sampler.sample(rng).to(device)
        adapted = learner.adapt(task.support_x, task.support_y, gen, steps=steps)
        scores.append(family.task_accuracy(adapted, task))
    return scores
