"""The GAN as a few-shot generator: its losses, its alternating inner loop against a hand-written
GAN training loop (FIGR), its outer gradients (DAWSON), runs, sampling and refusals."""

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from metagen.errors import ConfigError
from metagen.fewshot.adapt import generate, load_generator
from metagen.fewshot.gan import GANGenerator
from metagen.meta.inner import InnerLoop
from metagen.meta.learners import make_learner
from metagen.nn.gan import DCGAN
from metagen.tasks.task import Task
from metagen.train.config import config_from_dict
from metagen.train.loop import train

TINY_GAN = {
    "data": {"dataset": "glyphs", "size": 28},
    "model": {"name": "dcgan", "options": {"latent_dim": 8, "width": 8, "d_width": 8}, "family": {"loss": "hinge"}},
    "meta": {"algorithm": "reptile", "k_shot": 3, "q_query": 2, "meta_batch": 2, "inner_steps": 2, "adapt_steps": 2},
    "train": {"steps": 4, "seed": 0, "log_every": 1, "checkpoint_every": 2, "sample_every": 100},
}


def assert_each_network_follows_its_loss(grads, params, d_loss, g_loss, rtol: float, atol: float) -> None:
    """``grads`` (by parameter name) equal d_loss's gradient for the discriminator's parameters and
    g_loss's for the generator's."""
    for prefix, loss in (("discriminator.", d_loss), ("generator.", g_loss)):
        names = [k for k in params if k.startswith(prefix)]
        for k, ref in zip(names, torch.autograd.grad(loss, [params[k] for k in names], retain_graph=True)):
            torch.testing.assert_close(grads[k], ref, rtol=rtol, atol=atol, msg=k)


def _gan(seed: int = 0) -> tuple[DCGAN, GANGenerator]:
    torch.manual_seed(seed)
    model = DCGAN(image_size=28, channels=1, latent_dim=8, width=8, d_width=8)
    return model, GANGenerator(model)


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_reptile_on_a_gan_equals_a_hand_written_gan_loop():
    """FIGR's meta-step: alternate SGD steps on D then G over the task's images, then move the
    initialisation towards the adapted weights; compared with plain nn.Module code and torch.optim."""
    model, family = _gan()
    task = Task(_images(3, 1), torch.zeros(3, dtype=torch.long), _images(2, 2), torch.zeros(2, dtype=torch.long), (0,))
    reference = copy.deepcopy(model)
    groups, schedule = family.param_groups(InnerLoop(2, 0.05, "sgd"))
    learner = make_learner("reptile", model, family.task_loss, InnerLoop(2, 0.05, "sgd"), 0.5, "sgd",
                           groups=groups, schedule=schedule)  # fmt: skip
    learner.outer_step([task], [torch.Generator().manual_seed(7)])

    fast = copy.deepcopy(reference)
    opt_d = torch.optim.SGD(fast.discriminator.parameters(), lr=0.05)
    opt_g = torch.optim.SGD(fast.generator.parameters(), lr=0.05)
    real = torch.cat([task.support_x, task.query_x])
    gen = torch.Generator().manual_seed(7)
    for _ in range(2):
        fake = fast.generator(torch.randn(5, 8, generator=gen)).detach()
        d_loss = F.softplus(-fast.discriminator(real)).mean() + F.softplus(fast.discriminator(fake)).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-fast.discriminator(fast.generator(torch.randn(5, 8, generator=gen)))).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    for (name, p), q, p0 in zip(model.named_parameters(), fast.parameters(), reference.parameters()):
        torch.testing.assert_close(p, p0 + 0.5 * (q - p0), rtol=1e-5, atol=1e-6, msg=name)


def test_outer_loss_gives_each_network_its_own_objective():
    """The outer gradient with respect to D is that of D's loss alone, with respect to G that of G's
    loss alone (DAWSON's first-order meta-gradients)."""
    model, family = _gan()
    params = dict(model.named_parameters())
    real = _images(4, 3)
    outer = family.task_loss(params, real, None, torch.Generator().manual_seed(5))
    grads = dict(zip(params, torch.autograd.grad(outer, list(params.values()))))

    gen = torch.Generator().manual_seed(5)
    fake = model.generator(torch.randn(4, 8, generator=gen))
    d_loss = F.softplus(-model.discriminator(real)).mean() + F.softplus(model.discriminator(fake.detach())).mean()
    g_loss = F.softplus(-model.discriminator(fake)).mean()
    assert_each_network_follows_its_loss(grads, params, d_loss, g_loss, rtol=1e-5, atol=1e-7)
    stats = family.take_diagnostics()
    assert set(stats) == {"d_real", "d_fake", "d_loss", "g_loss"}
    assert stats["d_loss"] == pytest.approx(float(d_loss.detach()), rel=1e-5)
    assert family.take_diagnostics() == {}  # taken once


def test_inner_steps_move_only_their_own_network():
    from metagen.meta.inner import adapt_groups

    model, family = _gan()
    params = dict(model.named_parameters())
    real = _images(3, 4)
    groups, _ = family.param_groups(InnerLoop(1, 0.1, "sgd"))
    losses = {g.name: (lambda p, n=g.name: family.task_loss(p, real, None, torch.Generator().manual_seed(0), n))
              for g in groups}  # fmt: skip
    for group, other in (("discriminator", "generator."), ("generator", "discriminator.")):
        moved = adapt_groups(params, groups, losses, [group], create_graph=False)
        for k, v in params.items():
            assert torch.equal(moved[k], v.detach()) == k.startswith(other), (group, k)
    d_loss = family.task_loss(params, real, None, torch.Generator().manual_seed(0), "discriminator")
    g_names = [k for k in params if k.startswith("generator.")]
    assert all(g is None for g in torch.autograd.grad(d_loss, [params[k] for k in g_names], allow_unused=True))


@pytest.mark.parametrize("loss", ["nonsaturating", "hinge", "wgan-gp", "lsgan"])
def test_every_loss_trains_and_generates(tmp_path: Path, loss: str):
    cfg = config_from_dict(TINY_GAN, [f"model.family.loss={loss}", "model.family.augment=[translation, cutout]",
                                      "meta.algorithm=fomaml"])  # fmt: skip
    result = train(cfg, tmp_path / "run", show_progress=False)
    assert torch.isfinite(torch.tensor(result.final_loss))
    logged = [json.loads(x) for x in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert {"d_real", "d_fake", "d_loss", "g_loss"} <= set(logged[-1])
    loaded = load_generator(tmp_path / "run")
    shots = _images(3, 9)
    a, b = generate(loaded, shots, 6, seed=3), generate(loaded, shots, 6, seed=3)
    assert a.shape == (6, 1, 28, 28) and torch.equal(a, b)
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert not torch.equal(a, generate(loaded, shots, 6, seed=4))


def test_pretraining_then_fine_tuning(tmp_path: Path):
    """The pretrain baseline: joint training over the pooled tasks, then adaptation to the shots
    (steps=0 gives the pretrained generator itself, which differs from the fine-tuned one)."""
    cfg = config_from_dict(TINY_GAN, ["meta.algorithm=pretrain"])
    train(cfg, tmp_path / "run", show_progress=False)
    loaded = load_generator(tmp_path / "run")
    shots = _images(3, 9)
    assert not torch.equal(generate(loaded, shots, 4, steps=0), generate(loaded, shots, 4, steps=3))


def test_bad_gan_recipes_are_refused(tmp_path: Path):
    for override, message in (
        ("model.family.loss=wasserstein", "not a GAN loss"),
        ("model.family.augment=[rotate]", "unknown DiffAugment"),
        ("model.family.temperature=0.5", "has no option 'temperature'"),
        ("model.options.num_classes=10", "unconditional"),
        ("meta.batching=vmap", "vmap"),
        ("meta.batching=threads", "records diagnostics per task"),
    ):
        with pytest.raises(ConfigError, match=message):
            train(config_from_dict(TINY_GAN, [override]), tmp_path / override, show_progress=False)


def test_pretraining_is_for_generators_only(tmp_path: Path):
    from tests.tiny import TINY_FEATURES

    with pytest.raises(ConfigError, match="pretrain"):
        train(config_from_dict(TINY_FEATURES, ["meta.algorithm=pretrain"]), tmp_path / "x", show_progress=False)


CONDITIONAL = ["model.family.conditional=true", "meta.algorithm=pretrain", "meta.n_way=4"]


def test_conditional_gan_trains_on_every_class_and_adapts_its_new_class_embedding(tmp_path: Path):
    train(config_from_dict(TINY_GAN, CONDITIONAL), tmp_path / "run", show_progress=False)
    loaded = load_generator(tmp_path / "run")
    exp = loaded.experiment
    model, family = exp.learner.model, exp.family
    train_classes = len(json.loads((tmp_path / "run/split.json").read_text())["train"])
    assert model.num_classes == train_classes + 1 and family.new_class == train_classes
    assert float(model.generator.embed.weight[-1].detach().abs().max()) == 0.0  # the slot is never trained

    shots = _images(3, 9)
    params = dict(model.named_parameters())
    adapted = exp.learner.adapt(shots, torch.zeros(3, dtype=torch.long), torch.Generator().manual_seed(0), steps=2)
    for k, v in params.items():
        if k.endswith("embed.weight"):
            assert torch.equal(adapted[k][:-1], v[:-1].detach()) and not torch.equal(adapted[k][-1], v[-1].detach())
        else:
            assert torch.equal(adapted[k], v.detach()), k
    images = generate(loaded, shots, 5, seed=1)
    assert images.shape == (5, 1, 28, 28) and torch.equal(images, generate(loaded, shots, 5, seed=1))


def test_conditional_gan_refusals(tmp_path: Path):
    with pytest.raises(ConfigError, match="pretrain"):
        train(config_from_dict(TINY_GAN, CONDITIONAL + ["meta.algorithm=reptile"]), tmp_path / "a", show_progress=False)
    with pytest.raises(ConfigError, match="adapt must be"):
        train(
            config_from_dict(TINY_GAN, CONDITIONAL + ["model.family.adapt=head"]), tmp_path / "b", show_progress=False
        )
