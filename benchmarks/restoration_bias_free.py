"""Bias-free restorer against the same network with biases, on Gaussian noise from levels trained on
(sigma 25 and 50) to levels above the training range (60 and 75), with DnCNN-25 and the classical
peers beside them in one run.

A network with no additive constants is positively homogeneous (f(a x) = a f(x)); Mohan et al.
2020 ("Robust and interpretable blind image denoising via bias-free convolutional neural networks",
ICLR) show that such a denoiser generalises to noise levels it never saw, where the same network
with biases breaks down. This script trains both variants of the restoration recipe's U-Net
(``model.options.bias_free``) by meta-transfer with the same budgets, as benchmarks/restoration.py
does for one variant: the two ordinary pretrainings at the same time, one core each, then for each
variant the meta-learned and the ordinary run at the same time.

    python benchmarks/restoration_bias_free.py --train-seconds 1800 --transfer-seconds 600 \\
        --meta-override model.family.noise_loss=renoise --family noise_loss=renoise noise_model=signal \\
        --max-images 12 --runs-dir runs/restoration-bias-free

produced benchmarks/results/restoration_bias_free.md (with --runs-dir /work/runs/bf).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import RESULTS, train_in_parallel
from restoration import add_transfer_arguments, check_budgets, pretrain_job, sure_choice, train_runs, write_side_table

from metagen.cli.generate_cmd import family_options
from metagen.reports.restoration_benchmark import (
    CONDITION_GROUPS,
    META_LABEL,
    PLAIN_LABEL,
    PLAIN_STEPS,
    run_benchmark,
)

NAME = "restoration_bias_free"
BIASED = "with biases"
TITLE = "Restoration: a bias-free U-Net (Mohan et al. 2020) against the same U-Net with biases, sigma 25 to 75"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_transfer_arguments(parser, "runs/restoration-bias-free")
    args = parser.parse_args()
    check_budgets(parser, args)
    sure = sure_choice(parser, args)

    variants = {"bias-free": [*args.override, "model.options.bias_free=true"], BIASED: list(args.override)}
    out = Path(args.runs_dir)
    folders = {name: out / name.replace(" ", "-") for name in variants}
    train_in_parallel([pretrain_job(folders[n], args.train_seconds, args.device, o) for n, o in variants.items()])
    runs = {
        name: train_runs(folders[name], args.train_seconds, args.device, overrides, True, args.transfer_seconds,
                         tuple(args.meta_override))  # fmt: skip
        for name, overrides in variants.items()
    }
    biased_meta, biased_plain = runs[BIASED]
    result = run_benchmark(
        *runs["bias-free"], args.dncnn, CONDITION_GROUPS["noise-range"], args.max_images, RESULTS, args.device,
        args.seed, family=family_options(args), figure_prefix=NAME, ensemble_steps=args.ensemble_steps, sure=sure,
        extra_runs=[(f"{META_LABEL}, {BIASED}", biased_meta, (0, 10)),
                    (f"{PLAIN_LABEL}, {BIASED}", biased_plain, PLAIN_STEPS)],
    )  # fmt: skip
    write_side_table(NAME, TITLE, result, args,
                     f"Rows without '{BIASED}' are the bias-free U-Net (`model.options.bias_free=true`); the rows "
                     f"'{BIASED}' are the recipe's U-Net as it is, trained the same way for the same time. The targets "
                     "below are the restoration issue's, checked for the bias-free network.")  # fmt: skip


if __name__ == "__main__":
    main()
