"""First-order MAML with its outer loss taken at every inner step, the unadapted start included
(MAML++'s multi-step loss, Antoniou et al. 2019, ``meta.step_weights``), against plain first-order
MAML (the loss after the last inner step alone), both meta-transferred from one ordinary
pretraining of the restoration recipe's U-Net, with DnCNN-25 and the classical peers in one run.

Meta-learning from a good denoiser can leave an initialisation that is a worse denoiser before its
steps than the network it started from (the restoration table's meta-learned network at sigma 75:
21.58 dB unadapted, the ordinarily trained one 23.79 dB), since plain MAML asks nothing of it
before adaptation. The multi-step loss asks for both. The two meta-learned runs train at the same
time, one core each, for the same time, from the same weights:

    python benchmarks/restoration_step_weights.py --train-seconds 1800 --transfer-seconds 600 \\
        --step-weights 1 1 1 --override model.options.bias_free=true \\
        --meta-override model.family.noise_loss=renoise --family noise_loss=renoise noise_model=signal \\
        --max-images 12 --runs-dir runs/restoration-step-weights

produced benchmarks/results/restoration_step_weights.md (with --runs-dir /work/runs/msl).
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
from metagen.reports.restoration_benchmark import META_LABEL, MISMATCHED, NOISE_RANGE, run_benchmark

NAME = "restoration_step_weights"
LAST_STEP = "last step only"
TITLE = "Restoration: first-order MAML with the outer loss at every inner step (MAML++) against the last step alone"
CONDITIONS = NOISE_RANGE + [c for c in MISMATCHED if c.set_name in ("Set12", "BSD68") and
                            c.degradation.startswith(("poisson", "speckle"))]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-weights", nargs="+", type=float, required=True,
                        help="one weight for the start and one per inner step of the recipe (normalised)")  # fmt: skip
    add_transfer_arguments(parser, "runs/restoration-step-weights")
    args = parser.parse_args()
    check_budgets(parser, args)
    sure = sure_choice(parser, args)

    out = Path(args.runs_dir)
    pretraining = pretrain_job(out, args.train_seconds, args.device, args.override)
    weights = f"meta.step_weights=[{', '.join(str(w) for w in args.step_weights)}]"
    jobs = [transfer_job(args, pretraining[2], out / "meta-step-weights", [weights]),
            transfer_job(args, pretraining[2], out / "meta")]  # fmt: skip
    refuse_unloadable(parser, jobs)  # weights that do not fit the recipe's inner loop, say
    train_in_parallel([pretraining])
    train_in_parallel(jobs)
    result = run_benchmark(
        out / "meta-step-weights", pretraining[2], args.dncnn, CONDITIONS, args.max_images, RESULTS, args.device,
        args.seed, family=family_options(args), figure_prefix=NAME, ensemble_steps=args.ensemble_steps, sure=sure,
        extra_runs=[(f"{META_LABEL}, {LAST_STEP}", out / "meta", (0, 1, 5, 10))],
    )  # fmt: skip
    write_side_table(NAME, TITLE, result, args,
                     f"Rows '{META_LABEL}' without '{LAST_STEP}': first-order MAML whose outer loss is the query loss "
                     f"at every inner step, weighted {args.step_weights} from the unadapted start to the last step; "
                     f"'{LAST_STEP}': the same from the same weights for the same time, with the loss after the last "
                     f"step alone. The ordinary run is their common pretraining ({args.train_seconds:.0f} s; the "
                     f"meta-learned runs had {args.transfer_seconds:.0f} s more). The targets below are the "
                     "restoration issue's, checked for the multi-step run.",
                     {"step_weights": args.step_weights})  # fmt: skip


if __name__ == "__main__":
    main()
