"""``metagen demo``: the main job, end to end on the embedded glyph data set.

Meta-trains a small few-shot generator on the training characters, adapts it to held-out
(test-split) characters from 5 shots each, writes a grid (one row per character: the shots, then
generated images), and a JSON of what ran, how long it took and two pixel-space checks: class
fidelity (are the generated images nearer their own character than any other held-out character?)
and the memorisation ratio (are they further from the shots than real images of the class are, i.e. not
copies?).
"""

from __future__ import annotations

import platform
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

import metagen
from metagen.evaluate import evaluate_generator
from metagen.grid import save_grid
from metagen.train.checkpoint import write_json_atomic
from metagen.train.config import RunConfig, config_from_dict
from metagen.train.loop import train


def demo_config(overrides: list[str] = ()) -> RunConfig:
    """The packaged demo recipe with ``key=value`` overrides."""
    raw = yaml.safe_load((resources.files("metagen.recipes") / "demo.yaml").read_text())
    return config_from_dict(raw, list(overrides))


def run_demo(
    out_dir: str | Path,
    overrides: list[str] = (),
    rows_in_grid: int = 12,
    shots: int = 5,
    num: int = 10,
    seed: int = 0,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run the demo into ``out_dir`` (the run in ``out_dir/run``, a previous demo there is resumed).

    Writes ``out_dir/demo_grid.png`` and ``out_dir/demo.json``; returns the JSON content.
    """
    out = Path(out_dir)
    config = demo_config(overrides)
    t0 = time.perf_counter()
    result = train(config, out / "run", resume=True, show_progress=show_progress)
    train_seconds = time.perf_counter() - t0
    rows, metrics = evaluate_generator(out / "run", shots, num, seed)
    grid = save_grid(rows[:rows_in_grid], out / "demo_grid.png")
    summary = {
        "what": "few-shot generation of held-out glyph characters (metagen demo)",
        "config": config.to_dict(),
        "train_steps": result.steps,
        "resumed_from_step": result.resumed_from,
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - t0,
        "final_train_loss_nats": result.final_loss,
        "held_out": metrics,
        "grid": grid.name,
        "grid_layout": f"one held-out character per row: {shots} shots, then {num} generated images",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "torch_threads": torch.get_num_threads(),
        },
        "versions": {"metagen": metagen.__version__, "torch": torch.__version__, "numpy": np.__version__},
    }
    write_json_atomic(out / "demo.json", summary)
    return summary
