"""Scoring restorers on image sets with the KAIR / BasicSR protocol (DESIGN.md, "Restoration").

A restorer is any function from a degraded image (float32 [H, W] or [H, W, C], values nominally
in [0, 1], noise not clipped) to a restored image of the same shape. Its output is clipped to
[0, 1] and rounded to uint8 before PSNR and SSIM are taken against the clean uint8 image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from metagen.data.image_sets import NamedImage
from metagen.errors import InputError
from metagen.eval.image_quality import psnr, ssim
from metagen.grid import to_uint8

Restorer = Callable[[np.ndarray], np.ndarray]


def kair_gaussian_noise(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """The noisy input of the KAIR denoising test: the clean uint8 image as float32 in [0, 1] plus
    Gaussian noise of std ``sigma``/255 drawn after ``numpy.random.seed(seed)``, not clipped."""
    if clean.dtype != np.uint8:
        raise InputError(f"expected a uint8 clean image, got {clean.dtype}")
    image = clean.astype(np.float32) / 255.0
    np.random.seed(seed)
    image += np.random.normal(0.0, sigma / 255.0, image.shape)
    return image


def module_restorer(model: nn.Module, device: str | torch.device = "cpu") -> Restorer:
    """A restorer from a network mapping [1, C, H, W] to [1, C, H, W]. Runs channels-last, which
    makes PyTorch's CPU convolutions markedly faster on whole images."""
    model = model.to(device, memory_format=torch.channels_last).eval()

    def restore(image: np.ndarray) -> np.ndarray:
        chw = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
        x = torch.tensor(np.ascontiguousarray(chw, dtype=np.float32))[None].to(
            device, memory_format=torch.channels_last
        )
        with torch.inference_mode():
            out = model(x)[0].cpu().numpy()
        return out[0] if image.ndim == 2 else out.transpose(1, 2, 0)

    return restore


@dataclass
class SetScores:
    """Per-image and mean PSNR (dB) and SSIM of one restorer on one set, and its seconds per image."""

    set_name: str
    names: list[str] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def mean_psnr(self) -> float:
        return float(np.mean(self.psnr))

    @property
    def mean_ssim(self) -> float:
        return float(np.mean(self.ssim))

    @property
    def seconds_per_image(self) -> float:
        return float(np.mean(self.seconds))

    def summary(self) -> dict[str, float | int | str]:
        return {
            "set": self.set_name,
            "images": len(self.names),
            "psnr": self.mean_psnr,
            "ssim": self.mean_ssim,
            "seconds_per_image": self.seconds_per_image,
        }


def score_denoiser(
    restorer: Restorer, images: Sequence[NamedImage], sigma: float, set_name: str, seed: int = 0
) -> SetScores:
    """PSNR over the whole image and SSIM of ``restorer`` on every image with Gaussian noise of
    level ``sigma`` (on the 0..255 scale), seeded per image as KAIR does."""
    if not images:
        raise InputError(f"{set_name}: no images to score")
    scores = SetScores(set_name)
    for item in images:
        noisy = kair_gaussian_noise(item.pixels, sigma, seed)
        t0 = time.perf_counter()
        restored = restorer(noisy)
        scores.seconds.append(time.perf_counter() - t0)
        if restored.shape != item.pixels.shape:
            raise InputError(f"restorer returned shape {restored.shape} for an image of {item.pixels.shape}")
        out = to_uint8(restored)
        scores.names.append(item.name)
        scores.psnr.append(psnr(out, item.pixels))
        scores.ssim.append(ssim(out, item.pixels))
    return scores
