"""The noise level that re-noising reads inside meta-training: the wavelet (Haar) estimate against
the weak-texture one, two first-order MAML runs from one ordinary pretraining of the restoration
recipe's U-Net, adapted alike at test time, with the ordinary run, DnCNN-25 and the classical peers
in one run.

Re-noising (Noisier2Noise, Moran et al. 2020) adds noise of the level it estimates from the image;
the wavelet estimate (Donoho and Johnstone 1994) counts fine texture as noise and reads low levels
high (sigma 15 as 16.5 on BSD68, benchmarks/results/noise_estimation.md), the weak-texture estimate
(Liu et al. 2013; Chen et al. 2015) much less so, at the price of a patch covariance and its
eigenvalues per estimate. At test time the weak-texture level is the better one
(benchmarks/results/restoration_sure_loss.md); this asks what it does inside meta-training, where
the inner loop estimates the level of every task's support patches: to the meta-learned start
(quality) and to the steps trained in the same time (cost). The two meta-learned runs train at the
same time, one core each, for the same time, from the same weights; every run is then adapted with
the same options (``--family``), so the rows differ only in the estimator used while meta-training:

    python benchmarks/restoration_noise_estimator.py --train-seconds 1500 --transfer-seconds 600 \\
        --override model.options.bias_free=true --meta-override model.family.noise_loss=renoise \\
        --family noise_loss=renoise noise_model=signal noise_estimator=weak_texture \\
        --max-images 12 --runs-dir runs/restoration-noise-estimator

produced benchmarks/results/restoration_noise_estimator.md (with --runs-dir /work/runs/ne).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import RESULTS, finished, train_in_parallel, train_one
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
from metagen.reports.restoration_benchmark import MATCHED, META_LABEL, MISMATCHED, NOISE_RANGE, run_benchmark

NAME = "restoration_noise_estimator"
WAVELET = "wavelet level in meta-training"
TITLE = "Restoration: the noise level re-noising reads while meta-training, wavelet against weak texture"
CONDITIONS = (
    [c for c in MATCHED if c.set_name in ("Set12", "BSD68") and c.degradation == "gaussian:sigma=15"]
    + NOISE_RANGE
    + [c for c in MISMATCHED if c.set_name == "BSD68" and c.degradation.startswith(("poisson", "speckle"))]
)
# the folder of each meta-learned run and the estimator its inner loop reads the noise level with
VARIANTS = {"meta-weak-texture": "weak_texture", "meta-haar": "haar"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_transfer_arguments(parser, "runs/restoration-noise-estimator")
    args = parser.parse_args()
    check_budgets(parser, args)
    sure = sure_choice(parser, args)

    out = Path(args.runs_dir)
    pretraining = pretrain_job(out, args.train_seconds, args.device, args.override)
    jobs = [transfer_job(args, pretraining[2], out / folder, [f"model.family.noise_estimator={estimator}"])
            for folder, estimator in VARIANTS.items()]  # fmt: skip
    refuse_unloadable(parser, [pretraining, *jobs])
    if not finished(*pretraining):  # on every core, as benchmarks/restoration.py pretrains
        train_one(*pretraining)
    train_in_parallel(jobs)
    result = run_benchmark(
        out / "meta-weak-texture", pretraining[2], args.dncnn, CONDITIONS, args.max_images, RESULTS, args.device,
        args.seed, family=family_options(args), figure_prefix=NAME, ensemble_steps=args.ensemble_steps, sure=sure,
        extra_runs=[(f"{META_LABEL}, {WAVELET}", out / "meta-haar", (0, 10))],
    )  # fmt: skip
    write_side_table(NAME, TITLE, result, args,
                     f"Rows '{META_LABEL}' without '{WAVELET}': first-order MAML whose inner loop re-noises at the "
                     "weak-texture level (`model.family.noise_estimator=weak_texture`); "
                     f"'{WAVELET}': the same from the same weights for the same time, one core each, at the wavelet "
                     f"level (`haar`). The ordinary run is their common pretraining ({args.train_seconds:.0f} s; the "
                     f"meta-learned runs had {args.transfer_seconds:.0f} s more). Every run is adapted with the same "
                     f"options ({family_options(args) or 'its recipe'}). The steps each meta-learned run took in its "
                     "time are in the training summaries below. The targets below are the restoration issue's, "
                     "checked for the weak-texture run.")  # fmt: skip


if __name__ == "__main__":
    main()
