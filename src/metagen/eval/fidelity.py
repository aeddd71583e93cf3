"""Class fidelity and memorisation of few-shot generators, as pure functions of feature arrays.

These take any feature space: raw pixels (as the demo uses, since it needs no trained embedding)
or a learned embedding. The definitions follow DESIGN.md's few-shot generation protocol.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _pairwise_sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances [len(a), len(b)] between rows of ``a`` and ``b`` (float64)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def class_fidelity(generated: np.ndarray, generated_class: np.ndarray, prototypes: np.ndarray) -> float:
    """Nearest-prototype accuracy: the fraction of generated samples [N, D] whose nearest prototype
    (rows of ``prototypes`` [C, D], one per class, from held-out real images) is their own class.
    Chance level is 1 / C."""
    nearest = _pairwise_sq(generated, prototypes).argmin(axis=1)
    return float((nearest == generated_class).mean())


def nearest_distances(samples: np.ndarray, shots: np.ndarray) -> np.ndarray:
    """Euclidean distance from each row of ``samples`` [N, D] to its nearest row of ``shots`` [K, D]."""
    return np.sqrt(_pairwise_sq(samples, shots).min(axis=1))


def memorisation_ratio(
    generated: Sequence[np.ndarray], reference: Sequence[np.ndarray], shots: Sequence[np.ndarray]
) -> float:
    """Mean distance from each generated sample to the nearest shot of its class, divided by the
    same mean for real held-out images of the class. Near 1 is healthy; far below 1 means the
    generator copies its shots.

    Each argument holds one [N, D] array per class. Distances are pooled over all classes before
    the ratio is taken, so a class whose real images happen to duplicate a shot (distance 0)
    cannot blow the ratio up.
    """
    gen_d = np.concatenate([nearest_distances(g, s) for g, s in zip(generated, shots)])
    ref_d = np.concatenate([nearest_distances(r, s) for r, s in zip(reference, shots)])
    return float(gen_d.mean() / max(ref_d.mean(), 1e-12))


def nearest_indices(samples: np.ndarray, shots: np.ndarray) -> np.ndarray:
    """Index of the nearest row of ``shots`` [K, D] for each row of ``samples`` [N, D] (for the
    panel that shows each generated image beside the shot it is closest to)."""
    return _pairwise_sq(samples, shots).argmin(axis=1)


def intra_class_diversity(per_class: Sequence[np.ndarray]) -> float:
    """Mean pairwise Euclidean distance between samples of the same class, averaged over classes
    (each an [N, D] array with N >= 2). A generator that collapses to one image per class scores 0."""
    means = []
    for x in per_class:
        if len(x) < 2:
            raise ValueError("intra-class diversity needs at least 2 samples per class")
        d = np.sqrt(_pairwise_sq(x, x))
        means.append(d[np.triu_indices(len(x), k=1)].mean())
    return float(np.mean(means))
