"""OpenCV's classical restorers (an optional extra: ``pip install metagen[opencv]``), as peers in
the restoration benchmark where OpenCV is installed: fast non-local means denoising (Buades et al.
2005, OpenCV's implementation) and inpainting by fast marching (Telea 2004) and by Navier-Stokes
(Bertalmio et al. 2001). Same contract as ``metagen.reports.classical``: float input in [0, 1],
[H, W] or [H, W, C] (RGB), the known-pixel mask for inpainting, None where a method does not apply.
OpenCV works on 8-bit images, so inputs are rounded to 8 bits first."""

from __future__ import annotations

import importlib.util
from typing import Callable

import numpy as np
from scipy.signal import convolve2d

OpenCVRestorer = Callable[[np.ndarray, np.ndarray | None], np.ndarray | None]


def available() -> bool:
    return importlib.util.find_spec("cv2") is not None


def noise_sigma(x: np.ndarray) -> float:
    """Noise standard deviation of a grey image (values in [0, 1]), by Immerkaer's estimator
    ("Fast Noise Variance Estimation", 1996): the mean absolute response to a Laplacian-difference
    mask that cancels smooth structure, scaled to a Gaussian's std."""
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    h, w = x.shape
    response = np.abs(convolve2d(x.astype(np.float64), mask, mode="valid")).sum()
    return float(np.sqrt(np.pi / 2) * response / (6 * (w - 2) * (h - 2)))


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.uint8(np.clip(x, 0, 1) * 255 + 0.5)


def fast_nl_means(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
    """``cv2.fastNlMeansDenoising`` (colour: ``...Colored``) with the filter strength h set to the
    estimated noise std on the 0..255 scale, 7x7 patches, a 21x21 search window."""
    if known is not None:
        return None
    import cv2

    if x.ndim == 2:
        h = 255 * noise_sigma(x)
        return cv2.fastNlMeansDenoising(_to_u8(x), None, h, 7, 21).astype(np.float32) / 255.0
    h = 255 * float(np.mean([noise_sigma(x[..., c]) for c in range(x.shape[2])]))
    bgr = cv2.fastNlMeansDenoisingColored(_to_u8(x[..., ::-1]), None, h, h, 7, 21)
    return bgr[..., ::-1].astype(np.float32) / 255.0


def _inpaint(flags_name: str) -> OpenCVRestorer:
    def run(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
        if known is None:
            return None
        import cv2

        image = _to_u8(x if x.ndim == 2 else x[..., ::-1])
        out = cv2.inpaint(image, np.uint8(~known) * 255, 3, getattr(cv2, flags_name))
        return (out if x.ndim == 2 else out[..., ::-1]).astype(np.float32) / 255.0

    return run


OPENCV: dict[str, OpenCVRestorer] = {
    "fast non-local means (OpenCV)": fast_nl_means,
    "Telea inpainting (OpenCV)": _inpaint("INPAINT_TELEA"),
    "Navier-Stokes inpainting (OpenCV)": _inpaint("INPAINT_NS"),
}
