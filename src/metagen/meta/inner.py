"""The inner loop: adapting a parameter dictionary to one task by a few gradient steps.

Works on any ``nn.Module`` through a loss closure ``loss_fn(params) -> scalar`` that calls
``torch.func.functional_call``; the network code knows nothing of meta-learning. With
``create_graph=True`` every step stays differentiable, which second-order MAML (Finn et al. 2017)
and Meta-SGD (Li et al. 2017) need; otherwise each step works on detached tensors.
"""

from __future__ import annotations

import copy
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


def with_params(model: torch.nn.Module, params: Params) -> torch.nn.Module:
    """``model`` itself when ``params`` are its own tensors, else a copy holding ``params``
    (detached): a plain module to call with adapted weights, outside ``functional_call``."""
    if all(params[k] is p for k, p in model.named_parameters()):
        return model
    net = copy.deepcopy(model)
    net.load_state_dict({k: v.detach() for k, v in params.items()})
    return net


@dataclass(frozen=True)
class ParamGroup:
    """Parameters whose names start with one of ``prefixes``, adapted by their own ``inner`` loop
    (optimizer, learning rate, clipping) on their own loss: for example a GAN's generator and
    discriminator, adapted in turn inside a task (FIGR, Clouatre and Demers 2019; DAWSON, Liang et
    al. 2020)."""

    name: str
    prefixes: tuple[str, ...]
    inner: InnerLoop


def _membership(params: Params, groups: list[ParamGroup]) -> dict[str, list[str]]:
    members = {g.name: [k for k in params if any(k.startswith(p) for p in g.prefixes)] for g in groups}
    for g in groups:
        if not members[g.name]:
            raise ValueError(f"parameter group {g.name!r} matches no parameter (prefixes {g.prefixes})")
    seen: dict[str, str] = {}
    for name, keys in members.items():
        for k in keys:
            if k in seen:
                raise ValueError(f"parameter {k!r} is in groups {seen[k]!r} and {name!r}")
            seen[k] = name
    return members


def adapt_groups(
    params: Params,
    groups: list[ParamGroup],
    losses: dict[str, LossFn],
    schedule: list[str],
    create_graph: bool,
    lrs: Params | None = None,
    trajectory: list[Params] | None = None,
) -> Params:
    """Adapt ``params`` by one inner step per entry of ``schedule`` (a group name): each step
    differentiates that group's loss with respect to that group's parameters only and updates them
    with that group's optimizer; the other parameters are left as they are.

    ``lrs`` gives learned per-parameter learning rates (Meta-SGD); each broadcasts against its
    parameter. With ``create_graph`` False the result is detached from ``params`` (first order).
    ``trajectory``, when given, receives the parameters before the first step and after each step
    (in the graph with ``create_graph``, else leaves that require grad), for outer losses taken at
    every step (MAML++, Antoniou et al. 2019).
    Adam here is the functional form of Kingma and Ba (2015) with bias correction, one state per
    group; its square root is taken of ``v_hat + eps**2`` so that second derivatives stay finite
    where v is zero.
    """
    by_name = {g.name: g for g in groups}
    unknown = sorted(set(schedule) - set(by_name))
    if unknown:
        raise ValueError(f"schedule names unknown parameter groups {unknown}; groups: {sorted(by_name)}")
    members = _membership(params, groups)
    current = dict(params) if create_graph else detached_copy(params)
    moments = {
        k: (torch.zeros_like(v), torch.zeros_like(v))
        for g in groups
        if g.inner.optimizer == "adam"
        for k in members[g.name]
        for v in [current[k]]
    }
    counts = dict.fromkeys(by_name, 0)
    if trajectory is not None:
        trajectory.append(current)
    for group_name in schedule:
        inner, names = by_name[group_name].inner, members[group_name]
        counts[group_name] += 1
        t = counts[group_name]
        with torch.enable_grad():
            loss = losses[group_name](current)
            grads = list(torch.autograd.grad(loss, [current[k] for k in names], create_graph=create_graph))
        if inner.grad_clip is not None:
            grads = clip_by_global_norm(grads, inner.grad_clip)
        b1, b2 = inner.betas
        updated = dict(current)
        for k, g in zip(names, grads):
            lr = lrs[k] if lrs is not None else inner.lr
            if inner.optimizer == "adam":
                m, v = moments[k]
                m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
                moments[k] = (m, v)
                step = (m / (1 - b1**t)) / (torch.sqrt(v / (1 - b2**t) + inner.eps**2) + inner.eps)
            else:
                step = g
            new = current[k] - lr * step
            updated[k] = new if create_graph else new.detach().requires_grad_(True)
        current = updated
        if trajectory is not None:
            trajectory.append(current)
    return current if create_graph else {k: t.detach() for k, t in current.items()}


def adapt(
    params: Params,
    loss_fn: LossFn,
    inner: InnerLoop,
    create_graph: bool,
    steps: int | None = None,
    lrs: Params | None = None,
    trajectory: list[Params] | None = None,
) -> Params:
    """Return the parameters after ``steps`` (default ``inner.steps``) inner steps on ``loss_fn``:
    :func:`adapt_groups` with one group holding every parameter."""
    steps = inner.steps if steps is None else steps
    everything = [ParamGroup("all", ("",), inner)]
    return adapt_groups(params, everything, {"all": loss_fn}, ["all"] * steps, create_graph, lrs, trajectory)
