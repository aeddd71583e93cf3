"""Few-shot generation benchmark: meta-learned VAEs (Reptile, MAML, Meta-SGD, first-order MAML)
and GANs (FIGR, DAWSON) against pretrain-then-fine-tune, scratch training and copy-the-shots, on
the protocols of DESIGN.md: Omniglot (unseen characters of images_evaluation) and faces (unseen
identities of CelebA or AT&T), at each K and seed, every method trained under the same wall-clock
budget and scored in the same feature space.

    python benchmarks/fewshot_generation.py --features runs/features-omniglot \\
        [--dataset omniglot] [--budget 240] [--seeds 0 1 2] [--shots 1 5] [--max-classes 100] [--methods ...]
        [--keep-rows]

The feature space is a prototypical network trained on the training classes only
(`metagen features train configs/features/omniglot_protonet.yaml`, or celeba_protonet.yaml /
att_protonet.yaml for faces). Omniglot writes results/fewshot_generation.md, faces
results/fewshot_generation_<dataset>.md. Runs are kept in --runs-dir and reused when the script is
run again. With --methods and --keep-rows, only the named methods are run again and the other
methods' rows are read back from the existing results JSON, which must come from the same protocol
(data set, budget, seeds, K, test classes, bootstrap, downstream tasks, feature space) on the same
kind of machine; the table then lists the rows by the run that made them. --results-name NAME
writes results/NAME.md and .json (and NAME/ for the sample grids) instead: a table of its own, for
some methods compared side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from _common import RESULTS, machine_info, write_results

from metagen.eval.features import load_feature_space
from metagen.reports.generation_benchmark import (
    aggregate,
    face_methods,
    faces_target_check,
    omniglot_methods,
    run_generation_benchmark,
    slug,
    table_lines,
    target_check,
    temperature_choice_lines,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# data set -> protocol, results name, what the test classes are
DATASETS = {
    "omniglot": ("omniglot-fewshot", "fewshot_generation", "unseen characters of images_evaluation"),
    "celeba": ("faces-fewshot", "fewshot_generation_celeba", "unseen CelebA identities (committed split)"),
    "att": ("faces-fewshot", "fewshot_generation_att", "unseen AT&T identities (committed split)"),
}


def build_parser() -> argparse.ArgumentParser:
    """The command line, also used to read back the command of a kept table (--keep-rows)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", required=True, help="feature-space run (metagen features train)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="omniglot")
    parser.add_argument("--budget", type=float, default=240, help="training seconds per method and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--max-classes", type=int, default=None, help="test characters (default: all 659)")
    parser.add_argument("--methods", nargs="*", help="method names (default: all)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--downstream-tasks", type=int, default=600)
    parser.add_argument("--runs-dir", default="runs/fewshot-generation-benchmark")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--results-name", help="write results/NAME.md and .json (default: the data set's table)")
    parser.add_argument("--keep-rows", action="store_true",
                        help="keep the rows of methods not in --methods from the existing results JSON")  # fmt: skip
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.keep_rows and not args.methods:
        parser.error("--keep-rows needs --methods: the methods to run again")

    protocol, name, what = DATASETS[args.dataset]
    name = args.results_name or name
    all_methods = omniglot_methods(CONFIGS) if args.dataset == "omniglot" else face_methods(CONFIGS, args.dataset)
    methods = all_methods
    if args.methods:
        methods = [m for m in methods if m.name in args.methods or slug(m.name) in args.methods]
    features = load_feature_space(args.features, args.device)
    kept = kept_payload(name, args, parser, features.checksum, machine_info()) if args.keep_rows else None
    results = run_generation_benchmark(
        methods, features, protocol, args.shots, args.seeds, args.budget, Path(args.runs_dir) / args.dataset,
        RESULTS / name, args.max_classes, args.device, args.bootstrap, args.downstream_tasks,
    )  # fmt: skip
    machine = machine_info()
    first = results[0].by_shots[args.shots[0]]
    lines = [
        f"# Few-shot generation: {protocol} protocol on {args.dataset}",
        "",
        f"Test classes: {what} ({first['test_classes']} of {first['test_classes_in_split']}), "
        f"{first['generated_per_class']} images generated per class, seeds {args.seeds}; every "
        f"method trained for {args.budget:.0f} s (wall clock, one method at a time on this machine) per seed "
        "(the published methods train for hours to days: these are short-budget numbers). "
        f"Feature space: {first['feature_space']['name']} "
        f"(sha256 {first['feature_space']['checksum'][:16]}...), trained on training classes only.",
        "",
        "Cells are the mean over seeds ± the 95% Student-t half-width over seeds (one seed: ± the 95% bootstrap half-"
        "width over test classes; KID: ± its std over subsets, in the feature space's units; downstream gain: ± its "
        "95% half-width over tasks). FID and KID: lower is better; the rest: higher is better. Memorisation is the "
        "generated images' mean distance to the nearest shot over the real images' (1 = as far as new real images; "
        "copies give about 0). Class fidelity: the share of generated images nearest their own class's prototype "
        "among the test classes shown. NLL bound: an upper bound on -log p(image | shots) in nats per image, for up "
        "to 10 real images per class that are not shots (importance-weighted, 16 samples; lower is better; '–': a "
        "model with no likelihood). Glyphs use a Bernoulli likelihood; photos a Gaussian density with a fixed std of "
        "0.1 on the [0, 1] scale, which can be negative. The VAEs' bound is under their N(0, I) prior, while their "
        "sampler draws latents near the shots'; the set VAE's is under its prior p(z | c), which its 'shot latents' "
        "rows do not sample from.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores.",
    ]
    payload = {"machine": machine, "command": sys.argv[1:], "budget_s": args.budget, "seeds": args.seeds,
               "max_classes": args.max_classes, "feature_checksum": features.checksum, "tables": {}}  # fmt: skip
    for k in args.shots:
        rows = aggregate(results, k)
        copies = aggregate(results[:1], k, baseline="copy_the_shots")
        for row in rows:
            row["command"] = sys.argv[1:]
        if kept is not None:
            rows = merge_rows(rows, kept["tables"][f"K={k}"], [m.name for m in all_methods], kept["command"])
        check = target_check if args.dataset == "omniglot" else faces_target_check
        lines += ["", f"## K = {k}", "", *table_lines(rows + copies), "", *check(rows)]
        chosen = temperature_choice_lines(results, k, first["units"])
        lines += ["", *chosen] if chosen else []
        payload["tables"][f"K={k}"] = rows + copies
    if kept is not None:
        lines += ["", *provenance_lines(payload["tables"])]
    lines += ["", "Sample grids (first seed, largest K; one test class per row: the shots, then generated images):", ""]
    lines += [f"- {m.name}: ![]({name}/{slug(m.name)}.png)" for m in (all_methods if kept else methods)]
    lines += ["", f"Command: `python benchmarks/fewshot_generation.py {shlex.join(sys.argv[1:])}`"]
    write_results(name, lines, payload)


def kept_payload(
    name: str, args: argparse.Namespace, parser: argparse.ArgumentParser, checksum: str, machine: dict[str, Any]
) -> dict[str, Any]:
    """The existing results JSON whose rows --keep-rows reuses, refused unless the protocol of its
    command (parsed by ``parser``) matches this run's: data set, budget, seeds, K, test classes,
    bootstrap, downstream tasks, (where it recorded it) the feature space, and the machine's CPU and
    cores, which the table's header names for all its rows."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"--keep-rows: no {path} to keep rows from")
    kept = json.loads(path.read_text())
    old_args = parser.parse_args(kept["command"])
    fields = ("dataset", "budget", "seeds", "shots", "max_classes", "bootstrap", "downstream_tasks")
    mismatches = [f for f in fields if getattr(old_args, f) != getattr(args, f)]
    if kept.get("feature_checksum", checksum) != checksum:
        mismatches.append("feature space")
    if any(kept["machine"][key] != machine[key] for key in ("cpu", "cores")):
        mismatches.append("machine")
    if mismatches:
        raise SystemExit(f"--keep-rows: {name}.json differs from this run in: {', '.join(mismatches)}")
    return kept


def merge_rows(
    new: list[dict[str, Any]], old: list[dict[str, Any]], order: list[str], old_command: list[str]
) -> list[dict[str, Any]]:
    """The rerun methods' rows in place of their old ones, the others kept, in the methods' order
    (baseline rows are left out: the caller adds this run's). A kept row keeps the command that
    made it (``old_command`` where it names none)."""
    kept = {r["method"]: {"command": old_command} | r for r in old if not r.get("baseline")}
    rows = kept | {r["method"]: r for r in new}
    return [rows[m] for m in order if m in rows]


def provenance_lines(tables: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Which command produced which rows, for a table assembled with --keep-rows."""
    by_command: dict[str, list[str]] = {}
    for row in (row for rows in tables.values() for row in rows if "command" in row):
        methods = by_command.setdefault(shlex.join(row["command"]), [])
        if row["method"] not in methods:
            methods.append(row["method"])
    lines = ["Rows by the run that made them (same protocol and feature space; sample grids from the same runs):"]
    for command, methods in by_command.items():
        lines.append(f"- {'; '.join(methods)}: `python benchmarks/fewshot_generation.py {command}`")
    return lines


if __name__ == "__main__":
    main()
