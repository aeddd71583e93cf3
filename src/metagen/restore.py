"""Restoring a user's image with a meta-learned restoration run: read, adapt, restore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metagen.errors import InputError
from metagen.fewshot.restorer import Restorer, StepChoice, adapt_and_restore, adapt_choosing_step
from metagen.tasks.degradations import Degradation, Downscale, MissingPixels, RectangularHoles, bicubic_resize


def prepare_input(pixels: np.ndarray, degradation: Degradation | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The restorer's input (float32 in [0, 1]) and known-pixel mask from a uint8 image and what is
    wrong with it: for inpainting, pixels that are black in every channel are unknown; for
    super-resolution, the image is upscaled by bicubic interpolation first."""
    x = pixels.astype(np.float32) / 255.0
    if isinstance(degradation, (MissingPixels, RectangularHoles)):
        known = (pixels != 0) if pixels.ndim == 2 else (pixels != 0).any(axis=2)
        return x, known
    if isinstance(degradation, Downscale):
        return bicubic_resize(x, x.shape[0] * degradation.scale, x.shape[1] * degradation.scale), None
    return x, None


def restore_with_run(
    run: str | Path,
    degraded: np.ndarray,
    known: np.ndarray | None,
    steps: int | None,
    seed: int,
    device: str = "cpu",
    sr_scale: int | None = None,
    family: dict[str, Any] | None = None,
) -> np.ndarray:
    """Adapt the run's restorer to ``degraded`` (``steps`` self-supervised steps, default the
    recipe's ``meta.adapt_steps``; the super-resolution loss when ``sr_scale`` is set; ``family``
    replaces the recipe's restorer options, such as its noise loss) and restore it."""
    loaded, restorer, steps = _load_restorer(run, degraded, steps, device, family)
    return adapt_and_restore(loaded.experiment.learner, restorer, degraded, known, steps, seed, sr_scale=sr_scale)


def restore_choosing_step(
    run: str | Path,
    noisy: np.ndarray,
    steps: int | None,
    every: int,
    seed: int,
    device: str = "cpu",
    family: dict[str, Any] | None = None,
) -> tuple[np.ndarray, StepChoice]:
    """Adapt the run's restorer to the noisy image ``noisy`` for up to ``steps`` steps and restore
    it with the step, of every ``every``-th and the last, whose error Stein's unbiased risk
    estimate puts lowest (:func:`metagen.fewshot.restorer.adapt_choosing_step`); with the choice."""
    if every < 1:
        raise InputError(f"the step check interval must be at least 1, got {every}")
    loaded, restorer, steps = _load_restorer(run, noisy, steps, device, family)
    return adapt_choosing_step(loaded.experiment.learner, restorer, noisy, steps, every, seed)


def _load_restorer(
    run: str | Path, degraded: np.ndarray, steps: int | None, device: str, family: dict[str, Any] | None
) -> tuple[Any, Restorer, int]:
    """The loaded run, its restorer and the step count (the recipe's ``meta.adapt_steps`` when
    ``steps`` is None), refusing an image with the wrong number of channels or negative steps."""
    from metagen.fewshot.adapt import load_run

    loaded = load_run(run, device, Restorer.kind, family)
    restorer = loaded.experiment.family
    assert isinstance(restorer, Restorer)
    if degraded.ndim == 3 and degraded.shape[2] != loaded.channels or degraded.ndim == 2 and loaded.channels != 1:
        have = 1 if degraded.ndim == 2 else degraded.shape[2]
        raise InputError(f"the run restores {loaded.channels}-channel images; the input has {have}")
    steps = loaded.experiment.config.meta.adapt_steps if steps is None else steps
    if steps < 0:
        raise InputError(f"--steps must be 0 or more, got {steps}")
    return loaded, restorer, steps
