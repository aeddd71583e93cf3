"""Every few-shot generation metric of the protocol (DESIGN.md) from per-class feature arrays.

Inputs are features in one feature space, one array per test class: the K shots the generator was
given, the images it generated from them, and the held-out real reference images of the class.
Intervals are 95% percentile bootstraps over test classes (classes resampled with replacement),
which is the unit the protocol samples. FID gets none: resampling with replacement duplicates
images, and duplicates bias FID upwards, so its spread belongs over seeds; KID reports its spread
over subsets instead.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Callable, Sequence

import numpy as np

from metagen.errors import InputError
from metagen.eval.distribution import fid, kid
from metagen.eval.downstream import downstream_gain
from metagen.eval.fidelity import _pairwise_sq, intra_class_diversity, nearest_distances
from metagen.eval.manifold import manifold_scores

Arrays = Sequence[np.ndarray]


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float], units: int, reps: int = 200, seed: int = 0
) -> list[float]:
    """The 2.5 and 97.5 percentiles of ``statistic(indices)`` over ``reps`` resamples (with
    replacement) of ``units`` indices."""
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, units, units)) for _ in range(reps)]
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def _with_interval(value: float, interval: list[float] | None) -> dict[str, Any]:
    return {"value": float(value), "ci95": interval}


def score_generation(
    shots: Arrays,
    generated: Arrays,
    reference: Arrays,
    k: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    bootstrap: int = 200,
    downstream_tasks: int = 600,
    seed: int = 0,
) -> dict[str, Any]:
    """FID, KID, precision/recall/density/coverage (k-NN with ``k``), class fidelity, memorisation
    ratio, intra-class diversity and downstream few-shot gain, with sample counts."""
    classes = len(shots)
    if not classes == len(generated) == len(reference) or classes < 2:
        raise InputError("need one shots, generated and reference array per class, and at least 2 classes")
    gen_all, ref_all = np.concatenate(generated), np.concatenate(reference)
    gen_class = np.concatenate([np.full(len(g), c) for c, g in enumerate(generated)])
    prototypes = np.stack([r.mean(axis=0) for r in reference])

    correct = _pairwise_sq(gen_all, prototypes).argmin(axis=1) == gen_class
    per_class_correct = [correct[gen_class == c] for c in range(classes)]
    gen_near = [nearest_distances(g, s) for g, s in zip(generated, shots)]
    ref_near = [nearest_distances(r, s) for r, s in zip(reference, shots)]

    def fidelity_of(idx: np.ndarray) -> float:
        return float(np.concatenate([per_class_correct[i] for i in idx]).mean())

    def memorisation_of(idx: np.ndarray) -> float:
        gen_d = np.concatenate([gen_near[i] for i in idx]).mean()
        return float(gen_d / max(np.concatenate([ref_near[i] for i in idx]).mean(), 1e-12))

    def diversity_of(idx: np.ndarray) -> float:
        return intra_class_diversity([generated[i] for i in idx])

    every = np.arange(classes)
    boot = (lambda f: bootstrap_interval(f, classes, bootstrap, seed)) if bootstrap else (lambda f: None)
    kid_result = kid(ref_all, gen_all, kid_subsets, kid_subset_size, seed)
    manifold = manifold_scores(ref_all, gen_all, k)
    queries = min(5, min(len(r) for r in reference))
    downstream = downstream_gain(shots, generated, reference, min(5, classes), queries, downstream_tasks, seed)
    return {
        "counts": {"classes": classes, "generated": len(gen_all), "reference": len(ref_all), "shots": len(shots[0])},
        "fid": _with_interval(fid(ref_all, gen_all), None),
        "kid": {
            "value": kid_result.mean,
            "std": kid_result.std,
            "subsets": kid_result.subsets,
            "subset_size": kid_result.subset_size,
        },
        "precision": {"value": manifold.precision, "k": k},
        "recall": {"value": manifold.recall, "k": k},
        "density": {"value": manifold.density, "k": k},
        "coverage": {"value": manifold.coverage, "k": k},
        "class_fidelity": _with_interval(fidelity_of(every), boot(fidelity_of)),
        "class_fidelity_chance": 1.0 / classes,
        "memorisation_ratio": _with_interval(memorisation_of(every), boot(memorisation_of)),
        "diversity": _with_interval(diversity_of(every), boot(diversity_of)),
        "diversity_reference": intra_class_diversity(reference),
        "downstream": asdict(downstream),
    }
