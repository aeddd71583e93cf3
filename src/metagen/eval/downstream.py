"""Downstream few-shot gain: does adding generated images to a support set help a classifier?

N-way K-shot tasks over the test classes, each scored twice by a nearest-prototype classifier on
the domain features (Snell et al. 2017): once with the K real shots as the support set, once with
the shots plus the images generated from them. The gain is the paired difference, per task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from metagen.errors import InputError


@dataclass(frozen=True)
class DownstreamResult:
    n_way: int
    k_shot: int
    queries: int
    tasks: int
    accuracy_shots: float
    accuracy_with_generated: float
    gain: float
    gain_interval95: float
    accuracy_interval95: float


def _nearest_prototype_accuracy(prototypes: np.ndarray, queries: np.ndarray, labels: np.ndarray) -> float:
    d = ((queries[:, None, :] - prototypes[None, :, :]) ** 2).sum(-1)
    return float((d.argmin(axis=1) == labels).mean())


def _half_width(values: np.ndarray) -> float:
    return float(1.96 * values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def downstream_gain(
    shots: Sequence[np.ndarray],
    generated: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    n_way: int = 5,
    queries: int = 5,
    tasks: int = 600,
    seed: int = 0,
) -> DownstreamResult:
    """Per class c: ``shots[c]`` [K, D] (the images the generator was given), ``generated[c]``
    [G, D] and ``reference[c]`` [R, D] (held-out real images, the queries are drawn from them).
    Returns both accuracies, the mean gain and 95% intervals over ``tasks`` seeded tasks."""
    classes = len(shots)
    if not classes == len(generated) == len(reference):
        raise InputError("shots, generated and reference need one array per class")
    if classes < n_way:
        raise InputError(f"{n_way}-way tasks need at least {n_way} classes, got {classes}")
    if min(len(r) for r in reference) < queries:
        raise InputError(f"every class needs at least {queries} reference images for the queries")
    rng = np.random.default_rng(seed)
    base, with_gen = np.empty(tasks), np.empty(tasks)
    labels = np.repeat(np.arange(n_way), queries)
    for t in range(tasks):
        chosen = rng.choice(classes, n_way, replace=False)
        q = np.concatenate([reference[c][rng.choice(len(reference[c]), queries, replace=False)] for c in chosen])
        protos = np.stack([shots[c].mean(axis=0) for c in chosen])
        protos_gen = np.stack([np.concatenate([shots[c], generated[c]]).mean(axis=0) for c in chosen])
        base[t] = _nearest_prototype_accuracy(protos, q, labels)
        with_gen[t] = _nearest_prototype_accuracy(protos_gen, q, labels)
    return DownstreamResult(
        n_way=n_way,
        k_shot=int(len(shots[0])),
        queries=queries,
        tasks=tasks,
        accuracy_shots=float(base.mean()),
        accuracy_with_generated=float(with_gen.mean()),
        gain=float((with_gen - base).mean()),
        gain_interval95=_half_width(with_gen - base),
        accuracy_interval95=_half_width(with_gen),
    )
