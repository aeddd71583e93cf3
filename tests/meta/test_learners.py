"""The meta-learning engine against independent, hand-unrolled references (float64)."""

import higher  # a dev dependency: the independent reference
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from metagen.errors import ConfigError
from metagen.meta.inner import InnerLoop
from metagen.meta.learners import MAML, MetaSGD, Reptile
from metagen.tasks.task import Task


class TinyConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.GroupNorm(2, 4)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(torch.tanh(self.norm(self.conv(x))).mean(dim=(2, 3))).squeeze(1)


def target(x):
    return x.mean(dim=(1, 2, 3)) * 3.0 - 1.0


def make(seed=0):
    torch.manual_seed(seed)
    model = TinyConv().double()

    def task_loss(params, images, labels, gen):
        return F.mse_loss(functional_call(model, params, (images,)), target(images))

    g = torch.Generator().manual_seed(1)
    task = Task(
        torch.rand(5, 1, 6, 6, generator=g, dtype=torch.float64),
        torch.zeros(5),
        torch.rand(7, 1, 6, 6, generator=g, dtype=torch.float64),
        torch.zeros(7),
        (0,),
    )
    return model, task_loss, task


def reference_forward(w, x):
    """TinyConv written out by hand with plain tensors, independent of the module."""
    h = F.group_norm(F.conv2d(x, w[0], w[1], padding=1), 2, w[2], w[3])
    return F.linear(torch.tanh(h).mean(dim=(2, 3)), w[4], w[5]).squeeze(1)


def reference_meta_grad(model, task, steps, lr, first_order):
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    fast = params
    for _ in range(steps):
        loss = F.mse_loss(reference_forward(fast, task.support_x), target(task.support_x))
        grads = torch.autograd.grad(loss, fast, create_graph=not first_order)
        fast = [p - lr * g for p, g in zip(fast, grads)]
        if first_order:
            fast = [p.detach().requires_grad_(True) for p in fast]
    qloss = F.mse_loss(reference_forward(fast, task.query_x), target(task.query_x))
    return torch.autograd.grad(qloss, fast if first_order else params)


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_maml_second_order_matches_unrolled_reference(steps):
    model, loss, task = make()
    learner = MAML(model, loss, InnerLoop(steps, 0.3, "sgd"), outer_lr=0.1)
    grads, _ = learner.meta_gradients(task, torch.Generator())
    for g, r in zip(grads, reference_meta_grad(model, task, steps, 0.3, first_order=False)):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-10)


def test_second_order_terms_matter_here():
    model, loss, task = make()
    second = reference_meta_grad(model, task, 3, 0.3, first_order=False)
    first = reference_meta_grad(model, task, 3, 0.3, first_order=True)
    assert max((a - b).abs().max() for a, b in zip(second, first)) > 1e-4


@pytest.mark.parametrize("steps", [1, 3])
def test_first_order_maml_matches_detached_reference(steps):
    model, loss, task = make()
    learner = MAML(model, loss, InnerLoop(steps, 0.3, "sgd"), outer_lr=0.1, first_order=True)
    grads, _ = learner.meta_gradients(task, torch.Generator())
    for g, r in zip(grads, reference_meta_grad(model, task, steps, 0.3, first_order=True)):
        torch.testing.assert_close(g, r, rtol=1e-7, atol=1e-12)


def test_reptile_update_equals_its_formula():
    model, loss, task = make()
    theta = [p.detach().clone() for p in model.parameters()]
    images = torch.cat([task.support_x, task.query_x])
    phi = [t.clone().requires_grad_(True) for t in theta]
    for _ in range(4):
        grads = torch.autograd.grad(F.mse_loss(reference_forward(phi, images), target(images)), phi)
        phi = [(p - 0.2 * g).detach().requires_grad_(True) for p, g in zip(phi, grads)]
    eps = 0.25
    Reptile(model, loss, InnerLoop(4, 0.2, "sgd"), outer_lr=eps, outer_optimizer="sgd").outer_step(
        [task], [torch.Generator()]
    )
    for p, t, f in zip(model.parameters(), theta, phi):
        torch.testing.assert_close(p.detach(), t + eps * (f.detach() - t), rtol=1e-10, atol=1e-12)


def test_metasgd_learning_rate_gradient_matches_finite_differences():
    model, loss, task = make()
    learner = MetaSGD(model, loss, InnerLoop(2, 0.3, "sgd"), outer_lr=0.1, lr_shape="scalar")
    grads, _ = learner.meta_gradients(task, torch.Generator())
    analytic = grads[-1]  # the scalar learning rate is the last meta-parameter

    def query_loss(lr):
        learner.extra["lr"].data.fill_(lr)
        adapted = learner.adapt(task.support_x, task.support_y, torch.Generator(), create_graph=False)
        return float(loss(adapted, task.query_x, task.query_y, None))

    h = 1e-5
    numeric = (query_loss(0.3 + h) - query_loss(0.3 - h)) / (2 * h)
    assert analytic.item() == pytest.approx(numeric, rel=1e-5)


def test_per_parameter_rates_have_parameter_shapes():
    model, loss, _ = make()
    learner = MetaSGD(model, loss, InnerLoop(1, 0.3), outer_lr=0.1)
    for name, p in model.named_parameters():
        assert learner.inner_lrs()[name].shape == p.shape


def test_networks_with_buffers_are_refused():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    with pytest.raises(ConfigError, match="without buffers"):
        MAML(net, lambda p, x, y, g: x.sum(), InnerLoop(1, 0.1), outer_lr=0.1)


def test_adam_inner_loop_matches_torch_adam_first_order():
    model, loss, task = make()
    from metagen.meta.inner import adapt

    params = dict(model.named_parameters())
    ours = adapt(
        params, lambda p: loss(p, task.support_x, None, None), InnerLoop(3, 0.01, "adam", eps=1e-8), create_graph=False
    )
    copy = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.Adam(copy.values(), lr=0.01, eps=1e-8)
    for _ in range(3):
        opt.zero_grad()
        loss(copy, task.support_x, None, None).backward()
        opt.step()
    for k in params:  # sqrt(v + eps^2) differs from sqrt(v) only far below this tolerance here
        torch.testing.assert_close(ours[k], copy[k].detach(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_maml_matches_higher(steps):
    """Second-order meta-gradients equal those of the ``higher`` library (Grefenstette et al. 2019)."""
    model, loss, task = make()
    learner = MAML(model, loss, InnerLoop(steps, 0.3, "sgd"), outer_lr=0.1)
    ours, _ = learner.meta_gradients(task, torch.Generator())

    reference = make()[0]
    inner_opt = torch.optim.SGD(reference.parameters(), lr=0.3)
    with higher.innerloop_ctx(reference, inner_opt, copy_initial_weights=False) as (fmodel, diffopt):
        for _ in range(steps):
            diffopt.step(F.mse_loss(fmodel(task.support_x), target(task.support_x)))
        F.mse_loss(fmodel(task.query_x), target(task.query_x)).backward()
    for g, p in zip(ours, reference.parameters()):
        torch.testing.assert_close(g, p.grad, rtol=1e-5, atol=1e-10)


def _classification_task(seed, n_way=3, k=2, q=3):
    g = torch.Generator().manual_seed(seed)
    labels = lambda n: torch.arange(n_way).repeat_interleave(n)  # noqa: E731
    x = lambda n: torch.rand(n_way * n, 1, 6, 6, generator=g, dtype=torch.float64)  # noqa: E731
    return Task(x(k), labels(k), x(q), labels(q), tuple(range(n_way)))


class TinyClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(4, track_running_stats=False)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(torch.relu(self.norm(self.conv(x))).mean(dim=(2, 3)))


class TinyFamily:
    """A task loss reached through an object, as the model families provide it."""

    def __init__(self, model):
        self.model = model

    def task_loss(self, params, x, y, gen):
        return F.cross_entropy(functional_call(self.model, params, (x,)), y)


@pytest.mark.parametrize("batching", ["vmap", "threads"])
@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "reptile", "metasgd-parameter", "metasgd-scalar"])
def test_batching_equals_the_loop(algorithm, batching):
    """vmap and worker threads give the loop's outer steps (two: the second checks that the
    threads' replicas follow the updated parameters)."""
    from metagen.meta.learners import make_learner

    tasks = [_classification_task(s) for s in range(5)]
    results = []
    for how in ("loop", batching):
        torch.manual_seed(0)
        model = TinyClassifier().double()
        name, _, shape = algorithm.partition("-")
        inner, loss = InnerLoop(2, 0.3, "sgd"), TinyFamily(model).task_loss
        if name == "metasgd":
            learner = MetaSGD(model, loss, inner, outer_lr=0.1, outer_optimizer="sgd", lr_shape=shape)
        else:
            learner = make_learner(name, model, loss, inner, outer_lr=0.1, outer_optimizer="sgd")
        if how == "threads":
            learner.use_threads(2)
        learner.batching = how
        for _ in range(2):
            out = learner.outer_step(tasks, [torch.Generator() for _ in tasks])
        results.append((out["loss"], [p.detach().clone() for p in learner.meta_parameters()]))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-10)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_thread_batching_refuses_a_closure_task_loss():
    model = TinyClassifier().double()
    learner = MAML(model, lambda p, x, y, g: functional_call(model, p, (x,)).sum(), InnerLoop(1, 0.1, "sgd"), 0.1)
    learner.use_threads(2)
    task = _classification_task(0)
    with pytest.raises(ConfigError, match="method of the model family"):
        learner.outer_step([task], [torch.Generator()])


def test_parameter_groups_alternate_with_their_own_optimizers():
    """Two groups (the conv+norm 'discriminator-like' part and the head), each with its own loss and
    optimizer, adapted in turn, equal a hand-written alternating loop; second order flows through."""
    from metagen.meta.inner import ParamGroup, adapt_groups

    model, loss, task = make()
    params = dict(model.named_parameters())
    body = ParamGroup("body", ("conv.", "norm."), InnerLoop(0, 0.05, "adam"))
    head = ParamGroup("head", ("head.",), InnerLoop(0, 0.2, "sgd"))
    body_loss = lambda p: loss(p, task.support_x, None, None)  # noqa: E731
    head_loss = lambda p: loss(p, task.query_x, None, None) * 2.0  # noqa: E731
    ours = adapt_groups(
        params, [body, head], {"body": body_loss, "head": head_loss}, ["body", "head"] * 2, create_graph=True
    )

    ref = {k: v for k, v in params.items()}
    m = {k: torch.zeros_like(v) for k, v in params.items()}
    v = {k: torch.zeros_like(t) for k, t in params.items()}
    for t in (1, 2):
        names = [k for k in ref if k.startswith(("conv.", "norm."))]
        grads = torch.autograd.grad(body_loss(ref), [ref[k] for k in names], create_graph=True)
        ref = dict(ref)
        for k, g in zip(names, grads):
            m[k], v[k] = 0.9 * m[k] + 0.1 * g, 0.999 * v[k] + 0.001 * g * g
            ref[k] = ref[k] - 0.05 * (m[k] / (1 - 0.9**t)) / (torch.sqrt(v[k] / (1 - 0.999**t) + 1e-16) + 1e-8)
        names = [k for k in ref if k.startswith("head.")]
        grads = torch.autograd.grad(head_loss(ref), [ref[k] for k in names], create_graph=True)
        ref = {**ref, **{k: ref[k] - 0.2 * g for k, g in zip(names, grads)}}
    for k in params:
        torch.testing.assert_close(ours[k], ref[k], rtol=1e-10, atol=1e-12)
    meta = torch.autograd.grad(loss(ours, task.query_x, None, None), list(params.values()))
    meta_ref = torch.autograd.grad(loss(ref, task.query_x, None, None), list(params.values()))
    for a, b in zip(meta, meta_ref):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-12)


def test_parameter_group_errors():
    from metagen.meta.inner import ParamGroup, adapt_groups

    model, loss, task = make()
    params = dict(model.named_parameters())
    f = {"a": lambda p: loss(p, task.support_x, None, None)}
    with pytest.raises(ValueError, match="matches no parameter"):
        adapt_groups(params, [ParamGroup("a", ("nothing.",), InnerLoop(1, 0.1))], f, ["a"], False)
    with pytest.raises(ValueError, match="is in groups"):
        adapt_groups(
            params,
            [ParamGroup("a", ("conv.",), InnerLoop(1, 0.1)), ParamGroup("b", ("conv.w",), InnerLoop(1, 0.1))],
            f,
            ["a"],
            False,
        )
    with pytest.raises(ValueError, match="unknown parameter groups"):
        adapt_groups(params, [ParamGroup("a", ("conv.",), InnerLoop(1, 0.1))], f, ["z"], False)


def test_learner_adapts_parameter_groups_inside_each_task():
    """MAML with two alternating groups: the meta-gradient equals differentiating adapt_groups by hand."""
    from metagen.meta.inner import ParamGroup, adapt_groups

    model, loss, task = make()
    calls = []

    def grouped_loss(p, x, y, gen, group=None):
        calls.append(group)
        scale = {"body": 1.0, "head": 3.0, None: 1.0}[group]
        return loss(p, x, y, gen) * scale

    groups = [
        ParamGroup("body", ("conv.", "norm."), InnerLoop(0, 0.1, "sgd")),
        ParamGroup("head", ("head.",), InnerLoop(0, 0.05, "sgd")),
    ]
    learner = MAML(model, grouped_loss, InnerLoop(2, 0.0), outer_lr=0.1, groups=groups, schedule=["body", "head"])
    grads, _ = learner.meta_gradients(task, torch.Generator())
    assert calls == ["body", "head", "body", "head", None]

    params = dict(model.named_parameters())
    losses = {n: (lambda p, n=n: grouped_loss(p, task.support_x, None, None, n)) for n in ("body", "head")}
    fast = adapt_groups(params, groups, losses, ["body", "head"] * 2, create_graph=True)
    ref = torch.autograd.grad(loss(fast, task.query_x, None, None), list(params.values()))
    for g, r in zip(grads, ref):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)


def test_pretraining_sees_global_class_labels_and_pooled_images():
    """The pretrain baseline's gradient is that of the task loss on support and query together,
    with the data set's class indices as labels."""
    from metagen.meta.learners import make_learner

    model, loss, _ = make()
    x = torch.randn(6, 1, 6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    task = Task(x[:4], torch.tensor([0, 1, 0, 1]), x[4:], torch.tensor([1, 0]), (7, 3))
    seen = []

    def labelled_loss(p, images, labels, gen):
        seen.append(labels.tolist())
        return loss(p, images, None, None)

    learner = make_learner("pretrain", model, labelled_loss, InnerLoop(0, 0.1), 0.1)
    grads, _ = learner.meta_gradients(task, torch.Generator())
    assert seen == [[7, 3, 7, 3, 3, 7]]
    params = dict(model.named_parameters())
    ref = torch.autograd.grad(loss(params, x, None, None), list(params.values()))
    for g, r in zip(grads, ref):
        torch.testing.assert_close(g, r)


class GroupNormClassifier(nn.Module):
    """Treats each image on its own (GroupNorm), so that pooling tasks cannot change its output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.GroupNorm(2, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(torch.relu(self.norm(self.conv(x))).mean(dim=(2, 3)))


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "metasgd", "pretrain"])
def test_pooled_batching_equals_the_loop_without_an_inner_loop(algorithm):
    """With no inner loop the meta-gradient is the loss gradient at the current parameters, and one
    pass over the pooled tasks gives the loop's outer steps (two, so the second starts elsewhere)."""
    from metagen.meta.learners import make_learner

    tasks = [_classification_task(s) for s in range(4)]
    results = []
    for how in ("loop", "pooled"):
        torch.manual_seed(0)
        model = GroupNormClassifier().double()
        learner = make_learner(algorithm, model, TinyFamily(model).task_loss, InnerLoop(0, 0.3, "sgd"), 0.1, "sgd")
        learner.batching = how
        for _ in range(2):
            out = learner.outer_step(tasks, [torch.Generator() for _ in tasks])
        results.append((out["loss"], [p.detach().clone() for p in learner.meta_parameters()]))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-10)
    torch.manual_seed(0)
    assert not torch.equal(results[1][1][0], GroupNormClassifier().double().conv.weight)  # the steps moved it
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_pooled_batching_refuses_what_it_would_change():
    from metagen.meta.learners import make_learner

    tasks = [_classification_task(s) for s in range(2)]
    cases = [  # (algorithm, inner steps, network, what the refusal says)
        ("fomaml", 2, GroupNormClassifier, "without an inner loop"),
        ("reptile", 0, GroupNormClassifier, "each task on its own"),
        ("fomaml", 0, TinyClassifier, "BatchNorm"),
    ]
    for algorithm, steps, network, says in cases:
        model = network().double()
        learner = make_learner(algorithm, model, TinyFamily(model).task_loss, InnerLoop(steps, 0.3, "sgd"), 0.1)
        learner.batching = "pooled"
        assert says in (learner.pooling_refusal() or "")
        with pytest.raises(ConfigError, match="meta.batching=pooled"):
            learner.outer_step(tasks, [torch.Generator() for _ in tasks])
    model = GroupNormClassifier().double()
    learner = make_learner("fomaml", model, TinyFamily(model).task_loss, InnerLoop(0, 0.3, "sgd"), 0.1)
    learner.batching = "pooled"
    uneven = [_classification_task(0), _classification_task(1, q=4)]
    with pytest.raises(ValueError, match="same size"):
        learner.outer_step(uneven, [torch.Generator() for _ in uneven])
