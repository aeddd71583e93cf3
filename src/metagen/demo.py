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
from metagen.data.registry import load_dataset
from metagen.data.splits import ClassSplit, apply_split
from metagen.errors import InputError
from metagen.eval.fidelity import class_fidelity, memorisation_ratio
from metagen.fewshot.adapt import generate, load_generator
from metagen.grid import save_grid
from metagen.tasks.sampler import as_float
from metagen.train.checkpoint import write_json_atomic
from metagen.train.config import RunConfig, config_from_dict
from metagen.train.loop import train


def demo_config(overrides: list[str] = ()) -> RunConfig:
    """The packaged demo recipe with ``key=value`` overrides."""
    raw = yaml.safe_load((resources.files("metagen.recipes") / "demo.yaml").read_text())
    return config_from_dict(raw, list(overrides))


def copy_baseline(
    shot_sets: list[np.ndarray], num: int, rng: np.random.Generator, noise: float = 0.02
) -> list[np.ndarray]:
    """The "copy the shots" generator: ``num`` images per class, each a random shot plus small
    Gaussian noise. It calibrates the memorisation ratio (it should score near 0)."""
    return [s[rng.integers(0, len(s), num)] + rng.normal(0.0, noise, (num, s.shape[1])) for s in shot_sets]


def evaluate_held_out(
    run_dir: Path, config: RunConfig, shots: int, num: int, seed: int
) -> tuple[list[torch.Tensor], dict[str, Any]]:
    """Adapt to ``shots`` images of every test character, generate ``num`` each; return grid rows
    (shots then generated) and pixel-space fidelity and memorisation numbers."""
    loaded = load_generator(run_dir)
    ds = load_dataset(
        config.data.dataset, config.data.root, config.data.size, config.data.channels, **config.data.options
    )
    test = apply_split(ds, ClassSplit.load(run_dir / "split.json"), "test")
    rng = np.random.default_rng(seed)
    rows, generated, refs, shot_sets = [], [], [], []
    t0 = time.perf_counter()
    for c in range(test.num_classes):
        idx = test.indices_of(c)
        if len(idx) <= shots:
            raise InputError(
                f"held-out class {test.class_names[c]} has {len(idx)} images, fewer than {shots} shots + 1"
            )
        perm = rng.permutation(idx)
        shot_x, ref_x = as_float(test.images[perm[:shots]]), as_float(test.images[perm[shots:]])
        gen_x = generate(loaded, shot_x, num, seed=seed + c)
        rows.append(torch.cat([shot_x, gen_x]))
        generated.append(gen_x.flatten(1).numpy())
        refs.append(ref_x.flatten(1).numpy())
        shot_sets.append(shot_x.flatten(1).numpy())
    adapt_seconds = time.perf_counter() - t0
    prototypes = np.stack([r.mean(axis=0) for r in refs])
    copies = copy_baseline(shot_sets, num, rng)
    labels = np.concatenate([np.full(len(g), c) for c, g in enumerate(generated)])
    real_labels = np.concatenate([np.full(len(r), c) for c, r in enumerate(refs)])
    metrics = {
        "feature_space": "pixels",
        "held_out_classes": test.num_classes,
        "shots": shots,
        "generated_per_class": num,
        "class_fidelity": class_fidelity(np.concatenate(generated), labels, prototypes),
        "class_fidelity_real_images": class_fidelity(np.concatenate(refs), real_labels, prototypes),
        "class_fidelity_chance": 1.0 / test.num_classes,
        "memorisation_ratio": memorisation_ratio(generated, refs, shot_sets),
        # calibration: "copy the shots" (each generated image a shot plus small noise)
        "class_fidelity_copying_shots": class_fidelity(np.concatenate(copies), labels, prototypes),
        "memorisation_ratio_copying_shots": memorisation_ratio(copies, refs, shot_sets),
        "adapt_and_generate_seconds_per_class": adapt_seconds / test.num_classes,
    }
    return rows, metrics


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
    rows, metrics = evaluate_held_out(out / "run", config, shots, num, seed)
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
