"""``metagen demo --out DIR``: the main job on the embedded glyph data set."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="meta-train on embedded glyphs, adapt to held-out characters, write a grid")
    p.add_argument("--out", default="demo_out", help="output folder (default demo_out); a demo there is resumed")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides, e.g. train.steps=50")
    p.add_argument("--steps", type=int, help="meta-training steps (default: the recipe's)")
    p.add_argument("--num", type=int, default=10, help="images generated per held-out character")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from metagen.demo import run_demo
    from metagen.errors import InputError

    if args.num < 1:
        raise InputError(f"--num must be at least 1, got {args.num}")
    overrides = list(args.overrides) + ([f"train.steps={args.steps}"] if args.steps is not None else [])
    summary = run_demo(args.out, overrides, num=args.num, show_progress=not args.quiet)
    m = summary["held_out"]
    print(
        f"demo: {summary['train_steps']} meta-training steps in {summary['train_seconds']:.0f} s; "
        f"{m['held_out_classes']} held-out characters, {m['shots']} shots each; "
        f"pixel-space class fidelity {m['class_fidelity']:.3f} (real images {m['class_fidelity_real_images']:.3f}, "
        f"chance {m['class_fidelity_chance']:.3f}), memorisation ratio {m['memorisation_ratio']:.2f}"
    )
    print(f"grid: {args.out}/demo_grid.png  details: {args.out}/demo.json")
