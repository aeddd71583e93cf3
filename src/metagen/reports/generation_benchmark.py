"""The few-shot generation benchmark: every method meta-trained (or trained) from its recipe under
the same time budget, then run through the same protocol (``metagen.reports.generation``) at each
K and seed, scored in the same feature space, and tabulated side by side.

A method is a recipe plus overrides. The baselines run through the same code: "pretrain, then
fine-tune" is ``meta.algorithm=pretrain`` (joint training over the training classes, then the
ordinary adaptation to the shots); "scratch" is a run with ``train.steps=0`` (the network's random
initialisation) adapted to the shots with more steps; "copy the shots" is scored inside every
protocol report.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from metagen.eval.features import FeatureSpace
from metagen.grid import save_grid
from metagen.reports.generation import evaluate_generation
from metagen.reports.intervals import seed_interval95
from metagen.reports.temperature_choice import (
    CandidateScore,
    TemperatureChoice,
    choose_temperature,
    score_temperature,
)
from metagen.train.checkpoint import write_json_atomic
from metagen.train.config import load_config
from metagen.train.loop import train


@dataclass(frozen=True)
class Method:
    """``name`` in the tables; ``recipe`` (a YAML path) with ``overrides``; ``adapt_steps`` replaces
    the recipe's at evaluation (None keeps it); ``family`` replaces ``model.family`` options at
    evaluation (another sampler, say); ``temperatures``, where given, are candidate sampling
    temperatures, one of which is chosen per seed and K on the split's validation classes
    (:mod:`metagen.reports.temperature_choice`); ``meta_learned`` marks the methods the targets are about (not
    baselines); ``run_of`` names another method whose trained run this one evaluates differently
    (the same weights with more adaptation steps or another sampler), so it is trained once."""

    name: str
    recipe: str
    overrides: tuple[str, ...] = ()
    adapt_steps: int | None = None
    meta_learned: bool = True
    run_of: str | None = None
    family: tuple[tuple[str, Any], ...] = ()
    temperatures: tuple[float, ...] = ()  # candidates: the sampling temperature is chosen among them on validation


SCRATCH_STEPS = 100
SET_VAE = "Set-VAE (local context), no steps"
SET_VAE_TUNED = "Set-VAE (local context), amortised + 10 steps"
SET_VAE_SHOTS = "Set-VAE (local context), shot latents, no steps"
SET_VAE_WARP = "Set-VAE (warped shots), no steps"
SET_VAE_WARP_FAR = "Set-VAE (warped shots, shifts up to 0.3), no steps"
SET_VAE_WARP_SEEN = "Set-VAE (warped shots, flow sees its shot), no steps"
SET_VAE_WARP_POSTERIOR = "Set-VAE (warped shots, flow and posterior see the shot), no steps"
SET_VAE_WARP_PRIOR = "Set-VAE (warped shots, flow and posterior see the shot, prior fitted), no steps"
SET_VAE_WARP_ALIGNED = "Set-VAE (warped shots, flow and posterior see the shot, blurred alignment), no steps"
SET_VAE_WARP_ALIGNED_FAR = (
    "Set-VAE (warped shots, flow and posterior see the shot, blurred alignment, shifts up to 0.3), no steps"
)
SET_VAE_WARP_ALIGNED_QUERIES = (
    "Set-VAE (warped shots, flow and posterior see the shot, blurred alignment, queries only), no steps"
)
REPTILE_VAE = "VAE, Reptile"
SHOT_LATENTS = (("sampler", "shots"),)  # the set VAE's sampler that draws latents near the shots'
# a set VAE recipe made the warping one of omniglot_set_vae_warp.yaml: one shot per image, deformed
WARPED_SHOTS = ("model.options.warp=true", "model.options.local_levels=0", "model.family.fusion=pick")
FLOW_SEES_SHOT = "model.options.flow_from_shot=true"  # the warp's flow reads the shot it deforms
POSTERIOR_SEES_SHOT = "model.options.posterior_sees_shot=true"  # so does q(z | x, c, shot)
FIT_PRIOR = "model.family.fit_prior=true"  # p(z | c) keeps learning below the free-bits floor
BLURRED_ALIGNMENT = "model.family.alignment_blur=[1, 2]"  # the loss also compares images blurred by 1 and 2 px


def hotter(base: Method, temperature: float) -> Method:
    """``base``'s trained run sampled at another temperature (the latents' std scaled by it): a
    point further along the trade-off between copying the shots and straying from their class."""
    name = base.name.removesuffix(", no steps") + f", temperature {temperature:g}"
    name += ", no steps" if base.name.endswith(", no steps") else ""
    return Method(name, base.recipe, base.overrides, run_of=base.name, family=(("temperature", temperature),))


def validated(base: Method, candidates: tuple[float, ...]) -> Method:
    """``base``'s trained run sampled at the temperature among ``candidates`` that the split's
    validation classes choose (per seed and K): the test classes play no part in the choice."""
    name = base.name.removesuffix(", no steps") + ", temperature chosen on validation"
    name += ", no steps" if base.name.endswith(", no steps") else ""
    return Method(name, base.recipe, base.overrides, run_of=base.name, temperatures=candidates)


# their defaults: the Reptile VAE 0.5, the set VAEs 1
HOTTER = {REPTILE_VAE: (1.0,), SET_VAE_WARP: (2.0, 3.0), SET_VAE_WARP_SEEN: (2.0, 3.0)}
# up to 4: with the grid stopping at 3, no candidate reached a memorisation ratio of 0.9 on CelebA's
# validation identities at K = 1 in four runs of six (fewshot_generation_celeba_validated.md)
TEMPERATURE_GRID = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
# up to 6 for the models trained with blurred alignment: at 4, their validation memorisation at
# K = 1 was still rising and under 0.9 at every seed (fewshot_generation_alignment.md)
WIDE_TEMPERATURE_GRID = (*TEMPERATURE_GRID, 4.5, 5.0, 5.5, 6.0)
# the baseline gets the same choice, so that the set VAEs' chosen temperatures face its best one;
# its grid adds its default, 0.5
VALIDATED = {REPTILE_VAE: (0.5, *TEMPERATURE_GRID),
             **{name: TEMPERATURE_GRID for name in (SET_VAE_WARP, SET_VAE_WARP_SEEN, SET_VAE_WARP_POSTERIOR,
                                                  SET_VAE_WARP_PRIOR)},
             **{name: WIDE_TEMPERATURE_GRID for name in (SET_VAE_WARP_ALIGNED, SET_VAE_WARP_ALIGNED_FAR,
                                                       SET_VAE_WARP_ALIGNED_QUERIES)}}


def with_hotter(methods: list[Method], validation: bool = True) -> list[Method]:
    """``methods`` with each method of ``HOTTER`` followed by its run sampled at those temperatures,
    so that their trade-offs between copying and class fidelity stand side by side, and (where the
    split has ``validation`` classes) each of ``VALIDATED`` by its run at a temperature chosen on them."""

    def variants(base: Method) -> list[Method]:
        hot = [hotter(base, t) for t in HOTTER.get(base.name, ())]
        return hot + ([validated(base, VALIDATED[base.name])] if validation and base.name in VALIDATED else [])

    return [m for base in methods for m in (base, *variants(base))]


def omniglot_methods(configs: Path) -> list[Method]:
    names = ("vae_reptile", "gan_figr", "gan_dawson", "set_vae", "set_vae_warp")
    vae, figr, dawson, set_vae, warp = (str(configs / f"omniglot_{name}.yaml") for name in names)
    return with_hotter([
        Method(REPTILE_VAE, vae),
        Method("VAE, MAML", str(configs / "omniglot_vae_maml.yaml")),
        Method("VAE, Meta-SGD", str(configs / "omniglot_vae_metasgd.yaml")),
        Method("GAN, FIGR (Reptile)", figr),
        Method("GAN, DAWSON (FOMAML)", dawson),
        Method(SET_VAE, set_vae),
        Method(SET_VAE_TUNED, set_vae, adapt_steps=10, run_of=SET_VAE),
        Method(SET_VAE_SHOTS, set_vae, run_of=SET_VAE, family=SHOT_LATENTS),
        Method(SET_VAE_WARP, warp),
        Method(SET_VAE_WARP_FAR, warp, ("model.options.max_shift=0.3",)),  # strays further from its shot
        Method(SET_VAE_WARP_SEEN, warp, (FLOW_SEES_SHOT,)),
        Method(SET_VAE_WARP_POSTERIOR, warp, (FLOW_SEES_SHOT, POSTERIOR_SEES_SHOT)),
        Method(SET_VAE_WARP_PRIOR, warp, (FLOW_SEES_SHOT, POSTERIOR_SEES_SHOT, FIT_PRIOR)),
        Method(SET_VAE_WARP_ALIGNED, warp, (FLOW_SEES_SHOT, POSTERIOR_SEES_SHOT, BLURRED_ALIGNMENT)),
        Method(SET_VAE_WARP_ALIGNED_FAR, warp,
               (FLOW_SEES_SHOT, POSTERIOR_SEES_SHOT, BLURRED_ALIGNMENT, "model.options.max_shift=0.3")),
        # no shot explained from itself, so no identity warps for the prior p(z | c) to learn
        Method(SET_VAE_WARP_ALIGNED_QUERIES, warp,
               (FLOW_SEES_SHOT, POSTERIOR_SEES_SHOT, BLURRED_ALIGNMENT, "model.family.explain_shots=false")),
        Method("Set-GAN (local fusion), no steps", str(configs / "omniglot_set_gan.yaml")),
        Method("cGAN, new-class embedding fit", str(configs / "omniglot_cgan.yaml"), meta_learned=False),
        Method("VAE, pretrain + fine-tune", vae, ("meta.algorithm=pretrain",), meta_learned=False),
        Method("GAN, pretrain + fine-tune", figr, ("meta.algorithm=pretrain",), meta_learned=False),
        Method("VAE, scratch", vae, ("train.steps=0",), SCRATCH_STEPS, meta_learned=False),
        Method("GAN, scratch", figr, ("train.steps=0",), SCRATCH_STEPS, meta_learned=False),
    ])


def face_methods(configs: Path, dataset: str) -> list[Method]:
    """The faces protocol's methods on ``dataset`` ('celeba' or 'att'): each family's recipe with
    its meta-learner, the other meta-learner, and the baselines."""
    vae = str(configs / ("celeba_vae_reptile.yaml" if dataset == "celeba" else "att_faces_vae_fomaml.yaml"))
    gan = str(configs / ("celeba_gan_figr.yaml" if dataset == "celeba" else "att_faces_gan_dawson.yaml"))
    set_vae = str(configs / f"{dataset}_set_vae.yaml")
    return with_hotter([
        Method(REPTILE_VAE, vae, ("meta.algorithm=reptile",)),
        Method("VAE, FOMAML", vae, ("meta.algorithm=fomaml",)),
        Method("GAN, FIGR (Reptile)", gan, ("meta.algorithm=reptile",)),
        Method("GAN, DAWSON (FOMAML)", gan, ("meta.algorithm=fomaml",)),
        Method(SET_VAE, set_vae),
        Method(SET_VAE_TUNED, set_vae, adapt_steps=10, run_of=SET_VAE),
        Method(SET_VAE_SHOTS, set_vae, run_of=SET_VAE, family=SHOT_LATENTS),
        Method(SET_VAE_WARP, set_vae, WARPED_SHOTS),
        Method(SET_VAE_WARP_SEEN, set_vae, (*WARPED_SHOTS, FLOW_SEES_SHOT)),
        Method(SET_VAE_WARP_POSTERIOR, set_vae, (*WARPED_SHOTS, FLOW_SEES_SHOT, POSTERIOR_SEES_SHOT)),
        Method(SET_VAE_WARP_PRIOR, set_vae, (*WARPED_SHOTS, FLOW_SEES_SHOT, POSTERIOR_SEES_SHOT, FIT_PRIOR)),
        Method(SET_VAE_WARP_ALIGNED, set_vae, (*WARPED_SHOTS, FLOW_SEES_SHOT, POSTERIOR_SEES_SHOT, BLURRED_ALIGNMENT)),
        Method(
            "Set-GAN (local fusion), no steps",
            str(configs / "celeba_set_gan.yaml"),
            (f"data.dataset={dataset}",) + (("data.channels=1", "data.options={}") if dataset == "att" else ()),
        ),
        Method("VAE, pretrain + fine-tune", vae, ("meta.algorithm=pretrain",), meta_learned=False),
        Method("VAE, scratch", vae, ("train.steps=0",), SCRATCH_STEPS, meta_learned=False),
    ], validation=dataset != "att")  # the AT&T split has no validation identities


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


@dataclass
class MethodResult:
    method: Method
    seed: int
    train_seconds: float
    steps: int
    by_shots: dict[int, dict[str, Any]] = field(default_factory=dict)  # K -> protocol summary


def run_dir(method: Method, seed: int, out: Path) -> Path:
    """Where the run of ``method`` at ``seed`` lives under ``out`` (shared with its ``run_of``)."""
    return out / f"{slug(method.run_of or method.name)}-seed{seed}"


def training_overrides(method: Method, seed: int, budget_s: float, device: str) -> list[str]:
    """The recipe overrides that train ``method`` at ``seed`` for ``budget_s`` seconds."""
    return [f"train.time_budget_s={budget_s}", "train.steps=1000000", f"train.seed={seed}",
            f"train.device={device}", "train.sample_every=1000000", *method.overrides]  # fmt: skip


def train_method(method: Method, seed: int, budget_s: float, out: Path, device: str) -> tuple[Path, dict[str, Any]]:
    """Train (or resume, or reuse) the run of ``method`` at ``seed`` under ``budget_s`` seconds."""
    run = run_dir(method, seed, out)
    if not (run / "run.json").exists():
        config = load_config(method.recipe, training_overrides(method, seed, budget_s, device))
        train(config, run, resume=True, show_progress=False)
    return run, json.loads((run / "run.json").read_text())


def run_generation_benchmark(
    methods: Sequence[Method],
    features: FeatureSpace,
    protocol: str,
    shots: Sequence[int],
    seeds: Sequence[int],
    budget_s: float,
    out: Path,
    figures: Path,
    max_classes: int | None,
    device: str = "cpu",
    bootstrap: int = 200,
    downstream_tasks: int = 600,
) -> list[MethodResult]:
    """Train every method at every seed, run the protocol at every K, draw a sample grid per method
    (first seed, largest K) into ``figures``; returns the results in method order. Runs and their
    evaluations are kept under ``out`` and reused, so an interrupted benchmark resumes."""
    results = []
    for method in methods:
        for seed in seeds:
            run, record = train_method(method, seed, budget_s, out, device)
            result = MethodResult(method, seed, float(record["training_seconds"]), int(record["steps"]))
            for k in shots:
                family, choice = method.family, None
                if method.temperatures:
                    choice = validated_temperature(method, run, features, protocol, k, seed, max_classes, device)
                    family = (*family, ("temperature", choice.temperature))
                key = (f"{protocol}-k{k}-seed{seed}-classes{max_classes or 'all'}-steps{method.adapt_steps}"
                       f"-boot{bootstrap}-tasks{downstream_tasks}-{features.checksum[:12]}-{EVALUATION_VERSION}"
                       + "".join(f"-{option}{value}" for option, value in family))  # fmt: skip
                chosen = {} if choice is None else {"temperature_choice": choice.to_json()}
                cached = run / "evaluations" / f"{key}.json"
                grid = cached.with_suffix(".png")  # its sample grid, for every row this evaluation serves
                shows_grid = seed == seeds[0] and k == max(shots)
                if cached.exists():  # the same evaluation of the same weights: reuse it
                    result.by_shots[k] = json.loads(cached.read_text()) | chosen
                else:
                    report = evaluate_generation(run, features, protocol, k, seed=seed, steps=method.adapt_steps,
                                                 device=device, bootstrap=bootstrap,
                                                 downstream_tasks=downstream_tasks, max_classes=max_classes,
                                                 family=dict(family))  # fmt: skip
                    result.by_shots[k] = report.summary | chosen
                    if shows_grid:
                        scale = 2 if report.sample_rows[0].shape[-1] < 64 else 1  # keeps a grid under 1 MiB
                        save_grid(report.sample_rows[:6], grid, scale=scale)
                    write_json_atomic(cached, report.summary)
                if shows_grid and grid.exists():
                    figures.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(grid, figures / f"{slug(method.name)}.png")
            results.append(result)
    return results


def validated_temperature(
    method: Method,
    run: Path,
    features: FeatureSpace,
    protocol: str,
    k: int,
    seed: int,
    max_classes: int | None,
    device: str,
) -> TemperatureChoice:
    """The temperature among ``method.temperatures`` chosen on the validation classes of ``run`` at
    K = ``k``, up to ``max_classes`` of them. Each candidate's scores are kept beside the run's
    evaluations and reused, so widening the candidates scores only the new ones."""

    def cached_score(
        run: Path, features: FeatureSpace, protocol: str, k: int, temperature: float, **options: Any
    ) -> tuple[CandidateScore, int]:
        name = (f"val-{protocol}-k{k}-seed{seed}-classes{max_classes or 'all'}-{features.checksum[:12]}"
                f"-{EVALUATION_VERSION}-temperature{temperature:g}")  # fmt: skip
        cached = run / "evaluations" / f"{name}.json"
        if cached.exists():
            data = json.loads(cached.read_text())
            return CandidateScore(**data["score"]), data["classes"]
        score, classes = score_temperature(run, features, protocol, k, temperature, **options)
        write_json_atomic(cached, {"score": asdict(score), "classes": classes})
        return score, classes

    return choose_temperature(run, features, protocol, k, method.temperatures, seed=seed, device=device,
                              max_classes=max_classes, score=cached_score)  # fmt: skip


def temperature_choice_lines(results: list[MethodResult], k: int, unit: str = "classes") -> list[str]:
    """Per method whose temperature was chosen on validation, the choice at each seed with its
    validation scores, for the table's notes at K = ``k``."""
    choices = [(r, r.by_shots[k]["temperature_choice"]) for r in results
               if r.by_shots.get(k, {}).get("temperature_choice") is not None]  # fmt: skip
    if not choices:
        return []
    grids = {", ".join(f"{c['temperature']:g}" for c in choice["candidates"]) for _, choice in choices}
    among = f"among {grids.pop()}" if len(grids) == 1 else "among each method's candidates (listed below)"
    first = choices[0][1]
    lines = [f"Temperatures chosen on {first['validation_classes']} validation {unit} (never the test ones) {among}: "
             f"the highest class fidelity among those with a validation memorisation ratio >= {first['floor']:g}, "
             "else the least copying one."]  # fmt: skip
    for r, choice in choices:
        picked = next(c for c in choice["candidates"] if c["temperature"] == choice["temperature"])
        status = "" if choice["reaches_floor"] else "; no candidate reached the floor"
        every = ", ".join(f"{c['temperature']:g}: {c['memorisation_ratio']:.2f} / {c['class_fidelity']:.2f}"
                          for c in choice["candidates"])  # fmt: skip
        lines.append(f"- {r.method.name}, seed {r.seed}: temperature {choice['temperature']:g} (validation "
                     f"memorisation {picked['memorisation_ratio']:.3f}, class fidelity "
                     f"{picked['class_fidelity']:.3f}{status}; memorisation / fidelity at each: {every})")  # fmt: skip
    return lines


EVALUATION_VERSION = "v2"  # part of a cached evaluation's name: v2 added the likelihood bound
METRICS = (  # key in the protocol summary, column title, higher is better
    ("fid", "FID", False),
    ("kid", "KID", False),
    ("precision", "precision", True),
    ("recall", "recall", True),
    ("class_fidelity", "class fidelity", True),
    ("memorisation_ratio", "memorisation", True),
    ("downstream", "downstream gain (pts)", True),
    ("nll_bound", "NLL bound (nats)", False),  # likelihood models only
)


def metric_value(summary: dict[str, Any], key: str) -> tuple[float | None, float | None]:
    """A metric's value and its 95% half-width (bootstrap or task interval; KID: its std); (None,
    None) for a metric the method does not have (a GAN's likelihood)."""
    if key not in summary:
        return None, None
    m = summary[key]
    if key == "downstream":
        return 100 * m["gain"], 100 * m["gain_interval95"]
    if key == "kid":
        return m["value"], m["std"]
    interval = m.get("ci95")
    half = None if not interval else (interval[1] - interval[0]) / 2
    return float(m["value"]), half


def aggregate(results: list[MethodResult], k: int, baseline: str = "generated") -> list[dict[str, Any]]:
    """One row per method at K=k: each metric's mean over seeds, with the 95% interval over seeds
    (:func:`seed_interval95`) when there are several seeds, else the one seed's interval."""
    rows = []
    names = list(dict.fromkeys(r.method.name for r in results))
    for name in names:
        mine = [r for r in results if r.method.name == name and k in r.by_shots]
        if not mine:
            continue
        summaries = [r.by_shots[k]["metrics"] if baseline == "generated" else r.by_shots[k]["baselines"][baseline]
                     for r in mine]  # fmt: skip
        row: dict[str, Any] = {
            "method": name if baseline == "generated" else baseline.replace("_", " ") + " (baseline)",
            "baseline": baseline != "generated",
            "meta_learned": mine[0].method.meta_learned,
            "seeds": [r.seed for r in mine],
            "train_seconds": float(np.mean([r.train_seconds for r in mine])),
            "steps": float(np.mean([r.steps for r in mine])),
            "adapt_seconds_per_class": float(
                np.mean([r.by_shots[k]["adapt_and_generate_seconds_per_class"] for r in mine])
            ),
            "adapt_steps": mine[0].by_shots[k]["adapt_steps"],
            "test_classes": mine[0].by_shots[k]["test_classes"],
        }
        choices = [r.by_shots[k].get("temperature_choice") for r in mine]
        if all(choices):  # a temperature chosen on validation: the choice at each seed, with every candidate's scores
            row["chosen_temperatures"] = [c["temperature"] for c in choices]
            row["temperature_choices"] = choices
        for key, _, _ in METRICS:
            values = [metric_value(s, key) for s in summaries]
            if any(v is None for v, _ in values):
                row[key] = {"value": None, "spread": None, "per_seed": []}
                continue
            spread = seed_interval95([v for v, _ in values]) if len(values) > 1 else values[0][1]
            row[key] = {"value": float(np.mean([v for v, _ in values])), "spread": spread,
                        "per_seed": [v for v, _ in values]}  # fmt: skip
        rows.append(row)
    return rows


def _cell(entry: dict[str, Any]) -> str:
    value, spread = entry["value"], entry["spread"]
    if value is None:
        return "–"
    text = f"{value:.4g}"
    return text if spread is None or not math.isfinite(spread) else f"{text} ± {spread:.2g}"


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    head = ["method", *(title for _, title, _ in METRICS), "train s (steps)", "adapt s/class (steps)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        best = [_cell(row[key]) for key, _, _ in METRICS]
        timing = (
            ["–", "–"]
            if row.get("baseline")
            else [
                f"{row['train_seconds']:.0f} ({row['steps']:.0f})",
                f"{row['adapt_seconds_per_class']:.2f} ({row['adapt_steps']})",
            ]
        )
        lines.append("| " + " | ".join([row["method"], *best, *timing]) + " |")
    return lines


def target_check(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's Omniglot target at this K, stated against the measured rows: the best
    meta-learned method (by class fidelity) against every other method on FID, KID and class
    fidelity, with memorisation >= 0.9 and a positive downstream gain."""
    meta = [r for r in rows if r["meta_learned"]]
    if not meta:
        return []
    best = max(meta, key=lambda r: r["class_fidelity"]["value"])
    lines = [f"Best meta-learned method by class fidelity: **{best['method']}**."]
    for other in rows:
        if other is best:
            continue
        verdicts = []
        for key, title, higher in METRICS[:2] + METRICS[4:5]:
            a, b = best[key]["value"], other[key]["value"]
            won = a > b if higher else a < b
            verdicts.append(f"{title} {'beats' if won else 'does not beat'} ({a:.3g} vs {b:.3g})")
        lines.append(f"- vs {other['method']}: " + "; ".join(verdicts))
    mem, gain = best["memorisation_ratio"]["value"], best["downstream"]["value"]
    lines.append(f"- memorisation ratio {mem:.3f} ({'meets' if mem >= 0.9 else 'misses'} >= 0.9); "
                 f"downstream gain {gain:+.2f} pts ({'positive' if gain > 0 else 'not positive'})")  # fmt: skip
    return lines


def faces_target_check(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's faces target at this K: identity fidelity well above chance with no copying.
    Chance is one over the test identities shown; 'well above' is taken as at least three times
    chance with the interval's lower end above chance, 'no copying' as a memorisation ratio of at
    least 0.9 (the Omniglot threshold). One line per meta-learned method, then the verdict."""
    meta = [r for r in rows if r["meta_learned"]]
    if not meta:
        return []
    chance = 1.0 / meta[0]["test_classes"]
    lines = [f"Faces target: identity fidelity well above chance ({chance:.3g}: at least {3 * chance:.3g}, "
             "interval above chance) with no copying (memorisation ratio >= 0.9)."]  # fmt: skip
    met = []
    for row in meta:
        fidelity, mem = row["class_fidelity"], row["memorisation_ratio"]["value"]
        low = fidelity["value"] - (fidelity["spread"] or 0.0)
        above = fidelity["value"] >= 3 * chance and low > chance
        if above and mem >= 0.9:
            met.append(row["method"])
        lines.append(f"- {row['method']}: identity fidelity {fidelity['value']:.3g} ({fidelity['value'] / chance:.1f}x chance, "
                     f"interval from {low:.3g}; {'well above' if above else 'not well above'} chance), memorisation "
                     f"{mem:.3f} ({'no copying' if mem >= 0.9 else 'closer to the shots than real images are'})")  # fmt: skip
    verdict = f"met by {', '.join(met)}" if met else "missed by every meta-learned method"
    return [*lines, f"- target {verdict}"]
