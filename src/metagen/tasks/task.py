"""The ``Task`` type: one episode of few-shot learning.

Data contract: ``support_x`` [S, C, H, W] and ``query_x`` [Q, C, H, W] are float32 in [0, 1];
``support_y`` / ``query_y`` are int64 episode labels in ``range(n_way)``; ``classes[i]`` is the
data-set class index behind episode label ``i`` and ``class_names[i]`` its name. Support and query
images are disjoint draws from the same classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Task:
    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    classes: tuple[int, ...]
    class_names: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_way(self) -> int:
        return len(self.classes)

    def to(self, device: torch.device | str) -> "Task":
        """A copy on ``device`` (the caller moves tensors; nothing moves implicitly)."""
        return Task(
            self.support_x.to(device),
            self.support_y.to(device),
            self.query_x.to(device),
            self.query_y.to(device),
            self.classes,
            self.class_names,
            dict(self.meta),
        )


def stack_tasks(tasks: list[Task]) -> dict[str, torch.Tensor]:
    """Stack equally shaped tasks into [T, ...] tensors, for vectorised (vmap) meta-batches."""
    shapes = {(t.support_x.shape, t.query_x.shape) for t in tasks}
    if len(shapes) != 1:
        raise ValueError(f"tasks of a vectorised meta-batch must have equal shapes, got {sorted(map(str, shapes))}")
    return {
        name: torch.stack([getattr(t, name) for t in tasks])
        for name in ("support_x", "support_y", "query_x", "query_y")
    }
