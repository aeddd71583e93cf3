"""Restoration benchmark: meta-learned restorers (adapted with 0, 1, 5 and 10 self-supervised steps),
the same network trained ordinarily (with and without the same adaptation), the published DnCNN-25
and scikit-image's classical restorers, side by side on matched and mismatched degradations.

    python benchmarks/restoration.py --meta-run runs/denoise --plain-run runs/denoise-plain \\
        [--conditions all|matched|mismatched] [--max-images 3] [--device cpu]

Without --meta-run / --plain-run it first trains both from configs/restoration/denoise_unet_fomaml.yaml
for --train-seconds each (the plain run with meta.inner_steps=0: ordinary supervised training); with
--parallel both train at the same time, one process and one thread each, so that on a two-core
machine each gets one core for the same wall-clock budget. With --transfer-seconds S it trains the
meta-learned run by meta-transfer (Soh et al. 2020): the ordinary run first, for --train-seconds,
then first-order MAML from its weights for S seconds while the ordinary run trains on for S more.
With --sr-train-seconds S (or --sr-meta-run / --sr-plain-run) the super-resolution conditions also
get the network meta-learned on x2 super-resolution (configs/restoration/sr_unet_fomaml.yaml, MZSR's
recipe) and the same trained ordinarily, trained the same way under --sr-runs-dir, with
--sr-transfer-seconds for meta-transfer and --sr-override for their recipe (train.init_from=DIR to
start the ordinary run from the denoiser's weights).
--ensemble-steps N adds rows of the meta-learned runs adapted N steps and restoring by geometric
self-ensemble (x8); --sure-steps N K adds rows of the meta-learned run adapted up to N steps with
the step, of every K-th, chosen per image by Stein's unbiased risk estimate (noise conditions; the
targets are checked for them too); --results-name writes the table under another name (a side table).
The same comparison runs from the command line as `metagen restore --benchmark`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, Sequence

from _common import RESULTS, finished, machine_info, train_in_parallel, train_one, write_results

from metagen.cli.generate_cmd import family_options
from metagen.cli.restore_cmd import sure_option
from metagen.errors import ConfigError, InputError
from metagen.reports.restoration_benchmark import CONDITION_GROUPS, benchmark_markdown, run_benchmark
from metagen.train.config import load_config

RECIPES = Path(__file__).resolve().parents[1] / "configs" / "restoration"
RECIPE, SR_RECIPE = RECIPES / "denoise_unet_fomaml.yaml", RECIPES / "sr_unet_fomaml.yaml"


def budget(seconds: float, device: str, overrides: list[str]) -> list[str]:
    """The overrides that train a run for ``seconds`` of wall-clock time on ``device``."""
    return [f"train.time_budget_s={seconds}", f"train.device={device}", "train.steps=1000000", *overrides]


PLAIN = ["meta.inner_steps=0"]  # ordinary supervised training of the same recipe


def pretrain_job(out: Path, seconds: float, device: str, overrides: list[str], recipe: Path = RECIPE) -> tuple:
    """The (recipe, overrides, folder) of meta-transfer's first stage: ``recipe`` trained
    ordinarily for ``seconds`` into ``out/plain-pretrain``."""
    return recipe, budget(seconds, device, overrides) + PLAIN, out / "plain-pretrain"


def transfer_job(args: argparse.Namespace, pretrained: Path, out: Path, overrides: Sequence[str] = ()) -> tuple:
    """The (recipe, overrides, folder) of meta-transfer's second stage in a side table: the recipe
    meta-trained from ``pretrained``'s weights for ``--transfer-seconds`` into ``out``, with
    ``--override``, ``--meta-override`` and then ``overrides`` (the variant's own)."""
    return (RECIPE, budget(args.transfer_seconds, args.device, args.override)
            + [f"train.init_from={pretrained}", *args.meta_override, *overrides], out)  # fmt: skip


def refuse_unloadable(parser: argparse.ArgumentParser, jobs: Sequence[tuple]) -> None:
    """Exit with a usage error, before anything trains, if the recipe refuses a job's overrides."""
    try:
        for recipe, overrides, _ in jobs:
            load_config(recipe, overrides)
    except ConfigError as error:
        parser.error(str(error))


def write_side_table(name: str, title: str, result: Any, args: argparse.Namespace, preamble: str,
                     extra: dict[str, Any] | None = None, script: str | None = None) -> None:  # fmt: skip
    """Write the side table ``name`` of the restoration benchmark under benchmarks/results: the
    table of ``result`` titled ``title`` with ``preamble`` (what its rows are) above its runs and
    the command that made it (benchmarks/``script``.py, default ``name``) below, and its JSON twin
    (rows, runs, seed, machine, ``extra``)."""
    machine = machine_info()
    lines = benchmark_markdown(result, args.max_images, args.seed, machine, title=title)
    lines[2:2] = [preamble, ""]
    lines += ["", f"Command: `python benchmarks/{script or name}.py {shlex.join(sys.argv[1:])}`."]
    payload = {"rows": result.rows, "runs": result.runs, "max_images": args.max_images, "seed": args.seed,
               **(extra or {}), "machine": machine, "device": args.device, "command": sys.argv[1:]}  # fmt: skip
    write_results(name, lines, payload)


def transfer_jobs(
    out: Path,
    seconds: float,
    device: str,
    overrides: list[str],
    transfer_seconds: float,
    meta_overrides: Sequence[str] = (),
    recipe: Path = RECIPE,
) -> tuple[tuple, list[tuple]]:
    """Meta-transfer's jobs (recipe, overrides, folder) under ``out`` (Soh et al. 2020): the
    ordinary pretraining for ``seconds``, then the meta-learned run from its weights for
    ``transfer_seconds`` and the ordinary run going on from the pretraining for as long, so both
    have the same total budget. The second two start once :func:`continue_from_pretraining` ran."""
    pretraining = pretrain_job(out, seconds, device, overrides, recipe)
    # the meta-learned run starts from the pretraining's weights (a later init_from wins)
    meta = (recipe, budget(transfer_seconds, device, overrides) + [f"train.init_from={pretraining[2]}",
                                                                   *meta_overrides], out / "meta")  # fmt: skip
    plain = (recipe, budget(seconds + transfer_seconds, device, overrides) + PLAIN, out / "plain")
    return pretraining, [meta, plain]


def continue_from_pretraining(out: Path) -> None:
    """Start meta-transfer's ordinary run under ``out`` from its pretraining's last state (it resumes
    from there), unless it has started already."""
    if not (out / "plain").exists():
        shutil.copytree(out / "plain-pretrain", out / "plain")


def train_runs(
    out: Path,
    seconds: float,
    device: str,
    overrides: list[str],
    parallel: bool,
    transfer_seconds: float = 0.0,
    meta_overrides: tuple[str, ...] = (),
    recipe: Path = RECIPE,
) -> tuple[Path, Path]:
    """Train the meta-learned and the ordinary run of ``recipe`` for ``seconds`` each; with
    ``transfer_seconds``, meta-transfer instead (:func:`transfer_jobs`). ``meta_overrides`` apply to
    the meta-learned run alone (its self-supervised loss, say)."""
    if transfer_seconds:
        pretraining, jobs = transfer_jobs(out, seconds, device, overrides, transfer_seconds, meta_overrides, recipe)
        if not finished(*pretraining):
            train_one(*pretraining)
        continue_from_pretraining(out)
    else:
        jobs = [
            (recipe, budget(seconds, device, overrides) + [*meta_overrides], out / "meta"),
            (recipe, budget(seconds, device, overrides) + PLAIN, out / "plain"),
        ]
    jobs = [job for job in jobs if not finished(*job)]
    if parallel:
        train_in_parallel(jobs)
    else:
        for job in jobs:
            train_one(*job)
    return out / "meta", out / "plain"


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of how the runs are scored: images per set, the DnCNN-25 weights, device, seed,
    and the adaptation steps also scored with geometric self-ensemble."""
    parser.add_argument("--max-images", type=int, default=3)
    data = os.environ.get("METAGEN_DATA", "../shared/data")
    parser.add_argument("--dncnn", default=os.path.join(data, "pretrained", "dncnn_25_kair.pth"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ensemble-steps", nargs="*", type=int, default=[],
                        help="also score the meta-learned runs adapted this many steps and restoring by geometric "
                             "self-ensemble (x8: rotations and mirror images, averaged)")  # fmt: skip
    parser.add_argument("--sure-steps", nargs=2, type=int, metavar=("N", "K"),
                        help="also score the meta-learned run adapted up to N steps, the step (of every K-th) chosen "
                             "per image by SURE (noise conditions; self-ensembled too with --ensemble-steps)")  # fmt: skip


def add_transfer_arguments(parser: argparse.ArgumentParser, runs_dir: str) -> None:
    """The options of a side table trained by meta-transfer (budgets, overrides, adaptation, runs
    folder), plus the scoring options; ``check_budgets`` refuses budgets it cannot train with."""
    parser.add_argument("--train-seconds", type=float, default=600, help="the ordinary pretraining")
    parser.add_argument("--transfer-seconds", type=float, default=300,
                        help="then meta-training from those weights (the ordinary run, if any, trains on)")  # fmt: skip
    parser.add_argument("--override", nargs="*", default=[], help="recipe overrides for every run (key=value)")
    parser.add_argument("--meta-override", nargs="*", default=[], help="recipe overrides for the meta-learned runs")
    parser.add_argument("--family", nargs="*", default=[], metavar="KEY=VALUE",
                        help="adapt every run with these restorer options, e.g. noise_loss=renoise")  # fmt: skip
    parser.add_argument("--runs-dir", default=runs_dir)
    add_scoring_arguments(parser)


def check_budgets(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a usage error unless both training budgets are positive."""
    if args.train_seconds <= 0 or args.transfer_seconds <= 0:
        parser.error("--train-seconds and --transfer-seconds must be positive")


def sure_choice(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[int, int] | None:
    """``--sure-steps N K`` as ``run_benchmark``'s ``sure`` (None without it), checked as
    ``metagen restore --benchmark`` checks it; a usage error, before any training, if it fails."""
    try:
        return sure_option(args.sure_steps)
    except InputError as error:
        parser.error(str(error))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta-run")
    parser.add_argument("--plain-run")
    parser.add_argument("--train-seconds", type=float, default=600)
    parser.add_argument("--parallel", action="store_true", help="train both runs at once, one thread each")
    parser.add_argument("--transfer-seconds", type=float, default=0.0,
                        help="meta-transfer: meta-train from the ordinary run's weights for this long, while the "
                             "ordinary run trains on for as long (0: both from scratch)")  # fmt: skip
    parser.add_argument("--override", nargs="*", default=[], help="recipe overrides for both trained runs (key=value)")
    parser.add_argument("--meta-override", nargs="*", default=[],
                        help="recipe overrides for the meta-learned run only, e.g. model.family.noise_loss=renoise "
                             "(the ordinary run adapts at test time the way the meta-learned run does)")  # fmt: skip
    parser.add_argument("--family", nargs="*", default=[], metavar="KEY=VALUE",
                        help="adapt both runs with these restorer options instead of the meta-learned run's "
                             "recipe's, e.g. noise_loss=renoise")  # fmt: skip
    parser.add_argument("--runs-dir", default="runs/restoration-benchmark")
    sr = parser.add_argument_group("the network meta-learned on x2 super-resolution (super-resolution conditions)")
    sr.add_argument("--sr-meta-run")
    sr.add_argument("--sr-plain-run")
    sr.add_argument("--sr-train-seconds", type=float, default=0.0, help="train both SR runs first (0: none)")
    sr.add_argument("--sr-transfer-seconds", type=float, default=0.0, help="as --transfer-seconds, for the SR runs")
    sr.add_argument("--sr-override", nargs="*", default=[], help="recipe overrides for both SR runs (key=value)")
    sr.add_argument("--sr-runs-dir", default="runs/restoration-benchmark/sr")
    parser.add_argument("--conditions", choices=sorted(CONDITION_GROUPS), default="all")
    parser.add_argument("--results-name", default="restoration",
                        help="the results table's name under benchmarks/results (NAME.md and NAME.json)")  # fmt: skip
    add_scoring_arguments(parser)
    args = parser.parse_args()
    sure = sure_choice(parser, args)
    if args.meta_run and args.plain_run:
        meta_run, plain_run = Path(args.meta_run), Path(args.plain_run)
    else:
        meta_run, plain_run = train_runs(
            Path(args.runs_dir), args.train_seconds, args.device, args.override, args.parallel, args.transfer_seconds,
            tuple(args.meta_override),
        )  # fmt: skip
    sr_meta_run, sr_plain_run = args.sr_meta_run, args.sr_plain_run
    if args.sr_train_seconds and not (sr_meta_run and sr_plain_run):
        sr_meta_run, sr_plain_run = train_runs(
            Path(args.sr_runs_dir), args.sr_train_seconds, args.device, args.sr_override, args.parallel,
            args.sr_transfer_seconds, recipe=SR_RECIPE,
        )  # fmt: skip
    conditions = CONDITION_GROUPS[args.conditions]
    result = run_benchmark(
        meta_run, plain_run, args.dncnn, conditions, args.max_images, RESULTS, args.device, args.seed,
        family=family_options(args), sr_run=sr_meta_run, sr_plain_run=sr_plain_run,
        ensemble_steps=args.ensemble_steps, figure_prefix=args.results_name, sure=sure,
    )  # fmt: skip
    machine = machine_info()
    lines = benchmark_markdown(result, args.max_images, args.seed, machine)
    lines += ["", f"Command: `python benchmarks/restoration.py {shlex.join(sys.argv[1:])}` (see its --help; without "
              "--meta-run/--plain-run it trains both runs first)."]  # fmt: skip
    payload = {"rows": result.rows, "runs": result.runs, "max_images": args.max_images, "seed": args.seed,
               "machine": machine, "device": args.device, "command": sys.argv[1:]}  # fmt: skip
    write_results(args.results_name, lines, payload)


if __name__ == "__main__":
    main()
