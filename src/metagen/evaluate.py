"""Evaluating a meta-trained run on its held-out (test) classes.

Classifiers (and feature embeddings): N-way K-shot accuracy over many test tasks, with a 95%
interval (the protocol of Finn et al. 2017: 600 tasks). Generators: a quick pixel-space check of
class fidelity and memorisation (the demo's); the fixed protocols, in a learned feature space and
with every metric, are in ``metagen.reports.generation``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metagen.data.dataset import ClassImageDataset
from metagen.data.registry import load_dataset
from metagen.data.splits import ClassSplit, apply_split
from metagen.errors import InputError
from metagen.eval.fidelity import class_fidelity, memorisation_ratio
from metagen.fewshot.adapt import LoadedRun, generate, load_generator, load_run
from metagen.fewshot.classifier import task_accuracies
from metagen.tasks.sampler import EpisodeSampler, as_float
from metagen.train.experiment import CLASSIFYING_FAMILIES


def held_out_classes(loaded: LoadedRun, part: str = "test") -> ClassImageDataset:
    """The test (or, with ``part="val"``, the validation) classes of the run's data, by the class
    split stored in its checkpoint."""
    d = loaded.experiment.config.data
    ds = load_dataset(d.dataset, d.root, d.size, d.channels, **d.options)
    split = ClassSplit.from_json(loaded.record["split"])
    return apply_split(ds, split, part)


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% normal interval (1.96 standard errors)."""
    arr = np.asarray(values, dtype=np.float64)
    half = 1.96 * arr.std(ddof=1) / math.sqrt(len(arr)) if len(arr) > 1 else float("nan")
    return float(arr.mean()), float(half)


def evaluate_classifier(
    run: str | Path,
    tasks: int = 600,
    seed: int = 0,
    n_way: int | None = None,
    k_shot: int | None = None,
    q_query: int | None = None,
    steps: int | None = None,
) -> dict[str, Any]:
    """Accuracy on ``tasks`` seeded N-way K-shot tasks of the test classes after ``steps``
    adaptation steps (defaults: the run's recipe), with its 95% interval."""
    loaded = load_run(run)
    exp = loaded.experiment
    if not isinstance(exp.family, CLASSIFYING_FAMILIES):
        raise InputError(f"{run}: a {exp.family.family} run has no N-way K-shot accuracy")
    m = exp.config.meta
    n_way, k_shot, q_query = n_way or m.n_way, k_shot or m.k_shot, q_query or m.q_query
    steps = m.adapt_steps if steps is None else steps
    if tasks < 1:
        raise InputError(f"--tasks must be at least 1, got {tasks}")
    if n_way != exp.network_spec["options"].get("num_classes", n_way):
        raise InputError(
            f"the run's network has {exp.network_spec['options']['num_classes']} outputs; cannot run {n_way}-way tasks"
        )
    sampler = EpisodeSampler(held_out_classes(loaded), n_way, k_shot, q_query)
    t0 = time.perf_counter()
    accs = task_accuracies(exp.learner, exp.family, sampler, tasks, seed, steps)
    mean, half = mean_interval(accs)
    return {
        "protocol": f"{n_way}-way {k_shot}-shot, {q_query} queries per class, {tasks} test tasks, seed {seed}",
        "accuracy": mean,
        "interval95": half,
        "tasks": tasks,
        "adapt_steps": steps,
        "step": loaded.step,
        "seconds": time.perf_counter() - t0,
    }


def copy_baseline(
    shot_sets: list[np.ndarray], num: int, rng: np.random.Generator, noise: float = 0.02
) -> list[np.ndarray]:
    """The "copy the shots" generator: ``num`` images per class, each a random shot plus small
    Gaussian noise. It calibrates the memorisation ratio (it should score near 0)."""
    return [s[rng.integers(0, len(s), num)] + rng.normal(0.0, noise, (num, s.shape[1])) for s in shot_sets]


def evaluate_generator(
    run: str | Path, shots: int = 5, num: int = 10, seed: int = 0
) -> tuple[list[torch.Tensor], dict[str, Any]]:
    """Adapt to ``shots`` images of every test class, generate ``num`` each; return grid rows
    (shots then generated) and pixel-space class fidelity and memorisation, with the real held-out
    images and a "copy the shots" generator as calibrators."""
    loaded = load_generator(run)
    test = held_out_classes(loaded)
    rng = np.random.default_rng(seed)
    rows, generated, refs, shot_sets = [], [], [], []
    t0 = time.perf_counter()
    for c in range(test.num_classes):
        idx = test.indices_of(c)
        if len(idx) <= shots:
            raise InputError(f"test class {test.class_names[c]} has {len(idx)} images, fewer than {shots} shots + 1")
        perm = rng.permutation(idx)
        shot_x, ref_x = as_float(test.images[perm[:shots]]), as_float(test.images[perm[shots:]])
        gen_x = generate(loaded, shot_x, num, seed=seed + c)
        rows.append(torch.cat([shot_x, gen_x]))
        generated.append(gen_x.flatten(1).numpy())
        refs.append(ref_x.flatten(1).numpy())
        shot_sets.append(shot_x.flatten(1).numpy())
    adapt_seconds = time.perf_counter() - t0
    prototypes = np.stack([r.mean(axis=0) for r in refs])
    copies = copy_baseline(shot_sets, num, rng)
    labels = np.concatenate([np.full(len(g), c) for c, g in enumerate(generated)])
    real_labels = np.concatenate([np.full(len(r), c) for c, r in enumerate(refs)])
    metrics = {
        "feature_space": "pixels",
        "held_out_classes": test.num_classes,
        "shots": shots,
        "generated_per_class": num,
        "class_fidelity": class_fidelity(np.concatenate(generated), labels, prototypes),
        "class_fidelity_real_images": class_fidelity(np.concatenate(refs), real_labels, prototypes),
        "class_fidelity_chance": 1.0 / test.num_classes,
        "memorisation_ratio": memorisation_ratio(generated, refs, shot_sets),
        # calibration: "copy the shots" (each generated image a shot plus small noise)
        "class_fidelity_copying_shots": class_fidelity(np.concatenate(copies), labels, prototypes),
        "memorisation_ratio_copying_shots": memorisation_ratio(copies, refs, shot_sets),
        "adapt_and_generate_seconds_per_class": adapt_seconds / test.num_classes,
    }
    return rows, metrics
