"""The restoration benchmark of the restoration issue: every method on every condition in one run.

A condition is a test set and a degradation, matched (the meta-learned model trained on that kind)
or mismatched (never trained on). Gaussian noise follows the KAIR protocol (``numpy.random.seed(0)``
per image, so the published DnCNN numbers reproduce); other degradations draw from a generator
seeded by (seed, image index). Super-resolution is run and scored on the Y channel (BT.601) with
the border cropped by the scale; colour sets under noise are restored channel by channel by the
grey models.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from metagen.data.image_sets import load_image_set
from metagen.eval.image_quality import psnr, rgb_to_y, sr_scores, ssim
from metagen.eval.restoration import kair_gaussian_noise
from metagen.grid import to_uint8
from metagen.tasks.degradations import Degraded, Downscale, GaussianNoise, crop_to_multiple, parse_degradation
from metagen.tasks.fill import fill_unknown

Method = Callable[[np.ndarray, np.ndarray | None], np.ndarray | None]


@dataclass(frozen=True)
class Condition:
    set_name: str
    degradation: str
    matched: bool


MATCHED = [
    *(Condition(s, f"gaussian:sigma={g}", True) for s in ("Set12", "BSD68") for g in (15, 25, 50)),
    Condition("CBSD68", "gaussian:sigma=25", True),
]
MISMATCHED = [
    *(
        Condition(s, d, False)
        for s in ("Set12", "BSD68")
        for d in (
            "poisson:peak=30",
            "speckle:std=0.3",
            "gaussian:sigma=60",
            "gaussian:sigma=75",
            "missing:fraction=0.5",
            "holes:count=4,size=0.15",
        )
    ),  # fmt: skip
    *(Condition(s, f"sr:scale={k}", False) for s in ("Set5", "Set14") for k in (2, 4)),
]


def per_channel(method: Method) -> Method:
    """Run a grey restorer on each channel of a colour image."""

    def run(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
        if x.ndim == 2:
            return method(x, known)
        outs = [method(np.ascontiguousarray(x[..., c]), known) for c in range(x.shape[2])]
        return None if any(o is None for o in outs) else np.stack(outs, axis=-1)  # type: ignore[misc]

    return run


def degrade(condition: Condition, clean: np.ndarray, index: int, seed: int) -> tuple[np.ndarray, Degraded]:
    """(the clean reference, the degraded input) for one image of the condition."""
    degradation = parse_degradation(condition.degradation)
    if isinstance(degradation, Downscale):
        y = rgb_to_y(clean) / 255.0 if clean.ndim == 3 else clean.astype(np.float64) / 255.0
        reference = crop_to_multiple(y.astype(np.float32), degradation.scale)
        return to_uint8(reference), degradation.apply(reference, np.random.default_rng([seed, index]))
    if isinstance(degradation, GaussianNoise) and not degradation.sigma_max:
        return clean, Degraded(kair_gaussian_noise(clean, degradation.sigma, seed))
    return clean, degradation.apply(clean, np.random.default_rng([seed, index]))


def score(output: np.ndarray, reference: np.ndarray, condition: Condition) -> tuple[float, float]:
    out = to_uint8(output)
    degradation = parse_degradation(condition.degradation)
    if isinstance(degradation, Downscale):
        return sr_scores(out, reference, degradation.scale)
    return psnr(out, reference), ssim(out, reference)


def run_condition(
    condition: Condition,
    methods: dict[str, Method],
    root: str | Path | None,
    max_images: int | None,
    seed: int = 0,
    first_outputs: dict[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Every method on the condition's images: mean PSNR, SSIM and seconds per image per method
    (methods that do not apply, returning None, are left out). ``first_outputs``, when given, is
    filled with the first image's input, each method's output and the clean reference (uint8)."""
    images = load_image_set(condition.set_name, root)[:max_images]
    totals: dict[str, list[tuple[float, float, float]]] = {}
    for index, item in enumerate(images):
        reference, degraded = degrade(condition, item.pixels, index, seed)
        for name, method in methods.items():
            t0 = time.perf_counter()
            out = method(degraded.image, degraded.known)
            seconds = time.perf_counter() - t0
            if out is not None:
                totals.setdefault(name, []).append((*score(out, reference, condition), seconds))
                if first_outputs is not None and index == 0:
                    first_outputs[name] = to_uint8(out)
        if first_outputs is not None and index == 0:
            first_outputs["input"], first_outputs["clean"] = to_uint8(degraded.image), reference
    return [
        {
            "set": condition.set_name,
            "degradation": condition.degradation,
            "matched": condition.matched,
            "method": name,
            "images": len(values),
            "psnr": float(np.mean([v[0] for v in values])),
            "ssim": float(np.mean([v[1] for v in values])),
            "seconds_per_image": float(np.mean([v[2] for v in values])),
        }
        for name, values in totals.items()
    ]


def input_fill(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
    """The fill the networks receive as their input on inpainting conditions (a spline in tension,
    ``metagen.tasks.fill``), as a peer: what the networks add on top of it."""
    if known is None:
        return None
    chw = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)
    out = fill_unknown(torch.from_numpy(np.ascontiguousarray(chw))[None], torch.from_numpy(known)[None, None])[0]
    return out[0].numpy() if x.ndim == 2 else out.numpy().transpose(1, 2, 0)


INPUT = "degraded input (bicubic for SR)"
META_LABEL, PLAIN_LABEL = "metagen meta-learned", "same net, ordinary training"
SR_META_LABEL, SR_PLAIN_LABEL = f"{META_LABEL} on x2 SR", f"{PLAIN_LABEL} on x2 SR"
INPUT_FILL = "spline fill (the networks' input)"
CAPTION_WIDTH = 34  # characters per line of a figure caption
SELF_ENSEMBLE = ", x8 self-ensemble"  # the suffix of the rows restored by geometric self-ensemble
CHOSEN_BY_SURE = "chosen by SURE"  # in the label of rows whose step count SURE chose per image


def sure_label(label: str, steps: int) -> str:
    """The row of run ``label`` adapted up to ``steps`` steps, the step chosen per image by SURE."""
    return f"{label}, up to {steps} steps {CHOSEN_BY_SURE}"


# Gaussian noise from levels trained on to levels above the training range (sigma 0..55)
NOISE_RANGE = [c for c in MATCHED + MISMATCHED if c.set_name in ("Set12", "BSD68") and c.degradation in
               ("gaussian:sigma=25", "gaussian:sigma=50", "gaussian:sigma=60", "gaussian:sigma=75")]  # fmt: skip
CONDITION_GROUPS = {"all": MATCHED + MISMATCHED, "matched": MATCHED, "mismatched": MISMATCHED,
                    "noise-range": NOISE_RANGE}  # fmt: skip
META_STEPS = (0, 1, 5, 10)
PLAIN_STEPS = (0, 10)


def training_summary(run: Path) -> str:
    """How long and how far a run trained, from its run.json, and from what it started."""
    import json

    path = Path(run) / "run.json"
    if not path.is_file():
        return "no run.json"
    record = json.loads(path.read_text())
    summary = f"{record['steps']} steps in {record['training_seconds']:.0f} s, {record.get('processes', 1)} process(es)"
    if record.get("resumed_from"):
        summary += f", its last session resumed at step {record['resumed_from']}"
    source = record.get("initialised_from")
    if not source:
        return summary
    from metagen.nn.restoration import published_spec

    origin = "published weights" if published_spec(source) else training_summary(Path(source))
    return f"{summary}, starting from the weights of `{source}` ({origin})"


def run_method(
    run: str | Path,
    steps: int,
    device: str,
    sr_scale: int | None,
    options: dict[str, Any] | None = None,
    sure_every: int | None = None,
    choices: list[Any] | None = None,
) -> tuple[Method, Any]:
    """A restoration run adapting ``steps`` steps to each image, as a benchmark method, with its
    ``model.family`` options (the self-supervised loss) replaced by ``options``. ``sure_every``: up
    to ``steps`` steps instead, the step chosen per image by SURE among every ``sure_every``-th
    (``metagen.fewshot.restorer.adapt_choosing_step``; noise only), each choice appended to
    ``choices`` when given."""
    from metagen.fewshot.adapt import load_run
    from metagen.fewshot.restorer import adapt_and_restore, adapt_choosing_step

    loaded = load_run(run, device, "restorer", options)
    learner, family = loaded.experiment.learner, loaded.experiment.family

    def restore(x: np.ndarray, known: np.ndarray | None) -> np.ndarray:
        return adapt_and_restore(learner, family, x, known, steps, sr_scale=sr_scale)

    def restore_choosing(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
        if known is not None or sr_scale:
            return None  # SURE needs noise on every pixel
        restored, choice = adapt_choosing_step(learner, family, x, steps, sure_every)
        if choices is not None:
            choices.append(choice)
        return restored

    return per_channel(restore if sure_every is None else restore_choosing), loaded


@dataclass
class BenchmarkResult:
    rows: list[dict[str, Any]]
    figures: dict[str, Path]
    runs: dict[str, dict[str, Any]]
    conditions: list[Condition]
    seconds: float


def run_benchmark(
    meta_run: str | Path,
    plain_run: str | Path | None,
    dncnn: str | Path | None,
    conditions: list[Condition],
    max_images: int | None,
    figure_dir: Path,
    device: str = "cpu",
    seed: int = 0,
    root: str | Path | None = None,
    family: dict[str, Any] | None = None,
    sr_run: str | Path | None = None,
    sr_plain_run: str | Path | None = None,
    extra_runs: Sequence[tuple[str, str | Path, Sequence[int]]] = (),
    figure_prefix: str = "restoration",
    ensemble_steps: Sequence[int] = (),
    sure: tuple[int, int] | None = None,
    peers: bool = True,
) -> BenchmarkResult:
    """Every method on every condition: the meta-learned run at 0/1/5/10 adaptation steps, the
    ordinarily trained run (if given) at 0/10, DnCNN-25 (if its weights are given) and the classical
    peers (scikit-image's, and OpenCV's where it is installed); one comparison figure per test set.
    ``sr_run`` / ``sr_plain_run``: a network meta-learned (and the same trained ordinarily) on x2
    super-resolution, added the same way on the super-resolution conditions only. ``extra_runs``:
    (label, run, adaptation steps) of further networks on every condition, such as a control trained
    differently (a label that starts with ``META_LABEL`` or ``PLAIN_LABEL`` keeps it out of the
    peers the targets compare against). ``ensemble_steps``: the meta-learned runs also adapted this
    many steps and restoring by geometric self-ensemble (``Restorer`` option ``self_ensemble``), in
    rows labelled ``SELF_ENSEMBLE``. ``sure`` (steps, every): the meta-learned run also adapted up
    to that many steps with the step chosen per image by SURE among every ``every``-th (noise
    conditions only; :func:`sure_label` rows, self-ensembled too when ``ensemble_steps`` is set).
    ``peers`` false leaves out DnCNN-25 and the classical restorers (the networks' rows only, as
    when the same peers were scored already). The figures are ``figure_dir/{figure_prefix}_{set}.png``.

    Both runs adapt the way the meta-learned run does: its recipe's ``model.family`` options (the
    self-supervised loss), updated by ``family``; the super-resolution runs adapt by the rescaling
    loss whatever their options."""
    from metagen.eval.restoration import module_restorer
    from metagen.nn.restoration import load_kair_dncnn
    from metagen.reports import opencv_peers
    from metagen.reports.classical import CLASSICAL
    from metagen.train.state import config_of, find_checkpoint

    t0 = time.perf_counter()
    adaptation = {**config_of(find_checkpoint(meta_run)).model.family, **(family or {})}
    dncnn_restore = module_restorer(load_kair_dncnn(dncnn), device) if dncnn and peers else None
    runs: dict[str, dict[str, Any]] = {}
    labelled = [(META_LABEL, meta_run, META_STEPS)]
    if plain_run:
        labelled.append((PLAIN_LABEL, plain_run, PLAIN_STEPS))
    labelled += [(label, run, tuple(steps)) for label, run, steps in extra_runs]
    sr_candidates = [(SR_META_LABEL, sr_run, META_STEPS), (SR_PLAIN_LABEL, sr_plain_run, PLAIN_STEPS)]
    sr_labelled = [(label, run, steps) for label, run, steps in sr_candidates if run]

    def methods_for(condition: Condition) -> dict[str, Method]:
        degradation = parse_degradation(condition.degradation)
        scale = degradation.scale if isinstance(degradation, Downscale) else None
        methods: dict[str, Method] = {INPUT: lambda x, known: x, INPUT_FILL: input_fill}
        for label, run, steps_list in labelled + (sr_labelled if scale else []):
            for steps in steps_list:
                methods[f"{label}, {steps} steps"], loaded = run_method(run, steps, device, scale, adaptation)
            for steps in ensemble_steps if label in (META_LABEL, SR_META_LABEL) else ():
                methods[f"{label}, {steps} steps{SELF_ENSEMBLE}"], _ = run_method(
                    run, steps, device, scale, {**adaptation, "self_ensemble": True}
                )
            if sure and label == META_LABEL and not scale:
                for suffix, options in ("", adaptation), (SELF_ENSEMBLE, {**adaptation, "self_ensemble": True}):
                    if suffix and not ensemble_steps:
                        continue
                    methods[sure_label(label, sure[0]) + suffix], _ = run_method(run, sure[0], device, None, options,
                                                                                 sure[1])  # fmt: skip
            runs[label] = {"run": str(run), "step": loaded.step, "config": loaded.record["config"],
                           "training": training_summary(Path(run)), "adaptation": adaptation}  # fmt: skip
        if dncnn_restore is not None:
            methods["DnCNN-25 (published weights)"] = per_channel(
                lambda x, known: dncnn_restore(x) if known is None else None
            )
        if not peers:
            return methods
        return {**methods, **CLASSICAL, **(opencv_peers.OPENCV if opencv_peers.available() else {})}

    rows: list[dict[str, Any]] = []
    figures: dict[str, Path] = {}
    for condition in conditions:
        outputs: dict[str, np.ndarray] | None = {} if condition.set_name not in figures else None
        rows += run_condition(condition, methods_for(condition), root, max_images, seed, outputs)
        if outputs:
            figures[condition.set_name] = figure_dir / f"{figure_prefix}_{condition.set_name}.png"
            comparison_figure(outputs, f"{condition.set_name}, {condition.degradation}, first image",
                              figures[condition.set_name])  # fmt: skip
    return BenchmarkResult(rows, figures, runs, conditions, time.perf_counter() - t0)


def comparison_figure(outputs: dict[str, np.ndarray], title: str, path: Path, columns: int = 5) -> None:
    """The first image of a set: the input, each method's output (PSNR in the caption), the clean image."""
    from metagen.reports.writer import plt, save_figure

    names = ["input", *[n for n in outputs if n not in ("input", "clean", INPUT)], "clean"]
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.6 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        ax.imshow(outputs[name], cmap="gray", vmin=0, vmax=255)
        label = textwrap.fill(name, CAPTION_WIDTH)  # long labels on two lines, clear of their neighbours
        caption = label if name == "clean" else f"{label}\n{psnr(outputs[name], outputs['clean']):.2f} dB"
        ax.set_title(caption, fontsize=8)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path, dpi=60)  # photographs in many panels: keep the file well under 1 MiB


def _adaptation(runs: dict[str, dict[str, Any]]) -> str:
    """Which self-supervised loss the runs adapted with on fully known noisy images."""
    options = next((info.get("adaptation") for info in runs.values()), None) or {}
    loss = options.get("noise_loss", "blind_spot")
    described = {"blind_spot": "blind-spot masking (Noise2Self)", "renoise": "re-noising (Noisier2Noise)",
                 "sure": "Monte-Carlo SURE (Soltanayev and Chun 2018)"}  # fmt: skip
    level = ""
    if loss in ("renoise", "sure"):
        signal = options.get("noise_model", "white") == "signal"
        level = (" with a noise level that varies with the intensity, fitted to each image (Foi et al. 2008)"
                 if signal else " with one noise level per image")  # fmt: skip
    return f"Adaptation to noise by {described.get(loss, loss)}{level}. "


def _trained_on(runs: dict[str, dict[str, Any]]) -> str:
    """What the runs' recipes trained on, from their stored configs (the super-resolution runs'
    apart: they are matched on x2 and meet x4 as a scale never trained on)."""

    def kinds(labels: list[str]) -> str:
        found = {", ".join(runs[label]["config"].get("data", {}).get("options", {}).get("degradations", []))
                 for label in labels}  # fmt: skip
        return "; ".join(sorted(k for k in found if k))

    general = kinds([label for label in runs if label not in (SR_META_LABEL, SR_PLAIN_LABEL)])
    sr = kinds([label for label in runs if label in (SR_META_LABEL, SR_PLAIN_LABEL)])
    text = f"Trained on: {general}. " if general else ""
    if sr:
        text += (f"The rows 'on x2 SR' are the same network trained on {sr} instead, on the super-resolution "
                 "conditions only: for them x2 is matched and x4 a scale never trained on. ")  # fmt: skip
    return text


def _ensembled(rows: list[dict[str, Any]]) -> str:
    """What the self-ensembled rows are, where there are any."""
    if not any(r["method"].endswith(SELF_ENSEMBLE) for r in rows):
        return ""
    return (f" Rows ending '{SELF_ENSEMBLE[2:]}': the same adaptation, then the adapted network run on the eight "
            "rotations and mirror images of the input and its outputs turned back and averaged (geometric "
            "self-ensemble, Timofte et al. 2016); the peers run once.")  # fmt: skip


TITLE = "Restoration: meta-learned adaptation against an ordinarily trained network, DnCNN-25 and classical peers"


def benchmark_markdown(
    result: BenchmarkResult, max_images: int | None, seed: int, machine: dict[str, Any], title: str = TITLE
) -> list[str]:
    """The tables (one per condition) and figures of a benchmark run."""
    runs = "; ".join(
        f"{label} `{info['run']}` (step {info['step']}, {info['training']})" for label, info in result.runs.items()
    )
    lines = [
        f"# {title}",
        "",
        f"Runs: {runs}; their configs are in the JSON twin. {_trained_on(result.runs)}{_adaptation(result.runs)}"
        f"{'First ' + str(max_images) if max_images else 'All'} images of each set, seed {seed}. PSNR (dB) / SSIM; "
        "super-resolution on the Y channel with the border cropped by the scale. 'matched': a degradation of the "
        "kind the meta-learned model trained on." + _ensembled(result.rows),
        "",
    ]
    for condition in result.conditions:
        these = [r for r in result.rows if r["set"] == condition.set_name and r["degradation"] == condition.degradation]
        lines += [f"## {condition.set_name}, {condition.degradation} ({'matched' if condition.matched else 'mismatched'})",
                  "", "| method | PSNR | SSIM | s / image |", "|---|---|---|---|"]  # fmt: skip
        lines += [
            f"| {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['seconds_per_image']:.2f} |" for r in these
        ]
        lines.append("")
    from metagen.reports.restoration_targets import target_lines

    targets = target_lines(result.rows)
    if targets:
        lines[4:4] = ["## Targets of the restoration issue", "", *targets, ""]
    lines += [*(f"![{name}]({path.name})" for name, path in result.figures.items()), "",
              f"Machine: {machine['cpu']}, {machine['cores']} cores{', ' + machine['gpu'] if 'gpu' in machine else ''}. "
              f"Total {result.seconds:.0f} s."]  # fmt: skip
    return lines
