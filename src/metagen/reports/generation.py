"""The few-shot generation protocols of DESIGN.md on a trained generator run.

For each test class the K shots are drawn with a fixed seed and the class's other images are the
real reference; the run adapts to the shots and generates ``num`` images. Every metric is computed
in the given feature space (a domain embedding trained on training classes only), for the run and
for the "copy the shots" baseline that calibrates the memorisation ratio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metagen.data.dataset import ClassImageDataset
from metagen.errors import InputError
from metagen.eval.distribution import inception_score
from metagen.eval.features import FeatureSpace
from metagen.eval.fidelity import nearest_indices
from metagen.eval.generation import score_generation
from metagen.evaluate import held_out_classes
from metagen.fewshot.adapt import adapt_to_shots, load_generator
from metagen.tasks.sampler import as_float

# protocol name -> the data sets it is defined on and what its classes are called
PROTOCOLS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "omniglot-fewshot": (("omniglot",), "character", "characters"),
    "faces-fewshot": (("celeba", "att"), "identity", "identities"),
    "fewshot": ((), "class", "classes"),  # any data set, for runs outside the fixed protocols
}


@dataclass
class ProtocolShots:
    """Per test class: the indices (into the test data set) of its shots and of its reference."""

    shots: list[np.ndarray]
    reference: list[np.ndarray]


def draw_shots(test: ClassImageDataset, k: int, seed: int) -> ProtocolShots:
    """The protocol's fixed draw: for class c, a permutation seeded by (seed, c); the first ``k``
    images are the shots, the rest the reference. Needs at least k + 2 images per class."""
    shots, reference = [], []
    for c in range(test.num_classes):
        idx = test.indices_of(c)
        if len(idx) < k + 2:
            raise InputError(f"test class {test.class_names[c]} has {len(idx)} images; {k} shots need at least {k + 2}")
        perm = np.random.default_rng([seed, c]).permutation(idx)
        shots.append(perm[:k])
        reference.append(perm[k:])
    return ProtocolShots(shots, reference)


def copy_the_shots(shots: torch.Tensor, num: int, gen: torch.Generator, noise: float = 0.02) -> torch.Tensor:
    """The "copy the shots" baseline: ``num`` images, each a random shot plus small Gaussian noise."""
    pick = torch.randint(0, len(shots), (num,), generator=gen)
    return (shots[pick] + noise * torch.randn(shots[pick].shape, generator=gen)).clamp(0.0, 1.0)


LIKELIHOOD_IMAGES = 10  # reference images per class whose likelihood bound is reported
LIKELIHOOD_SAMPLES = 16  # importance samples per image


def negative_log_likelihood_summary(bounds: list[float]) -> dict[str, Any]:
    """Per-class mean log-likelihood bounds -> the mean negative bound (nats per image, an upper
    bound on -log p(image | shots)) with a normal 95% interval over classes."""
    nll = -np.asarray(bounds)
    half = 1.96 * float(nll.std(ddof=1)) / np.sqrt(len(nll)) if len(nll) > 1 else 0.0
    mean = float(nll.mean())
    return {"value": mean, "ci95": [mean - half, mean + half], "images_per_class": LIKELIHOOD_IMAGES,
            "importance_samples": LIKELIHOOD_SAMPLES}  # fmt: skip


@dataclass
class GenerationReport:
    summary: dict[str, Any]
    sample_rows: list[torch.Tensor] = field(default_factory=list)  # per class: shots then generated
    nearest_pairs: list[torch.Tensor] = field(default_factory=list)  # per class: generated, nearest shot, ...


def evaluate_generation(
    run: str | Path,
    features: FeatureSpace,
    protocol: str = "fewshot",
    shots: int = 5,
    num: int = 20,
    seed: int = 0,
    steps: int | None = None,
    device: str = "cpu",
    bootstrap: int = 200,
    downstream_tasks: int = 600,
    max_classes: int | None = None,
    family: dict[str, Any] | None = None,
    part: str = "test",
    likelihood: bool = True,
) -> GenerationReport:
    """Run ``protocol`` on the generator ``run``; ``max_classes`` limits the test classes (for quick
    checks; the protocol's numbers use all of them); ``family`` replaces options of the recipe's
    ``model.family`` (another sampler of the same weights, for example). ``part="val"`` runs it on
    the split's validation classes instead, for choices (a sampling temperature, say) that must not
    look at the test classes. ``likelihood=False`` skips the likelihood bound (a choice of
    sampler that does not read it need not pay for it)."""
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    if part not in ("test", "val"):
        raise InputError(f"part must be 'test' or 'val', not {part!r}")
    loaded = load_generator(run, device, family)
    dataset = loaded.experiment.config.data.dataset
    allowed, unit, units = PROTOCOLS[protocol]
    if allowed and dataset not in allowed:
        raise InputError(f"protocol {protocol} is defined on {', '.join(allowed)}; this run was trained on {dataset}")
    test = held_out_classes(loaded, part)
    # the feature space may have previewed the validation classes while it trained (never fitted to
    # them): a choice made there is fair, since the test classes it must not have seen stay unseen
    features.check_unseen(list(test.class_names) if part == "test" else [], dataset)
    draw = draw_shots(test, shots, seed)
    classes = range(min(test.num_classes, max_classes or test.num_classes))
    feats: dict[str, list[np.ndarray]] = {"shots": [], "generated": [], "reference": [], "copies": []}
    logits: list[np.ndarray] = []
    rows, pairs = [], []
    family = loaded.experiment.family
    model_device = next(loaded.experiment.learner.model.parameters()).device
    bounds: list[float] = []  # per class: mean log-likelihood bound of its reference images
    seconds = 0.0
    for c in classes:
        shot_x = as_float(test.images[draw.shots[c]])
        t0 = time.perf_counter()
        on_device = shot_x.to(model_device)
        adapted, gen = adapt_to_shots(loaded, on_device, seed=seed * 100_003 + c, steps=steps)
        gen_x = family.sample(adapted, on_device, num, gen).cpu()
        seconds += time.perf_counter() - t0
        if likelihood and hasattr(family, "log_likelihood_bound"):
            ref_x = as_float(test.images[draw.reference[c][:LIKELIHOOD_IMAGES]]).to(model_device)
            bound = family.log_likelihood_bound(adapted, on_device, ref_x, LIKELIHOOD_SAMPLES, gen)
            bounds.append(float(bound.mean()))
        copies = copy_the_shots(shot_x, num, torch.Generator().manual_seed(seed * 100_003 + c))
        feats["shots"].append(features(shot_x))
        gen_features, gen_logits = features.features_and_logits(gen_x)
        feats["generated"].append(gen_features)
        if gen_logits is not None:
            logits.append(gen_logits)
        feats["reference"].append(features(as_float(test.images[draw.reference[c]])))
        feats["copies"].append(features(copies))
        if len(rows) < 12:
            rows.append(torch.cat([shot_x, gen_x[:10]]))
            nearest = nearest_indices(feats["generated"][-1][:6], feats["shots"][-1])
            pairs.append(torch.stack([img for g, n in zip(gen_x[:6], nearest) for img in (g, shot_x[n])]))
    scored = {
        name: score_generation(
            feats["shots"],
            feats[name],
            feats["reference"],
            bootstrap=bootstrap,
            downstream_tasks=downstream_tasks,
            seed=seed,
        )
        for name in ("generated", "copies")
    }
    if logits:  # a classifier's feature space (Inception): the Inception Score of the generated images
        score = inception_score(np.concatenate(logits), splits=min(10, len(classes)))
        scored["generated"]["inception_score"] = {"value": score.mean, "std": score.std, "splits": score.splits}
    if bounds:
        scored["generated"]["nll_bound"] = negative_log_likelihood_summary(bounds)
    summary = {
        "protocol": protocol,
        "unit": unit,
        "units": units,
        "run": str(run),
        "checkpoint": loaded.checkpoint.name,
        "step": loaded.step,
        "algorithm": loaded.record["algorithm"],
        "network": loaded.record["network"],
        "dataset": dataset,
        "part": part,
        "test_classes": len(classes),
        "test_classes_in_split": test.num_classes,
        "shots": shots,
        "generated_per_class": num,
        "adapt_steps": loaded.experiment.config.meta.adapt_steps if steps is None else steps,
        "family_options": loaded.experiment.config.model.family,
        "seed": seed,
        "feature_space": features.describe(),
        "metrics": scored["generated"],
        "baselines": {"copy_the_shots": scored["copies"]},
        "adapt_and_generate_seconds_per_class": seconds / len(classes),
    }
    return GenerationReport(summary, rows, pairs)
