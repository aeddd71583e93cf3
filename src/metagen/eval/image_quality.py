"""PSNR and SSIM with the conventions of the KAIR and BasicSR restoration toolboxes.

Images are numpy arrays [H, W] or [H, W, C]. Scores are computed in float64 on the values given,
with ``data_range`` the span of the value range (255 for uint8 images, 1 for floats in [0, 1]).
SSIM uses an 11x11 Gaussian window of standard deviation 1.5, K1 = 0.01, K2 = 0.03 and population
(co)variances, averaged over the positions where the window fits entirely inside the image and over
channels (Wang et al. 2004, "Image Quality Assessment: From Error Visibility to Structural
Similarity"). Super-resolution is scored on the Y channel of ITU-R BT.601 (MATLAB's ``rgb2ycbcr``)
with a border of ``scale`` pixels cropped.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

from metagen.errors import InputError

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # an 11x11 window: scikit-image's truncate=3.5 at sigma 1.5, OpenCV's (11, 11)
SSIM_K1, SSIM_K2 = 0.01, 0.03
# MATLAB rgb2ycbcr: Y = 16 + (65.481 R + 128.553 G + 24.966 B) for R, G, B in [0, 1]
Y_WEIGHTS = np.array([65.481, 128.553, 24.966])


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        raise InputError(f"images differ in shape: {x.shape} vs {y.shape}")
    if x.ndim not in (2, 3):
        raise InputError(f"expected an image [H, W] or [H, W, C], got shape {x.shape}")
    return x.astype(np.float64), y.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over the whole image (inf for identical images)."""
    x, y = _pair(a, b)
    mse = np.mean((x - y) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def gaussian_window(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> np.ndarray:
    """The normalised 1-D Gaussian of length 2 * radius + 1; SSIM's 2-D window is its outer product."""
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return taps / taps.sum()


def _filter_valid(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable filtering of a 2-D image, kept only where the window fits inside the image."""
    r = len(window) // 2
    out = correlate1d(correlate1d(img, window, axis=0, mode="constant"), window, axis=1, mode="constant")
    return out[r:-r, r:-r]


def _ssim_channel(x: np.ndarray, y: np.ndarray, data_range: float, window: np.ndarray) -> float:
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = _filter_valid(x, window), _filter_valid(y, window)
    var_x = _filter_valid(x * x, window) - mu_x**2
    var_y = _filter_valid(y * y, window) - mu_y**2
    cov = _filter_valid(x * y, window) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean structural similarity of two images, averaged over channels."""
    x, y = _pair(a, b)
    window = gaussian_window()
    if min(x.shape[:2]) < len(window):
        raise InputError(f"SSIM needs images of at least {len(window)}x{len(window)} pixels, got {x.shape[:2]}")
    if x.ndim == 2:
        return _ssim_channel(x, y, data_range, window)
    return float(np.mean([_ssim_channel(x[..., c], y[..., c], data_range, window) for c in range(x.shape[2])]))


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """The BT.601 luma of an RGB image [H, W, 3] in MATLAB's convention: uint8 in, values in
    [16, 235] rounded to integers out (as KAIR and BasicSR do); floats in [0, 1] in, floats out."""
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"expected an RGB image [H, W, 3], got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return np.round(arr.astype(np.float64) @ Y_WEIGHTS / 255.0 + 16.0)
    return (arr.astype(np.float64) @ Y_WEIGHTS + 16.0) / 255.0


def crop_border(img: np.ndarray, border: int) -> np.ndarray:
    """``img`` without ``border`` pixels on each side."""
    if border < 0 or 2 * border >= min(img.shape[:2]):
        raise InputError(f"cannot crop {border} pixels from an image of {img.shape[:2]}")
    return img[border : img.shape[0] - border, border : img.shape[1] - border] if border else img


def sr_scores(output: np.ndarray, target: np.ndarray, scale: int) -> tuple[float, float]:
    """PSNR and SSIM for super-resolution: on the Y channel (of colour images) with ``scale`` pixels
    of border cropped, uint8 images."""
    out, ref = np.asarray(output), np.asarray(target)
    if out.ndim == 3 and out.shape[2] == 3:
        out, ref = rgb_to_y(out), rgb_to_y(ref)
    out, ref = crop_border(out, scale), crop_border(ref, scale)
    return psnr(out, ref), ssim(out, ref)
