"""How the adaptation's step count moves a trained restorer, with and without geometric
self-ensemble: one meta-learned run on chosen conditions at several step counts, each row timed.

The restoration table fixes 10 steps; this asks what more steps would buy, and at what cost per
image, on the conditions where the table's targets are close (Gaussian noise above the training
range, say):

    python benchmarks/restoration_steps.py --run runs/restoration-benchmark/meta --steps 10 20 40 \\
        --conditions BSD68:gaussian:sigma=75 Set12:gaussian:sigma=75 --max-images 12 \\
        --family noise_loss=renoise noise_model=signal

produced benchmarks/results/restoration_steps.md (with --run /work/runs/main-bf/meta, the bias-free
run of the restoration table).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from _common import machine_info, write_results

from metagen.cli.generate_cmd import family_options
from metagen.errors import InputError
from metagen.reports.restoration_benchmark import SELF_ENSEMBLE, Condition, run_condition, run_method

NAME = "restoration_steps"


def parse_condition(text: str) -> Condition:
    """SET:DEGRADATION, e.g. BSD68:gaussian:sigma=75 (scored as never trained on)."""
    set_name, _, degradation = text.partition(":")
    if not set_name or not degradation:
        raise argparse.ArgumentTypeError(f"a condition is SET:DEGRADATION, e.g. BSD68:gaussian:sigma=75; got {text!r}")
    return Condition(set_name, degradation, False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a meta-learned restoration run")
    parser.add_argument("--steps", nargs="+", type=int, default=[10, 20, 40])
    parser.add_argument("--conditions", nargs="+", type=parse_condition, required=True, metavar="SET:DEGRADATION")
    parser.add_argument("--max-images", type=int, default=12)
    parser.add_argument("--family", nargs="*", default=[], metavar="KEY=VALUE", help="the run's adaptation options")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if any(steps < 0 for steps in args.steps):
        parser.error("--steps must be 0 or more")
    options = family_options(args)
    try:
        rows = score(args, options)
    except InputError as error:  # a run or a data set that is not there: say so, no traceback
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    report(args, options, rows)


def score(args: argparse.Namespace, options: dict) -> list[dict]:
    """Every condition under every step count, plain and with x8 self-ensemble."""
    methods = {}
    for steps in args.steps:
        methods[f"{steps} steps"] = run_method(args.run, steps, args.device, None, options)[0]
        ensemble = {**options, "self_ensemble": True}
        methods[f"{steps} steps{SELF_ENSEMBLE}"] = run_method(args.run, steps, args.device, None, ensemble)[0]
    return [{**row, "set": c.set_name, "degradation": c.degradation}
            for c in args.conditions for row in run_condition(c, methods, None, args.max_images, args.seed)]  # fmt: skip


def report(args: argparse.Namespace, options: dict, rows: list[dict]) -> None:
    """The table and its JSON twin under benchmarks/results."""
    machine = machine_info()
    header = (f"First {args.max_images} images of each set, seed {args.seed}, adaptation options "
              f"{options or 'the run'}'s. PSNR (dB) / SSIM; seconds per image include the adaptation. "
              f"Machine: {machine['cpu']}, {machine['cores']} cores.")  # fmt: skip
    lines = [f"# Adaptation steps and self-ensemble: `{args.run}`", "", header, "",
             "| set | degradation | method | PSNR | SSIM | s / image |", "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['set']} | {r['degradation']} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
              f"{r['seconds_per_image']:.2f} |" for r in rows]  # fmt: skip
    lines += ["", f"Command: `python benchmarks/restoration_steps.py {shlex.join(sys.argv[1:])}`."]
    write_results(NAME, lines, {"rows": rows, "run": args.run, "max_images": args.max_images, "seed": args.seed,
                                "family": options, "machine": machine, "command": sys.argv[1:]})  # fmt: skip

if __name__ == "__main__":
    main()
