"""The GAN as a few-shot generator: its losses for the meta-learner, its parameter groups, and how
it samples after adaptation.

Inside a task the discriminator and the generator are adapted in turn, each on its own loss with
its own inner optimizer (``param_groups``): one discriminator step, then one generator step, per
inner step. Reptile over both networks is FIGR (Clouatre and Demers 2019, "FIGR: Few-shot Image
Generation with Reptile"); first-order MAML over both is DAWSON (Liang et al. 2020, "DAWSON: A
Domain Adaptive Few Shot Generation Framework").

The outer loss (``group=None``) is the sum of the discriminator's loss on detached generated images
and the generator's loss through a detached discriminator, so its gradient with respect to the
discriminator's parameters is that of the discriminator's loss and with respect to the generator's
that of the generator's loss: each network follows its own objective, as in the papers.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch.func import functional_call

from metagen.errors import ConfigError
from metagen.meta.inner import InnerLoop, ParamGroup, Params
from metagen.nn.gan import DCGAN
from metagen.objectives.diffaugment import POLICIES, diff_augment
from metagen.objectives.gan import GAN_LOSSES, discriminator_loss, generator_loss, gradient_penalty

GROUP_PREFIXES = {"discriminator": ("discriminator.",), "generator": ("generator.",)}


def _part(params: Params, prefix: str) -> Params:
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


class GANGenerator:
    """Binds a ``DCGAN`` to its losses and sampler.

    Args:
        loss: one of ``GAN_LOSSES`` (non-saturating, hinge, WGAN-GP, least squares).
        augment: DiffAugment operations applied to every image the discriminator sees (Zhao et al.
            2020); empty for none.
        gp_weight: weight of the gradient penalty (WGAN-GP only).
        d_steps: discriminator steps per generator step inside a task.
    """

    family = "gan"
    kind = "fewshot-generator"

    def __init__(
        self,
        model: DCGAN,
        loss: str = "nonsaturating",
        augment: Sequence[str] = (),
        gp_weight: float = 10.0,
        d_steps: int = 1,
    ):
        if loss not in GAN_LOSSES:
            raise ConfigError(f"model.family.loss: {loss!r} is not a GAN loss; choose one of: {', '.join(GAN_LOSSES)}")
        if isinstance(augment, str):
            augment = [a.strip() for a in augment.split(",") if a.strip()]
        unknown = sorted(set(augment) - set(POLICIES))
        if unknown:
            raise ConfigError(f"model.family.augment: unknown DiffAugment operation {unknown[0]!r}; choose from {POLICIES}")
        if d_steps < 1:
            raise ConfigError(f"model.family.d_steps must be at least 1, got {d_steps}")
        if model.num_classes:
            raise ConfigError("a few-shot GAN is unconditional (num_classes 0); the shots define the class")
        self.model, self.loss, self.augment, self.gp_weight, self.d_steps = model, loss, tuple(augment), gp_weight, d_steps
        self._stats: list[torch.Tensor] = []

    def param_groups(self, inner: InnerLoop) -> tuple[list[ParamGroup], list[str]]:
        """The discriminator and generator groups, both with ``inner``, and one inner step's schedule."""
        groups = [ParamGroup(name, prefixes, inner) for name, prefixes in GROUP_PREFIXES.items()]
        return groups, ["discriminator"] * self.d_steps + ["generator"]

    def generate(self, params: Params, n: int, gen: torch.Generator | None, device: torch.device) -> torch.Tensor:
        z = torch.randn(n, self.model.latent_dim, generator=gen).to(device)
        return functional_call(self.model.generator, _part(params, "generator."), (z,))

    def _critic(self, params: Params, images: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        if self.augment:
            images = diff_augment(images, self.augment, gen)
        return functional_call(self.model.discriminator, _part(params, "discriminator."), (images,))

    def _discriminator_loss(
        self, params: Params, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        real_out, fake_out = self._critic(params, real, gen), self._critic(params, fake, gen)
        loss = discriminator_loss(self.loss, real_out, fake_out)  # type: ignore[arg-type]
        if self.loss == "wgan-gp":  # the penalty differentiates the critic, even where the caller does not
            with torch.enable_grad():
                penalty = gradient_penalty(lambda x: self._critic(params, x, gen), real, fake, gen, self.gp_weight)
            loss = loss + (penalty if torch.is_grad_enabled() else penalty.detach())
        return loss, real_out, fake_out

    def task_loss(
        self, params: Params, images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, group: str | None = None
    ) -> torch.Tensor:
        """The discriminator's loss (``group='discriminator'``), the generator's (``'generator'``) or
        the outer loss (``None``, see the module docstring) on the task's real ``images``; as many
        images are generated as there are real ones. Episode ``labels`` are not used."""
        fake = self.generate(params, images.shape[0], gen, images.device)
        if group == "generator":
            return generator_loss(self.loss, self._critic(params, fake, gen))  # type: ignore[arg-type]
        if group == "discriminator":
            return self._discriminator_loss(params, images, fake.detach(), gen)[0]
        d_loss, real_out, fake_out = self._discriminator_loss(params, images, fake.detach(), gen)
        frozen = {k: (v.detach() if k.startswith("discriminator.") else v) for k, v in params.items()}
        g_loss = generator_loss(self.loss, self._critic(frozen, fake, gen))  # type: ignore[arg-type]
        self._stats.append(
            torch.stack([torch.sigmoid(real_out).mean(), torch.sigmoid(fake_out).mean(), d_loss, g_loss]).detach()
        )
        return d_loss + g_loss

    def take_diagnostics(self) -> dict[str, float]:
        """Means over the outer losses computed since the last call: the discriminator's mean
        probability of 'real' on real (``d_real``) and on generated images (``d_fake``), and the two
        losses. The training loop logs them and watches them for a discriminator that wins outright."""
        if not self._stats:
            return {}
        mean = torch.stack(self._stats).mean(0).tolist()
        self._stats.clear()
        return dict(zip(("d_real", "d_fake", "d_loss", "g_loss"), mean))

    @torch.no_grad()
    def sample(self, params: Params, shots: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` images [n, C, H, W] in [0, 1] from the generator adapted to ``shots``."""
        return self.generate(params, n, gen, shots.device)

