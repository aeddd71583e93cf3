"""Episodic samplers: N-way K-shot Q-query classification tasks and one-class K-shot generation tasks.

Sampling is a pure function of a ``numpy.random.Generator``: the same generator state gives the
same tasks, and the caller owns (and checkpoints) the generator.
"""

from __future__ import annotations

import numpy as np
import torch

from metagen.data.dataset import ClassImageDataset
from metagen.errors import InputError
from metagen.tasks.task import Task


def as_float(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, C, H, W] -> float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)


class EpisodeSampler:
    """Draws N-way K-shot tasks with Q query images per class from a class data set.

    Classes are drawn without replacement; within a class, support and query images are drawn
    without replacement, so they never overlap. With ``n_way=1`` the task is a one-class K-shot
    generation task: support = the shots, query = other images of the same class.
    """

    def __init__(self, dataset: ClassImageDataset, n_way: int, k_shot: int, q_query: int):
        if n_way < 1 or k_shot < 1 or q_query < 0:
            raise InputError(f"need n_way >= 1, k_shot >= 1, q_query >= 0; got {n_way}, {k_shot}, {q_query}")
        if n_way > dataset.num_classes:
            raise InputError(
                f"{n_way}-way tasks need {n_way} classes; data set {dataset.name!r} has {dataset.num_classes}"
            )
        sizes = dataset.class_sizes()
        self.eligible = np.flatnonzero(sizes >= k_shot + q_query)
        if len(self.eligible) < n_way:
            raise InputError(
                f"{k_shot}-shot {q_query}-query tasks need {k_shot + q_query} images per class; only "
                f"{len(self.eligible)} of {dataset.num_classes} classes of {dataset.name!r} have that many "
                f"(the smallest has {sizes.min()})"
            )
        self.dataset, self.n_way, self.k_shot, self.q_query = dataset, n_way, k_shot, q_query

    def sample(self, rng: np.random.Generator, classes: list[int] | None = None) -> Task:
        """One task. ``classes`` fixes the data-set classes (in episode-label order)."""
        chosen = list(classes) if classes is not None else list(rng.choice(self.eligible, self.n_way, replace=False))
        support, query = [], []
        for c in chosen:
            idx = self.dataset.indices_of(int(c))
            if len(idx) < self.k_shot + self.q_query:
                raise InputError(
                    f"class {self.dataset.class_names[c]!r} has {len(idx)} images, fewer than K + Q = {self.k_shot + self.q_query}"
                )
            picked = rng.choice(idx, self.k_shot + self.q_query, replace=False)
            support.append(picked[: self.k_shot])
            query.append(picked[self.k_shot :])
        s_idx, q_idx = np.concatenate(support), np.concatenate(query)
        labels = np.arange(len(chosen))
        return Task(
            support_x=as_float(self.dataset.images[s_idx]),
            support_y=torch.from_numpy(np.repeat(labels, self.k_shot)),
            query_x=as_float(self.dataset.images[q_idx]),
            query_y=torch.from_numpy(np.repeat(labels, self.q_query)),
            classes=tuple(int(c) for c in chosen),
            class_names=tuple(self.dataset.class_names[int(c)] for c in chosen),
            meta={"support_index": s_idx.tolist(), "query_index": q_idx.tolist()},
        )

    def sample_batch(self, rng: np.random.Generator, meta_batch: int) -> list[Task]:
        """A meta-batch of ``meta_batch`` independent tasks."""
        if meta_batch < 1:
            raise InputError(f"meta_batch must be at least 1, got {meta_batch}")
        return [self.sample(rng) for _ in range(meta_batch)]


def generation_task(dataset: ClassImageDataset, c: int, k_shot: int, rng: np.random.Generator) -> Task:
    """One-class K-shot task for class ``c``: K shots, and every other image of the class as query."""
    n = len(dataset.indices_of(c))
    if n < k_shot + 1:
        raise InputError(f"class {dataset.class_names[c]!r} has {n} images; {k_shot} shots need at least {k_shot + 1}")
    return EpisodeSampler(dataset, 1, k_shot, n - k_shot).sample(rng, classes=[c])
