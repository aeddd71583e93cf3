"""The restoration protocol (DESIGN.md) on a peer model: Gaussian denoising at a noise level on
the chosen test sets, PSNR and SSIM per image, with a figure per set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metagen.data.image_sets import load_image_set
from metagen.errors import InputError
from metagen.eval.image_quality import psnr
from metagen.eval.restoration import Restorer, kair_gaussian_noise, module_restorer, score_denoiser, to_uint8
from metagen.grid import save_grid
from metagen.nn.restoration import load_kair_dncnn
from metagen.reports.writer import write_report

# Published means for the peer models (Zhang et al. 2017, Table 2; sigma 25).
PUBLISHED = {("dncnn25", "Set12", 25): 30.44, ("dncnn25", "BSD68", 25): 29.23}
MODEL_KINDS = ("dncnn25",)


def load_peer(spec: str, device: str = "cpu") -> tuple[str, Restorer]:
    """``KIND:PATH`` -> (kind, restorer). ``dncnn25:PATH``: the published DnCNN-S for sigma 25."""
    kind, _, path = spec.partition(":")
    if kind not in MODEL_KINDS or not path:
        raise InputError(f"--model takes KIND:PATH with KIND one of {', '.join(MODEL_KINDS)}, got {spec!r}")
    return kind, module_restorer(load_kair_dncnn(path), device)


def evaluate_restoration(
    model: str, sets: list[str], sigma: float, root: str | Path | None = None, device: str = "cpu"
) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    """Score the peer ``model`` on ``sets``; returns the summary and, per set, the first image's
    clean, noisy and restored versions for the figure."""
    kind, restorer = load_peer(model, device)
    results, figures = [], {}
    for name in sets:
        images = load_image_set(name, root)
        channels = {i.pixels.ndim for i in images}
        if channels != {2}:
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
        "model": model,
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
