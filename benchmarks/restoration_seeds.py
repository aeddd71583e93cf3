"""Restoration over training seeds: the main table's recipe (meta-transfer: ordinary training, then
first-order MAML from its weights, against ordinary training going on for as long) trained once per
seed, and the networks scored on a few conditions, to give the mean and 95% interval over seeds
that DESIGN.md's protocols ask for, and seed-paired differences (meta-learned against ordinary
training, adapted against not adapted and against the best peer).

    python benchmarks/restoration_seeds.py --seeds 0 1 2 --train-seconds 900 --transfer-seconds 420 \\
        --override model.options.bias_free=true --meta-override model.family.noise_loss=renoise \\
        --family noise_loss=renoise noise_model=signal noise_estimator=weak_texture --max-images 12

Each seed's runs train under --runs-dir/seed{S} with train.seed=S; the jobs (three per seed: the
pretraining, then the meta-learned and the ordinary run from it) share --workers processes of one
thread each, so on a two-core machine every run gets one core. The degradations keep the
protocol's seed (--seed); DnCNN-25 and the classical peers, which no training seed changes, are
scored once, with the first seed. Each seed's scores are kept in its folder, condition by
condition, so an interrupted run goes on where it stopped. Writes
benchmarks/results/restoration_seeds.md (--results-name) and its JSON twin."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shlex
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from _common import finished, machine_info, train_one, write_results
from restoration import (
    add_transfer_arguments,
    check_budgets,
    continue_from_pretraining,
    refuse_unloadable,
    sure_choice,
    transfer_jobs,
)

from metagen.cli.generate_cmd import family_options
from metagen.reports.restoration_benchmark import MATCHED, MISMATCHED, Condition, run_benchmark, training_summary
from metagen.reports.restoration_seeds import aggregate_over_seeds, paired_differences, seeds_markdown
from metagen.train.checkpoint import write_json_atomic

SETS = ["BSD68", "Set12"]
DEGRADATIONS = ["gaussian:sigma=25", "gaussian:sigma=60", "gaussian:sigma=75", "poisson:peak=30", "speckle:std=0.3",
                "missing:fraction=0.5"]  # fmt: skip


def chosen_conditions(parser: argparse.ArgumentParser, sets: list[str], degradations: list[str]) -> list[Condition]:
    """The benchmark's conditions on ``sets`` with ``degradations``; a usage error for a pair the
    benchmark does not have."""
    known = {(c.set_name, c.degradation): c for c in MATCHED + MISMATCHED}
    missing = [f"{s} {d}" for s in sets for d in degradations if (s, d) not in known]
    if missing:
        parser.error(f"the restoration benchmark has no condition {', '.join(missing)}")
    return [known[s, d] for s in sets for d in degradations]


def seed_jobs(args: argparse.Namespace, seed: int) -> tuple[tuple, list[tuple]]:
    """Meta-transfer's jobs for one training seed, under --runs-dir/seed{seed}."""
    return transfer_jobs(Path(args.runs_dir) / f"seed{seed}", args.train_seconds, args.device,
                         [*args.override, f"train.seed={seed}"], args.transfer_seconds, args.meta_override)  # fmt: skip


def train_seeds(args: argparse.Namespace, staged: dict[int, tuple[tuple, list[tuple]]]) -> None:
    """Train every seed's ``staged`` jobs (:func:`seed_jobs`; those finished are skipped), at most
    --workers at once, one thread each; a seed's two runs start once its pretraining has finished."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context, max_tasks_per_child=1) as pool:
        running: dict[Future, int | None] = {}  # a pretraining's future gives its seed; a run's, None

        def start_runs(seed: int) -> None:
            continue_from_pretraining(Path(args.runs_dir) / f"seed{seed}")
            for job in staged[seed][1]:
                if not finished(*job):
                    running[pool.submit(train_one, *job, 1)] = None

        for seed, (pretraining, _) in staged.items():
            if finished(*pretraining):
                start_runs(seed)
            else:
                running[pool.submit(train_one, *pretraining, 1)] = seed
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                if future.exception() is not None:
                    raise SystemExit(f"a training run failed ({future.exception()}); see its log in its folder")
                seed = running.pop(future)
                if seed is not None:
                    start_runs(seed)


def score_seed(args: argparse.Namespace, seed: int, conditions: list[Condition], peers: bool,
               sure: tuple[int, int] | None) -> dict[str, Any]:  # fmt: skip
    """The benchmark rows of one seed's two networks on ``conditions`` (with the peers' rows when
    ``peers``) and the runs scored. Each condition's rows are kept in the seed's folder once scored,
    so a scoring interrupted, or run again with more conditions, scores only what it has not (all
    again if the runs or the scoring options changed)."""
    out = Path(args.runs_dir) / f"seed{seed}"
    settings = {"runs": [training_summary(out / "meta"), training_summary(out / "plain")], "root": args.root,
                "max_images": args.max_images, "seed": args.seed, "family": args.family, "peers": peers,
                "ensemble_steps": args.ensemble_steps, "sure_steps": args.sure_steps}  # fmt: skip
    cache = out / "seed_scores.json"
    stored = json.loads(cache.read_text()) if cache.is_file() else {}
    if stored.get("settings") != settings:
        stored = {"settings": settings, "rows": {}, "runs": {}}
    for condition in conditions:
        if condition_name(condition) in stored["rows"]:
            continue
        result = run_benchmark(
            out / "meta", out / "plain", args.dncnn, [condition], args.max_images, out, args.device, args.seed,
            root=args.root, family=family_options(args), ensemble_steps=args.ensemble_steps, figure_prefix="seeds",
            sure=sure, peers=peers,
        )  # fmt: skip
        stored["rows"][condition_name(condition)], stored["runs"] = result.rows, result.runs
        write_json_atomic(cache, stored)
    return {"rows": [row for c in conditions for row in stored["rows"][condition_name(c)]], "runs": stored["runs"]}


def condition_name(condition: Condition) -> str:
    return f"{condition.set_name} {condition.degradation}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (train.seed)")
    parser.add_argument("--workers", type=int, default=2, help="training runs at once, one thread each")
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("--degradations", nargs="+", default=DEGRADATIONS)
    parser.add_argument("--results-name", default="restoration_seeds")
    parser.add_argument("--root", help="the folder that holds the test sets (default: the data folder's)")
    add_transfer_arguments(parser, "runs/restoration-seeds")
    args = parser.parse_args()
    check_budgets(parser, args)
    sure = sure_choice(parser, args)
    if len(set(args.seeds)) != len(args.seeds) or args.workers < 1:
        parser.error("--seeds must be distinct and --workers at least 1")
    conditions = chosen_conditions(parser, args.sets, args.degradations)
    staged = {seed: seed_jobs(args, seed) for seed in args.seeds}
    refuse_unloadable(parser, [job for pretraining, runs in staged.values() for job in (pretraining, *runs)])
    train_seeds(args, staged)
    scores = {seed: score_seed(args, seed, conditions, peers=seed == args.seeds[0], sure=sure) for seed in args.seeds}
    aggregated = aggregate_over_seeds({seed: s["rows"] for seed, s in scores.items()})
    differences = paired_differences(aggregated)
    machine = machine_info()
    lines = [
        "# Restoration over training seeds: meta-learned against ordinary training, and against the peers", "",
        f"Seeds {args.seeds} (train.seed; one meta-transfer per seed: {args.train_seconds:.0f} s of ordinary "
        f"training, then {args.transfer_seconds:.0f} s of first-order MAML from its weights, against the ordinary "
        "run going on for as long, one core each). Adaptation options "
        f"{family_options(args) or 'of the recipe'}. First {args.max_images} images of each set, degradations "
        f"drawn with seed {args.seed} whatever the training seed. Cells: mean over seeds ± the 95% Student-t "
        "half-width; the peers (DnCNN-25, the classical restorers) do not depend on the training seed and were "
        f"scored once. Machine: {machine['cpu']}, {machine['cores']} cores.", "",
        *seeds_markdown(aggregated, differences, args.seeds), "",
        "Runs: " + "; ".join(f"seed {seed}: {label} `{run['run']}` ({run['training']})"
                             for seed, s in scores.items() for label, run in s["runs"].items()) + ".", "",
        f"Command: `python benchmarks/restoration_seeds.py {shlex.join(sys.argv[1:])}`.",
    ]  # fmt: skip
    payload = {"aggregated": aggregated, "differences": differences,
               "rows_by_seed": {s: v["rows"] for s, v in scores.items()},
               "runs_by_seed": {s: v["runs"] for s, v in scores.items()}, "seeds": args.seeds,
               "train_seconds": args.train_seconds, "transfer_seconds": args.transfer_seconds,
               "max_images": args.max_images, "seed": args.seed, "family": family_options(args), "machine": machine,
               "device": args.device, "command": sys.argv[1:]}  # fmt: skip
    write_results(args.results_name, lines, payload)


if __name__ == "__main__":
    main()
