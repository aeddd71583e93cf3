"""Few-shot generation against training time: chosen methods of the Omniglot protocol trained for
several wall-clock budgets, all the methods of a budget at the same time (one process and one
thread each), then scored as in benchmarks/fewshot_generation.py. It shows whether the ranking of
the main table, measured at a short budget, holds as training grows (the published
set-conditioned generators train for days).

    python benchmarks/generation_budget.py --features runs/features-omniglot [--budgets 300 1500] \\
        [--methods 'VAE, Reptile' 'Set-VAE (local context), no steps' ...] [--max-classes 50]

Writes results/generation_budget.md and .json; runs are kept in --runs-dir and reused.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from _common import RESULTS, machine_info, train_in_parallel, write_results

from metagen.eval.features import load_feature_space
from metagen.reports.generation_benchmark import (
    SET_VAE,
    SET_VAE_SHOTS,
    SET_VAE_TUNED,
    aggregate,
    omniglot_methods,
    run_dir,
    run_generation_benchmark,
    slug,
    table_lines,
    training_overrides,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
NAME = "generation_budget"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", required=True, help="feature-space run (metagen features train)")
    parser.add_argument("--budgets", type=float, nargs="+", default=[300, 1500], help="training seconds")
    parser.add_argument("--methods", nargs="+", default=["VAE, Reptile", SET_VAE, SET_VAE_SHOTS, SET_VAE_TUNED])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--max-classes", type=int, default=50, help="test characters (all 659: none)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--downstream-tasks", type=int, default=300)
    parser.add_argument("--runs-dir", default="runs/generation-budget")
    args = parser.parse_args()

    methods = [m for m in omniglot_methods(CONFIGS) if m.name in args.methods or slug(m.name) in args.methods]
    if not methods:
        raise SystemExit(f"no method named {args.methods}; see metagen.reports.generation_benchmark.omniglot_methods")
    features = load_feature_space(args.features, "cpu")
    rows_by_k: dict[int, list[dict]] = {k: [] for k in args.shots}
    trained = [m for m in methods if m.run_of is None]
    for budget in args.budgets:
        out = Path(args.runs_dir) / f"{budget:g}s"
        jobs = [
            (m.recipe, training_overrides(m, args.seed, budget, "cpu"), run_dir(m, args.seed, out)) for m in trained
        ]
        train_in_parallel(jobs)
        results = run_generation_benchmark(
            methods, features, "omniglot-fewshot", args.shots, [args.seed], budget, out,
            RESULTS / NAME / f"{budget:g}s", args.max_classes, "cpu", args.bootstrap, args.downstream_tasks,
        )  # fmt: skip
        for k in args.shots:
            for row in aggregate(results, k):
                rows_by_k[k].append({**row, "method": f"{row['method']}, {budget:g} s", "budget_s": budget})

    machine = machine_info()
    lines = [
        "# Few-shot generation against training time (Omniglot protocol)",
        "",
        f"Methods {', '.join(m.name for m in methods)}; each budget's {len(trained)} training runs ran at the same "
        f"time, one process and one thread each ({machine['cpu']}, {machine['cores']} cores), seed {args.seed}; "
        f"scored on the first {args.max_classes} unseen characters of images_evaluation as in "
        "fewshot_generation.md (whose runs had both cores each, so its steps per second are higher). Cells: "
        "value ± the 95% bootstrap half-width over characters (KID: ± its std over subsets; downstream gain: "
        "± its 95% half-width over tasks); the columns mean what they mean in fewshot_generation.md.",
    ]
    for k in args.shots:
        lines += ["", f"## K = {k}", "", *table_lines(rows_by_k[k])]
    lines += ["", "Sample grids (largest K; one test character per row: the shots, then generated images):", ""]
    lines += [f"- {m.name}, {budget:g} s: ![]({NAME}/{budget:g}s/{slug(m.name)}.png)" for budget in args.budgets
              for m in methods]  # fmt: skip
    lines += ["", f"Command: `python benchmarks/generation_budget.py {shlex.join(sys.argv[1:])}`"]
    payload = {"machine": machine, "command": sys.argv[1:], "budgets_s": args.budgets, "seed": args.seed,
               "tables": {f"K={k}": rows_by_k[k] for k in args.shots}}  # fmt: skip
    write_results(NAME, lines, payload)


if __name__ == "__main__":
    main()
