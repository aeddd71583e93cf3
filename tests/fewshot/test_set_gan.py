"""The set-conditioned GAN: any number of shots, fusion weights, each network's own gradient,
episodic training, one-pass generation and refusals."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from metagen.errors import ConfigError
from metagen.fewshot.adapt import generate, load_generator
from metagen.fewshot.set_gan import SetGANGenerator, mode_seeking_ratio
from metagen.nn.set_gan import SetGAN
from metagen.tasks.task import Task
from metagen.train.config import config_from_dict
from metagen.train.loop import train
from tests.fewshot.test_gan import assert_each_network_follows_its_loss

TINY_SET_GAN = {
    "data": {"dataset": "glyphs", "size": 28},
    "model": {"name": "set_gan", "options": {"latent_dim": 8, "width": 8, "d_width": 8}},
    "meta": {
        "algorithm": "episodic",
        "n_way": 2,
        "k_shot": 3,
        "q_query": 2,
        "meta_batch": 2,
        "inner_steps": 0,
        "adapt_steps": 0,
    },  # fmt: skip
    "train": {"steps": 4, "seed": 0, "log_every": 1, "checkpoint_every": 2, "sample_every": 100},
}


def _net() -> SetGAN:
    torch.manual_seed(0)
    return SetGAN(latent_dim=8, width=8, d_width=8)


def test_generator_takes_any_number_of_shots_and_fuses_them_convexly():
    net = _net()
    shots = torch.rand(10, 1, 28, 28)
    with torch.no_grad():
        for k in (1, 4, 10):
            assert net.generator(shots[:k], torch.randn(3, 8)).shape == (3, 1, 28, 28)
        maps = net.generator.encoder(shots[:4] * 2 - 1)
        fused = net.generator.fuse(maps, torch.randn(3, 8))
        # each fused feature lies between the shots' features at that place (a convex combination)
        assert bool((fused <= maps.max(0).values + 1e-5).all() and (fused >= maps.min(0).values - 1e-5).all())
        one = net.generator.fuse(maps[:1], torch.randn(3, 8))
        torch.testing.assert_close(one, maps[:1].expand(3, -1, -1, -1))


def test_episode_loss_gives_each_network_its_own_gradient():
    net = _net()
    family = SetGANGenerator(net, loss="nonsaturating", mode_seeking=0.0)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(10, 1, 28, 28, generator=g)
    task = Task(x[:6], torch.tensor([0, 0, 0, 1, 1, 1]), x[6:], torch.tensor([0, 0, 1, 1]), (0, 1))
    params = dict(net.named_parameters())
    loss = family.episode_loss(params, task, torch.Generator().manual_seed(5))
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()))))

    gen = torch.Generator().manual_seed(5)
    d_losses, g_losses = [], []
    for label in (0, 1):
        shots, real = x[:6][task.support_y == label], x[6:][task.query_y == label]
        other = x[6:][task.query_y == 1 - label]
        fake = net.generator(shots, torch.randn(2, 8, generator=gen))
        fakes = torch.cat([fake.detach(), other])
        d_losses.append(F.softplus(-net.discriminator(real, shots)).mean()
                        + F.softplus(net.discriminator(fakes, shots)).mean())  # fmt: skip
        g_losses.append(F.softplus(-net.discriminator(fake, shots)).mean())
    d_loss, g_loss = torch.stack(d_losses).mean(), torch.stack(g_losses).mean()
    assert_each_network_follows_its_loss(grads, params, d_loss, g_loss, rtol=1e-4, atol=1e-6)


def test_mode_seeking_ratio():
    a, b = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    za, zb = torch.zeros(2, 3), torch.full((2, 3), 2.0)
    assert float(mode_seeking_ratio(a, b, za, zb)) == pytest.approx(0.5)


def test_episodic_training_then_one_pass_generation(tmp_path: Path):
    cfg = config_from_dict(TINY_SET_GAN, ["model.family.augment=[translation]"])
    result = train(cfg, tmp_path / "run", show_progress=False)
    assert torch.isfinite(torch.tensor(result.final_loss))
    loaded = load_generator(tmp_path / "run")
    shots = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    a = generate(loaded, shots, 5, seed=1)
    assert a.shape == (5, 1, 28, 28) and torch.equal(a, generate(loaded, shots, 5, seed=1))
    assert not torch.equal(a, generate(loaded, shots[:2], 5, seed=1))


def test_set_gan_refusals(tmp_path: Path):
    for override, message in (("model.family.loss=wgan-gp", "set GAN takes"), ("meta.algorithm=reptile", "episodic"),
                              ("model.family.mode_seeking=-1", "mode_seeking")):  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            train(config_from_dict(TINY_SET_GAN, [override]), tmp_path / override, show_progress=False)
