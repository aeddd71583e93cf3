"""Classical restorers from scikit-image (an optional extra: ``pip install metagen[baselines]``),
as peers in the restoration benchmark. Each takes the degraded image (float, [H, W] or [H, W, C])
and, for inpainting, the known-pixel mask; each returns None where it does not apply."""

from __future__ import annotations

from typing import Callable

import numpy as np

from metagen.errors import InputError

ClassicalRestorer = Callable[[np.ndarray, np.ndarray | None], np.ndarray | None]


def _skimage():
    try:
        import skimage.restoration as restoration
    except ImportError:
        raise InputError("the classical peers need scikit-image: pip install 'metagen[baselines]'") from None
    return restoration


def _channel_axis(x: np.ndarray) -> int | None:
    return -1 if x.ndim == 3 else None


def nl_means(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
    """Non-local means (Buades et al. 2005) with the noise level estimated from the image."""
    if known is not None:
        return None
    r = _skimage()
    sigma = float(np.mean(r.estimate_sigma(x, channel_axis=_channel_axis(x))))
    return r.denoise_nl_means(x, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True,
                              channel_axis=_channel_axis(x))  # fmt: skip


def total_variation(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
    """Chambolle's total-variation denoising, weight scaled to the estimated noise level."""
    if known is not None:
        return None
    r = _skimage()
    sigma = float(np.mean(r.estimate_sigma(x, channel_axis=_channel_axis(x))))
    return r.denoise_tv_chambolle(x, weight=max(sigma, 1e-3), channel_axis=_channel_axis(x))


def wavelet(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
    """BayesShrink wavelet denoising (Chang et al. 2000)."""
    if known is not None:
        return None
    r = _skimage()
    return r.denoise_wavelet(x, method="BayesShrink", mode="soft", rescale_sigma=True, channel_axis=_channel_axis(x))


def bilateral(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
    """Bilateral filtering (Tomasi and Manduchi 1998) with a colour sigma from the noise estimate."""
    if known is not None:
        return None
    r = _skimage()
    sigma = float(np.mean(r.estimate_sigma(x, channel_axis=_channel_axis(x))))
    clipped = np.clip(x, 0, 1)
    return r.denoise_bilateral(
        clipped, sigma_color=max(2 * sigma, 1e-3), sigma_spatial=2, channel_axis=_channel_axis(x)
    )


def biharmonic(x: np.ndarray, known: np.ndarray | None) -> np.ndarray | None:
    """Biharmonic inpainting of the unknown pixels (Damelin and Hoang 2018)."""
    if known is None:
        return None
    return _skimage().inpaint_biharmonic(x, ~known, channel_axis=_channel_axis(x))


CLASSICAL: dict[str, ClassicalRestorer] = {
    "non-local means (skimage)": nl_means,
    "total variation (skimage)": total_variation,
    "wavelet BayesShrink (skimage)": wavelet,
    "bilateral (skimage)": bilateral,
    "biharmonic inpainting (skimage)": biharmonic,
}
