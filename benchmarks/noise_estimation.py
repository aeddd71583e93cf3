"""How well each blind noise-level estimate reads the noise added to real images: the level that
re-noising and SURE adapt with (``model.family.noise_estimator``).

    python benchmarks/noise_estimation.py --sets Set12 BSD68

White Gaussian noise of each level, added as the restoration benchmark adds it, is estimated per
image by the median absolute finest Haar coefficient (Donoho and Johnstone 1994; metagen's 'haar'),
scikit-image's ``estimate_sigma`` (the same rule on Daubechies coefficients; the level its
classical denoisers in the restoration table are given) and the weak-texture estimate (Liu,
Tanaka and Okutomi 2013, with Chen, Zhu and Heng 2015's eigenvalue tail; metagen's
'weak_texture'). For Poisson noise and speckle, whose level follows the intensity, the
noise-level function fitted with each of metagen's estimators is compared with the true variance
at every pixel. The "clean" images carry noise of their own (film grain, compression), so a level
read a little above the one added is partly right; the table reports the errors as they are.

``--crop SIDE`` reads the white levels on random SIDE x SIDE crops of each noisy image instead
(``--crops-per-image`` of them, seeded; errors per crop), the size the inner loop of meta-training
estimates levels on (48: the restoration recipe's patches); the fitted curves are left out then.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Callable

import numpy as np
import torch
from _common import machine_info, write_results

from metagen.data.image_sets import load_image_set
from metagen.errors import InputError
from metagen.objectives.noise_level import NOISE_ESTIMATORS
from metagen.objectives.restoration import estimated_noise_std
from metagen.reports.restoration_benchmark import Condition, degrade

NAME = "noise_estimation"
WHITE = [5, 15, 25, 50, 75]
SIGNAL = {"poisson:peak=30": lambda x: x / 30, "speckle:std=0.3": lambda x: (0.3 * x) ** 2}


def skimage_sigma(noisy: np.ndarray) -> float:
    from skimage.restoration import estimate_sigma

    return float(np.mean(estimate_sigma(noisy, channel_axis=-1 if noisy.ndim == 3 else None)))


def metagen_sigma(estimator: str, noise_model: str) -> Callable[[np.ndarray], np.ndarray]:
    def estimate(noisy: np.ndarray) -> np.ndarray:
        chw = noisy[None] if noisy.ndim == 2 else noisy.transpose(2, 0, 1)
        std = estimated_noise_std(torch.from_numpy(np.ascontiguousarray(chw))[None], noise_model, estimator)
        return std[0].numpy()

    return estimate


def random_crops(images: list[np.ndarray], side: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` random ``side`` x ``side`` crops of each image (seeded), for reading levels on patches."""
    rng, crops = np.random.default_rng(seed), []
    for image in images:
        if min(image.shape[:2]) < side:
            raise InputError(f"--crop {side} is larger than an image of {image.shape[1]}x{image.shape[0]} pixels")
        for _ in range(count):
            top, left = rng.integers(0, image.shape[0] - side + 1), rng.integers(0, image.shape[1] - side + 1)
            crops.append(np.ascontiguousarray(image[top : top + side, left : left + side]))
    return crops


def white_rows(set_name: str, images: list, seed: int, crop: tuple[int, int] | None = None) -> list[dict]:
    """Per level and estimator: mean level read, mean absolute and mean relative error (x 255);
    with ``crop`` (side, count), read on that many random crops of that side of each image."""
    estimators = {f"{e} (metagen)": metagen_sigma(e, "white") for e in NOISE_ESTIMATORS}
    estimators["estimate_sigma (scikit-image)"] = skimage_sigma
    rows = []
    for sigma in WHITE:
        condition = Condition(set_name, f"gaussian:sigma={sigma}", False)
        noisy = [degrade(condition, item.pixels, i, seed)[1].image for i, item in enumerate(images)]
        noisy = random_crops(noisy, *crop, seed) if crop else noisy
        for label, estimate in estimators.items():
            start = time.perf_counter()
            read = np.array([float(np.mean(estimate(x))) * 255 for x in noisy])
            rows.append({"set": set_name, "noise": condition.degradation, "estimator": label, "images": len(noisy),
                         "mean_read": float(read.mean()), "mean_abs_error": float(np.abs(read - sigma).mean()),
                         "mean_rel_error": float(np.abs(read / sigma - 1).mean()),
                         "seconds_per_image": (time.perf_counter() - start) / len(noisy)})  # fmt: skip
    return rows


def signal_rows(set_name: str, images: list, seed: int) -> list[dict]:
    """Per noise and estimator: the fitted variance against the true one, over all pixels (mean
    ratio of the means; median absolute relative error of the standard deviation per pixel)."""
    rows = []
    for spec, true_variance in SIGNAL.items():
        condition = Condition(set_name, spec, False)
        pairs = [degrade(condition, item.pixels, i, seed) for i, item in enumerate(images)]
        for estimator in NOISE_ESTIMATORS:
            estimate, ratios, errors = metagen_sigma(estimator, "signal"), [], []
            start = time.perf_counter()
            for clean, degraded in pairs:
                std = estimate(degraded.image)
                std = std[0] if clean.ndim == 2 else std.transpose(1, 2, 0)
                truth = true_variance(clean.astype(np.float64) / 255)
                ratios.append(float(np.mean(std.astype(np.float64) ** 2) / np.mean(truth)))
                errors.append(float(np.median(np.abs(std / np.sqrt(np.maximum(truth, 1e-12)) - 1))))
            rows.append({"set": set_name, "noise": spec, "estimator": f"{estimator} (metagen), fitted curve",
                         "images": len(pairs), "variance_ratio": float(np.mean(ratios)),
                         "median_rel_std_error": float(np.mean(errors)),
                         "seconds_per_image": (time.perf_counter() - start) / len(pairs)})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["Set12", "BSD68"])
    parser.add_argument("--max-images", type=int, help="the first N images of each set (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crop", type=int, metavar="SIDE", help="read white levels on random crops of this side")
    parser.add_argument("--crops-per-image", type=int, default=8)
    parser.add_argument("--output-name", default=NAME, help="the results file's name under benchmarks/results")
    args = parser.parse_args()
    if args.max_images is not None and args.max_images < 1:
        parser.error("--max-images must be at least 1")
    if args.crop is not None and (args.crop < 8 or args.crops_per_image < 1):
        parser.error("--crop must be at least 8 and --crops-per-image at least 1")
    crop = (args.crop, args.crops_per_image) if args.crop else None
    torch.set_num_threads(1)
    white, signal = [], []
    try:
        for set_name in args.sets:
            images = load_image_set(set_name)[: args.max_images]
            white += white_rows(set_name, images, args.seed, crop)
            signal += [] if crop else signal_rows(set_name, images, args.seed)
    except InputError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    report(args, white, signal)


def report(args: argparse.Namespace, white: list[dict], signal: list[dict]) -> None:
    machine = machine_info()
    lines = ["# Blind noise-level estimates on real images", "",
             f"Seed {args.seed}; {args.max_images or 'all'} images per set; one thread. Machine: {machine['cpu']}, "
             f"{machine['cores']} cores. Levels in 8-bit units.{_crops_note(args)}", "",
             "## White Gaussian noise: one level per image", "",
             "| set | noise | estimator | mean level read | mean abs. error | mean rel. error | s / image |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['set']} | {r['noise']} | {r['estimator']} | {r['mean_read']:.2f} | {r['mean_abs_error']:.2f} | "
              f"{100 * r['mean_rel_error']:.1f}% | {r['seconds_per_image']:.3f} |" for r in white]  # fmt: skip
    if signal:  # none when read on crops
        lines += ["", "## Noise that follows the intensity: the fitted noise-level function", "",
                  "| set | noise | estimator | fitted / true variance | median rel. error of the std per pixel | "
                  "s / image |", "|---|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {r['set']} | {r['noise']} | {r['estimator']} | {r['variance_ratio']:.3f} | "
                  f"{100 * r['median_rel_std_error']:.1f}% | {r['seconds_per_image']:.3f} |" for r in signal]  # fmt: skip
    lines += ["", f"Command: `python benchmarks/noise_estimation.py {shlex.join(sys.argv[1:])}`."]
    write_results(args.output_name, lines, {"white": white, "signal": signal, "seed": args.seed,
                                            "max_images": args.max_images, "crop": args.crop,
                                            "crops_per_image": args.crops_per_image, "machine": machine,
                                            "command": sys.argv[1:]})  # fmt: skip


def _crops_note(args: argparse.Namespace) -> str:
    if not args.crop:
        return ""
    return (f" Read on {args.crops_per_image} random {args.crop}x{args.crop} crops of each noisy image; errors and "
            "seconds per crop ('image' below).")


if __name__ == "__main__":
    main()
