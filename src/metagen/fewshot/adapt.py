"""Loading a trained few-shot generator from its run and generating from a user's shots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metagen.data.images import read_image_file
from metagen.errors import InputError
from metagen.meta.inner import Params
from metagen.tasks.sampler import as_float
from metagen.train.config import RunConfig
from metagen.train.experiment import Experiment, build_experiment, check_device
from metagen.train.state import GENERATOR_KIND, config_of, find_checkpoint, read_run_record, restore_run_state


@dataclass
class LoadedRun:
    """A meta-trained model rebuilt from its checkpoint, with the checkpoint's verified record."""

    experiment: Experiment
    checkpoint: Path
    step: int
    record: dict[str, Any]

    @property
    def image_size(self) -> int:
        return int(self.experiment.network_spec["options"]["image_size"])

    @property
    def channels(self) -> int:
        return int(self.experiment.network_spec["options"]["channels"])


def load_run(
    run: str | Path, device: str = "cpu", kind: str | None = None, family: dict[str, Any] | None = None
) -> LoadedRun:
    """Rebuild a meta-trained model from its checkpoint alone (network spec, config and weights);
    ``kind`` restricts it to generators or classifiers; ``family`` replaces options of the recipe's
    ``model.family`` (how the model samples, for example), checked like the recipe's own."""
    path = find_checkpoint(run)
    record = read_run_record(path, kind)
    config: RunConfig = config_of(path)
    config.train.device = str(check_device(device))
    config.model.family = {**config.model.family, **(family or {})}
    exp = build_experiment(config, record["network"])
    step = restore_run_state(path, exp)
    exp.learner.model.eval()
    return LoadedRun(exp, path, step, record)


def load_generator(run: str | Path, device: str = "cpu", family: dict[str, Any] | None = None) -> LoadedRun:
    """Rebuild a few-shot generator from its checkpoint, with ``family`` options replaced (see
    :func:`load_run`); any other checkpoint is refused."""
    return load_run(run, device, GENERATOR_KIND, family)


def read_shots(paths: list[str | Path], size: int, channels: int) -> torch.Tensor:
    """Read the user's shot images (any size or format), converted to the model's size and channels."""
    if not paths:
        raise InputError("no shot images given (--shots IMG [IMG ...])")
    mode = "L" if channels == 1 else "RGB"
    return as_float(np.stack([read_image_file(p, mode, size) for p in paths]))


def adapt_to_shots(
    loaded: LoadedRun,
    shots: torch.Tensor,
    seed: int = 0,
    steps: int | None = None,
    lr: float | None = None,
) -> tuple[Params, torch.Generator]:
    """Adapt the run's model to ``shots`` [K, C, H, W] with the recipe's adaptation (``steps`` and
    ``lr`` override it); returns the adapted parameters and the seeded generator, positioned for
    sampling. Same seed, same result."""
    exp = loaded.experiment
    if shots.shape[1:] != (loaded.channels, loaded.image_size, loaded.image_size):
        raise InputError(
            f"shots have shape {tuple(shots.shape[1:])}, the model takes {(loaded.channels, loaded.image_size, loaded.image_size)}"
        )
    if lr is not None:
        if not lr > 0:
            raise InputError(f"--lr must be positive, got {lr}")
        exp.learner.set_learning_rates(inner=lr)
    if steps is not None and steps < 0:
        raise InputError(f"--steps must be 0 or more, got {steps}")
    gen = torch.Generator().manual_seed(seed)
    labels = torch.zeros(len(shots), dtype=torch.long, device=shots.device)
    adapted = exp.learner.adapt(shots, labels, gen, steps=exp.config.meta.adapt_steps if steps is None else steps)
    return adapted, gen


def generate(
    loaded: LoadedRun,
    shots: torch.Tensor,
    num: int,
    seed: int = 0,
    steps: int | None = None,
    lr: float | None = None,
) -> torch.Tensor:
    """Adapt to ``shots`` [K, C, H, W] and return ``num`` generated images [num, C, H, W] in [0, 1].

    Same seed, same images. ``steps`` and ``lr`` override the recipe's adaptation settings.
    """
    if num < 1:
        raise InputError(f"--num must be at least 1, got {num}")
    shots = shots.to(next(loaded.experiment.learner.model.parameters()).device)
    adapted, gen = adapt_to_shots(loaded, shots, seed, steps, lr)
    return loaded.experiment.family.sample(adapted, shots, num, gen).cpu()
