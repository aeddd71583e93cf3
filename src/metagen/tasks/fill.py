"""Filling unknown pixels before a restorer sees them: an interpolating spline in tension
(:func:`spline_fill`, the fill every restorer receives, :func:`fill_unknown`), solved from a
pull-push interpolation (:func:`pull_push_fill`; Gortler et al. 1996, "The Lumigraph", section
3.3), a classical multi-resolution fill.

Pull: the known pixels are averaged into ever coarser levels, each level carrying how much known
data stands behind each of its pixels (a weight in [0, 1]). Push: from the coarsest level back to
the finest, each pixel keeps its own value in proportion to its weight and takes the rest from the
upsampled coarser level. Known pixels come back exactly; holes of any size get a smooth fill that
blends their surroundings. A restoration network then only has to refine the fill, which is an
input it can learn to correct, rather than guess from zeros that cannot be told from black.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _sum_pool(t: torch.Tensor) -> torch.Tensor:
    """2x2 sums, zero-padding odd sides (zero weight: padding carries no data)."""
    h, w = t.shape[-2:]
    return F.avg_pool2d(F.pad(t, (0, w % 2, 0, h % 2)), 2) * 4


def pull_push_fill(x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """``x`` [B, C, H, W] with its unknown pixels (``known`` [B, 1, H, W], bool or {0, 1}, False
    where unknown) replaced by the pull-push interpolation of the known ones. Known pixels are
    unchanged; an image with no known pixel at all is filled with zeros."""
    weight = known.to(x.dtype)
    if bool((weight > 0).all()):
        return x
    values, weights = [x * weight], [weight]  # values premultiplied by their weight
    while min(values[-1].shape[-2:]) > 1 and not bool((weights[-1] > 0).all()):
        total = _sum_pool(weights[-1])
        values.append(_sum_pool(values[-1]) / total.clamp_min(1e-12) * total.clamp(max=1))
        weights.append(total.clamp(max=1))
    filled = values[-1] / weights[-1].clamp_min(1e-12)
    for value, weight in zip(reversed(values[:-1]), reversed(weights[:-1])):
        up = F.interpolate(filled, scale_factor=2, mode="bilinear", align_corners=False)
        up = up[..., : value.shape[-2], : value.shape[-1]]
        filled = value + (1 - weight) * up  # value is premultiplied: weight * own + (1 - weight) * coarse
    return torch.where(known.bool(), x, filled)


def _laplacian(u: torch.Tensor) -> torch.Tensor:
    """The 5-point graph Laplacian of each channel (reflecting borders, so the operator is symmetric)."""
    p = F.pad(u, (1, 1, 1, 1), mode="replicate")
    return p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:] - 4 * u


def _spline_energy_operator(u: torch.Tensor, tension: float) -> torch.Tensor:
    """A u for the energy u^T A u = (1 - tension) |Laplacian u|^2 + tension |gradient u|^2."""
    lap = _laplacian(u)
    return (1 - tension) * _laplacian(lap) - tension * lap


def _batch_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Each image's inner product of ``a`` and ``b`` [B, ...], shaped to broadcast against them."""
    return (a * b).flatten(1).sum(1).view(-1, *([1] * (a.dim() - 1)))


def spline_fill(
    x: torch.Tensor,
    known: torch.Tensor,
    tension: float = 0.25,
    iterations: int = 500,
    tolerance: float = 1e-4,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    """``x`` [B, C, H, W] with its unknown pixels replaced by the smoothest surface through the known
    ones: the minimiser of (1 - tension) |Laplacian u|^2 + tension |gradient u|^2 over the unknown
    pixels, an interpolating spline in tension (Smith and Wessel 1990, "Gridding with continuous
    curvature splines in tension"). ``tension`` 0 is biharmonic inpainting (thin plate; the
    scikit-image method), 1 harmonic (membrane), which does not overshoot across large holes. The
    default 0.25 is Smith and Wessel's recommendation for smooth data: nearly thin-plate over small
    gaps, without the thin plate's overshoot across large holes.

    Solved by conjugate gradients on the unknown pixels (the energy is a positive semi-definite
    quadratic) for at most ``iterations`` steps or until the residual is ``tolerance`` times that of
    the pull-push fill. They start from the pull-push fill, or from ``start`` [B, C, H, W] where one
    is given: a warm start near the solution (the fill of a mask with a few more known pixels, say)
    reaches the same accuracy in fewer steps (images whose pull-push fill already solves the problem,
    such as those with no known pixel, keep it). Known pixels are unchanged."""
    if not 0 <= tension <= 1:
        raise ValueError(f"tension must lie in [0, 1], got {tension}")
    free = (~known.bool()).to(x.dtype).expand_as(x)
    u = pull_push_fill(x, known)
    if not bool(free.any()):
        return u
    with torch.no_grad():
        r = -free * _spline_energy_operator(u, tension)
        rr = _batch_dot(r, r)
        stop = rr.max() * tolerance**2
        if start is not None:  # for each image the pull-push fill does not already solve
            u_warm = torch.where(known.bool(), x, start)
            r_warm = -free * _spline_energy_operator(u_warm, tension)
            warm = rr > 0
            u, r = torch.where(warm, u_warm, u), torch.where(warm, r_warm, r)
            rr = _batch_dot(r, r)
        p = r
        for _ in range(iterations):
            if bool(rr.max() <= stop):
                break
            ap = free * _spline_energy_operator(p, tension)
            alpha = rr / _batch_dot(p, ap).clamp_min(1e-30)
            u = u + alpha * p
            r = r - alpha * ap
            rr_next = _batch_dot(r, r)
            p, rr = r + (rr_next / rr.clamp_min(1e-30)) * p, rr_next
    return torch.where(known.bool(), x, u)


def fill_unknown(x: torch.Tensor, known: torch.Tensor, start: torch.Tensor | None = None) -> torch.Tensor:
    """The fill restorers see where pixels are lost, in training and at test time alike: the spline
    in tension of :func:`spline_fill` with its defaults (``start``: its warm start, if any)."""
    return spline_fill(x, known, start=start)
