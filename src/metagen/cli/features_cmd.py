"""``metagen features train RECIPE`` and ``metagen features info --run DIR``: the domain embedding
that the evaluation metrics measure in."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from metagen.cli.train_cmd import add_training_arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    features = sub.add_parser("features", help="train or inspect the feature space of the evaluation metrics")
    fsub = features.add_subparsers(dest="features_command", metavar="SUBCOMMAND", parser_class=type(features))
    train = fsub.add_parser("train", help="train a domain embedding (prototypical network) on training classes")
    add_training_arguments(train)
    train.set_defaults(func=run_train)
    info = fsub.add_parser("info", help="print a trained embedding's data set, step and checksum")
    info.add_argument("--run", required=True, help="embedding run directory (or checkpoint file)")
    info.set_defaults(func=run_info)


def run_train(args: argparse.Namespace) -> None:
    from metagen.errors import InputError
    from metagen.train.config import load_config
    from metagen.train.loop import train

    config = load_config(args.config, args.overrides + ([f"train.device={args.device}"] if args.device else []))
    if config.meta.algorithm != "protonet":
        raise InputError(f"{args.config}: a feature recipe uses meta.algorithm=protonet (see configs/features/)")
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    result = train(config, out, resume=args.resume, show_progress=not args.quiet)
    space = _space(out)
    print(f"feature space written to {result.run_dir} ({result.steps} steps); checksum {space.checksum}")


def run_info(args: argparse.Namespace) -> None:
    print(json.dumps(_space(args.run).describe(), indent=1))


def _space(run: str | Path):
    from metagen.eval.features import load_feature_space

    return load_feature_space(run)
