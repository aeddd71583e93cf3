"""``metagen evaluate``: score a run (or a peer model) on held-out data and write a report.

Without ``--protocol``: a classifier's (or embedding's) N-way K-shot accuracy with its 95% interval,
or a generator's quick pixel-space check. With ``--protocol``: the fixed protocols of DESIGN.md,
written as ``report.json`` and ``report.md`` (with figures) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from metagen.cli.generate_cmd import add_family_argument, family_options

if TYPE_CHECKING:
    from metagen.eval.features import FeatureSpace
    from metagen.reports.temperature_choice import TemperatureChoice

PROTOCOL_CHOICES = ("omniglot-fewshot", "faces-fewshot", "fewshot", "restoration")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a run on its held-out test classes, or a peer restorer")
    p.add_argument("--run", help="run directory (or checkpoint file)")
    p.add_argument("--protocol", choices=PROTOCOL_CHOICES, help="a fixed evaluation protocol (DESIGN.md)")
    p.add_argument("--out", help="report folder (report.json, report.md and figures)")
    p.add_argument("--features", help="generation protocols: the embedding run from `metagen features train`")
    p.add_argument(
        "--inception-weights", help="generation protocols: measure in FID InceptionV3 features from this file"
    )
    p.add_argument("--tasks", type=int, default=600, help="classifiers: test tasks (default 600)")
    p.add_argument("--n-way", type=int, help="classifiers: N (default: the recipe's)")
    p.add_argument("--k-shot", type=int, help="K shots (default: the recipe's; generators: 5)")
    p.add_argument("--query", type=int, help="classifiers: query images per class (default: the recipe's)")
    p.add_argument("--steps", type=int, help="adaptation steps (default: the recipe's meta.adapt_steps)")
    p.add_argument("--num", type=int, help="generators: images per test class (default 20; 10 without a protocol)")
    p.add_argument("--max-classes", type=int, help="generation protocols: only the first N test classes (quick check)")
    p.add_argument("--bootstrap", type=int, default=200, help="generation protocols: bootstrap resamples (0: none)")
    add_family_argument(p)
    p.add_argument("--choose-temperature", type=float, nargs="+", metavar="T",
                   help="generation protocols: sample at the temperature among these chosen on the split's validation "
                   "classes (the most faithful one with a memorisation ratio >= 0.9)")  # fmt: skip
    p.add_argument("--model", help="restoration: a peer model as KIND:PATH, e.g. dncnn25:dncnn_25_kair.pth")
    p.add_argument("--sets", default="Set12,BSD68", help="restoration: comma-separated test sets")
    p.add_argument("--sigma", type=float, default=25.0, help="restoration: Gaussian noise level (0..255 scale)")
    p.add_argument("--root", help="restoration: data root holding restoration/ (default: $METAGEN_DATA)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from metagen.errors import InputError

    if args.protocol == "restoration":
        return _restoration(args)  # a peer model (--model) or a restoration run (--run)
    if not args.run:
        raise InputError("--run DIR is required (or --protocol restoration --model KIND:PATH)")
    if args.protocol:
        return _generation(args)
    return _quick(args)


def _restoration(args: argparse.Namespace) -> None:
    from metagen.errors import InputError
    from metagen.reports.restoration import evaluate_restoration, write_restoration_report

    if not args.model and not args.run:
        raise InputError("--protocol restoration needs --model KIND:PATH (e.g. dncnn25:dncnn_25_kair.pth) or --run DIR")
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    summary, figures = evaluate_restoration(
        args.model, sets, args.sigma, args.root, args.device, run=args.run, steps=args.steps
    )
    for r in summary["results"]:
        print(f"{r['set']}: PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.4f} ({r['images']} images)")
    if args.out:
        print(f"report: {write_restoration_report(summary, figures, args.out)}")


def _generation(args: argparse.Namespace) -> None:
    from metagen.errors import InputError
    from metagen.eval.features import inception_space, load_feature_space, pixel_space
    from metagen.reports.generation import evaluate_generation
    from metagen.reports.generation_markdown import write_generation_report

    if bool(args.features) == bool(args.inception_weights):
        raise InputError(
            "generation protocols need one of --features DIR (see `metagen features train`), --features pixels "
            "or --inception-weights PATH"
        )
    if not args.out:
        raise InputError("--protocol writes a report: give --out DIR")
    if args.inception_weights:
        space = inception_space(args.inception_weights, args.device)
    elif args.features == "pixels":
        space = pixel_space()
    else:
        space = load_feature_space(args.features, args.device)
    family, choice = family_options(args), None
    if args.choose_temperature:
        choice = _choose_temperature(args, space, family)
        family["temperature"] = choice.temperature
    report = evaluate_generation(
        args.run,
        space,
        args.protocol,
        args.k_shot or 5,
        args.num or 20,
        args.seed,
        args.steps,
        args.device,
        args.bootstrap,
        max_classes=args.max_classes,
        family=family,
    )
    if choice is not None:
        report.summary["temperature_choice"] = choice.to_json()
    m = report.summary["metrics"]
    print(
        f"{report.summary['test_classes']} test {report.summary['units']}, K={report.summary['shots']}: "
        f"FID {m['fid']['value']:.2f}, KID {m['kid']['value']:.4f}, precision {m['precision']['value']:.3f}, "
        f"recall {m['recall']['value']:.3f}, fidelity {m['class_fidelity']['value']:.3f}, "
        f"memorisation {m['memorisation_ratio']['value']:.3f}"
    )
    print(f"report: {write_generation_report(report, args.out)}")


def _choose_temperature(args: argparse.Namespace, space: FeatureSpace, family: dict) -> TemperatureChoice:
    """The temperature among ``--choose-temperature`` chosen on the validation classes, printed."""
    from metagen.errors import InputError
    from metagen.reports.temperature_choice import choose_temperature

    if "temperature" in family:
        raise InputError("give the temperature with --family temperature=T or --choose-temperature, not both")
    choice = choose_temperature(args.run, space, args.protocol, args.k_shot or 5, args.choose_temperature,
                                seed=args.seed, device=args.device, num=args.num or 20,
                                max_classes=args.max_classes)  # fmt: skip
    scores = ", ".join(
        f"{c.temperature:g}: {c.memorisation_ratio:.3f} / {c.class_fidelity:.3f}" for c in choice.candidates
    )
    print(f"temperature {choice.temperature:g}, chosen on {choice.validation_classes} validation classes "
          f"(memorisation / fidelity at each: {scores})"
          + ("" if choice.reaches_floor else f"; none reached a memorisation ratio of {choice.floor:g}"))  # fmt: skip
    return choice


def _quick(args: argparse.Namespace) -> None:
    from metagen.evaluate import evaluate_classifier, evaluate_generator
    from metagen.reports.writer import write_report
    from metagen.train.state import GENERATOR_KIND, find_checkpoint, read_run_record

    kind = read_run_record(find_checkpoint(args.run))["kind"]
    if kind == GENERATOR_KIND:
        _, report = evaluate_generator(args.run, args.k_shot or 5, args.num or 10, args.seed)
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
        print(json.dumps({"written": str(write_report(Path(args.out), report, ["# evaluation", "", line]))}))
