"""The inner loop: adapting a parameter dictionary to one task by a few gradient steps.

Works on any ``nn.Module`` through a loss closure ``loss_fn(params) -> scalar`` that calls
``torch.func.functional_call``; the network code knows nothing of meta-learning. With
``create_graph=True`` every step stays differentiable, which second-order MAML (Finn et al. 2017)
and Meta-SGD (Li et al. 2017) need; otherwise each step works on detached tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch

Params = dict[str, torch.Tensor]
LossFn = Callable[[Params], torch.Tensor]


@dataclass(frozen=True)
class InnerLoop:
    """How a task is adapted to: ``steps`` of ``optimizer`` ('sgd' or 'adam') at ``lr``, with the
    global gradient norm clipped to ``grad_clip`` when set."""

    steps: int
    lr: float
    optimizer: Literal["sgd", "adam"] = "sgd"
    grad_clip: float | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


def clip_by_global_norm(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """Scale ``grads`` so their joint L2 norm is at most ``max_norm`` (differentiable)."""
    norm = torch.sqrt(sum(g.pow(2).sum() for g in grads))
    scale = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
    return [g * scale for g in grads]


def detached_copy(params: Params) -> Params:
    """Leaf copies of ``params`` that require grad: the start of a first-order inner loop."""
    return {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}


def adapt(
    params: Params,
    loss_fn: LossFn,
    inner: InnerLoop,
    create_graph: bool,
    steps: int | None = None,
    lrs: Params | None = None,
) -> Params:
    """Return the parameters after ``steps`` (default ``inner.steps``) inner steps on ``loss_fn``.

    ``lrs`` gives learned per-parameter learning rates (Meta-SGD); each broadcasts against its
    parameter. With ``create_graph`` False the result is detached from ``params`` (first order).
    Adam here is the functional form of Kingma and Ba (2015) with bias correction; its square
    root is taken of ``v_hat + eps**2`` so that second derivatives stay finite where v is zero.
    """
    steps = inner.steps if steps is None else steps
    names = list(params)
    current = dict(params) if create_graph else detached_copy(params)
    m = {k: torch.zeros_like(v) for k, v in current.items()} if inner.optimizer == "adam" else None
    v = {k: torch.zeros_like(t) for k, t in current.items()} if inner.optimizer == "adam" else None
    b1, b2 = inner.betas
    for t in range(1, steps + 1):
        with torch.enable_grad():
            loss = loss_fn(current)
            grads = list(torch.autograd.grad(loss, [current[k] for k in names], create_graph=create_graph))
        if inner.grad_clip is not None:
            grads = clip_by_global_norm(grads, inner.grad_clip)
        updated = {}
        for k, g in zip(names, grads):
            lr = lrs[k] if lrs is not None else inner.lr
            if m is not None and v is not None:
                m[k] = b1 * m[k] + (1 - b1) * g
                v[k] = b2 * v[k] + (1 - b2) * g * g
                m_hat = m[k] / (1 - b1**t)
                v_hat = v[k] / (1 - b2**t)
                step = m_hat / (torch.sqrt(v_hat + inner.eps**2) + inner.eps)
            else:
                step = g
            new = current[k] - lr * step
            updated[k] = new if create_graph else new.detach().requires_grad_(True)
        current = updated
    return current if create_graph else {k: t.detach() for k, t in current.items()}
