"""Meta-transfer from the published DnCNN-25: its released weights meta-trained with first-order
MAML on the restoration recipe's blind tasks, against the same weights trained on ordinarily for
the same time on the same tasks, DnCNN-25 as published and the classical peers, in one run.

MZSR (Soh et al. 2020) meta-trains from a super-resolver already trained at scale rather than
from scratch; this does the same from the published DnCNN-S for sigma 25 (Zhang et al. 2017, the
KAIR release, ``train.init_from=dncnn25:PATH``), so that the meta-learned network starts from
hours of GPU training instead of the minutes of CPU training of benchmarks/restoration.py. Both
trained runs use the recipe's tasks (Gaussian sigma 0..55 and 10..40% missing pixels on Train400
patches) with DnCNN-17's architecture, train at the same time, one core each, for
--train-seconds, and are adapted alike (``--family``):

    python benchmarks/restoration_published_init.py --train-seconds 3000 --override meta.outer_lr=0.0001 \\
        --meta-override model.family.noise_loss=renoise \\
        --family noise_loss=renoise noise_model=signal noise_estimator=weak_texture \\
        --max-images 12 --runs-dir runs/restoration-published-init

produced benchmarks/results/restoration_published_init.md (with --runs-dir /work/runs/pi). With
an SGD inner loop, whose steps scale with the gradient (Adam's first step moves every weight by
about its rate), and both runs adapted by it, ``--override meta.outer_lr=0.0001
meta.inner_optimizer=sgd meta.inner_lr=0.01 --runs-dir /work/runs/pi-sgd --table
restoration_published_init_sgd`` and the same other options produced
benchmarks/results/restoration_published_init_sgd.md. The same again with both runs trained in
bfloat16 mixed precision and adapted with bfloat16 steps, ``--override meta.outer_lr=0.0001
meta.inner_optimizer=sgd meta.inner_lr=0.01 train.precision=bfloat16 --family noise_loss=renoise
noise_model=signal noise_estimator=weak_texture adapt_precision=bfloat16 --runs-dir
/work/runs/pi-bf16 --table restoration_published_init_bf16``, produced
benchmarks/results/restoration_published_init_bf16.md.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from _common import RESULTS, train_in_parallel
from restoration import PLAIN, RECIPE, add_scoring_arguments, budget, refuse_unloadable, sure_choice, write_side_table

from metagen.cli.generate_cmd import family_options
from metagen.reports.restoration_benchmark import MATCHED, META_LABEL, MISMATCHED, PLAIN_LABEL, Condition, run_benchmark

NAME = "restoration_published_init"
TITLE = "Restoration: meta-transfer from the published DnCNN-25 against ordinary fine-tuning from it"
DNCNN17 = "model.options={channels: 1, depth: 17, width: 64}"
# grey denoising and inpainting (DnCNN-25 is a grey denoiser): BSD68's, and Set12 at sigma 25
CONDITIONS = [c for c in MATCHED if c.set_name == "BSD68" or c == Condition("Set12", "gaussian:sigma=25", True)] + [
    c for c in MISMATCHED if c.set_name == "BSD68" and not c.degradation.startswith("sr:")
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-seconds", type=float, default=600, help="each run, from the published weights")
    parser.add_argument("--override", nargs="*", default=[], help="recipe overrides for both runs (key=value)")
    parser.add_argument("--meta-override", nargs="*", default=[], help="recipe overrides for the meta-learned run")
    parser.add_argument("--family", nargs="*", default=[], metavar="KEY=VALUE",
                        help="adapt both runs with these restorer options, e.g. noise_loss=renoise")  # fmt: skip
    parser.add_argument("--runs-dir", default="runs/restoration-published-init")
    parser.add_argument("--table", default=NAME,
                        help="the results file's name under benchmarks/results, for a variant beside the first")  # fmt: skip
    add_scoring_arguments(parser)
    args = parser.parse_args()
    if args.train_seconds <= 0:
        parser.error("--train-seconds must be positive")
    if not re.fullmatch(r"[a-z0-9_]+", args.table):
        parser.error(f"--table must be a file name of lower-case letters, digits and '_', got {args.table!r}")
    sure = sure_choice(parser, args)

    out = Path(args.runs_dir)
    common = budget(args.train_seconds, args.device,
                    ["model.name=dncnn", DNCNN17, f"train.init_from=dncnn25:{args.dncnn}", *args.override])  # fmt: skip
    meta, plain = (RECIPE, common + list(args.meta_override), out / "meta"), (RECIPE, common + PLAIN, out / "plain")
    refuse_unloadable(parser, [meta, plain])
    if not Path(args.dncnn).is_file():
        parser.error(f"DnCNN-25 weights not found: {args.dncnn} (set --dncnn or METAGEN_DATA)")
    train_in_parallel([meta, plain])
    result = run_benchmark(
        meta[2], plain[2], args.dncnn, CONDITIONS, args.max_images, RESULTS, args.device, args.seed,
        family=family_options(args), figure_prefix=args.table, ensemble_steps=args.ensemble_steps, sure=sure,
    )  # fmt: skip
    write_side_table(args.table, TITLE, result, args,
                     f"Rows '{META_LABEL}': DnCNN-17 started from the published DnCNN-25 weights and meta-trained "
                     f"by first-order MAML for {args.train_seconds:.0f} s; '{PLAIN_LABEL}': the same weights trained "
                     "on ordinarily (supervised) on the same tasks for the same time, at the same time, one core "
                     f"each. Both are adapted with the same options ({family_options(args) or 'their recipe'}). "
                     "'DnCNN-25 (published weights)' is where both started. The steps each run took are in the "
                     "training summaries below.", script=NAME)  # fmt: skip


if __name__ == "__main__":
    main()
