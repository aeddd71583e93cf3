"""GAN losses as pure functions of discriminator outputs (logits or critic values).

- Non-saturating minimax (Goodfellow et al. 2014, "Generative Adversarial Nets", section 3).
- Hinge (Lim and Ye 2017, "Geometric GAN"; as used by Miyato et al. 2018 for SN-GAN).
- Wasserstein with gradient penalty (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").
- Least squares (Mao et al. 2017, "Least Squares Generative Adversarial Networks"; a-b-c = 0-1-1).
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
import torch.nn.functional as F

GanLoss = Literal["nonsaturating", "hinge", "wgan-gp", "lsgan"]
GAN_LOSSES: tuple[str, ...] = ("nonsaturating", "hinge", "wgan-gp", "lsgan")


def discriminator_loss(kind: GanLoss, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss given its outputs on real and on generated images (the gradient
    penalty of WGAN-GP is separate: :func:`gradient_penalty`)."""
    if kind == "nonsaturating":
        return F.softplus(-real).mean() + F.softplus(fake).mean()  # -log D(x) - log(1 - D(G(z)))
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "wgan-gp":
        return fake.mean() - real.mean()
    if kind == "lsgan":
        return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake**2).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; choose one of: {', '.join(GAN_LOSSES)}")


def generator_loss(kind: GanLoss, fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss given the discriminator's outputs on generated images."""
    if kind == "nonsaturating":
        return F.softplus(-fake).mean()  # -log D(G(z))
    if kind in ("hinge", "wgan-gp"):
        return -fake.mean()
    if kind == "lsgan":
        return 0.5 * ((fake - 1.0) ** 2).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; choose one of: {', '.join(GAN_LOSSES)}")


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    gen: torch.Generator | None = None,
    weight: float = 10.0,
) -> torch.Tensor:
    """``weight`` * E[(||grad critic(x_hat)||_2 - 1)^2] at random interpolates x_hat of real and
    generated images (one mixing weight per image). Differentiable (``create_graph``), so it can
    sit inside a meta-learning inner loop."""
    alpha = torch.rand((real.shape[0], 1, 1, 1), generator=gen).to(real)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return weight * ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
