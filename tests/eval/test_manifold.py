"""Precision, recall, density and coverage against brute-force loops over their definitions."""

import numpy as np
import pytest

from metagen.errors import InputError
from metagen.eval import manifold
from metagen.eval.manifold import density_coverage, knn_radii, manifold_scores, precision_recall


def brute_radii(x, k):
    return np.array([sorted(np.linalg.norm(x - p, axis=1))[k] for p in x])


def brute_scores(real, fake, k):
    r_real, r_fake = brute_radii(real, k), brute_radii(fake, k)
    dist = np.array([[np.linalg.norm(f - r) for r in real] for f in fake])  # [fake, real]
    precision = np.mean([any(dist[j, i] <= r_real[i] for i in range(len(real))) for j in range(len(fake))])
    recall = np.mean([any(dist[j, i] <= r_fake[j] for j in range(len(fake))) for i in range(len(real))])
    density = sum(dist[j, i] < r_real[i] for j in range(len(fake)) for i in range(len(real))) / (k * len(fake))
    coverage = np.mean([dist[:, i].min() < r_real[i] for i in range(len(real))])
    return precision, recall, density, coverage


@pytest.mark.parametrize("k", [1, 3, 5])
def test_scores_match_brute_force(k, monkeypatch):
    monkeypatch.setattr(manifold, "CHUNK", 7)  # several distance blocks, as on large sets
    rng = np.random.default_rng(k)
    real = rng.normal(size=(40, 6))
    fake = np.vstack([rng.normal(loc=0.8, size=(25, 6)), rng.normal(scale=0.3, size=(10, 6))])
    scores = manifold_scores(real, fake, k)
    expected = brute_scores(real, fake, k)
    assert (scores.precision, scores.recall, scores.density, scores.coverage) == pytest.approx(expected, abs=1e-12)
    assert np.allclose(knn_radii(real, k), brute_radii(real, k))


def test_known_extremes():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 4))
    # a generator that collapses onto one real sample: perfect precision, almost no recall or coverage
    collapsed = np.repeat(real[:1], 50, axis=0) + 1e-6 * rng.normal(size=(50, 4))
    p, r = precision_recall(real, collapsed)
    d, c = density_coverage(real, collapsed)
    assert p == 1.0 and r < 0.05 and c < 0.05
    # a generator far from the data: nothing precise, nothing covered
    far = rng.normal(loc=50.0, size=(200, 4))
    assert precision_recall(real, far)[0] == 0.0 and density_coverage(real, far) == (0.0, 0.0)
    # the same distribution: all four near 1
    same = manifold_scores(real, rng.normal(size=(200, 4)))
    assert min(same.precision, same.recall, same.coverage) > 0.85 and 0.8 < same.density < 1.2


def test_too_few_samples_for_k():
    with pytest.raises(InputError, match="at least 6"):
        precision_recall(np.zeros((5, 2)), np.zeros((10, 2)), k=5)
    with pytest.raises(InputError, match="k must be"):
        density_coverage(np.zeros((5, 2)), np.zeros((10, 2)), k=0)
