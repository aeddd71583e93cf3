"""Omniglot few-shot classification: the standard check that the meta-learning engine is right.

Runs every recipe in configs/omniglot_classification/ (MAML, first-order MAML, Reptile and
Meta-SGD at 5-way 1-shot, 5-way 5-shot and 20-way 1-shot; MAML's 4-block network; 1,200 training
characters plus rotations; 28x28) for a CPU time budget each, then evaluates on 600 seeded tasks
of the 423 held-out characters with a 95% interval. The published figures (Finn et al. 2017;
Nichol et al. 2018; Li et al. 2017) came from the full schedules named in each recipe; the table
puts them side by side and the curves show where each budgeted run stood.

Writes benchmarks/results/omniglot_classification.{md,json} and omniglot_classification_curves.png.
Usage: METAGEN_DATA=../shared/data python benchmarks/omniglot_classification.py [--budget 150] [--only 5way1shot 5way5shot_maml]
       [--set meta.batching=threads] [--name omniglot_classification_long]
(--set overrides every recipe; --name writes NAME.{md,json} and NAME_curves.png instead.)
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from _common import RESULTS, machine_info, write_results

from metagen.evaluate import evaluate_classifier
from metagen.train.config import load_config
from metagen.train.loop import train

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "configs" / "omniglot_classification"
# Published test accuracies (%), from ../shared/data/README.md.
PUBLISHED = {
    ("maml", "5way1shot"): 98.7,
    ("maml", "5way5shot"): 99.9,
    ("maml", "20way1shot"): 95.8,
    ("reptile", "5way1shot"): 97.68,
    ("reptile", "5way5shot"): 99.48,
    ("reptile", "20way1shot"): 89.43,
    ("metasgd", "5way1shot"): 99.53,
    ("metasgd", "5way5shot"): 99.93,
    ("metasgd", "20way1shot"): 95.93,
}
SOURCES = {"maml": "Finn et al. 2017", "fomaml": "-", "reptile": "Nichol et al. 2018", "metasgd": "Li et al. 2017"}


def curve_interval(budget: float) -> int:
    """Meta-steps between the learning curve's points: every 25 for 90 s, as many points for longer budgets."""
    return max(25, int(budget / 90 * 25))


def run_recipe(recipe: Path, budget: float, tasks: int, work: Path, overrides: list[str]) -> dict:
    setting, algorithm = recipe.stem.split("_")
    config = load_config(
        recipe,
        [
            f"train.time_budget_s={budget}",
            f"train.sample_every={curve_interval(budget)}",
            "train.preview_tasks=20",
            "train.checkpoint_every=100000",
            *overrides,
        ],
    )
    result = train(config, work / recipe.stem, show_progress=False)
    report = evaluate_classifier(work / recipe.stem, tasks=tasks, seed=0)
    curve = [
        (line["step"], line["train_tasks_accuracy"])
        for line in map(json.loads, (work / recipe.stem / "metrics.jsonl").read_text().splitlines())
        if "train_tasks_accuracy" in line
    ]
    published = PUBLISHED.get((algorithm, setting))
    acc = 100 * report["accuracy"]
    return {
        "recipe": recipe.name,
        "overrides": overrides,
        "setting": setting,
        "algorithm": algorithm,
        "steps": result.steps,
        "published_steps": config.train.steps,
        "train_cpu_seconds": json.loads((work / recipe.stem / "run.json").read_text())["training_seconds"],
        "accuracy": acc,
        "interval95": 100 * report["interval95"],
        "eval_tasks": tasks,
        "eval_seconds": report["seconds"],
        "published": published,
        "source": SOURCES[algorithm],
        "gap": None if published is None else acc - published,
        "curve_train_tasks_accuracy": curve,
    }


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = sorted({r["setting"] for r in rows})
    fig, axes = plt.subplots(1, len(settings), figsize=(5 * len(settings), 4), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        for r in (r for r in rows if r["setting"] == setting):
            steps, accs = zip(*r["curve_train_tasks_accuracy"]) if r["curve_train_tasks_accuracy"] else ((), ())
            ax.plot(steps, [100 * a for a in accs], marker=".", label=f"{r['algorithm']} (test {r['accuracy']:.1f}%)")
        ax.set_title(f"Omniglot {setting}")
        ax.set_xlabel("meta-steps")
        ax.set_ylabel("accuracy on 20 fixed training-class tasks (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per recipe")
    parser.add_argument("--tasks", type=int, default=600, help="test tasks per recipe")
    parser.add_argument("--only", nargs="+", default=[], help="run only recipes whose name contains one of these")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override in every recipe")
    parser.add_argument("--name", default="omniglot_classification", help="results file name")
    parser.add_argument("--work", default="runs/omniglot-classification",
                        help="run folders; a recipe whose row is saved there already is not trained again")  # fmt: skip
    parser.add_argument("--replot", action="store_true", help="only redraw the curves from the saved JSON")
    args = parser.parse_args()
    curves = RESULTS / f"{args.name}_curves.png"
    if args.replot:
        plot(json.loads((RESULTS / f"{args.name}.json").read_text())["rows"], curves)
        return
    recipes = sorted(p for p in RECIPES.glob("*.yaml") if not args.only or any(o in p.name for o in args.only))
    if not recipes:
        parser.error(f"no recipe in {RECIPES} matches --only {' '.join(args.only)}")
    rows = [finished_row(recipe, args) for recipe in recipes]
    machine = machine_info()
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(rows, curves)
    overrides = f" Overrides: `{' '.join(args.set)}`." if args.set else ""
    lines = [
        "# Omniglot few-shot classification (engine validation)",
        "",
        f"Each recipe trained for a budget of {args.budget:.0f} s of CPU time (seed 0), then tested on "
        f"{args.tasks} seeded tasks of the 423 held-out characters (MAML split, 1,200 training characters + rotations, "
        f"28x28).{overrides} Machine: {machine['cpu']}, {machine['cores']} cores, torch {torch.__version__}.",
        "",
        "| setting | algorithm | meta-steps run / published | train s | test accuracy (%) | 95% interval | published (%) | gap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pub = "-" if r["published"] is None else f"{r['published']:.2f} ({r['source']})"
        gap = "-" if r["gap"] is None else f"{r['gap']:+.2f}"
        lines.append(
            f"| {r['setting']} | {r['algorithm']} | {r['steps']:,} / {r['published_steps']:,} | {r['train_cpu_seconds']:.0f} "
            f"| {r['accuracy']:.2f} | ±{r['interval95']:.2f} | {pub} | {gap} |"
        )
    lines += [
        "",
        "The gaps are budget gaps: each run did a fraction of the published meta-steps (second column). The curves "
        f"(accuracy on 20 fixed tasks of training characters, every {curve_interval(args.budget)} steps) show where each "
        "run stood when its budget ran out."
        + (
            " Reptile runs with a constant outer step of 1.0 where the paper anneals it."
            if any(r["algorithm"] == "reptile" for r in rows)
            else ""
        ),
        "",
        f"![learning curves]({curves.name})",
        "",
        "Reproduce: `METAGEN_DATA=../shared/data python benchmarks/omniglot_classification.py "
        f"--budget {args.budget:.0f}{reproduce_flags(args)}`",
    ]
    write_results(args.name, lines, {"budget_s": args.budget, "overrides": args.set, "machine": machine, "rows": rows})


def finished_row(recipe: Path, args: argparse.Namespace) -> dict:
    """The recipe's result row: read back from the work folder when a run with the same budget,
    overrides and test tasks finished there before, else trained, tested and saved there."""
    work = Path(args.work) / f"{args.name}-{args.budget:g}s"
    saved = work / f"{recipe.stem}.row.json"
    if saved.exists():
        row = json.loads(saved.read_text())
        if row["overrides"] == args.set and row["eval_tasks"] == args.tasks:
            return row
    work.mkdir(parents=True, exist_ok=True)
    if (work / recipe.stem).exists():  # an earlier attempt that did not finish: start it again
        shutil.rmtree(work / recipe.stem)
    row = run_recipe(recipe, args.budget, args.tasks, work, args.set)
    saved.write_text(json.dumps(row))
    print(json.dumps({k: v for k, v in row.items() if not k.startswith("curve")}), flush=True)
    return row


def reproduce_flags(args: argparse.Namespace) -> str:
    """The command-line flags beyond --budget that this table was made with."""
    flags = [f" --only {' '.join(args.only)}"] if args.only else []
    flags += [f" --set {o}" for o in args.set]
    flags += [f" --name {args.name}"] if args.name != "omniglot_classification" else []
    flags += [f" --tasks {args.tasks}"] if args.tasks != 600 else []
    flags += [f" --work {args.work}"] if args.work != "runs/omniglot-classification" else []
    return "".join(flags)


if __name__ == "__main__":
    main()
