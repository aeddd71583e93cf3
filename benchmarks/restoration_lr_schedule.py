"""A cosine-decayed outer learning rate against a constant one, for the restoration recipe's U-Net
trained by meta-transfer under a CPU time budget, with DnCNN-25 and the classical peers in one run.

A time-budgeted run that keeps its learning rate constant ends wherever the noise of its last steps
leaves it; decaying the rate to zero over the budget (a half cosine, Loshchilov and Hutter 2017,
``train.lr_schedule=cosine``) lets it settle. Both variants train the same way for the same times,
one core each, at the same time: the ordinary pretrainings together, then first-order MAML from
each together (the cosine variant decays in each stage over that stage's budget):

    python benchmarks/restoration_lr_schedule.py --train-seconds 1200 --transfer-seconds 300 \\
        --override model.options.bias_free=true --meta-override model.family.noise_loss=renoise \\
        --family noise_loss=renoise noise_model=signal noise_estimator=weak_texture \\
        --max-images 12 --runs-dir runs/restoration-lr-schedule

produced benchmarks/results/restoration_lr_schedule.md (with --runs-dir /work/runs/lr).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import RESULTS, train_in_parallel
from restoration import (
    add_transfer_arguments,
    check_budgets,
    pretrain_job,
    refuse_unloadable,
    sure_choice,
    transfer_job,
    write_side_table,
)

from metagen.cli.generate_cmd import family_options
from metagen.reports.restoration_benchmark import MATCHED, META_LABEL, NOISE_RANGE, PLAIN_LABEL, run_benchmark

NAME = "restoration_lr_schedule"
CONSTANT = "constant learning rate"
TITLE = "Restoration: a cosine-decayed outer learning rate against a constant one, under the same CPU budgets"
CONDITIONS = [c for c in MATCHED if c.set_name in ("Set12", "BSD68")] + [
    c for c in NOISE_RANGE if c.degradation == "gaussian:sigma=75"
]
VARIANTS = {"cosine": ["train.lr_schedule=cosine"], "constant": []}  # the runs' folders and their overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_transfer_arguments(parser, "runs/restoration-lr-schedule")
    args = parser.parse_args()
    check_budgets(parser, args)
    sure = sure_choice(parser, args)

    out = Path(args.runs_dir)
    pretraining = {name: pretrain_job(out / name, args.train_seconds, args.device, [*args.override, *overrides])
                   for name, overrides in VARIANTS.items()}  # fmt: skip
    meta = {name: transfer_job(args, pretraining[name][2], out / name / "meta", overrides)
            for name, overrides in VARIANTS.items()}  # fmt: skip
    refuse_unloadable(parser, [*pretraining.values(), *meta.values()])
    train_in_parallel(list(pretraining.values()))
    train_in_parallel(list(meta.values()))
    result = run_benchmark(
        meta["cosine"][2], pretraining["cosine"][2], args.dncnn, CONDITIONS, args.max_images, RESULTS, args.device,
        args.seed, family=family_options(args), figure_prefix=NAME, ensemble_steps=args.ensemble_steps, sure=sure,
        extra_runs=[(f"{META_LABEL}, {CONSTANT}", meta["constant"][2], (0, 10)),
                    (f"{PLAIN_LABEL}, {CONSTANT}", pretraining["constant"][2], (0, 10))],
    )  # fmt: skip
    write_side_table(NAME, TITLE, result, args,
                     f"Rows without '{CONSTANT}': every stage trained with `train.lr_schedule=cosine`, the outer "
                     f"learning rate decayed to zero over the stage's budget; '{CONSTANT}': the same recipe with the "
                     "rate constant, trained at the same time for the same times, one core each. The ordinary rows are "
                     f"the pretrainings ({args.train_seconds:.0f} s; the meta-learned runs had "
                     f"{args.transfer_seconds:.0f} s more). Every run is adapted with the same options "
                     f"({family_options(args) or 'its recipe'}). The targets below are the restoration issue's, checked "
                     "for the cosine run.")  # fmt: skip


if __name__ == "__main__":
    main()
