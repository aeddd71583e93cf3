"""How long `metagen generate` takes once the model is loaded: adapt to 5 shots of an unseen class
with the recipe's adaptation steps and sample 64 images, for several trained runs side by side,
interleaved, median of repetitions (the issue's target: under 1 s at 28x28 on this CPU).

    python benchmarks/generate_speed.py --runs runs/omniglot-vae runs/omniglot-figr [--reps 7] [--num 64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from _common import machine_info, write_results

from metagen.evaluate import held_out_classes
from metagen.fewshot.adapt import generate, load_generator
from metagen.tasks.sampler import as_float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--num", type=int, default=64)
    parser.add_argument("--shots", type=int, default=5)
    args = parser.parse_args()
    loaded = {run: load_generator(run) for run in args.runs}
    shots = {}
    for run, model in loaded.items():
        test = held_out_classes(model)
        shots[run] = as_float(test.images[test.indices_of(0)[: args.shots]])
    times: dict[str, list[float]] = {run: [] for run in args.runs}
    for rep in range(args.reps + 1):  # the first round warms up and is not counted
        for run, model in loaded.items():
            t0 = time.perf_counter()
            images = generate(model, shots[run], args.num, seed=rep)
            if rep:
                times[run].append(time.perf_counter() - t0)
            assert images.shape[0] == args.num
    machine = machine_info()
    rows = []
    for run, model in loaded.items():
        cfg = model.experiment.config
        rows.append({
            "run": Path(run).name,
            "family": model.record["family"],
            "algorithm": model.record["algorithm"],
            "image": f"{model.image_size}x{model.image_size}x{model.channels}",
            "adapt_steps": cfg.meta.adapt_steps,
            "trained_steps": model.step,
            "median_s": statistics.median(times[run]),
            "min_s": min(times[run]),
            "max_s": max(times[run]),
        })  # fmt: skip
    lines = [
        f"# Adapt and generate: {args.num} images from {args.shots} shots, once the model is loaded",
        "",
        f"Median of {args.reps} interleaved repetitions after one warm-up round; {machine['cpu']}, "
        f"{machine['cores']} cores, torch {torch.__version__}, {torch.get_num_threads()} threads. The time "
        "depends on the architecture and the adaptation steps, not on how long the run trained.",
        "",
        "| run | family | algorithm | image | trained steps | adaptation steps | median s | min s | max s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['run']} | {r['family']} | {r['algorithm']} | {r['image']} | {r['trained_steps']} | "
                     f"{r['adapt_steps']} | "
                     f"{r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} |")  # fmt: skip
    lines += ["", f"Command: `python benchmarks/generate_speed.py {' '.join(sys.argv[1:])}`"]
    write_results("generate_speed", lines, {"rows": rows, "machine": machine, "reps": args.reps,
                                            "num": args.num, "shots": args.shots, "command": sys.argv[1:]})  # fmt: skip


if __name__ == "__main__":
    main()
