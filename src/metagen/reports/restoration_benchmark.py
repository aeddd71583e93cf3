"""The restoration benchmark of the restoration issue: every method on every condition in one run.

A condition is a test set and a degradation, matched (the meta-learned model trained on that kind)
or mismatched (never trained on). Gaussian noise follows the KAIR protocol (``numpy.random.seed(0)``
per image, so the published DnCNN numbers reproduce); other degradations draw from a generator
seeded by (seed, image index). Super-resolution is run and scored on the Y channel (BT.601) with
the border cropped by the scale; colour sets under noise are restored channel by channel by the
grey models.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from metagen.data.image_sets import load_image_set
from metagen.eval.image_quality import psnr, rgb_to_y, sr_scores, ssim
from metagen.eval.restoration import kair_gaussian_noise, to_uint8
from metagen.tasks.degradations import Degraded, Downscale, GaussianNoise, crop_to_multiple, parse_degradation

Method = Callable[[np.ndarray, np.ndarray | None], np.ndarray | None]


@dataclass(frozen=True)
class Condition:
    set_name: str
    degradation: str
    matched: bool


MATCHED = [
    *(Condition(s, f"gaussian:sigma={g}", True) for s in ("Set12", "BSD68") for g in (15, 25, 50)),
    Condition("CBSD68", "gaussian:sigma=25", True),
]
MISMATCHED = [
    *(
        Condition(s, d, False)
        for s in ("Set12", "BSD68")
        for d in (
            "poisson:peak=30",
            "speckle:std=0.3",
            "gaussian:sigma=60",
            "gaussian:sigma=75",
            "missing:fraction=0.5",
            "holes:count=4,size=0.15",
        )
    ),  # fmt: skip
    *(Condition(s, f"sr:scale={k}", False) for s in ("Set5", "Set14") for k in (2, 4)),
]


def per_channel(method: Method) -> Method:
    """Run a grey restorer on each channel of a colour image."""

    def run(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
        if x.ndim == 2:
            return method(x, known)
        outs = [method(np.ascontiguousarray(x[..., c]), known) for c in range(x.shape[2])]
        return None if any(o is None for o in outs) else np.stack(outs, axis=-1)  # type: ignore[misc]

    return run


def degrade(condition: Condition, clean: np.ndarray, index: int, seed: int) -> tuple[np.ndarray, Degraded]:
    """(the clean reference, the degraded input) for one image of the condition."""
    degradation = parse_degradation(condition.degradation)
    if isinstance(degradation, Downscale):
        y = rgb_to_y(clean) / 255.0 if clean.ndim == 3 else clean.astype(np.float64) / 255.0
        reference = crop_to_multiple(y.astype(np.float32), degradation.scale)
        return to_uint8(reference), degradation.apply(reference, np.random.default_rng([seed, index]))
    if isinstance(degradation, GaussianNoise) and not degradation.sigma_max:
        return clean, Degraded(kair_gaussian_noise(clean, degradation.sigma, seed))
    return clean, degradation.apply(clean, np.random.default_rng([seed, index]))


def score(output: np.ndarray, reference: np.ndarray, condition: Condition) -> tuple[float, float]:
    out = to_uint8(output)
    degradation = parse_degradation(condition.degradation)
    if isinstance(degradation, Downscale):
        return sr_scores(out, reference, degradation.scale)
    return psnr(out, reference), ssim(out, reference)


def run_condition(
    condition: Condition,
    methods: dict[str, Method],
    root: str | Path | None,
    max_images: int | None,
    seed: int = 0,
    first_outputs: dict[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Every method on the condition's images: mean PSNR, SSIM and seconds per image per method
    (methods that do not apply, returning None, are left out). ``first_outputs``, when given, is
    filled with the first image's input, each method's output and the clean reference (uint8)."""
    images = load_image_set(condition.set_name, root)[:max_images]
    totals: dict[str, list[tuple[float, float, float]]] = {}
    for index, item in enumerate(images):
        reference, degraded = degrade(condition, item.pixels, index, seed)
        for name, method in methods.items():
            t0 = time.perf_counter()
            out = method(degraded.image, degraded.known)
            seconds = time.perf_counter() - t0
            if out is not None:
                totals.setdefault(name, []).append((*score(out, reference, condition), seconds))
                if first_outputs is not None and index == 0:
                    first_outputs[name] = to_uint8(out)
        if first_outputs is not None and index == 0:
            first_outputs["input"], first_outputs["clean"] = to_uint8(degraded.image), reference
    return [
        {
            "set": condition.set_name,
            "degradation": condition.degradation,
            "matched": condition.matched,
            "method": name,
            "images": len(values),
            "psnr": float(np.mean([v[0] for v in values])),
            "ssim": float(np.mean([v[1] for v in values])),
            "seconds_per_image": float(np.mean([v[2] for v in values])),
        }
        for name, values in totals.items()
    ]
