"""How the adaptation's step count moves a trained restorer, with and without geometric
self-ensemble: one meta-learned run on chosen conditions at several step counts, each row timed,
and optionally the step chosen per image by Stein's unbiased risk estimate (no clean image).

The restoration table fixes 10 steps; this asks what more steps would buy, and at what cost per
image, on the conditions where the table's targets are close (Gaussian noise above the training
range, say):

    python benchmarks/restoration_steps.py --run runs/restoration-benchmark/meta --steps 10 20 40 \\
        --conditions BSD68:gaussian:sigma=75 Set12:gaussian:sigma=75 --max-images 12 \\
        --family noise_loss=renoise noise_model=signal

produced benchmarks/results/restoration_steps.md (with --run /work/runs/main-bf/meta, the bias-free
run of the restoration table). A fixed step count picked by looking at such a table is picked on
the test images; ``--sure-every K`` adds rows that adapt up to the largest step count and keep, per
image, the step (of every K-th) whose error SURE estimates lowest, from the noisy image alone
(``metagen restore --sure-every``), with the steps chosen and the estimated PSNR beside the true
one; ``--peers`` adds scikit-image's classical denoisers to the same run; each ``--compare
KEY=VALUE ...`` adds the same step counts adapted with other options in the same run
(``--compare noise_loss=sure``: SURE as the adaptation loss, Soltanayev and Chun 2018, against the
run's re-noising; ``--compare noise_estimator=weak_texture``: another noise-level estimate).
"""

from __future__ import annotations

import argparse
import shlex
import sys

import numpy as np
from _common import machine_info, write_results

from metagen.cli.generate_cmd import family_options
from metagen.data.image_sets import load_image_set
from metagen.errors import InputError
from metagen.fewshot.restorer import StepChoice
from metagen.reports.restoration_benchmark import SELF_ENSEMBLE, Condition, degrade, run_condition, run_method
from metagen.reports.restoration_benchmark import score as score_output

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
    parser.add_argument("--sure-every", type=int, metavar="K",
                        help="add rows choosing the step per image by SURE, among every K-th up to the largest --steps")
    parser.add_argument("--peers", action="store_true", help="add scikit-image's classical denoisers")
    parser.add_argument("--compare", nargs="+", action="append", default=[], metavar="KEY=VALUE",
                        help="add the step counts (above 0) adapted with these options over --family's; repeatable")
    parser.add_argument("--output-name", default=NAME, help="the results file's name under benchmarks/results")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if any(steps < 0 for steps in args.steps):
        parser.error("--steps must be 0 or more")
    if args.sure_every is not None and args.sure_every < 1:
        parser.error("--sure-every must be at least 1")
    options = family_options(args)
    try:
        rows = score(args, options, compared_options(args, options))
    except InputError as error:  # a run or a data set that is not there: say so, no traceback
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    report(args, options, rows)


def compared_options(args: argparse.Namespace, options: dict) -> dict[str, dict]:
    """Each ``--compare``'s options over ``--family``'s, by the rows' label (the options as given)."""
    return {" ".join(texts): {**options, **family_options(argparse.Namespace(family=texts))} for texts in args.compare}


def score(args: argparse.Namespace, options: dict, compared: dict[str, dict] | None = None) -> list[dict]:
    """Every condition under every step count, plain and with x8 self-ensemble; for each of
    ``compared`` (``--compare``'s options by label), the same step counts above 0 adapted with
    those; with ``--sure-every``, the SURE-chosen rows (their chosen steps and estimated PSNR)."""
    methods = {}
    for steps in args.steps:
        variants = {f"{steps} steps": options}
        variants.update({f"{steps} steps, {label}": these for label, these in (compared or {}).items() if steps})
        for label, adaptation in variants.items():
            methods[label] = run_method(args.run, steps, args.device, None, adaptation)[0]
            ensemble = {**adaptation, "self_ensemble": True}
            methods[f"{label}{SELF_ENSEMBLE}"] = run_method(args.run, steps, args.device, None, ensemble)[0]
    ensemble = {**options, "self_ensemble": True}
    choices: dict[str, list[StepChoice]] = {}
    if args.sure_every:
        for suffix, adaptation in (("", options), (SELF_ENSEMBLE, ensemble)):
            label = f"up to {max(args.steps)} steps, chosen by SURE{suffix}"
            choices[label] = []
            methods[label] = run_method(args.run, max(args.steps), args.device, None, adaptation, args.sure_every,
                                        choices[label])[0]  # fmt: skip
    if args.peers:
        from metagen.reports.classical import CLASSICAL

        methods.update(CLASSICAL)
    rows = []
    for condition in args.conditions:
        before = {label: len(made) for label, made in choices.items()}
        for row in run_condition(condition, methods, None, args.max_images, args.seed):
            row = {**row, "set": condition.set_name, "degradation": condition.degradation}
            if row["method"] in choices:
                these = choices[row["method"]][before[row["method"]] :]
                row["chosen_steps"] = [choice.step for choice in these]
                row["estimated_mse"] = [{str(k): v for k, v in choice.risks.items()} for choice in these]
                row["estimated_psnr"] = float(np.mean([choice.estimated_psnr for choice in these]))
            rows.append(row)
        if args.sure_every:
            rows.append(oracle_row(args, options, condition))
    return rows


def oracle_row(args: argparse.Namespace, options: dict, condition: Condition) -> dict:
    """The ceiling of any per-image choice among the steps SURE checks: per image, the step whose
    restoration is closest to the clean image (which a user does not have), with its PSNR."""
    from metagen.fewshot.adapt import load_run
    from metagen.fewshot.restorer import adaptation_path, checked_steps, restore_with

    loaded = load_run(args.run, args.device, "restorer", options)
    learner, family = loaded.experiment.learner, loaded.experiment.family
    top, best = max(args.steps), []
    for index, item in enumerate(load_image_set(condition.set_name, None)[: args.max_images]):
        reference, degraded = degrade(condition, item.pixels, index, args.seed)
        path = adaptation_path(learner, family, degraded.image, top)
        scored = {step: score_output(restore_with(family, path[step], degraded.image), reference, condition)
                  for step in checked_steps(top, args.sure_every)}  # fmt: skip
        step = max(scored, key=lambda k: (scored[k][0], -k))
        best.append((step, *scored[step]))
    return {"set": condition.set_name, "degradation": condition.degradation, "matched": False,
            "method": f"up to {top} steps, best step per image picked with the clean image (oracle)",
            "images": len(best), "psnr": float(np.mean([b[1] for b in best])),
            "ssim": float(np.mean([b[2] for b in best])), "seconds_per_image": None,
            "chosen_steps": [b[0] for b in best]}  # fmt: skip


def report(args: argparse.Namespace, options: dict, rows: list[dict]) -> None:
    """The table and its JSON twin under benchmarks/results."""
    machine = machine_info()
    header = (f"First {args.max_images} images of each set, seed {args.seed}, adaptation options "
              f"{options or 'the run'}'s. PSNR (dB) / SSIM; seconds per image include the adaptation. "
              f"Machine: {machine['cpu']}, {machine['cores']} cores.")  # fmt: skip
    if args.sure_every:
        header += (f" Rows 'chosen by SURE': adapted up to {max(args.steps)} steps, restored with the step, of every "
                   f"{args.sure_every}-th and the last, whose Monte-Carlo SURE (Ramani et al. 2008; noise levels "
                   "estimated from the image) is lowest; 'steps chosen': their mean and range over the images; "
                   "'SURE's PSNR': the PSNR its estimate of the error stands for, beside the true one. The 'oracle' "
                   "row picks each image's best checked step by its true PSNR: the ceiling of any per-image choice "
                   "among those steps, not a method.")  # fmt: skip
    lines = [f"# Adaptation steps and self-ensemble: `{args.run}`", "", header, "",
             "| set | degradation | method | PSNR | SSIM | s / image | steps chosen | SURE's PSNR |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['set']} | {r['degradation']} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
              f"{_seconds(r)} | {_chosen(r)} | "
              f"{'%.2f' % r['estimated_psnr'] if 'estimated_psnr' in r else ''} |" for r in rows]  # fmt: skip
    lines += ["", f"Command: `python benchmarks/restoration_steps.py {shlex.join(sys.argv[1:])}`."]
    write_results(args.output_name, lines, {"rows": rows, "run": args.run, "max_images": args.max_images,
                                            "seed": args.seed, "family": options, "sure_every": args.sure_every,
                                            "compare": compared_options(args, options),
                                            "machine": machine, "command": sys.argv[1:]})  # fmt: skip


def _seconds(row: dict) -> str:
    """Seconds per image; empty for the oracle row, which is not a method a user can run."""
    return "" if row["seconds_per_image"] is None else f"{row['seconds_per_image']:.2f}"


def _chosen(row: dict) -> str:
    """The steps SURE chose for a row's images: mean (min..max); empty for a fixed step count."""
    steps = row.get("chosen_steps")
    return f"{np.mean(steps):.1f} ({min(steps)}..{max(steps)})" if steps else ""


if __name__ == "__main__":
    main()
