"""The set-conditioned GAN as a few-shot generator that adapts with no gradient steps (see
``metagen.nn.set_gan``), trained episodically (``meta.algorithm=episodic``).

In each task, for each class: the generator reads the class's support images and makes as many
images as the class has queries; the discriminator sees the real queries given that support as
real, and the generated images and, with two or more classes in the task, the queries of another
class given that support as fake (a matching-aware discriminator, Reed et al. 2016), so that it
judges class membership as well as realism. The generator's loss adds a mode-seeking term (Mao et
al. 2019, "Mode Seeking Generative Adversarial Networks"): the distance between two generated
images over the distance between their noise vectors is pushed up, so that outputs vary.

As for the few-shot GAN family, the episode loss is the discriminator's loss on detached
generated images plus the generator's loss through a detached discriminator, so each network
follows the gradient of its own loss.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch.func import functional_call

from metagen.errors import ConfigError
from metagen.fewshot.gan import GanDiagnostics, parse_augment, sub_params
from metagen.meta.inner import Params
from metagen.nn.set_gan import SetGAN
from metagen.objectives.diffaugment import diff_augment
from metagen.objectives.gan import GAN_LOSSES, discriminator_loss, generator_loss
from metagen.tasks.task import Task


def mode_seeking_ratio(a: torch.Tensor, b: torch.Tensor, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of two batches of images over that of their noise vectors."""
    return (a - b).abs().mean() / (za - zb).abs().mean().clamp_min(1e-8)


class SetGANGenerator:
    """Args: ``loss`` (hinge, non-saturating or least squares; WGAN-GP is for the optimisation-based
    GANs), ``augment`` (DiffAugment operations for every image the discriminator judges),
    ``mode_seeking`` (weight of the mode-seeking term; 0 turns it off)."""

    family = "set-gan"
    kind = "fewshot-generator"

    def __init__(self, model: SetGAN, loss: str = "hinge", augment: Sequence[str] = (), mode_seeking: float = 1.0):
        if loss not in GAN_LOSSES or loss == "wgan-gp":
            raise ConfigError(f"model.family.loss: {loss!r}; a set GAN takes one of: hinge, nonsaturating, lsgan")
        augment = parse_augment(augment)
        if mode_seeking < 0:
            raise ConfigError(f"model.family.mode_seeking must be 0 or more, got {mode_seeking}")
        self.model, self.loss, self.augment, self.mode_seeking = model, loss, augment, mode_seeking
        self.diagnostics = GanDiagnostics()

    def _generate(self, params: Params, shots: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return functional_call(self.model.generator, sub_params(params, "generator."), (shots, z))

    def _critic(self, params: Params, x: torch.Tensor, shots: torch.Tensor, gen: torch.Generator | None):
        if self.augment:
            x = diff_augment(x, self.augment, gen)
        return functional_call(self.model.discriminator, sub_params(params, "discriminator."), (x, shots))

    def _class_loss(
        self, params: Params, shots: torch.Tensor, real: torch.Tensor, other: torch.Tensor | None, gen: torch.Generator
    ) -> torch.Tensor:
        n = max(len(real), 2)
        z = torch.randn(n, self.model.latent_dim, generator=gen).to(real)
        fake = self._generate(params, shots, z)
        real_out = self._critic(params, real, shots, gen)
        fakes = fake.detach() if other is None else torch.cat([fake.detach(), other])
        fake_out = self._critic(params, fakes, shots, gen)
        d_loss = discriminator_loss(self.loss, real_out, fake_out)  # type: ignore[arg-type]
        frozen = {k: (v.detach() if k.startswith("discriminator.") else v) for k, v in params.items()}
        g_loss = generator_loss(self.loss, self._critic(frozen, fake, shots, gen))  # type: ignore[arg-type]
        if self.mode_seeking:
            half = n // 2
            ratio = mode_seeking_ratio(fake[:half], fake[half : 2 * half], z[:half], z[half : 2 * half])
            g_loss = g_loss + self.mode_seeking / (ratio + 1e-5)
        self.diagnostics.record(real_out, fake_out[: len(fake)], d_loss, g_loss)
        return d_loss + g_loss

    def episode_loss(self, params: Params, task: Task, gen: torch.Generator | None = None) -> torch.Tensor:
        """The summed discriminator and generator losses (see the module docstring), averaged over
        the task's classes."""
        losses = []
        for label in range(task.n_way):
            shots = task.support_x[task.support_y == label]
            real = task.query_x[task.query_y == label]
            other = task.query_x[task.query_y == (label + 1) % task.n_way] if task.n_way > 1 else None
            losses.append(self._class_loss(params, shots, real, other, gen))  # type: ignore[arg-type]
        return torch.stack(losses).mean()

    def take_diagnostics(self) -> dict[str, float]:
        """See :class:`metagen.fewshot.gan.GanDiagnostics`."""
        return self.diagnostics.take()

    @torch.no_grad()
    def sample(self, params: Params, shots: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` new images [n, C, H, W] in [0, 1] of the class of ``shots`` [K, C, H, W], in one pass."""
        z = torch.randn(n, self.model.latent_dim, generator=gen).to(shots.device)
        return self._generate(params, shots, z)
