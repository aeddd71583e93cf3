"""k-nearest-neighbour manifold metrics: precision and recall (Kynkaanniemi et al. 2019) and
density and coverage (Naeem et al. 2020), as pure functions of feature arrays.

Each real (or generated) sample owns a ball whose radius is the distance to its k-th nearest
neighbour in its own set (the sample itself not counted). Precision asks how many generated samples
fall inside some real ball (fidelity); recall, how many real samples fall inside some generated
ball (diversity). Density counts how many real balls hold each generated sample, divided by k;
coverage is the fraction of real balls that hold at least one generated sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from metagen.errors import InputError
from metagen.eval.distribution import as_features

CHUNK = 2048  # rows of the distance matrix held in memory at once


def _distance_chunks(a: np.ndarray, b: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """Euclidean distances between rows of ``a`` and ``b``, a block of rows of ``a`` at a time."""
    b_sq = (b * b).sum(axis=1)
    for start in range(0, len(a), CHUNK):
        rows = slice(start, min(start + CHUNK, len(a)))
        block = a[rows]
        sq = (block * block).sum(axis=1)[:, None] + b_sq[None, :] - 2.0 * block @ b.T
        yield rows, np.sqrt(np.maximum(sq, 0.0))


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of ``features`` [N, D] to its k-th nearest other row."""
    x = as_features(features, min_rows=k + 1)
    radii = np.empty(len(x))
    for rows, dist in _distance_chunks(x, x):
        # the k+1-th smallest distance in each row skips the sample itself (distance 0)
        radii[rows] = np.partition(dist, k, axis=1)[:, k]
    return radii


def _ball_counts(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, strict: bool) -> np.ndarray:
    """For each row of ``points``: how many balls (``centres`` with ``radii``) contain it."""
    counts = np.zeros(len(points), dtype=np.int64)
    for rows, dist in _distance_chunks(points, centres):
        inside = dist < radii[None, :] if strict else dist <= radii[None, :]
        counts[rows] = inside.sum(axis=1)
    return counts


def _checked_pair(real: np.ndarray, generated: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    x = as_features(real, "real features", min_rows=k + 1)
    y = as_features(generated, "generated features", min_rows=1)
    if x.shape[1] != y.shape[1]:
        raise InputError(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    return x, y


@dataclass(frozen=True)
class ManifoldScores:
    precision: float
    recall: float
    density: float
    coverage: float
    k: int


def precision_recall(real: np.ndarray, generated: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019, "Improved Precision and Recall
    Metric for Assessing Generative Models"); a sample on a ball's boundary counts as inside."""
    x, y = _checked_pair(real, generated, k)
    if len(y) < k + 1:
        raise InputError(f"recall needs at least {k + 1} generated samples, got {len(y)}")
    precision = (_ball_counts(y, x, knn_radii(x, k), strict=False) > 0).mean()
    recall = (_ball_counts(x, y, knn_radii(y, k), strict=False) > 0).mean()
    return float(precision), float(recall)


def density_coverage(real: np.ndarray, generated: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
    Generative Models"); balls are open, as in the paper's reference code."""
    x, y = _checked_pair(real, generated, k)
    radii = knn_radii(x, k)
    density = _ball_counts(y, x, radii, strict=True).sum() / (k * len(y))
    covered = np.zeros(len(x), dtype=bool)
    for rows, dist in _distance_chunks(x, y):
        covered[rows] = dist.min(axis=1) < radii[rows]
    return float(density), float(covered.mean())


def manifold_scores(real: np.ndarray, generated: np.ndarray, k: int = 5) -> ManifoldScores:
    """Precision, recall, density and coverage with the same k."""
    precision, recall = precision_recall(real, generated, k)
    density, coverage = density_coverage(real, generated, k)
    return ManifoldScores(precision, recall, density, coverage, k)
