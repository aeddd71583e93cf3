"""``metagen train CONFIG [key=value ...]``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="meta-train from a YAML recipe into a run directory")
    add_training_arguments(p)
    p.set_defaults(func=run)


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of every command that trains from a recipe."""
    p.add_argument("config", help="YAML recipe (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. meta.inner_steps=3")
    p.add_argument("--out", help="run directory (default: runs/<recipe name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    p.add_argument("--device", help="cpu (default) or cuda[:N]; same as train.device=...")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> None:
    from metagen.train.config import load_config
    from metagen.train.loop import train

    overrides = list(args.overrides) + ([f"train.device={args.device}"] if args.device else [])
    config = load_config(args.config, overrides)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    result = train(config, out, resume=args.resume, show_progress=not args.quiet)
    print(f"run written to {result.run_dir} ({result.steps} steps, final loss {result.final_loss:.4g})")
