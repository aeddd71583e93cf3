"""Fidelity and memorisation against brute-force definitions."""

import numpy as np
import pytest

from metagen.eval.fidelity import class_fidelity, intra_class_diversity, memorisation_ratio, nearest_indices


def test_class_fidelity_brute_force():
    rng = np.random.default_rng(0)
    protos = rng.normal(size=(5, 8))
    gen = rng.normal(size=(40, 8))
    cls = rng.integers(0, 5, 40)
    brute = np.mean([np.argmin([np.linalg.norm(g - p) for p in protos]) == c for g, c in zip(gen, cls)])
    assert class_fidelity(gen, cls, protos) == brute
    assert class_fidelity(protos + 1e-3, np.arange(5), protos) == 1.0


def test_memorisation_flags_copies():
    rng = np.random.default_rng(1)
    shots, ref = rng.normal(size=(5, 16)), rng.normal(size=(15, 16))
    copies = np.repeat(shots, 3, axis=0) + rng.normal(scale=1e-3, size=(15, 16))
    assert memorisation_ratio([copies], [ref], [shots]) < 0.01
    assert 0.8 < memorisation_ratio([rng.normal(size=(15, 16))], [ref], [shots]) < 1.25
    # a class whose reference duplicates a shot does not dominate the pooled ratio
    ref2 = np.vstack([shots[:1], rng.normal(size=(14, 16))])
    assert 0.8 < memorisation_ratio([ref, rng.normal(size=(15, 16))], [ref, ref2], [shots, shots]) < 1.3


def test_nearest_distances_brute_force():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    from metagen.eval.fidelity import nearest_distances

    np.testing.assert_allclose(nearest_distances(a, b), [min(np.linalg.norm(x - y) for y in b) for x in a])


def test_diversity_and_nearest_shot_brute_force():
    rng = np.random.default_rng(3)
    classes = [rng.normal(size=(6, 4)), rng.normal(scale=2.0, size=(4, 4))]
    brute = np.mean([np.mean([np.linalg.norm(x[i] - x[j]) for i in range(len(x)) for j in range(i)]) for x in classes])
    assert intra_class_diversity(classes) == pytest.approx(brute)
    assert intra_class_diversity([np.ones((5, 4))]) == 0.0
    shots = rng.normal(size=(3, 4))
    samples = shots[[2, 0, 1, 2]] + 1e-3
    assert nearest_indices(samples, shots).tolist() == [2, 0, 1, 2]
