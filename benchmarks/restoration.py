"""Restoration benchmark: meta-learned restorers (adapted with 0, 1, 5 and 10 self-supervised steps),
the same network trained ordinarily (with and without the same adaptation), the published DnCNN-25
and scikit-image's classical restorers, side by side on matched and mismatched degradations.

    python benchmarks/restoration.py --meta-run runs/denoise --plain-run runs/denoise-plain \\
        [--conditions all|matched|mismatched] [--max-images 3] [--device cpu]

Without --meta-run / --plain-run it first trains both from configs/restoration/denoise_unet_fomaml.yaml
for --train-seconds each (the plain run with meta.inner_steps=0: ordinary supervised training).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, machine_info, write_results  # noqa: E402

from metagen.eval.image_quality import psnr  # noqa: E402
from metagen.eval.restoration import module_restorer  # noqa: E402
from metagen.fewshot.adapt import load_run  # noqa: E402
from metagen.fewshot.restorer import adapt_and_restore  # noqa: E402
from metagen.nn.restoration import load_kair_dncnn  # noqa: E402
from metagen.reports.classical import CLASSICAL  # noqa: E402
from metagen.reports.restoration_benchmark import MATCHED, MISMATCHED, per_channel, run_condition  # noqa: E402
from metagen.tasks.degradations import Downscale, parse_degradation  # noqa: E402
from metagen.train.config import load_config  # noqa: E402
from metagen.train.loop import train  # noqa: E402

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "restoration" / "denoise_unet_fomaml.yaml"


def run_method(run: Path, steps: int, device: str, sr_scale: int | None):
    loaded = load_run(run, device, "restorer")
    learner, family = loaded.experiment.learner, loaded.experiment.family

    def restore(x, known):
        return adapt_and_restore(learner, family, x, known, steps, sr_scale=sr_scale)

    return per_channel(restore), loaded


def training_summary(run: Path) -> str:
    """How long and how far a run trained, from its run.json."""
    record = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
    if not record:
        return "no run.json"
    return f"{record['steps']} steps in {record['training_seconds']:.0f} s, {record.get('processes', 1)} process(es)"


def train_runs(out: Path, seconds: float, device: str, overrides: list[str]) -> tuple[Path, Path]:
    common = [f"train.time_budget_s={seconds}", f"train.device={device}", "train.steps=1000000", *overrides]
    for name, extra in (("meta", []), ("plain", ["meta.inner_steps=0"])):
        if not (out / name / "model.json").exists():
            train(load_config(RECIPE, common + extra), out / name, resume=True, show_progress=False)
    return out / "meta", out / "plain"


def figure(outputs: dict[str, np.ndarray], title: str, path: Path, columns: int = 5) -> None:
    """The first image of a set: the input, each method's output (PSNR in the caption), the clean image."""
    names = ["input", *[n for n in outputs if n not in ("input", "clean", "degraded input (bicubic for SR)")], "clean"]
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        ax.imshow(outputs[name], cmap="gray", vmin=0, vmax=255)
        caption = name if name == "clean" else f"{name}\n{psnr(outputs[name], outputs['clean']):.2f} dB"
        ax.set_title(caption, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta-run")
    parser.add_argument("--plain-run")
    parser.add_argument("--train-seconds", type=float, default=600)
    parser.add_argument("--override", nargs="*", default=[], help="recipe overrides for both trained runs (key=value)")
    parser.add_argument("--runs-dir", default="runs/restoration-benchmark")
    parser.add_argument("--conditions", choices=("all", "matched", "mismatched"), default="all")
    parser.add_argument("--max-images", type=int, default=3)
    parser.add_argument(
        "--dncnn",
        default=os.path.join(os.environ.get("METAGEN_DATA", "../shared/data"), "pretrained", "dncnn_25_kair.pth"),
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t_start = time.perf_counter()
    if args.meta_run and args.plain_run:
        meta_run, plain_run = Path(args.meta_run), Path(args.plain_run)
    else:
        meta_run, plain_run = train_runs(Path(args.runs_dir), args.train_seconds, args.device, args.override)
    runs_info: dict[str, dict] = {}
    dncnn = module_restorer(load_kair_dncnn(args.dncnn), args.device)

    def methods_for(condition) -> dict:
        degradation = parse_degradation(condition.degradation)
        scale = degradation.scale if isinstance(degradation, Downscale) else None
        methods = {"degraded input (bicubic for SR)": lambda x, known: x}
        for label, run, steps_list in (
            ("metagen meta-learned", meta_run, (0, 1, 5, 10)),
            ("same net, ordinary training", plain_run, (0, 10)),
        ):
            for steps in steps_list:
                methods[f"{label}, {steps} steps"], loaded = run_method(run, steps, args.device, scale)
            runs_info[label] = {"run": str(run), "step": loaded.step, "config": loaded.record["config"],
                                "training": training_summary(run)}  # fmt: skip
        methods["DnCNN-25 (published weights)"] = per_channel(lambda x, known: dncnn(x) if known is None else None)
        return {**methods, **CLASSICAL}

    conditions = {"all": MATCHED + MISMATCHED, "matched": MATCHED, "mismatched": MISMATCHED}[args.conditions]
    rows, figures = [], {}
    for condition in conditions:
        outputs = {} if condition.set_name not in figures else None
        rows += run_condition(condition, methods_for(condition), None, args.max_images, args.seed, outputs)
        if outputs:
            figures[condition.set_name] = f"restoration_{condition.set_name}.png"
            figure(
                outputs,
                f"{condition.set_name}, {condition.degradation}, first image",
                RESULTS / figures[condition.set_name],
            )
        print(f"done: {condition}", flush=True)
    machine = machine_info()
    lines = [
        "# Restoration: meta-learned adaptation against an ordinarily trained network, DnCNN-25 and classical peers",
        "",
        f"Runs: meta-learned `{meta_run}` (step {runs_info['metagen meta-learned']['step']}), ordinary `{plain_run}` "
        f"(step {runs_info['same net, ordinary training']['step']}), both from `{RECIPE.relative_to(RECIPE.parents[2])}` "
        f"(their configs are in the JSON twin). "
        f"First {args.max_images} images of each set, seed {args.seed}. PSNR (dB) / SSIM; super-resolution on the Y channel "
        "with the border cropped by the scale. 'matched': the degradation the meta-learned model trained on "
        "(blind Gaussian, sigma 0..55).",
        "",
    ]
    for condition in conditions:
        these = [r for r in rows if r["set"] == condition.set_name and r["degradation"] == condition.degradation]
        lines += [f"## {condition.set_name}, {condition.degradation} ({'matched' if condition.matched else 'mismatched'})", "",
                  "| method | PSNR | SSIM | s / image |", "|---|---|---|---|"]  # fmt: skip
        lines += [
            f"| {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['seconds_per_image']:.2f} |" for r in these
        ]
        lines.append("")
    lines += [*(f"![{name}]({path})" for name, path in figures.items()), "",
              f"Machine: {machine['cpu']}, {machine['cores']} cores{', ' + machine['gpu'] if 'gpu' in machine else ''}; "
              f"device {args.device}. Total {time.perf_counter() - t_start:.0f} s.", "",
              f"Command: `python benchmarks/restoration.py {shlex.join(sys.argv[1:])}` (see its --help; without "
              "--meta-run/--plain-run it trains both runs first).",
              "Training of the two runs: " + "; ".join(f"{label}: {info['training']}" for label, info in runs_info.items())
              + "."]  # fmt: skip
    write_results("restoration", lines, {"rows": rows, "runs": runs_info, "max_images": args.max_images,
                                         "seed": args.seed, "machine": machine, "device": args.device,
                                         "command": sys.argv[1:]})  # fmt: skip


if __name__ == "__main__":
    main()
