"""The meta-training loop: sample a meta-batch of tasks, take an outer step, log, checkpoint, draw
samples; resumable from any checkpoint to the same final weights."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import yaml

from metagen.errors import InputError, MetagenError
from metagen.train.checkpoint import read_checkpoint_meta, write_json_atomic
from metagen.train.config import RunConfig
from metagen.train.distributed import World, joined_world
from metagen.train.experiment import (
    Experiment,
    build_experiment,
    check_device,
    network_spec_for,
)
from metagen.train.logging import RunLogger
from metagen.train.schedule import lr_factor, training_progress
from metagen.train.sources import load_task_source
from metagen.train.stability import DivergenceWatch, Rollbacks
from metagen.train.state import (
    CHECKPOINT_DIR,
    FINAL_STEM,
    checkpoint_steps,
    config_of,
    find_checkpoint,
    initialise_from,
    prune_checkpoints,
    restore_run_state,
    save_run_state,
)

# Keys that may differ between a run and its resumption without changing the result.
RESUMABLE_CHANGES = {
    "train.steps",
    "train.time_budget_s",
    "train.device",
    "train.log_every",
    "train.sample_every",
    "train.preview_tasks",
    "train.keep_checkpoints",
}


@dataclass
class RunResult:
    run_dir: Path
    steps: int
    resumed_from: int
    seconds: float
    final_loss: float
    stopped_by_budget: bool = False


class DivergenceError(MetagenError):
    """Training diverged and rolling back did not cure it."""


def _scale_learning_rates(exp: Experiment, scale: float, outer_factor: float = 1.0) -> None:
    """The recipe's learning rates times ``scale`` (lowered by rollbacks); the outer one also times
    ``outer_factor`` (its schedule's, ``metagen.train.schedule``)."""
    m = exp.config.meta
    exp.learner.set_learning_rates(outer=m.outer_lr * scale * outer_factor, inner=m.inner_lr * scale)


def _roll_back(
    run_dir: Path,
    exp: Experiment,
    step: int,
    reason: str,
    watch: DivergenceWatch,
    rollbacks: Rollbacks,
    np_rng: np.random.Generator,
    torch_gen: torch.Generator,
) -> int:
    """Reload the newest checkpoint from before the divergence (the oldest one kept, where every
    kept one is newer), lower the learning rates, and return the step it resumes from."""
    limit, factor = exp.config.train.max_rollbacks, exp.config.train.rollback_lr_factor
    if len(rollbacks.events) >= limit:
        raise DivergenceError(
            f"meta-training diverged at step {step}: {reason}; {limit} rollbacks with learning rates x{factor} "
            f"each did not cure it. Lower meta.outer_lr or meta.inner_lr, or change the recipe"
        )
    kept = checkpoint_steps(run_dir)
    if not kept:
        raise DivergenceError(f"meta-training diverged at step {step}: {reason}; no checkpoint to roll back to")
    good = [c for c in kept if c[0] <= watch.last_good_step(step)] or kept[:1]
    restored = restore_run_state(good[-1][1], exp, np_rng, torch_gen)
    rollbacks.lr_scale *= factor
    rollbacks.events.append({"at_step": step, "reason": reason, "to_step": restored, "lr_scale": rollbacks.lr_scale})
    _scale_learning_rates(exp, rollbacks.lr_scale)
    watch.reset()
    print(
        f"metagen: diverged at step {step} ({reason}); rolled back to step {restored} "
        f"with learning rates x{rollbacks.lr_scale:g}",
        file=sys.stderr,
    )
    return restored


def _flat(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flat(v, key + ".") if isinstance(v, dict) and k not in ("options", "family") else {key: v})
    return out


def _check_resume_config(saved: RunConfig, given: RunConfig) -> None:
    a, b = _flat(saved.to_dict()), _flat(given.to_dict())
    changed = sorted(k for k in a if a[k] != b.get(k) and k not in RESUMABLE_CHANGES)
    if changed:
        raise InputError(
            f"cannot resume: the config differs from the run's in {', '.join(changed)} "
            f"(only {', '.join(sorted(RESUMABLE_CHANGES))} may change on resume)"
        )


def training_precision(precision: str, device: str) -> contextlib.AbstractContextManager:
    """The context a training step runs in: as it is for 'float32', bfloat16 autocast on
    ``device`` for 'bfloat16' (``TrainConfig.precision``)."""
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, torch.bfloat16)


def task_generators(stream: torch.Generator, n: int) -> list[torch.Generator]:
    """One CPU generator per task of a meta-batch, seeded from the run's ``stream``, so a task's
    random numbers do not depend on which process computes it or in what order."""
    seeds = torch.randint(0, 2**62, (n,), generator=stream)
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


def _earlier_training_seconds(checkpoint: dict, run_dir: Path, step: int) -> float:
    """Training time a resumed run has already spent: from its checkpoint, or for a checkpoint
    written before checkpoints recorded it, from the run.json of a session that ended at that step."""
    if "training_seconds" in checkpoint:
        return float(checkpoint["training_seconds"])
    record = run_dir / "run.json"
    if record.is_file():
        finished = json.loads(record.read_text())
        if finished.get("steps") == step:
            return float(finished.get("training_seconds", 0.0))
    return 0.0


def train(
    config: RunConfig,
    run_dir: str | Path,
    resume: bool = False,
    show_progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> RunResult:
    """Meta-train per ``config`` into ``run_dir``. ``resume`` continues from the newest checkpoint.

    A run directory that already holds checkpoints is never overwritten: without ``resume`` that is
    an error. ``on_step`` is called after each completed step (tests use it to interrupt a run).
    """
    check_device(config.train.device)
    with joined_world(config.train.device) as (world, device):
        return _train_in_world(config, Path(run_dir), resume, show_progress, on_step, world, device)


def _train_in_world(
    config: RunConfig,
    run_dir: Path,
    resume: bool,
    show_progress: bool,
    on_step: Callable[[int], None] | None,
    world: World,
    device: str,
) -> RunResult:
    """``train`` as one process of ``world``, on ``device``."""
    if device != config.train.device:  # torchrun on GPUs: this process's own GPU
        config = copy.deepcopy(config)
        config.train.device = device
    existing = checkpoint_steps(run_dir) if run_dir.exists() else []
    if existing and not resume:
        raise InputError(
            f"{run_dir} already holds a run (step {existing[-1][0]}); pass --resume to continue it or choose another --out"
        )
    if resume and existing:
        _check_resume_config(config_of(existing[-1][1]), config)
    source = load_task_source(config)
    spec = network_spec_for(config, source.image_size, source.channels, source.train_classes)
    exp = build_experiment(config, spec)
    exp.learner.world = world
    exp.learner.build_optimizer()
    np_rng = np.random.default_rng(config.train.seed)
    # on the CPU whatever the device, so a run draws the same random numbers on CPU and GPU
    torch_gen = torch.Generator().manual_seed(config.train.seed)
    start, rollbacks, earlier_seconds = 0, Rollbacks(), 0.0
    if resume and existing:
        start = restore_run_state(existing[-1][1], exp, np_rng, torch_gen)
        resumed = read_checkpoint_meta(existing[-1][1])
        rollbacks = Rollbacks.from_json(resumed.get("stability"))
        earlier_seconds = _earlier_training_seconds(resumed, run_dir, start)
        _scale_learning_rates(exp, rollbacks.lr_scale)
    elif config.train.init_from:
        initialise_from(config.train.init_from, exp)

    world.barrier()  # every process has checked the run directory before the first one writes to it
    main = world.is_main  # only the first process writes files
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
        source.split.save(run_dir / "split.json")
        if not existing:  # somewhere to roll back to, should the first steps diverge
            save_run_state(run_dir / CHECKPOINT_DIR / f"step-{0:08d}", exp, 0, source.split, np_rng, torch_gen)
    world.barrier()
    m = config.meta
    logger = RunLogger(run_dir, config.train.steps, start, show_progress, enabled=main)
    t0, loss, step, preview_seconds, by_budget = time.perf_counter(), float("nan"), start, 0.0, False
    budget = config.train.time_budget_s
    watch = DivergenceWatch(config.train.divergence_patience)
    diagnostics = getattr(exp.family, "take_diagnostics", dict)
    scheduled = config.train.lr_schedule != "constant"
    try:
        while step < config.train.steps:
            step += 1
            if scheduled:
                trained = earlier_seconds + time.perf_counter() - t0 - preview_seconds
                factor = lr_factor(config.train.lr_schedule, training_progress(step - 1, config.train.steps,
                                                                               trained, budget))  # fmt: skip
                _scale_learning_rates(exp, rollbacks.lr_scale, factor)
            tasks = [t.to(device) for t in source.sampler.sample_batch(np_rng, m.meta_batch)]
            with training_precision(config.train.precision, device):
                metrics = exp.learner.outer_step(tasks, task_generators(torch_gen, len(tasks)))
            if scheduled:
                metrics["outer_lr"] = exp.learner.outer_lr
            metrics.update(diagnostics())
            loss = metrics["loss"]
            reason = watch.verdict(step, metrics, exp.learner.meta_parameters())
            if world.agree(reason is not None):
                step = _roll_back(run_dir, exp, step, reason or "another process diverged", watch, rollbacks,
                                  np_rng, torch_gen)  # fmt: skip
                logger.rewind(step)
                logger.record(step, {"rollback_to_step": step, "lr_scale": rollbacks.lr_scale})
                continue
            trained = earlier_seconds + time.perf_counter() - t0 - preview_seconds  # over every session
            by_budget = budget is not None and world.agree(trained >= budget)
            last = step == config.train.steps or by_budget
            logger.step(step, metrics, write=step % config.train.log_every == 0 or last)
            if main and (step % config.train.checkpoint_every == 0 or last):
                save_run_state(run_dir / CHECKPOINT_DIR / f"step-{step:08d}", exp, step, source.split, np_rng,
                               torch_gen, rollbacks.to_json(), trained)  # fmt: skip
                prune_checkpoints(run_dir, config.train.keep_checkpoints)
            if main and (step % config.train.sample_every == 0 or last):
                p0 = time.perf_counter()
                shown = source.preview(exp, step, run_dir)
                if shown:
                    logger.record(step, shown)
                preview_seconds += time.perf_counter() - p0
            if on_step is not None:
                on_step(step)
            if by_budget:
                break
    finally:
        logger.close()
    seconds = time.perf_counter() - t0
    if main:
        trained = earlier_seconds + seconds - preview_seconds
        final = save_run_state(
            run_dir / FINAL_STEM, exp, step, source.split, np_rng, torch_gen, rollbacks.to_json(), trained
        )
        record = {
            "steps": step,
            "steps_planned": config.train.steps,
            "stopped_by_time_budget": by_budget,
            "resumed_from": start,
            "initialised_from": config.train.init_from,
            "seconds": seconds,
            "training_seconds": trained,
            "processes": world.size,
            "final_checkpoint": final.name,
            "final_loss": loss if math.isfinite(loss) else None,
            "lr_scale": rollbacks.lr_scale,
            "rollbacks": rollbacks.events,
        }
        write_json_atomic(run_dir / "run.json", record)
    world.barrier()
    return RunResult(run_dir, step, start, seconds, loss, by_budget)
