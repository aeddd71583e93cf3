"""Meta-batches vectorised with ``torch.func.vmap``.

The per-task computation is written with ``torch.func.grad`` so that it composes with ``vmap`` over
the stacked tasks of a meta-batch. It equals the loop of ``learners.py`` up to rounding; which is
faster depends on the device and the task sizes (``benchmarks/meta_speed.py`` measures both).
Supported: the plain SGD inner loop (with Meta-SGD's learned rates) and deterministic task losses
(classifiers). A loss that draws random numbers per task, such as a VAE's, runs as a loop.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.func import grad, grad_and_value, vmap

from metagen.meta.inner import InnerLoop, Params

PureLoss = Callable[[Params, torch.Tensor, torch.Tensor], torch.Tensor]


def check_supported(inner: InnerLoop) -> None:
    if inner.optimizer != "sgd" or inner.grad_clip is not None:
        raise ValueError("meta.batching=vmap supports the SGD inner loop without clipping; use meta.batching=loop")


def sgd_steps(
    loss: PureLoss, params: Params, x: torch.Tensor, y: torch.Tensor, inner: InnerLoop, lrs: Params | None
) -> Params:
    """``inner.steps`` SGD steps written with torch.func.grad (differentiable by an outer grad)."""
    fast = params
    for _ in range(inner.steps):
        g = grad(loss)(fast, x, y)
        fast = {k: fast[k] - (lrs[k] if lrs is not None else inner.lr) * g[k] for k in fast}
    return fast


def maml_sums(
    loss: PureLoss, params: Params, batch: dict[str, torch.Tensor], inner: InnerLoop, lrs: Params | None = None
) -> tuple[Params, Params | None, torch.Tensor]:
    """Second-order MAML (and Meta-SGD when ``lrs`` is given) over the tasks stacked in ``batch``:
    summed meta-gradients of the parameters, of the rates (or None), and the summed query loss."""

    def per_task(p: Params, rates: Params | None, sx, sy, qx, qy) -> torch.Tensor:
        return loss(sgd_steps(loss, p, sx, sy, inner, rates), qx, qy)

    argnums = (0, 1) if lrs is not None else 0
    grads, losses = vmap(grad_and_value(per_task, argnums=argnums), in_dims=(None, None, 0, 0, 0, 0))(
        params, lrs, batch["support_x"], batch["support_y"], batch["query_x"], batch["query_y"]
    )
    g_params, g_rates = grads if lrs is not None else (grads, None)
    total = lambda d: None if d is None else {k: v.sum(0) for k, v in d.items()}  # noqa: E731
    return total(g_params), total(g_rates), losses.sum()


def first_order_maml_sums(
    loss: PureLoss, params: Params, batch: dict[str, torch.Tensor], inner: InnerLoop
) -> tuple[Params, torch.Tensor]:
    """First-order MAML: the query-loss gradient at the adapted parameters, summed over tasks."""
    detached = {k: v.detach() for k, v in params.items()}

    def per_task(sx, sy, qx, qy):
        fast = sgd_steps(loss, detached, sx, sy, inner, None)
        return grad_and_value(loss)(fast, qx, qy)

    grads, losses = vmap(per_task)(batch["support_x"], batch["support_y"], batch["query_x"], batch["query_y"])
    return {k: v.sum(0) for k, v in grads.items()}, losses.sum()


def reptile_sums(
    loss: PureLoss, params: Params, x: torch.Tensor, y: torch.Tensor, inner: InnerLoop
) -> tuple[Params, torch.Tensor]:
    """Reptile: summed ``theta - phi_task`` over tasks stacked in ``x`` [T, ...], ``y`` [T, ...],
    and the summed loss of the adapted parameters on their own task."""
    detached = {k: v.detach() for k, v in params.items()}

    def per_task(xt, yt):
        fast = sgd_steps(loss, detached, xt, yt, inner, None)
        return {k: detached[k] - fast[k] for k in fast}, loss(fast, xt, yt)

    deltas, losses = vmap(per_task)(x, y)
    return {k: v.sum(0) for k, v in deltas.items()}, losses.sum()
