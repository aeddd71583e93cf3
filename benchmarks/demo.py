"""Runs `metagen demo` from scratch and records what it measured.

Writes benchmarks/results/demo.md, demo.json (same numbers) and demo_grid.png. The demo has no
peer model to race; the table sets the generated images beside the two calibrators that the same
run measures: real held-out images (the ceiling of class fidelity) and the "copy the shots"
generator (what memorisation looks like). All numbers are in pixel space.

Usage: python benchmarks/demo.py [--steps N] [key=value ...]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _common import RESULTS, machine_info, write_results

from metagen.demo import run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    overrides = list(args.overrides) + ([f"train.steps={args.steps}"] if args.steps else [])
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_demo(tmp, overrides, show_progress=False)
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(tmp) / "demo_grid.png", RESULTS / "demo_grid.png")
    summary["machine"].update(machine_info())
    m = summary["held_out"]
    rows = [
        ("generated (metagen demo)", m["class_fidelity"], m["memorisation_ratio"]),
        ("real held-out images of the class", m["class_fidelity_real_images"], 1.0),
        ("copy the shots (+ noise 0.02)", m["class_fidelity_copying_shots"], m["memorisation_ratio_copying_shots"]),
    ]
    cfg = summary["config"]
    lines = [
        "# metagen demo: few-shot generation of held-out glyph characters",
        "",
        f"Recipe: `src/metagen/recipes/demo.yaml` ({cfg['meta']['algorithm']} on a `{cfg['model']['name']}`, "
        f"{summary['train_steps']} meta-steps, seed {cfg['train']['seed']}, split seed {cfg['data']['split_seed']}). "
        f"Held out: the {m['held_out_classes']} test-split characters, {m['shots']} shots each (seeded), "
        f"{m['generated_per_class']} generated per character. Feature space: {m['feature_space']}.",
        "",
        "| images | class fidelity (nearest prototype) | memorisation ratio |",
        "|---|---|---|",
        *[f"| {name} | {fid:.3f} | {mem:.3f} |" for name, fid, mem in rows],
        "",
        f"Chance class fidelity: {m['class_fidelity_chance']:.4f}. A memorisation ratio near 1 means generated "
        "images are as far from the shots as real images of the class are; near 0 means copies.",
        "",
        f"Time: meta-training {summary['train_seconds']:.0f} s; adaptation + generation "
        f"{m['adapt_and_generate_seconds_per_class'] * 1000:.0f} ms per character; whole demo {summary['total_seconds']:.0f} s.",
        f"Machine: {summary['machine']['cpu']}, {summary['machine']['cores']} cores, torch {summary['versions']['torch']}.",
        "",
        "![demo grid](demo_grid.png)",
        "",
        f"Grid: {summary['grid_layout']}.",
        "",
        "Reproduce: `python benchmarks/demo.py`",
    ]
    write_results("demo", lines, summary)


if __name__ == "__main__":
    main()
