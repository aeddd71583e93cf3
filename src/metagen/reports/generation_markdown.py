"""The markdown and figures of a few-shot generation report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metagen.grid import save_grid
from metagen.reports.generation import GenerationReport
from metagen.reports.writer import interval_bars, save_figure, write_report

BAR_METRICS = ("class_fidelity", "memorisation_ratio", "precision", "recall", "density", "coverage")


def _cell(metric: dict[str, Any], digits: int = 3) -> str:
    text = f"{metric['value']:.{digits}f}"
    if metric.get("ci95"):
        lo, hi = metric["ci95"]
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    if "std" in metric:
        text += f" ± {metric['std']:.{digits}f}"
    return text


def metrics_table(rows: dict[str, dict[str, Any]], unit: str) -> list[str]:
    """One row per generator (the run, the baselines), one column per metric."""
    head = (
        f"| images | FID | KID | precision | recall | density | coverage | {unit} fidelity | memorisation | "
        "diversity | downstream gain |"
    )
    lines = [head, "|" + "---|" * 11]
    for name, m in rows.items():
        d = m["downstream"]
        lines.append(
            f"| {name} | {_cell(m['fid'], 2)} | {_cell(m['kid'], 4)} | {m['precision']['value']:.3f} | "
            f"{m['recall']['value']:.3f} | {m['density']['value']:.3f} | {m['coverage']['value']:.3f} | "
            f"{_cell(m['class_fidelity'])} | {_cell(m['memorisation_ratio'])} | {_cell(m['diversity'])} | "
            f"{100 * d['gain']:+.2f} ± {100 * d['gain_interval95']:.2f} pts |"
        )
    return lines


def temperature_choice_line(choice: dict[str, Any], units: str) -> str:
    """What ``--choose-temperature`` chose, on which classes and by which rule."""
    candidates = ", ".join(f"{c['temperature']:g}" for c in choice["candidates"])
    missed = "" if choice["reaches_floor"] else f"; none reached {choice['floor']:g}, so the least copying one"
    return (f"Sampling temperature {choice['temperature']:g}, chosen among {candidates} on "
            f"{choice['validation_classes']} validation {units} (never the test ones): the most faithful with a "
            f"memorisation ratio >= {choice['floor']:g}{missed}.")  # fmt: skip


def write_generation_report(report: GenerationReport, out_dir: str | Path) -> Path:
    """Write report.json, report.md, metrics.png, samples.png and nearest_shot.png into ``out_dir``."""
    out = Path(out_dir)
    s = report.summary
    rows = {"generated (this run)": s["metrics"], "copy the shots (+ noise)": s["baselines"]["copy_the_shots"]}
    points = {name: [(m[k]["value"], m[k].get("ci95")) for k in BAR_METRICS] for name, m in rows.items()}
    save_figure(interval_bars(BAR_METRICS, points, f"{s['protocol']}, K = {s['shots']}"), out / "metrics.png")
    save_grid(report.sample_rows, out / "samples.png")
    save_grid(report.nearest_pairs, out / "nearest_shot.png")
    m, counts, fs = s["metrics"], s["metrics"]["counts"], s["feature_space"]
    d = m["downstream"]
    lines = [
        f"# {s['protocol']}: {s['algorithm']} run `{s['run']}` (step {s['step']})",
        "",
        f"Data: {s['dataset']}, {s['test_classes']} test {s['units']} (of {s['test_classes_in_split']} in the split), "
        f"K = {s['shots']} shots each drawn with seed {s['seed']}, {s['generated_per_class']} generated per "
        f"{s['unit']} after {s['adapt_steps']} adaptation steps.",
        f"Samples: {counts['generated']} generated vs {counts['reference']} real reference images "
        f"(every FID, KID and k-NN metric below uses these counts; k = {m['precision']['k']}).",
        f"Feature space: `{fs['name']}`, checksum `{fs['checksum']}`.",
        "",
        *metrics_table(rows, s["unit"]),
        "",
        f"Brackets: 95% bootstrap intervals over test {s['units']} (none for FID: resampling with replacement "
        "duplicates images, which biases FID upwards; the benchmarks give its spread over seeds); KID: mean ± std over "
        f"{m['kid']['subsets']} subsets of {m['kid']['subset_size']}. {s['unit'].capitalize()} fidelity: "
        f"nearest-prototype accuracy among all test {s['units']} (chance {m['class_fidelity_chance']:.4f}). "
        "Memorisation: distance to the nearest shot relative to real images' (near 1 healthy, near 0 copying). "
        f"Diversity: mean pairwise feature distance within a {s['unit']} (real reference: "
        f"{m['diversity_reference']:.3f}).",
        f"Downstream: {d['n_way']}-way {d['k_shot']}-shot nearest-prototype accuracy over {d['tasks']} tasks, "
        f"{100 * d['accuracy_shots']:.2f}% with the shots, {100 * d['accuracy_with_generated']:.2f}% with the "
        "generated images added.",
        f"Adapting and generating took {s['adapt_and_generate_seconds_per_class']:.2f} s per {s['unit']}.",
        *([temperature_choice_line(s["temperature_choice"], s["units"])] if "temperature_choice" in s else []),
        *(
            [
                f"Inception Score of the generated images: {_cell(m['inception_score'], 2)} over {m['inception_score']['splits']} splits."
            ]
            if "inception_score" in m
            else []
        ),
        "",
        "![metrics](metrics.png)",
        "",
        f"Samples (one {s['unit']} per row: the shots, then generated images):",
        "",
        "![samples](samples.png)",
        "",
        "Each generated image beside its nearest shot (in the feature space):",
        "",
        "![nearest shot](nearest_shot.png)",
    ]
    return write_report(out, s, lines)
