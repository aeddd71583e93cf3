"""The protocol's metrics on synthetic classes whose right answers are known."""

import numpy as np
import pytest

from metagen.eval.generation import bootstrap_interval, score_generation


def synthetic_classes(classes=12, per_class=20, shots=5, dim=8, seed=0):
    """Well-separated Gaussian classes: (shots, reference, fresh samples of the same classes)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(classes, dim))
    draw = lambda c, n: centres[c] + rng.normal(size=(n, dim))  # noqa: E731
    return (
        [draw(c, shots) for c in range(classes)],
        [draw(c, per_class) for c in range(classes)],
        [draw(c, per_class) for c in range(classes)],
    )


def test_a_faithful_generator_copying_and_ignoring_the_class():
    shots, reference, fresh = synthetic_classes()
    good = score_generation(shots, fresh, reference, kid_subsets=10, bootstrap=50, downstream_tasks=100)
    assert good["class_fidelity"]["value"] > 0.95 and 0.8 < good["memorisation_ratio"]["value"] < 1.25
    assert good["precision"]["value"] > 0.8 and good["recall"]["value"] > 0.8 and good["fid"]["value"] < 2.0
    assert good["downstream"]["gain"] >= 0.0

    copies = [s[np.arange(20) % len(s)] + 1e-3 for s in shots]
    copied = score_generation(shots, copies, reference, kid_subsets=10, bootstrap=50, downstream_tasks=100)
    assert copied["memorisation_ratio"]["value"] < 0.01  # copying is flagged

    ignoring = fresh[1:] + fresh[:1]  # every class receives another class's images
    wrong = score_generation(shots, ignoring, reference, kid_subsets=10, bootstrap=50, downstream_tasks=100)
    assert wrong["class_fidelity"]["value"] == pytest.approx(0.0, abs=0.02)  # at or below chance (1/12)
    assert wrong["downstream"]["gain"] < -0.1
    assert good["counts"] == {"classes": 12, "generated": 240, "reference": 240, "shots": 5}


def test_bootstrap_interval_covers_the_mean():
    values = np.random.default_rng(0).normal(size=200)
    low, high = bootstrap_interval(lambda idx: values[idx].mean(), len(values), reps=500)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert low < values.mean() < high and (high - low) / 2 == pytest.approx(half, rel=0.2)
