"""Helpers shared by the benchmark scripts: the machine a table was measured on, writing a
results table with its JSON twin, and training several runs at once for the same wall-clock time."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any, Sequence

import torch

from metagen.environment import machine_info  # noqa: F401  (re-exported for the benchmark scripts)
from metagen.train.config import load_config
from metagen.train.loop import train

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, lines: list[str], payload: dict[str, Any]) -> None:
    """Write benchmarks/results/NAME.md (the table) and NAME.json (the same numbers), and print the table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    print("\n".join(lines))


def train_one(recipe: str | Path, overrides: list[str], out: Path, threads: int | None = None) -> None:
    """Train (or resume) the run ``out`` from ``recipe`` with ``overrides``, on ``threads`` threads."""
    if threads:
        torch.set_num_threads(threads)
    train(load_config(recipe, overrides), out, resume=True, show_progress=False)


def finished(recipe: str | Path, overrides: list[str], out: Path) -> bool:
    """Whether the run ``out`` has already trained as far as ``recipe`` with ``overrides`` asks: it
    has a run.json and, under a time budget, has spent it (a run resumed with a larger budget has not)."""
    record_path = out / "run.json"
    if not record_path.exists():
        return False
    budget = load_config(recipe, overrides).train.time_budget_s
    return budget is None or json.loads(record_path.read_text()).get("training_seconds", budget) >= budget


def train_in_parallel(jobs: Sequence[tuple[str | Path, list[str], Path]]) -> None:
    """Train the (recipe, overrides, out) jobs at the same time, one process and one thread each,
    so that with as many cores as jobs each gets one core for the same wall-clock budget. Runs that
    already finished (see ``finished``) are skipped."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=train_one, args=(*job, 1)) for job in jobs if not finished(*job)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    if any(process.exitcode for process in processes):
        raise SystemExit("a training process failed; see its log in the run folder")
