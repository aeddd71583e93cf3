"""The set-conditioned VAE as a few-shot generator that adapts with no gradient steps: it reads the
K shots through its statistic network and generates from their context in one forward pass
(Neural Statistician, Edwards and Storkey 2017).

Trained episodically (``meta.algorithm=episodic``): in each task the context comes from the
support images (a random number of them, 1 to K, so that any K works at test time) and the loss is
the negative ELBO of the query images given that context, a bound on -log p(query | support) per
image. With local levels (``local_levels`` > 0) or a warping decoder (``warp``) each image's fusion
weights over the shots are drawn at random, in training and in generation, so new images draw on
the shots differently.
Optionally the engine fine-tunes the amortised model on the shots at test time
(``meta.adapt_steps`` > 0): the ELBO of the shots given their own context.
"""

from __future__ import annotations

import math

import torch
from torch.func import functional_call

from metagen.errors import ConfigError
from metagen.meta.inner import Params, with_params
from metagen.nn.set_vae import FUSIONS, SetVAE, random_fusion
from metagen.objectives.vae import (
    blurred_reconstruction_nll,
    importance_log_weights,
    importance_weighted_bound,
    set_negative_elbo,
)
from metagen.tasks.task import Task

SAMPLERS = ("prior", "shots")


def _blur_stds(stds: list[float] | tuple[float, ...]) -> tuple[float, ...]:
    """``model.family.alignment_blur`` checked: a list of positive, finite stds in pixels."""
    bad = ConfigError(f"model.family.alignment_blur must be a list of positive blur stds in pixels, got {stds!r}")
    if not isinstance(stds, (list, tuple)):
        raise bad
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) and 0 < s < math.inf for s in stds):
        raise bad
    return tuple(float(s) for s in stds)


class SetVAEGenerator:
    """Args: ``temperature`` scales the std of new images' latents; ``random_shots`` draws the size
    of each training context set uniformly from 1 to K; ``fusion`` says how each image weighs the
    shots' local maps: 'mix' (random convex weights), 'pick' (one shot at random) or 'mean' (see
    ``random_fusion``); ``sampler`` says where new latents come from: 'prior' draws them from
    p(z | c), as the Neural Statistician does; 'shots' draws them near the shots' posteriors
    q(z | shot, c), mixed with each image's fusion weights (the VAE sampler's way; see
    ``SetVAE.generate_near_shots``). Both sample in one pass; the memorisation ratio shows how close
    to the shots each stays. ``explain_shots`` adds the context images themselves to each class's
    images to explain, as the Neural Statistician's ELBO does over a whole data set; without it only
    the queries, unseen by the context, are explained (the predictive form). ``free_bits`` (nats per
    latent dimension; see ``set_negative_elbo``) keeps the per-image latent in use; ``fit_prior``
    keeps the prior p(z | c) learning below that floor. ``alignment_blur`` (stds in pixels) adds to
    the training loss, for each std, the reconstruction NLL of the images and outputs blurred by it
    (``blurred_reconstruction_nll``), so that a warping decoder learns deformations larger than a
    stroke's width; it is a training objective beside the ELBO, and the reported likelihood bound
    leaves it out."""

    family = "set-vae"
    kind = "fewshot-generator"

    def __init__(
        self,
        model: SetVAE,
        temperature: float = 1.0,
        random_shots: bool = True,
        fusion: str = "mix",
        sampler: str = "prior",
        explain_shots: bool = False,
        free_bits: float = 0.0,
        fit_prior: bool = False,
        alignment_blur: list[float] | tuple[float, ...] = (),
    ):
        if fusion not in FUSIONS:
            raise ConfigError(f"model.family.fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        if sampler not in SAMPLERS:
            raise ConfigError(f"model.family.sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        self.model, self.temperature, self.random_shots, self.fusion = model, temperature, random_shots, fusion
        if free_bits < 0:
            raise ConfigError(f"model.family.free_bits must be at least 0, got {free_bits}")
        if fit_prior and free_bits == 0:
            raise ConfigError("model.family.fit_prior keeps the prior learning below the free-bits floor: "
                              "it needs model.family.free_bits > 0")  # fmt: skip
        self.sampler, self.explain_shots, self.free_bits = sampler, explain_shots, free_bits
        self.fit_prior = fit_prior
        self.alignment_blur = _blur_stds(alignment_blur)

    def _fusion(self, n: int, k: int, gen: torch.Generator | None, like: torch.Tensor) -> torch.Tensor | None:
        if not (self.model.local_levels or self.model.warp):  # the shots enter through their context alone
            return None
        weights = random_fusion(n, k, gen, self.fusion)
        return None if weights is None else weights.to(like)

    def _loss(self, params: Params, context_set: torch.Tensor, images: torch.Tensor, gen: torch.Generator | None):
        eps_c = torch.randn(self.model.context_dim, generator=gen).to(images)
        eps_z = torch.randn(images.shape[0], self.model.latent_dim, generator=gen).to(images)
        fusion = self._fusion(len(images), len(context_set), gen, images)
        terms = functional_call(self.model, params, (context_set, images, eps_c, eps_z, fusion))
        loss = set_negative_elbo(terms, images, self.model.likelihood, self.free_bits, self.fit_prior)
        for sigma in self.alignment_blur:
            loss = loss + blurred_reconstruction_nll(terms["logits"], images, self.model.likelihood, sigma).mean()
        return loss

    def episode_loss(self, params: Params, task: Task, gen: torch.Generator | None = None) -> torch.Tensor:
        """Negative ELBO (nats per image) of each class's queries (with ``explain_shots``, and of the
        context images too) given the context of its support, averaged over the task's classes."""
        losses = []
        for label in range(task.n_way):
            support = task.support_x[task.support_y == label]
            if self.random_shots and len(support) > 1:
                k = int(torch.randint(1, len(support) + 1, (1,), generator=gen))
                support = support[torch.randperm(len(support), generator=gen)[:k].to(support.device)]
            targets = task.query_x[task.query_y == label]
            if self.explain_shots:
                targets = torch.cat([targets, support])
            losses.append(self._loss(params, support, targets, gen))
        return torch.stack(losses).mean()

    def task_loss(
        self, params: Params, images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, group: str | None = None
    ) -> torch.Tensor:
        """For fine-tuning on the shots at test time: the negative ELBO of ``images`` given their own context."""
        return self._loss(params, images, images, gen)

    @torch.no_grad()
    def log_likelihood_bound(
        self, params: Params, shots: torch.Tensor, images: torch.Tensor, samples: int, gen: torch.Generator
    ) -> torch.Tensor:
        """A lower bound on log p(image | shots) per image [B] (nats): the importance-weighted bound
        with ``samples`` draws of z from q(z | image, c) and of the fusion weights from the ones the
        sampler uses, at the context the sampler uses (the mean of q(c | shots))."""
        net, b = with_params(self.model, params), len(images)
        repeated = images.repeat(samples, 1, 1, 1)
        eps_z = torch.randn(samples * b, net.latent_dim, generator=gen).to(images)
        fusion = self._fusion(samples * b, len(shots), gen, images)
        terms = net(shots, repeated, torch.zeros(net.context_dim).to(images), eps_z, fusion)
        posterior, prior = (terms["mu_z"], terms["logvar_z"]), (terms["prior_mu"], terms["prior_logvar"])
        z = posterior[0] + torch.exp(0.5 * posterior[1]) * eps_z
        log_w = importance_log_weights(terms["logits"], repeated, z, posterior, prior, net.likelihood)
        return importance_weighted_bound(log_w.view(samples, b))

    @torch.no_grad()
    def sample(self, params: Params, shots: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` new images [n, C, H, W] in [0, 1] of the class of ``shots`` [K, C, H, W], in one pass."""
        net = with_params(self.model, params)
        eps_z = torch.randn(n, self.model.latent_dim, generator=gen).to(shots.device)
        if self.sampler == "shots":
            weights = random_fusion(n, len(shots), gen, self.fusion)
            weights = torch.full((n, len(shots)), 1.0 / len(shots)) if weights is None else weights
            return net.generate_near_shots(shots, eps_z, weights.to(shots), self.temperature)
        return net.generate(shots, eps_z, self.temperature, self._fusion(n, len(shots), gen, shots))
