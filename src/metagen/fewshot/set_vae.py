"""The set-conditioned VAE as a few-shot generator that adapts with no gradient steps: it reads the
K shots through its statistic network and generates from their context in one forward pass
(Neural Statistician, Edwards and Storkey 2017).

Trained episodically (``meta.algorithm=episodic``): in each task the context comes from the
support images (a random number of them, 1 to K, so that any K works at test time) and the loss is
the negative ELBO of the query images given that context, a bound on -log p(query | support) per
image. Optionally the engine fine-tunes the amortised model on the shots at test time
(``meta.adapt_steps`` > 0): the ELBO of the shots given their own context.
"""

from __future__ import annotations

import copy

import torch
from torch.func import functional_call

from metagen.meta.inner import Params
from metagen.nn.set_vae import SetVAE
from metagen.objectives.vae import set_negative_elbo
from metagen.tasks.task import Task


class SetVAEGenerator:
    """Args: ``temperature`` scales the prior std of new images' latents; ``random_shots`` draws
    the size of each training context set uniformly from 1 to K."""

    family = "set-vae"
    kind = "fewshot-generator"

    def __init__(self, model: SetVAE, temperature: float = 1.0, random_shots: bool = True):
        self.model, self.temperature, self.random_shots = model, temperature, random_shots

    def _loss(self, params: Params, context_set: torch.Tensor, images: torch.Tensor, gen: torch.Generator | None):
        eps_c = torch.randn(self.model.context_dim, generator=gen).to(images)
        eps_z = torch.randn(images.shape[0], self.model.latent_dim, generator=gen).to(images)
        terms = functional_call(self.model, params, (context_set, images, eps_c, eps_z))
        return set_negative_elbo(terms, images, self.model.likelihood)

    def episode_loss(self, params: Params, task: Task, gen: torch.Generator | None = None) -> torch.Tensor:
        """Negative ELBO (nats per image) of each class's queries given the context of its support,
        averaged over the task's classes."""
        losses = []
        for label in range(task.n_way):
            support = task.support_x[task.support_y == label]
            if self.random_shots and len(support) > 1:
                k = int(torch.randint(1, len(support) + 1, (1,), generator=gen))
                support = support[torch.randperm(len(support), generator=gen)[:k].to(support.device)]
            losses.append(self._loss(params, support, task.query_x[task.query_y == label], gen))
        return torch.stack(losses).mean()

    def task_loss(
        self, params: Params, images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, group: str | None = None
    ) -> torch.Tensor:
        """For fine-tuning on the shots at test time: the negative ELBO of ``images`` given their own context."""
        return self._loss(params, images, images, gen)

    @torch.no_grad()
    def sample(self, params: Params, shots: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` new images [n, C, H, W] in [0, 1] of the class of ``shots`` [K, C, H, W], in one pass."""
        own = dict(self.model.named_parameters())
        net = self.model
        if any(params[k] is not p for k, p in own.items()):  # fine-tuned: a copy with the adapted weights
            net = copy.deepcopy(self.model)
            net.load_state_dict({k: v.detach() for k, v in params.items()})
        eps_z = torch.randn(n, self.model.latent_dim, generator=gen).to(shots.device)
        return net.generate(shots, eps_z, self.temperature)
