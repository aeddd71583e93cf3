"""Where a run's tasks come from, and how it shows progress: episodes over the classes of a data
set (generators, classifiers, embeddings) or patches of restoration images under degradations.

A ``TaskSource`` gives the training loop a sampler (``sample_batch(rng, n)``), the image geometry
for the network, the split saved with every checkpoint, and a ``preview`` that scores (or draws
samples from) the current model with its own fixed seed, never touching the training RNGs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch

from metagen.data.dataset import ClassImageDataset
from metagen.data.splits import ClassSplit
from metagen.errors import ConfigError, InputError
from metagen.fewshot.classifier import task_accuracies
from metagen.fewshot.restorer import Restorer
from metagen.grid import save_grid
from metagen.nn.registry import NETWORKS
from metagen.tasks.sampler import EpisodeSampler, as_float
from metagen.tasks.task import Task
from metagen.train.config import RunConfig
from metagen.train.experiment import CLASSIFYING_FAMILIES, FAMILIES, Experiment, load_data_parts


class Sampler(Protocol):
    def sample_batch(self, rng: np.random.Generator, n: int) -> list[Task]: ...


Preview = Callable[[Experiment, int, Path], dict[str, float]]


@dataclass
class TaskSource:
    sampler: Sampler
    split: ClassSplit
    image_size: int | None  # None: the network takes any size (restoration)
    channels: int
    preview: Preview
    train_classes: int | None = None  # classes of the training data (episodes); None for restoration


def is_restoration(config: RunConfig) -> bool:
    return FAMILIES.get(NETWORKS.get(config.model.name)) is Restorer  # type: ignore[arg-type]


def load_task_source(config: RunConfig) -> TaskSource:
    return restoration_source(config) if is_restoration(config) else class_source(config)


def sample_rows(
    exp: Experiment, data: ClassImageDataset, k_shot: int, n: int, seed: int, classes: int = 4
) -> list[torch.Tensor]:
    """For the first ``classes`` classes of ``data``: [shots, then n generated] per class."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    device = next(exp.learner.model.parameters()).device
    rows = []
    for c in range(min(classes, data.num_classes)):
        idx = rng.choice(data.indices_of(c), min(k_shot, len(data.indices_of(c))), replace=False)
        shots = as_float(data.images[idx]).to(device)
        labels = torch.zeros(len(shots), dtype=torch.long, device=device)
        adapted = exp.learner.adapt(shots, labels, gen, steps=exp.config.meta.adapt_steps)
        rows.append(torch.cat([shots.cpu(), exp.family.sample(adapted, shots, n, gen).cpu()]))
    return rows


def class_source(config: RunConfig) -> TaskSource:
    """N-way K-shot episodes over the training classes; previews on the validation classes (or the
    training classes where the split has none): accuracy for classifiers (on tasks of as many ways
    as the validation classes allow, logged as ``val_accuracy_n_way`` when fewer than N), sample
    grids otherwise."""
    parts = load_data_parts(config)
    h, w = parts.train.image_size
    if h != w:
        raise InputError(f"images are {h}x{w}; metagen's networks take square images (set data.size)")
    m = config.meta
    preview_data = parts.val or parts.train
    metric = "val_accuracy" if parts.val else "train_tasks_accuracy"

    def preview(exp: Experiment, step: int, run_dir: Path) -> dict[str, float]:
        seed = exp.config.train.seed
        if isinstance(exp.family, CLASSIFYING_FAMILIES):
            n_way = min(m.n_way, preview_data.num_classes)  # a validation split may hold fewer classes
            sampler = EpisodeSampler(preview_data, n_way, m.k_shot, m.q_query)
            accs = task_accuracies(
                exp.learner, exp.family, sampler, exp.config.train.preview_tasks, seed, m.adapt_steps
            )
            return {metric: float(np.mean(accs))} | ({} if n_way == m.n_way else {f"{metric}_n_way": n_way})
        save_grid(sample_rows(exp, preview_data, m.k_shot, 8, seed), run_dir / "samples" / f"step-{step:08d}.png")
        return {}

    sampler = EpisodeSampler(parts.train, m.n_way, m.k_shot, m.q_query)
    return TaskSource(sampler, parts.split, h, parts.train.channels, preview, parts.train.num_classes)


def restoration_source(config: RunConfig) -> TaskSource:
    """Patches of the images of ``data.dataset`` (an image set such as Train400) under the
    degradations of ``data.options.degradations``; ``meta.k_shot`` / ``meta.q_query`` patches of
    ``data.options.patch`` pixels per task, assembled on the training device. Previews the PSNR of
    adapted restorations of query patches of fixed tasks."""
    from metagen.data.image_sets import IMAGE_SETS, load_image_set
    from metagen.fewshot.restorer import restoration_psnr
    from metagen.tasks.degradations import parse_degradation
    from metagen.tasks.restoration import RestorationSampler

    d, m = config.data, config.meta
    if d.dataset not in IMAGE_SETS:
        raise ConfigError(f"restoration trains on an image set ({', '.join(IMAGE_SETS)}), not {d.dataset!r}")
    options: dict[str, Any] = dict(d.options)
    unknown = sorted(set(options) - {"degradations", "patch"})
    if unknown:
        raise ConfigError(f"data.options.{unknown[0]}: not a restoration option (degradations, patch)")
    specs = options.get("degradations", ["gaussian:sigma=0,sigma_max=55"])
    if isinstance(specs, str) or not specs:
        raise ConfigError("data.options.degradations must be a non-empty list of degradation specs")
    images = [i.pixels for i in load_image_set(d.dataset, d.root)]
    sampler = RestorationSampler(images, [parse_degradation(s) for s in specs], int(options.get("patch", 48)),
                                 m.k_shot, m.q_query, device=config.train.device)  # fmt: skip

    def preview(exp: Experiment, step: int, run_dir: Path) -> dict[str, float]:
        assert isinstance(exp.family, Restorer)
        tasks = sampler.sample_batch(np.random.default_rng(exp.config.train.seed), exp.config.train.preview_tasks)
        return {"train_tasks_psnr": restoration_psnr(exp.learner, exp.family, tasks, m.adapt_steps)}

    split = ClassSplit((d.dataset,), (), (), None, f"image set {d.dataset}")
    return TaskSource(sampler, split, None, sampler.channels, preview)
