"""Restoration training throughput: how task assembly limits a training step, on the CPU and a GPU.

A restoration training step draws a meta-batch of tasks (patches of Train400 images, degraded, their
lost pixels filled by a spline in tension solved by conjugate gradients) and then takes one outer
step of the meta-learner. Two ways of assembling the tasks, side by side, on each device:
  - task by task: each task drawn and filled on the CPU on its own, then moved to the device (how
    the sampler worked before);
  - batched: the patches of the whole meta-batch drawn on the CPU, then filled together on the
    device (``RestorationSampler(device=...)``, what ``metagen train`` does now).
For each: seconds to assemble one meta-batch, seconds for sampling plus one outer step, and steps
per second of the two together (the training loop's work without its logging and checkpoints), for
the recipe's first-order MAML and for ordinary training (``meta.inner_steps=0``), the latter with the
meta-batch's tasks stepped through one after another (the loop) and pooled into one forward and
backward pass (``meta.batching=pooled``); each also in bfloat16 mixed precision
(``train.precision=bfloat16``, as ``metagen train`` runs its steps). Median over ``--reps``
repetitions after 3 warm-up steps, interleaved so that load on the machine hits both alike.

Writes benchmarks/results/restoration_speed.{md,json} (or --results-name).
Usage: METAGEN_DATA=../shared/data python benchmarks/restoration_speed.py [--reps 20] [--devices cpu cuda]
    [--meta-batches 4 32] [--trainings fomaml ordinary pooled fomaml_bf16 ...] [--override KEY=VALUE ...]

    python benchmarks/restoration_speed.py --reps 10 --trainings fomaml fomaml_bf16 ordinary ordinary_bf16 \
        --override meta.inner_optimizer=sgd meta.inner_lr=0.01 --results-name restoration_speed_precision

measured restoration_speed_precision.md (this machine's CPU); ``--override model.name=dncnn
"model.options={channels: 1, depth: 17, width: 64}"`` the DnCNN-17 of the published-init tables.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from _common import machine_info, write_results

from metagen.tasks.restoration import RestorationSampler
from metagen.tasks.task import Task
from metagen.train.config import load_config
from metagen.train.experiment import build_experiment, network_spec_for
from metagen.train.loop import task_generators, training_precision
from metagen.train.sources import restoration_source

RECIPE = Path(__file__).resolve().parent.parent / "configs" / "restoration" / "denoise_unet_fomaml.yaml"
PIPELINES = ("task by task, fill on the CPU", "batched, fill on the device")
# --trainings name -> (the table's label, the recipe's overrides)
TRAININGS = {
    "fomaml": ("first-order MAML (recipe)", []),
    "ordinary": ("ordinary (meta.inner_steps=0)", ["meta.inner_steps=0"]),
    "pooled": ("ordinary, pooled (meta.batching=pooled)", ["meta.inner_steps=0", "meta.batching=pooled"]),
}
BF16 = ["train.precision=bfloat16"]
TRAININGS.update(
    {f"{name}_bf16": (f"{label}, bfloat16", [*overrides, *BF16]) for name, (label, overrides) in TRAININGS.items()}
)


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def assembler(pipeline: str, cpu_sampler: RestorationSampler, device: str) -> Callable[..., list[Task]]:
    """A function (rng, n) -> n tasks on ``device``, assembled the way ``pipeline`` names."""
    if pipeline == PIPELINES[0]:
        return lambda rng, n: [cpu_sampler.sample(rng).to(device) for _ in range(n)]
    batched = RestorationSampler(cpu_sampler.images, cpu_sampler.degradations, cpu_sampler.patch,
                                 cpu_sampler.support, cpu_sampler.query, device=device)  # fmt: skip
    return batched.sample_batch


def time_once(fn: Callable[[], object], device: str) -> float:
    synchronise(device)
    start = time.perf_counter()
    fn()
    synchronise(device)
    return time.perf_counter() - start


def measure(device: str, reps: int, meta_batch: int | None, trainings: list[str], extra: list[str]) -> list[dict]:
    """Median seconds per meta-batch (assembly alone, and assembly plus an outer step) per training
    (names of ``TRAININGS``) and pipeline on ``device``, with ``meta_batch`` tasks (None: the recipe's)
    and the recipe overrides ``extra``."""
    rows = []
    for training, overrides in (TRAININGS[name] for name in trainings):
        overrides = [*extra, *overrides, *([f"meta.meta_batch={meta_batch}"] if meta_batch else [])]
        config = load_config(RECIPE, [f"train.device={device}", *overrides])
        source = restoration_source(load_config(RECIPE, ["train.device=cpu", *overrides]))
        exp = build_experiment(config, network_spec_for(config, source.image_size, source.channels, None))
        exp.learner.build_optimizer()
        meta_batch, stream = config.meta.meta_batch, torch.Generator().manual_seed(0)
        assemble = {p: assembler(p, source.sampler, device) for p in PIPELINES}
        rng = np.random.default_rng(0)

        def step(pipeline: str) -> None:
            tasks = assemble[pipeline](rng, meta_batch)
            with training_precision(config.train.precision, device):
                exp.learner.outer_step(tasks, task_generators(stream, meta_batch))

        for pipeline in PIPELINES:  # warm-up: kernels, allocator, caches
            for _ in range(3):
                step(pipeline)
        times: dict[str, dict[str, list[float]]] = {p: {"assemble": [], "step": []} for p in PIPELINES}
        for _ in range(reps):
            for pipeline in PIPELINES:
                times[pipeline]["assemble"].append(time_once(lambda: assemble[pipeline](rng, meta_batch), device))
                times[pipeline]["step"].append(time_once(lambda: step(pipeline), device))
        for pipeline in PIPELINES:
            assemble_s, step_s = (statistics.median(times[pipeline][k]) for k in ("assemble", "step"))
            rows.append({"device": device, "training": training, "pipeline": pipeline, "meta_batch": meta_batch,
                         "assemble_s": assemble_s, "step_s": step_s, "steps_per_s": 1 / step_s})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--meta-batches", type=int, nargs="+", default=[None], help="tasks per step (the recipe's: 4)")
    parser.add_argument("--trainings", nargs="+", choices=list(TRAININGS), default=list(TRAININGS))
    parser.add_argument("--override", nargs="*", default=[], help="recipe overrides for every training (key=value)")
    parser.add_argument("--results-name", default="restoration_speed")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = [row for device in args.devices for n in args.meta_batches
            for row in measure(device, args.reps, n, args.trainings, args.override)]  # fmt: skip
    info = machine_info()
    lines = [
        "# Restoration training throughput: task assembly and outer step",
        "",
        "Recipe `configs/restoration/denoise_unet_fomaml.yaml` (U-Net width 32, 2 levels; meta-batches of "
        "tasks of 8 + 8 patches of 48 px; half the tasks with lost pixels to fill)"
        + (f", with the overrides `{shlex.join(args.override)}`" if args.override else "") + ". Median "
        f"over {args.reps} interleaved repetitions, seed 0. Machine: {info['cpu']}, {info['cores']} cores, "
        f"{info['threads']} torch threads" + (f"; GPU {info['gpu']}" if info.get("gpu") else "") + ".",
        "",
        "| device | tasks / step | training | task assembly | assemble s / meta-batch | assemble + step s "
        "| steps / s |",
        "|---|---|---|---|---|---|---|",
        *(f"| {r['device']} | {r['meta_batch']} | {r['training']} | {r['pipeline']} | {r['assemble_s']:.4f} | "
          f"{r['step_s']:.4f} | {r['steps_per_s']:.1f} |" for r in rows),  # fmt: skip
        "",
        f"Command: `python benchmarks/restoration_speed.py {shlex.join(sys.argv[1:])}`",
    ]
    payload = {"machine": info, "reps": args.reps, "overrides": args.override, "rows": rows}
    write_results(args.results_name, lines, payload)


if __name__ == "__main__":
    main()
