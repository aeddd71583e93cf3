"""``metagen evaluate --run DIR``: scores a meta-trained run on its test classes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a run on its held-out test classes")
    p.add_argument("--run", required=True, help="run directory (or checkpoint file)")
    p.add_argument("--tasks", type=int, default=600, help="classifiers: test tasks (default 600)")
    p.add_argument("--n-way", type=int, help="classifiers: N (default: the recipe's)")
    p.add_argument("--k-shot", type=int, help="K shots (default: the recipe's; generators: 5)")
    p.add_argument("--query", type=int, help="classifiers: query images per class (default: the recipe's)")
    p.add_argument("--steps", type=int, help="adaptation steps (default: the recipe's meta.adapt_steps)")
    p.add_argument("--num", type=int, default=10, help="generators: images generated per test class")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the report as JSON to this file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from metagen.evaluate import evaluate_classifier, evaluate_generator
    from metagen.fewshot.adapt import find_checkpoint
    from metagen.train.checkpoint import write_json_atomic
    from metagen.train.state import GENERATOR_KIND, read_run_record

    kind = read_run_record(find_checkpoint(args.run))["kind"]
    if kind == GENERATOR_KIND:
        _, report = evaluate_generator(args.run, args.k_shot or 5, args.num, args.seed)
        line = (
            f"{report['held_out_classes']} test classes, {report['shots']} shots: pixel-space class fidelity "
            f"{report['class_fidelity']:.3f} (real {report['class_fidelity_real_images']:.3f}), "
            f"memorisation ratio {report['memorisation_ratio']:.3f} (copying the shots {report['memorisation_ratio_copying_shots']:.3f})"
        )
    else:
        report = evaluate_classifier(args.run, args.tasks, args.seed, args.n_way, args.k_shot, args.query, args.steps)
        line = f"{report['protocol']}: accuracy {100 * report['accuracy']:.2f}% +- {100 * report['interval95']:.2f}"
    print(line)
    if args.out:
        write_json_atomic(Path(args.out), report)
        print(json.dumps({"written": args.out}))
