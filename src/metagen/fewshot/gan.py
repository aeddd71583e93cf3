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

With ``conditional=True`` the family is a class-conditional GAN (a class embedding in the
generator, a projection discriminator, Miyato and Koyama 2018) trained over all training classes
with their global labels (``meta.algorithm=pretrain``). A new class is one reserved extra class
slot: its embedding starts at the mean of the trained classes' embeddings, and adapting to the
shots fits that embedding alone (``adapt='embedding'``) or every weight (``adapt='all'``), as in
few-shot adaptation of class-conditional GANs by their class embeddings.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch.func import functional_call

from metagen.errors import ConfigError
from metagen.meta.inner import InnerLoop, ParamGroup, Params
from metagen.nn.gan import DCGAN
from metagen.objectives.diffaugment import POLICIES, diff_augment
from metagen.objectives.gan import GAN_LOSSES, discriminator_loss, generator_loss, gradient_penalty

GROUP_PREFIXES = {"discriminator": ("discriminator.",), "generator": ("generator.",)}


def sub_params(params: Params, prefix: str) -> Params:
    """The entries of ``params`` under ``prefix``, with the prefix removed (a submodule's parameters)."""
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def parse_augment(augment: Sequence[str] | str) -> tuple[str, ...]:
    """DiffAugment operations from a list or a comma-separated string, checked."""
    if isinstance(augment, str):
        augment = [a.strip() for a in augment.split(",") if a.strip()]
    unknown = sorted(set(augment) - set(POLICIES))
    if unknown:
        raise ConfigError(f"model.family.augment: unknown DiffAugment operation {unknown[0]!r}; choose from {POLICIES}")
    return tuple(augment)


class GanDiagnostics:
    """Running means, over the outer losses computed since they were last taken, of the
    discriminator's mean probability of 'real' on real (``d_real``) and on generated images
    (``d_fake``) and of the two losses. The training loop logs them and watches them for a
    discriminator that wins outright."""

    def __init__(self) -> None:
        self._stats: list[torch.Tensor] = []

    def record(
        self, real_out: torch.Tensor, fake_out: torch.Tensor, d_loss: torch.Tensor, g_loss: torch.Tensor
    ) -> None:
        values = [torch.sigmoid(real_out).mean(), torch.sigmoid(fake_out).mean(), d_loss, g_loss]
        self._stats.append(torch.stack(values).detach())

    def take(self) -> dict[str, float]:
        if not self._stats:
            return {}
        mean = torch.stack(self._stats).mean(0).tolist()
        self._stats.clear()
        return dict(zip(("d_real", "d_fake", "d_loss", "g_loss"), mean))


class GANGenerator:
    """Binds a ``DCGAN`` to its losses and sampler.

    Args:
        loss: one of ``GAN_LOSSES`` (non-saturating, hinge, WGAN-GP, least squares).
        augment: DiffAugment operations applied to every image the discriminator sees (Zhao et al.
            2020); empty for none.
        gp_weight: weight of the gradient penalty (WGAN-GP only).
        d_steps: discriminator steps per generator step inside a task.
        conditional: a class-conditional GAN (see the module docstring); the network's
            ``num_classes`` is the training classes plus the new-class slot.
        adapt: what adaptation fits in a conditional GAN: 'embedding' or 'all'.
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
        conditional: bool = False,
        adapt: Literal["embedding", "all"] = "embedding",
    ):
        if loss not in GAN_LOSSES:
            raise ConfigError(f"model.family.loss: {loss!r} is not a GAN loss; choose one of: {', '.join(GAN_LOSSES)}")
        augment = parse_augment(augment)
        if d_steps < 1:
            raise ConfigError(f"model.family.d_steps must be at least 1, got {d_steps}")
        if conditional and model.num_classes < 2:
            raise ConfigError("a conditional GAN needs the network's num_classes (training classes + 1)")
        if model.num_classes and not conditional:
            raise ConfigError(
                "an unconditional few-shot GAN has num_classes 0 (the shots define the class); "
                "set model.family.conditional=true for a class-conditional GAN"
            )
        if adapt not in ("embedding", "all"):
            raise ConfigError(f"model.family.adapt must be 'embedding' or 'all', got {adapt!r}")
        self.model, self.loss, self.augment = model, loss, augment
        self.gp_weight, self.d_steps = gp_weight, d_steps
        self.conditional, self.adapt_what = conditional, adapt
        self.diagnostics = GanDiagnostics()
        if conditional:  # the new-class slot holds an offset from the trained classes' mean embedding
            with torch.no_grad():
                for table in (model.generator.embed, model.discriminator.embed):
                    table.weight[-1].zero_()

    @property
    def new_class(self) -> int:
        """The label of the reserved slot a new class is adapted into (conditional GANs)."""
        return self.model.num_classes - 1

    def _with_new_class(self, params: Params) -> Params:
        """``params`` whose embedding tables' last row is the trained rows' mean (held fixed) plus
        that row's own offset, the only part of the tables that adaptation moves."""
        out = dict(params)
        for key in ("generator.embed.weight", "discriminator.embed.weight"):
            table = params[key]
            out[key] = torch.cat([table[:-1], (table[:-1].mean(0).detach() + table[-1])[None]])
        return out

    def param_groups(self, inner: InnerLoop) -> tuple[list[ParamGroup], list[str]]:
        """The discriminator and generator groups, both with ``inner``, and one inner step's schedule
        (a conditional GAN adapting its embedding: the two embedding tables)."""
        embedding_only = self.conditional and self.adapt_what == "embedding"
        groups = [
            ParamGroup(name, tuple(p + "embed." for p in prefixes) if embedding_only else prefixes, inner)
            for name, prefixes in GROUP_PREFIXES.items()
        ]
        return groups, ["discriminator"] * self.d_steps + ["generator"]

    def generate(
        self,
        params: Params,
        n: int,
        gen: torch.Generator | None,
        device: torch.device,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        z = torch.randn(n, self.model.latent_dim, generator=gen).to(device)
        return functional_call(self.model.generator, sub_params(params, "generator."), (z, labels))

    def _critic(
        self, params: Params, images: torch.Tensor, gen: torch.Generator | None, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.augment:
            images = diff_augment(images, self.augment, gen)
        return functional_call(self.model.discriminator, sub_params(params, "discriminator."), (images, labels))

    def _discriminator_loss(
        self,
        params: Params,
        real: torch.Tensor,
        fake: torch.Tensor,
        gen: torch.Generator | None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        real_out, fake_out = self._critic(params, real, gen, labels), self._critic(params, fake, gen, labels)
        loss = discriminator_loss(self.loss, real_out, fake_out)  # type: ignore[arg-type]
        if self.loss == "wgan-gp":  # the penalty differentiates the critic, even where the caller does not
            with torch.enable_grad():
                penalty = gradient_penalty(
                    lambda x: self._critic(params, x, gen, labels), real, fake, gen, self.gp_weight
                )
            loss = loss + (penalty if torch.is_grad_enabled() else penalty.detach())
        return loss, real_out, fake_out

    def task_loss(
        self, params: Params, images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, group: str | None = None
    ) -> torch.Tensor:
        """The discriminator's loss (``group='discriminator'``), the generator's (``'generator'``) or
        the outer loss (``None``, see the module docstring) on the task's real ``images``; as many
        images are generated as there are real ones. An unconditional GAN ignores ``labels``; a
        conditional one takes them as global class labels in the outer loss (training) and puts the
        images into its new-class slot inside the inner loop (adaptation)."""
        labels, params = self._conditioning(params, labels, images, adapting=group is not None)
        fake = self.generate(params, images.shape[0], gen, images.device, labels)
        if group == "generator":
            return generator_loss(self.loss, self._critic(params, fake, gen, labels))  # type: ignore[arg-type]
        if group == "discriminator":
            return self._discriminator_loss(params, images, fake.detach(), gen, labels)[0]
        d_loss, real_out, fake_out = self._discriminator_loss(params, images, fake.detach(), gen, labels)
        frozen = {k: (v.detach() if k.startswith("discriminator.") else v) for k, v in params.items()}
        g_loss = generator_loss(self.loss, self._critic(frozen, fake, gen, labels))  # type: ignore[arg-type]
        self.diagnostics.record(real_out, fake_out, d_loss, g_loss)
        return d_loss + g_loss

    def _conditioning(
        self, params: Params, labels: torch.Tensor | None, images: torch.Tensor, adapting: bool
    ) -> tuple[torch.Tensor | None, Params]:
        if not self.conditional:
            return None, params
        if adapting:
            return torch.full((images.shape[0],), self.new_class, device=images.device), self._with_new_class(params)
        if labels is None or int(labels.max()) >= self.new_class:
            raise ValueError("a conditional GAN is trained on global labels of its training classes")
        return labels, params

    def take_diagnostics(self) -> dict[str, float]:
        """See :class:`GanDiagnostics`."""
        return self.diagnostics.take()

    @torch.no_grad()
    def sample(self, params: Params, shots: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` images [n, C, H, W] in [0, 1] from the generator adapted to ``shots``."""
        if not self.conditional:
            return self.generate(params, n, gen, shots.device)
        labels = torch.full((n,), self.new_class, device=shots.device)
        return self.generate(self._with_new_class(params), n, gen, shots.device, labels)
