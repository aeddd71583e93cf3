"""The restoration protocol (DESIGN.md) on a peer model: Gaussian denoising at a noise level on
the chosen test sets, PSNR and SSIM per image, with a figure per set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metagen.data.image_sets import load_image_set
from metagen.errors import InputError
from metagen.eval.image_quality import psnr
from metagen.eval.restoration import Restorer, kair_gaussian_noise, module_restorer, score_denoiser
from metagen.grid import save_grid, to_uint8
from metagen.nn.restoration import PUBLISHED_KINDS, load_kair_dncnn, published_spec
from metagen.reports.writer import write_report

# Published means for the peer models (Zhang et al. 2017, Table 2; sigma 25).
PUBLISHED = {("dncnn25", "Set12", 25): 30.44, ("dncnn25", "BSD68", 25): 29.23}


def load_peer(spec: str, device: str = "cpu") -> tuple[str, Restorer]:
    """``KIND:PATH`` -> (kind, restorer). ``dncnn25:PATH``: the published DnCNN-S for sigma 25."""
    kind, path = published_spec(spec) or ("", "")
    if not path:
        raise InputError(f"--model takes KIND:PATH with KIND one of {', '.join(PUBLISHED_KINDS)}, got {spec!r}")
    return kind, module_restorer(load_kair_dncnn(path), device)


def run_restorer(run: str | Path, steps: int | None, device: str = "cpu") -> tuple[str, Restorer]:
    """A meta-learned restoration run as a restorer that adapts to each image with ``steps``
    self-supervised steps (default: the recipe's ``meta.adapt_steps``) before restoring it."""
    from metagen.fewshot.adapt import load_run
    from metagen.fewshot.restorer import Restorer as RestorerFamily
    from metagen.fewshot.restorer import adapt_and_restore

    loaded = load_run(run, device, RestorerFamily.kind)
    family, learner = loaded.experiment.family, loaded.experiment.learner
    assert isinstance(family, RestorerFamily)
    steps = loaded.experiment.config.meta.adapt_steps if steps is None else steps
    if steps < 0:
        raise InputError(f"--steps must be 0 or more, got {steps}")
    label = f"run {run} (step {loaded.step}), {steps} adaptation steps"

    def restore(image: np.ndarray) -> np.ndarray:
        have = 1 if image.ndim == 2 else image.shape[2]
        if have != loaded.channels:
            raise InputError(f"the run restores {loaded.channels}-channel images; this set has {have}")
        return adapt_and_restore(learner, family, image, None, steps)

    return label, restore


def evaluate_restoration(
    model: str | None,
    sets: list[str],
    sigma: float,
    root: str | Path | None = None,
    device: str = "cpu",
    run: str | Path | None = None,
    steps: int | None = None,
) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    """Score the peer ``model`` (``KIND:PATH``) or the meta-learned ``run`` on ``sets``; returns the
    summary and, per set, the first image's clean, noisy and restored versions for the figure."""
    if (model is None) == (run is None):
        raise InputError("the restoration protocol takes a peer model (--model KIND:PATH) or a run (--run DIR)")
    kind, restorer = load_peer(model, device) if model else run_restorer(run, steps, device)  # type: ignore[arg-type]
    results, figures = [], {}
    for name in sets:
        images = load_image_set(name, root)
        if model and {i.pixels.ndim for i in images} != {2}:
            raise InputError(f"{kind} restores grey images; {name} has colour images")
        scores = score_denoiser(restorer, images, sigma, name)
        entry = {**scores.summary(), "per_image": dict(zip(scores.names, scores.psnr))}
        entry["published_psnr"] = PUBLISHED.get((kind, name, int(sigma)))
        results.append(entry)
        clean = images[0].pixels
        noisy = kair_gaussian_noise(clean, sigma)
        figures[name] = [clean, to_uint8(noisy), to_uint8(restorer(noisy))]
    summary = {
        "protocol": "restoration",
        "task": f"Gaussian denoising, sigma {sigma:g} (noise seeded with numpy.random.seed(0) per image, not clipped)",
        "model": model or kind,
        "sigma": sigma,
        "results": results,
    }
    return summary, figures


def write_restoration_report(summary: dict[str, Any], figures: dict[str, list[np.ndarray]], out_dir: str | Path):
    out = Path(out_dir)
    lines = [
        f"# restoration: {summary['model']}",
        "",
        f"{summary['task']}; output clipped and rounded to uint8; PSNR over the whole image; SSIM with an "
        "11x11 Gaussian window (std 1.5).",
        "",
        "| set | images | PSNR (dB) | published PSNR | SSIM | seconds per image |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary["results"]:
        published = f"{r['published_psnr']:.2f}" if r["published_psnr"] is not None else "–"
        lines.append(
            f"| {r['set']} | {r['images']} | {r['psnr']:.2f} | {published} | {r['ssim']:.4f} | {r['seconds_per_image']:.2f} |"
        )
    for name, (clean, noisy, restored) in figures.items():
        save_grid([np.stack([x[None] for x in (noisy, restored, clean)])], out / f"{name}.png", scale=1)
        lines += [
            "",
            f"{name}, first image: noisy ({psnr(noisy, clean):.2f} dB), restored ({psnr(restored, clean):.2f} dB), clean.",
            "",
            f"![{name}]({name}.png)",
        ]
    return write_report(out, summary, lines)
