"""Test-time adaptation speed of a restoration run, and what its precision costs in quality.

The restoration issue asks for 10 adaptation steps on a 481x321 image in under 3 s on this CPU.
Two measurements, side by side in one run:
  - the network's work alone on one BSD68 image (481x321): one pass over the whole image and one
    adaptation step (forward and backward on the 8 crops of 64 px that adaptation steps on), in
    PyTorch's default layout and channels-last, in float32 and under bfloat16 autocast; median
    over --reps interleaved repetitions;
  - the run adapted 0 and 10 steps to each of the first --max-images images of BSD68 and restored,
    as the restoration benchmark does (``metagen.fewshot.restorer.adapt_and_restore``, which holds
    the weights channels-last), with the steps in float32 and in bfloat16 mixed precision
    (``model.family.adapt_precision``): PSNR / SSIM and seconds per image, the methods interleaved
    image by image; DnCNN-25's plain pass as the reference.

    METAGEN_DATA=../shared/data python benchmarks/restoration_adaptation_speed.py \\
        --run /work/runs/pi-sgd/meta --family noise_loss=renoise noise_model=signal noise_estimator=weak_texture \\
        --max-images 12

writes benchmarks/results/restoration_adaptation_speed.{md,json} (or --results-name).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from typing import Callable

import numpy as np
import torch
from _common import machine_info, write_results

from metagen.cli.generate_cmd import family_options
from metagen.data.image_sets import load_image_set
from metagen.errors import MetagenError
from metagen.eval.restoration import module_restorer
from metagen.fewshot.adapt import load_run
from metagen.fewshot.restorer import ADAPT_PRECISIONS, random_crops
from metagen.nn.restoration import load_kair_dncnn
from metagen.reports.restoration_benchmark import Condition, run_condition, run_method

CONDITIONS = [Condition("BSD68", "gaussian:sigma=25", True), Condition("BSD68", "gaussian:sigma=60", False)]
LAYOUTS = {"default": torch.contiguous_format, "channels-last": torch.channels_last}


def network_timings(model: torch.nn.Module, image: np.ndarray, reps: int) -> list[dict]:
    """Median seconds of one whole-image pass and of one adaptation step (8 crops of 64 px, forward
    and backward of a mean squared error) of ``model`` on ``image`` [H, W], per layout and precision."""
    whole = torch.from_numpy(image.astype(np.float32))[None, None]
    everywhere = torch.ones_like(whole[0], dtype=torch.bool)
    crops, _ = random_crops(whole[0], everywhere, 64, 8, torch.Generator().manual_seed(0))

    def timed(layout: torch.memory_format, precision: str, work: str) -> Callable[[], float]:
        def run() -> float:
            model.to(memory_format=layout)
            x = (whole if work == "pass" else crops).contiguous(memory_format=layout)
            start = time.perf_counter()
            with torch.autocast("cpu", torch.bfloat16, enabled=precision == "bfloat16"):
                if work == "pass":
                    with torch.no_grad():
                        model(x)
                else:
                    model.zero_grad()
                    torch.nn.functional.mse_loss(model(x), x).backward()
            return time.perf_counter() - start

        return run

    cases = [(layout, precision, work) for work in ("pass", "step") for layout in LAYOUTS
             for precision in ADAPT_PRECISIONS]  # fmt: skip
    runners = {case: timed(LAYOUTS[case[0]], case[1], case[2]) for case in cases}
    for run in runners.values():  # warm-up: kernels, allocator
        run()
    seconds: dict[tuple[str, str, str], list[float]] = {case: [] for case in cases}
    for _ in range(reps):
        for case, run in runners.items():
            seconds[case].append(run())
    model.to(memory_format=torch.contiguous_format)
    return [{"work": work, "layout": layout, "precision": precision, "seconds": statistics.median(seconds[case])}
            for case in cases for layout, precision, work in [case]]  # fmt: skip


def adaptation_rows(args: argparse.Namespace, steps: int) -> list[dict]:
    """PSNR, SSIM and seconds per image of the run adapted 0 and ``steps`` steps in each precision,
    and of DnCNN-25, on every condition."""
    family = family_options(args)
    methods = {}
    for precision in ADAPT_PRECISIONS:
        for n in sorted({0, steps}):
            if n == 0 and precision != ADAPT_PRECISIONS[0]:
                continue  # no step to take: precision does not apply
            label = f"{n} steps" + (f", {precision}" if n else "")
            methods[label], _ = run_method(args.run, n, "cpu", None, {**family, "adapt_precision": precision})
    dncnn = module_restorer(load_kair_dncnn(args.dncnn))
    methods["DnCNN-25 (published weights)"] = lambda x, known: dncnn(x)
    return [row for condition in CONDITIONS for row in run_condition(condition, methods, None, args.max_images)]


def main() -> None:
    data = os.environ.get("METAGEN_DATA", os.path.join("..", "shared", "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a restoration run folder (a grey DnCNN or U-Net)")
    parser.add_argument("--family", nargs="*", default=[], metavar="KEY=VALUE", help="restorer options to adapt with")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--max-images", type=int, default=12)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--dncnn", default=os.path.join(data, "pretrained", "dncnn_25_kair.pth"))
    parser.add_argument("--results-name", default="restoration_adaptation_speed")
    args = parser.parse_args()
    if args.steps < 1 or args.max_images < 1 or args.reps < 1:
        parser.error("--steps, --max-images and --reps must be at least 1")
    torch.manual_seed(0)
    try:
        loaded = load_run(args.run, "cpu", "restorer", family_options(args))
    except MetagenError as exc:
        parser.error(str(exc))
    if not os.path.isfile(args.dncnn):
        parser.error(f"DnCNN-25 weights not found: {args.dncnn} (set --dncnn or METAGEN_DATA)")
    if loaded.channels != 1:
        parser.error(f"{args.run} restores {loaded.channels}-channel images; this benchmark needs a grey one")
    image = load_image_set("BSD68")[0].pixels.astype(np.float32) / 255.0
    timings = network_timings(loaded.experiment.learner.model, image, args.reps)
    rows = adaptation_rows(args, args.steps)
    info = machine_info()
    lines = [
        "# Restoration: test-time adaptation speed and precision",
        "",
        f"Run `{args.run}` (step {loaded.step}), adapted with "
        f"{family_options(args) or 'its recipe options'}. Machine: {info['cpu']}, {info['cores']} cores, "
        f"{info['threads']} torch threads.",
        "",
        f"## The network's work on one {image.shape[1]}x{image.shape[0]} BSD68 image",
        "",
        f"Median seconds over {args.reps} interleaved repetitions. 'step': forward and backward on the 8 crops "
        "of 64 px of one adaptation step.",
        "",
        "| work | layout | precision | seconds |",
        "|---|---|---|---|",
        *(f"| {t['work']} | {t['layout']} | {t['precision']} | {t['seconds']:.3f} |" for t in timings),
        "",
        f"## Adapted and restored, first {args.max_images} images, seed 0",
        "",
        "Seconds per image include the noise-level estimate, the steps and the final pass (float32, channels-last).",
        "",
        "| set | degradation | method | PSNR | SSIM | s / image |",
        "|---|---|---|---|---|---|",
        *(f"| {r['set']} | {r['degradation']} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
          f"{r['seconds_per_image']:.2f} |" for r in rows),  # fmt: skip
        "",
        f"Command: `python benchmarks/restoration_adaptation_speed.py {shlex.join(sys.argv[1:])}`",
    ]
    payload = {"machine": info, "run": args.run, "step": loaded.step, "family": family_options(args),
               "reps": args.reps, "max_images": args.max_images, "timings": timings, "rows": rows,
               "command": sys.argv[1:]}  # fmt: skip
    write_results(args.results_name, lines, payload)


if __name__ == "__main__":
    main()
