"""Meta-learning algorithms: one outer step over a meta-batch of tasks.

- MAML, second order (Finn, Abbeel and Levine 2017, "Model-Agnostic Meta-Learning for Fast
  Adaptation of Deep Networks"): the query loss of the adapted parameters is differentiated through
  the inner loop.
- First-order MAML (same paper, section 5.2): the query-loss gradient at the adapted parameters is
  used as the meta-gradient, the inner loop being treated as constant.
- Reptile (Nichol, Achiam and Schulman 2018, "On First-Order Meta-Learning Algorithms"): the
  meta-gradient is ``theta - mean(phi_task)``; with outer SGD at rate epsilon this is exactly
  ``theta += epsilon * (mean(phi) - theta)``.
- Prototypical networks (Snell, Swersky and Zemel 2017, "Prototypical Networks for Few-shot
  Learning") and other amortised models such as the Neural Statistician (Edwards and Storkey
  2017): no inner loop; the meta-gradient is that of an episode loss (queries classified by
  distance to the support's class means, or explained given the support's context).
- Meta-SGD (Li, Zhou, Chen and Li 2017, "Meta-SGD: Learning to Learn Quickly for Few-Shot
  Learning"): MAML whose inner learning rates are learned, per parameter, per tensor or one scalar.
- Pretraining (the "pretrain, then fine-tune" baseline of the few-shot generation literature, for
  example Clouatre and Demers 2019): no inner loop; the gradient of the task loss on all of a
  task's images, so that over many tasks the network is trained on the pooled training classes.
  Fine-tuning is then the ordinary adaptation to the shots.

A learner owns the meta-parameters (the network's parameters and, for Meta-SGD, the learning
rates) and the outer optimizer. The task loss is a closure ``task_loss(params, x, y, gen)``
(images, episode labels, random generator)
supplied by the model family, so any network pairs with any algorithm.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Callable, Iterable, Literal

import torch
from torch import nn

from metagen.errors import ConfigError
from metagen.meta import vectorised
from metagen.meta.inner import InnerLoop, ParamGroup, Params, adapt, adapt_groups
from metagen.meta.step_weights import WEIGHTED_ALGORITHMS, step_weights_problem
from metagen.meta.threaded import TaskThreads
from metagen.tasks.task import Task, stack_tasks
from metagen.train.distributed import World, all_reduce_sum

TaskLoss = Callable[[Params, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]
ALGORITHMS = ("maml", "fomaml", "reptile", "metasgd", "protonet", "episodic", "pretrain")
EPISODIC_ALGORITHMS = ("protonet", "episodic")
EpisodeLoss = Callable[[Params, Task, torch.Generator], torch.Tensor]


class MetaLearner:
    """Base class: holds the model, the task loss, the inner loop and the outer optimizer."""

    def __init__(
        self,
        model: nn.Module,
        task_loss: TaskLoss,
        inner: InnerLoop,
        outer_lr: float,
        outer_optimizer: Literal["adam", "sgd"] = "adam",
        outer_grad_clip: float | None = None,
        groups: list[ParamGroup] | None = None,
        schedule: list[str] | None = None,
    ):
        """``groups`` and ``schedule`` make the inner loop alternate between parameter groups (see
        :func:`metagen.meta.inner.adapt_groups`): one round of ``schedule`` per inner step, and the
        task loss is then called as ``task_loss(params, x, y, gen, group)`` with the group's name
        (``None`` for the outer loss)."""
        if any(True for _ in model.buffers()):
            raise ConfigError(
                "the meta-learning engine needs networks without buffers (use GroupNorm, not BatchNorm), "
                "so that no state leaks between tasks"
            )
        self.model, self.task_loss, self.inner = model, task_loss, inner
        if (groups is None) != (schedule is None):
            raise ConfigError("parameter groups and their schedule go together")
        self.groups, self.schedule = groups, schedule
        self.outer_grad_clip = outer_grad_clip
        self.extra = nn.ParameterDict()  # meta-parameters beyond the network's (Meta-SGD's rates)
        self._outer_lr, self._outer_kind = outer_lr, outer_optimizer
        self.optimizer: torch.optim.Optimizer | None = None
        self.world = World()  # set by the training loop under torchrun
        self.batching: Literal["loop", "vmap", "threads", "pooled"] = "loop"
        self.threads: TaskThreads | None = None  # the worker threads of batching='threads'

    def use_threads(self, workers: int) -> None:
        """Spread each meta-batch over ``workers`` threads (see ``metagen.meta.threaded``)."""
        self.batching, self.threads = "threads", TaskThreads(workers)

    def replica(self) -> "MetaLearner":
        """An independent copy of this learner (network, family and meta-parameters) without its
        optimizer, worker threads or process group: what a worker thread computes with."""
        if getattr(self.task_loss, "__self__", None) is None:
            raise ConfigError(
                "meta.batching=threads needs the task loss to be a method of the model family (a closure "
                "over a network would share it between threads); use meta.batching=loop"
            )
        saved = self.optimizer, self.threads, self.world
        self.optimizer, self.threads, self.world = None, None, World()
        try:
            clone = copy.deepcopy(self)
        finally:
            self.optimizer, self.threads, self.world = saved
        clone.batching = "loop"
        return clone

    def build_optimizer(self) -> torch.optim.Optimizer:
        params = list(self.model.parameters()) + list(self.extra.parameters())
        cls = torch.optim.Adam if self._outer_kind == "adam" else torch.optim.SGD
        self.optimizer = cls(params, lr=self._outer_lr)
        return self.optimizer

    def params(self) -> Params:
        return dict(self.model.named_parameters())

    def set_learning_rates(self, outer: float | None = None, inner: float | None = None) -> None:
        """Set the outer optimizer's learning rate and/or the inner loops' (every parameter group's);
        Meta-SGD's learned rates are meta-parameters and stay as they are."""
        if outer is not None:
            self._outer_lr = outer
            for group in self.optimizer.param_groups if self.optimizer is not None else ():
                group["lr"] = outer
        if inner is not None:
            self.inner = dataclasses.replace(self.inner, lr=inner)
            if self.groups is not None:
                self.groups = [
                    dataclasses.replace(g, inner=dataclasses.replace(g.inner, lr=inner)) for g in self.groups
                ]

    @property
    def outer_lr(self) -> float:
        return self._outer_lr

    def inner_lrs(self) -> Params | None:
        return None

    def adapt(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        gen: torch.Generator,
        steps: int | None = None,
        create_graph: bool = False,
        trajectory: list[Params] | None = None,
    ) -> Params:
        """Adapted parameters for a task whose training images are ``x`` with labels ``y``;
        ``trajectory`` receives the parameters at every step (see :func:`metagen.meta.inner.adapt`)."""
        if self.groups is None or self.schedule is None:
            loss = functools.partial(self._support_loss, x=x, y=y, gen=gen)
            return adapt(self.params(), loss, self.inner, create_graph, steps, self.inner_lrs(), trajectory)
        if trajectory is not None:
            raise ConfigError("outer losses at every inner step need one parameter group (no alternating schedule)")
        rounds = self.inner.steps if steps is None else steps
        losses = {g.name: functools.partial(self._group_loss, x=x, y=y, gen=gen, group=g.name) for g in self.groups}
        return adapt_groups(
            self.params(), self.groups, losses, list(self.schedule) * rounds, create_graph, self.inner_lrs()
        )

    def _support_loss(self, params: Params, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.task_loss(params, x, y, gen)

    def _group_loss(
        self, params: Params, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, group: str
    ) -> torch.Tensor:
        return self.task_loss(params, x, y, gen, group)  # type: ignore[call-arg]

    def meta_gradients(self, task: Task, gen: torch.Generator) -> tuple[list[torch.Tensor | None], float]:
        """Meta-gradients for the tensors of ``meta_parameters()`` from one task, and its outer loss."""
        raise NotImplementedError

    def pure_loss(self, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The task loss without a random generator, for ``torch.func`` transforms."""
        return self.task_loss(params, x, y, None)  # type: ignore[arg-type]

    def vectorised_sums(self, tasks: list[Task]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Summed meta-gradients (aligned with ``meta_parameters()``) and summed outer loss of
        ``tasks``, computed with ``torch.func.vmap`` (see ``metagen.meta.vectorised``)."""
        raise ConfigError(f"{type(self).__name__} has no vectorised form; use meta.batching=loop")

    def pooling_refusal(self) -> str | None:
        """Why ``meta.batching=pooled`` cannot compute this learner's meta-gradients (None: it can).
        Pooling needs a meta-gradient that is the gradient of the task loss at the current
        parameters, with no inner loop, and a network without batch statistics."""
        return self._algorithm_pooling_refusal() or _batch_statistics(self.model)

    def _algorithm_pooling_refusal(self) -> str | None:
        return f"{type(self).__name__} needs each task on its own (an inner loop or an episode); use meta.batching=loop"

    def outer_batch(self, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels of ``task`` whose task loss, at the current parameters, gives this
        learner's meta-gradient when it has no inner loop (see ``pooling_refusal``)."""
        raise NotImplementedError

    def pooled_sums(self, tasks: list[Task], gen: torch.Generator) -> tuple[list[torch.Tensor | None], float]:
        """Summed meta-gradients and summed outer loss of ``tasks`` from one forward and backward
        pass over their pooled images (``meta.batching=pooled``), in place of one pass per task. For
        a task loss that is a mean over images, over tasks of the same size, and a network that
        treats each image on its own (no batch statistics), this is the loop's result: the mean of
        the tasks' means is the pooled mean. Random numbers come from ``gen``."""
        refusal = self.pooling_refusal()
        if refusal is not None:
            raise ConfigError(f"meta.batching=pooled: {refusal}")
        batches = [self.outer_batch(task) for task in tasks]
        if len({len(x) for x, _ in batches}) != 1:
            raise ValueError("meta.batching=pooled needs tasks of the same size, so that every image weighs the same")
        x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
        loss = self.task_loss(self.params(), x, y, gen)
        grads = torch.autograd.grad(loss * len(tasks), self.meta_parameters(), allow_unused=True)
        return list(grads), float(loss.detach()) * len(tasks)

    def _with_extra(self, grads: Params, extra: dict[int, torch.Tensor] | None = None) -> list[torch.Tensor]:
        out = [grads[name] for name, _ in self.model.named_parameters()]
        return out + [extra[id(p)] if extra else torch.zeros_like(p) for p in self.extra.parameters()]

    def meta_parameters(self) -> list[torch.Tensor]:
        return list(self.model.parameters()) + list(self.extra.parameters())

    def outer_step(self, tasks: list[Task], gens: list[torch.Generator]) -> dict[str, float]:
        """Average the meta-gradients of ``tasks`` (task i draws its random numbers from
        ``gens[i]``), apply the outer optimizer, return the mean outer loss.

        Under ``torchrun`` each process computes its share of the tasks and the sums are
        all-reduced (see ``metagen.train.distributed``)."""
        if len(gens) != len(tasks):
            raise ValueError(f"need one generator per task: {len(tasks)} tasks, {len(gens)} generators")
        if self.optimizer is None:
            self.build_optimizer()
        assert self.optimizer is not None
        meta_params = self.meta_parameters()
        totals = [torch.zeros_like(p) for p in meta_params]
        loss_sum = torch.zeros((), dtype=torch.float64, device=meta_params[0].device)
        share = self.world.share(len(tasks))
        if self.batching == "vmap" and self.groups is not None:
            raise ConfigError("meta.batching=vmap does not support parameter groups; use meta.batching=loop")
        results: Iterable[tuple[list[torch.Tensor | None], float]] = ()
        if self.batching == "vmap" and share:
            totals, vloss = self.vectorised_sums([tasks[i] for i in share])
            loss_sum += vloss.detach().to(loss_sum.dtype)
        elif self.batching == "threads":
            self.threads = self.threads or TaskThreads(torch.get_num_threads())
            results = self.threads.meta_gradients(self, [tasks[i] for i in share], [gens[i] for i in share])
        elif self.batching == "pooled" and share:
            results = [self.pooled_sums([tasks[i] for i in share], gens[share[0]])]
        elif self.batching == "loop":
            results = (self.meta_gradients(tasks[i], gens[i]) for i in share)
        for grads, loss in results:
            loss_sum += loss
            totals = [t if g is None else t + g for t, g in zip(totals, grads)]
        *totals, loss_sum = all_reduce_sum([*totals, loss_sum], self.world)
        self.optimizer.zero_grad(set_to_none=True)
        for p, g in zip(meta_params, totals):
            p.grad = g / len(tasks)
        if self.outer_grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(meta_params, self.outer_grad_clip)
        self.optimizer.step()
        return {"loss": float(loss_sum) / len(tasks)}


def _normalised(weights: list[float], inner_steps: int) -> list[float]:
    """Step weights scaled to sum to 1, once checked (see ``step_weights_problem``)."""
    problem = step_weights_problem(weights, inner_steps)
    if problem is not None:
        raise ConfigError(problem)
    return [w / sum(weights) for w in weights]


def _batch_statistics(model: nn.Module) -> str | None:
    """Why pooling would change what ``model`` computes (None: it would not): batch normalisation
    normalises over the batch, so the pooled tasks would share statistics the loop keeps apart."""
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return "the network normalises over its batch (BatchNorm), so pooled tasks would change its output"
    return None


class MAML(MetaLearner):
    """Second-order MAML; ``first_order=True`` gives first-order MAML.

    ``step_weights`` (one per inner step and one for the start, normalised to sum to 1) take the
    outer loss at every step of the inner loop, weighted, in place of at the last step alone: the
    multi-step loss of MAML++ (Antoniou, Edwards and Storkey 2019, "How to train your MAML"), here
    with a weight for the unadapted parameters too, so that the initialisation is asked to do well
    before adaptation as well as after it. First order, each step's gradient is taken at that step's
    parameters."""

    def __init__(self, *args, first_order: bool = False, step_weights: list[float] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.first_order = first_order
        self.step_weights = None if step_weights is None else _normalised(step_weights, self.inner.steps)
        if self.step_weights is not None and self.groups is not None:
            raise ConfigError("meta.step_weights need one parameter group (no alternating schedule)")

    def meta_gradients(self, task: Task, gen: torch.Generator) -> tuple[list[torch.Tensor | None], float]:
        if self.step_weights is not None:
            return self._multi_step_gradients(task, gen, self.step_weights)
        meta_params = self.meta_parameters()
        adapted = self.adapt(task.support_x, task.support_y, gen, create_graph=not self.first_order)
        if self.first_order:
            adapted = {k: v.detach().requires_grad_(True) for k, v in adapted.items()}
        loss = self.task_loss(adapted, task.query_x, task.query_y, gen)
        targets = list(adapted.values()) if self.first_order else meta_params
        grads = torch.autograd.grad(loss, targets, allow_unused=True)
        if self.first_order:  # the adapted tensors line up with the network's parameters
            grads = tuple(grads) + (None,) * (len(meta_params) - len(grads))
        return list(grads), float(loss.detach())

    def _multi_step_gradients(
        self, task: Task, gen: torch.Generator, weights: list[float]
    ) -> tuple[list[torch.Tensor | None], float]:
        """Meta-gradients of the weighted sum of the query losses at every inner step."""
        meta_params = self.meta_parameters()
        path: list[Params] = []
        self.adapt(task.support_x, task.support_y, gen, create_graph=not self.first_order, trajectory=path)
        steps = [(w, p) for w, p in zip(weights, path) if w > 0]
        losses = [w * self.task_loss(p, task.query_x, task.query_y, gen) for w, p in steps]
        if not self.first_order:
            grads = torch.autograd.grad(sum(losses), meta_params, allow_unused=True)
            return list(grads), float(sum(loss.detach() for loss in losses))
        total: list[torch.Tensor | None] = [None] * len(meta_params)
        for loss, (_, params) in zip(losses, steps):
            for i, g in enumerate(torch.autograd.grad(loss, list(params.values()), allow_unused=True)):
                if g is not None:
                    total[i] = g if total[i] is None else total[i] + g
        return total, float(sum(loss.detach() for loss in losses))

    def _algorithm_pooling_refusal(self) -> str | None:
        if self.inner.steps != 0 or self.groups is not None:
            return "MAML pools its tasks only without an inner loop (meta.inner_steps=0: ordinary training)"
        return None

    def outer_batch(self, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
        return task.query_x, task.query_y

    def vectorised_sums(self, tasks: list[Task]) -> tuple[list[torch.Tensor], torch.Tensor]:
        if self.step_weights is not None:
            raise ConfigError("meta.step_weights have no vectorised form; use meta.batching=loop")
        batch = stack_tasks(tasks)
        if self.first_order:
            grads, loss = vectorised.first_order_maml_sums(self.pure_loss, self.params(), batch, self.inner)
        else:
            grads, _, loss = vectorised.maml_sums(self.pure_loss, self.params(), batch, self.inner)
        return self._with_extra(grads), loss


class MetaSGD(MAML):
    """MAML with learned inner learning rates. ``lr_shape``: 'parameter' (one rate per weight, as
    in the paper), 'tensor' (one per parameter tensor) or 'scalar' (one for the network)."""

    def __init__(self, *args, lr_shape: Literal["parameter", "tensor", "scalar"] = "parameter", **kwargs):
        super().__init__(*args, first_order=False, **kwargs)
        self.lr_shape = lr_shape
        init = self.inner.lr
        first = next(self.model.parameters())
        if lr_shape == "scalar":
            self.extra["lr"] = nn.Parameter(torch.tensor(init, dtype=first.dtype, device=first.device))
        for name, p in self.model.named_parameters():
            key = "lr_" + name.replace(".", "_")
            if lr_shape == "parameter":
                self.extra[key] = nn.Parameter(torch.full_like(p, init))
            elif lr_shape == "tensor":
                self.extra[key] = nn.Parameter(torch.tensor(init, dtype=p.dtype, device=p.device))

    def inner_lrs(self) -> Params:
        if self.lr_shape == "scalar":
            return {name: self.extra["lr"] for name, _ in self.model.named_parameters()}
        return {name: self.extra["lr_" + name.replace(".", "_")] for name, _ in self.model.named_parameters()}

    def vectorised_sums(self, tasks: list[Task]) -> tuple[list[torch.Tensor], torch.Tensor]:
        if self.step_weights is not None:
            raise ConfigError("meta.step_weights have no vectorised form; use meta.batching=loop")
        lrs = self.inner_lrs()
        grads, rate_grads, loss = vectorised.maml_sums(
            self.pure_loss, self.params(), stack_tasks(tasks), self.inner, lrs
        )
        extra = {id(p): torch.zeros_like(p) for p in self.extra.parameters()}
        for name, g in (rate_grads or {}).items():  # a shared rate (scalar, per tensor) sums its uses
            extra[id(lrs[name])] = (
                extra[id(lrs[name])] + g.reshape(lrs[name].shape)
                if g.shape != lrs[name].shape
                else extra[id(lrs[name])] + g
            )
        return self._with_extra(grads, extra), loss


class Reptile(MetaLearner):
    """Reptile: the inner loop runs on all of a task's images (support and query)."""

    def meta_gradients(self, task: Task, gen: torch.Generator) -> tuple[list[torch.Tensor | None], float]:
        x = torch.cat([task.support_x, task.query_x])
        y = torch.cat([task.support_y, task.query_y])
        adapted = self.adapt(x, y, gen)
        with torch.no_grad():
            loss = self.task_loss(adapted, x, y, gen)
        return [p.detach() - adapted[k] for k, p in self.params().items()], float(loss)

    def vectorised_sums(self, tasks: list[Task]) -> tuple[list[torch.Tensor], torch.Tensor]:
        batch = stack_tasks(tasks)
        x = torch.cat([batch["support_x"], batch["query_x"]], dim=1)
        y = torch.cat([batch["support_y"], batch["query_y"]], dim=1)
        deltas, loss = vectorised.reptile_sums(self.pure_loss, self.params(), x, y, self.inner)
        return self._with_extra(deltas), loss


class Pretrain(MetaLearner):
    """Joint training on the pooled tasks: the meta-gradient is the gradient of the task loss on
    all of a task's images (support and query) at the current parameters. Labels are the data
    set's class indices (``task.classes``), not episode labels, so class-conditional models learn
    every training class."""

    def _algorithm_pooling_refusal(self) -> str | None:
        return None if self.groups is None else "parameter groups alternate per task; use meta.batching=loop"

    def outer_batch(self, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
        episode = torch.cat([task.support_y, task.query_y])
        classes = torch.as_tensor(task.classes, dtype=torch.long, device=episode.device)[episode]
        return torch.cat([task.support_x, task.query_x]), classes

    def meta_gradients(self, task: Task, gen: torch.Generator) -> tuple[list[torch.Tensor | None], float]:
        x, y = self.outer_batch(task)
        loss = self.task_loss(self.params(), x, y, gen)
        grads = torch.autograd.grad(loss, self.meta_parameters(), allow_unused=True)
        return list(grads), float(loss.detach())


class Episodic(MetaLearner):
    """Amortised learners trained episodically: the meta-gradient is that of an episode loss
    ``(params, task, gen) -> loss`` that uses support and query together, and the support enters
    through the network rather than through gradient steps: class prototypes (Prototypical
    Networks, Snell et al. 2017; ``protonet``) or a set encoder's context (the Neural
    Statistician, Edwards and Storkey 2017; ``episodic``). Adaptation leaves the parameters as they
    are, unless it is asked for steps and given a ``finetune_loss`` (amortised, then fine-tuned)."""

    def __init__(self, model: nn.Module, episode_loss: EpisodeLoss, finetune_loss: TaskLoss | None = None, **kwargs):
        super().__init__(model, finetune_loss or episode_loss, **kwargs)  # type: ignore[arg-type]
        self.episode_loss, self.finetune_loss = episode_loss, finetune_loss

    def adapt(self, x, y, gen, steps=None, create_graph=False) -> Params:  # noqa: D102
        if not steps or self.finetune_loss is None:
            return self.params()
        return super().adapt(x, y, gen, steps, create_graph)

    def meta_gradients(self, task: Task, gen: torch.Generator) -> tuple[list[torch.Tensor | None], float]:
        loss = self.episode_loss(self.params(), task, gen)
        grads = torch.autograd.grad(loss, self.meta_parameters(), allow_unused=True)
        return list(grads), float(loss.detach())


def make_learner(
    algorithm: str,
    model: nn.Module,
    task_loss: TaskLoss | EpisodeLoss,
    inner: InnerLoop,
    outer_lr: float,
    outer_optimizer: Literal["adam", "sgd"] = "adam",
    outer_grad_clip: float | None = None,
    groups: list[ParamGroup] | None = None,
    schedule: list[str] | None = None,
    finetune_loss: TaskLoss | None = None,
    step_weights: list[float] | None = None,
) -> MetaLearner:
    """Build the learner named ``algorithm`` (one of ``ALGORITHMS``). ``task_loss`` is the family's
    per-split task loss, or for ``protonet`` / ``episodic`` its episode loss (with ``finetune_loss``
    for optional test-time steps); ``groups`` and ``schedule`` make the
    inner loop alternate between parameter groups (see :class:`MetaLearner`); ``step_weights``
    take MAML's outer loss at every inner step (see :class:`MAML`)."""
    if step_weights is not None and algorithm not in WEIGHTED_ALGORITHMS:
        raise ConfigError(step_weights_problem(step_weights, inner.steps, algorithm))
    common = dict(
        inner=inner,
        outer_lr=outer_lr,
        outer_optimizer=outer_optimizer,
        outer_grad_clip=outer_grad_clip,
        groups=groups,
        schedule=schedule,
    )
    if algorithm == "maml":
        return MAML(model, task_loss, step_weights=step_weights, **common)
    if algorithm == "fomaml":
        return MAML(model, task_loss, first_order=True, step_weights=step_weights, **common)
    if algorithm == "metasgd":
        return MetaSGD(model, task_loss, step_weights=step_weights, **common)
    if algorithm == "reptile":
        return Reptile(model, task_loss, **common)
    if algorithm == "pretrain":
        return Pretrain(model, task_loss, **common)
    if algorithm in EPISODIC_ALGORITHMS:
        return Episodic(model, task_loss, finetune_loss, **common)  # type: ignore[arg-type]  (an episode loss)
    raise ConfigError(f"unknown meta-learning algorithm {algorithm!r}; choose one of: {', '.join(ALGORITHMS)}")
