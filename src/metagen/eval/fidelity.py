"""Class fidelity and memorisation of few-shot generators, as pure functions of feature arrays.

These take any feature space: raw pixels (as the demo uses, since it needs no trained embedding)
or a learned embedding. The definitions follow DESIGN.md's few-shot generation protocol.
"""

from __future__ import annotations

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


def memorisation_ratio(generated: np.ndarray, reference: np.ndarray, shots: np.ndarray) -> float:
    """Mean distance from each generated sample to its nearest shot, divided by the same for real
    held-out images of the class (``reference``). Near 1 is healthy; far below 1 means the
    generator copies its shots. All arrays are [N, D] for one class."""
    gen_d = np.sqrt(_pairwise_sq(generated, shots).min(axis=1)).mean()
    ref_d = np.sqrt(_pairwise_sq(reference, shots).min(axis=1)).mean()
    return float(gen_d / max(ref_d, 1e-12))
