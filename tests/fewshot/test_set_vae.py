"""The set-conditioned VAE (Neural Statistician): its ELBO terms against torch.distributions, any
number of shots, order invariance, local fusion of the shots' maps, episodic training, one-pass
generation and refusals."""

import json
import math
from pathlib import Path

import pytest
import torch
from scipy.ndimage import gaussian_filter
from torch.distributions import Normal, kl_divergence

from metagen.errors import ConfigError
from metagen.fewshot.adapt import generate, load_generator
from metagen.fewshot.set_vae import SetVAEGenerator
from metagen.nn.set_vae import WARP_EPS, SetVAE, random_fusion, warp_images
from metagen.objectives.vae import (
    blurred_reconstruction_nll,
    gaussian_blur,
    gaussian_kl_between,
    reconstruction_nll,
    set_negative_elbo,
)
from metagen.tasks.task import Task
from metagen.train.config import config_from_dict
from metagen.train.loop import train

TINY_SET_VAE = {
    "data": {"dataset": "glyphs", "size": 28},
    "model": {"name": "set_vae", "options": {"latent_dim": 4, "context_dim": 8, "width": 8, "hidden": 32}},
    "meta": {"algorithm": "episodic", "k_shot": 3, "q_query": 2, "meta_batch": 2, "inner_steps": 0, "adapt_steps": 0},
    "train": {"steps": 4, "seed": 0, "log_every": 1, "checkpoint_every": 2, "sample_every": 100},
}


def test_kl_between_gaussians_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_q, mu_p, lv_q, lv_p = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(4))
    ref = kl_divergence(Normal(mu_q, (0.5 * lv_q).exp()), Normal(mu_p, (0.5 * lv_p).exp())).sum(-1)
    torch.testing.assert_close(gaussian_kl_between(mu_q, lv_q, mu_p, lv_p), ref)


def test_set_elbo_is_its_sum_of_terms():
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16).double()
    shots, images = torch.rand(3, 1, 28, 28, dtype=torch.float64), torch.rand(2, 1, 28, 28, dtype=torch.float64)
    terms = net(shots, images, torch.zeros(6, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64))
    nll = torch.nn.functional.binary_cross_entropy_with_logits(terms["logits"], images, reduction="sum") / 2
    kl_z = kl_divergence(Normal(terms["mu_z"], (0.5 * terms["logvar_z"]).exp()),
                         Normal(terms["prior_mu"], (0.5 * terms["prior_logvar"]).exp())).sum() / 2  # fmt: skip
    kl_c = kl_divergence(Normal(terms["mu_c"], (0.5 * terms["logvar_c"]).exp()), Normal(0.0, 1.0)).sum() / 2
    torch.testing.assert_close(set_negative_elbo(terms, images, "bernoulli"), nll + kl_z + kl_c)


def test_context_takes_any_number_of_shots_in_any_order():
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16)
    shots = torch.rand(10, 1, 28, 28)
    for k in (1, 3, 7, 10):
        with torch.no_grad():
            out = net.generate(shots[:k], torch.randn(5, 4))
        assert out.shape == (5, 1, 28, 28) and 0 <= float(out.min()) and float(out.max()) <= 1
    mu, _ = net.context(net.features(shots))
    mu_shuffled, _ = net.context(net.features(shots[torch.randperm(10)]))
    torch.testing.assert_close(mu, mu_shuffled, rtol=1e-5, atol=1e-6)


def test_episodic_training_then_one_pass_generation(tmp_path: Path):
    result = train(config_from_dict(TINY_SET_VAE), tmp_path / "run", show_progress=False)
    assert torch.isfinite(torch.tensor(result.final_loss))
    assert json.loads((tmp_path / "run/model.json").read_text())["family"] == "set-vae"
    loaded = load_generator(tmp_path / "run")
    exp = loaded.experiment
    shots = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    own = exp.learner.adapt(shots, torch.zeros(4, dtype=torch.long), torch.Generator(), steps=0)
    assert all(own[k] is p for k, p in exp.learner.model.named_parameters())  # no gradient steps
    a = generate(loaded, shots, 6, seed=1)
    assert a.shape == (6, 1, 28, 28) and torch.equal(a, generate(loaded, shots, 6, seed=1))
    assert not torch.equal(a, generate(loaded, shots[:1], 6, seed=1))  # the shots matter
    assert not torch.equal(a, generate(loaded, shots, 6, seed=1, steps=2))  # amortised, then fine-tuned


def test_set_vae_goes_with_the_episodic_algorithm_only(tmp_path: Path):
    with pytest.raises(ConfigError, match="episodic"):
        train(config_from_dict(TINY_SET_VAE, ["meta.algorithm=reptile"]), tmp_path / "a", show_progress=False)
    with pytest.raises(ConfigError, match="episodic"):
        train(config_from_dict(TINY_SET_VAE, ["model.name=conv_vae", "model.options={}"]), tmp_path / "b",
              show_progress=False)  # fmt: skip
    with pytest.raises(ConfigError, match="fusion must be one of"):
        train(config_from_dict(TINY_SET_VAE, ["model.family.fusion=blend"]), tmp_path / "c", show_progress=False)


def test_local_levels_reach_the_decoder_at_their_resolutions():
    torch.manual_seed(0)
    for size, channels, levels in ((28, 1, 2), (28, 1, 3), (64, 3, 3), (64, 3, 5)):
        net = SetVAE(image_size=size, channels=channels, latent_dim=4, context_dim=6, width=8, hidden=16,
                     local_levels=levels)  # fmt: skip
        _, maps = net.features_and_maps(torch.rand(3, channels, size, size))
        assert [m.shape[-1] for m in maps] == [net.base_side * 2**i for i in range(levels)]
        out = net.generate(torch.rand(3, channels, size, size), torch.randn(5, 4), fusion=random_fusion(5, 3))
        assert out.shape == (5, channels, size, size)
    with pytest.raises(ValueError, match="local_levels must lie in 0..3"):
        SetVAE(local_levels=4)
    assert not any("merge" in k for k in SetVAE(latent_dim=4, width=8, hidden=16).state_dict())  # the original model


def test_fusion_mixes_the_shots_maps_convexly():
    torch.manual_seed(0)
    maps = [torch.randn(4, 2, 3, 3), torch.randn(4, 1, 6, 6)]
    uniform = torch.full((2, 4), 0.25)
    for fused, mean in zip(SetVAE.fuse(maps, uniform, 2), SetVAE.fuse(maps, None, 2), strict=True):
        torch.testing.assert_close(fused, mean)
    one_hot = torch.eye(4)[[2, 0]]
    torch.testing.assert_close(SetVAE.fuse(maps, one_hot, 2)[1], maps[1][[2, 0]])
    w = random_fusion(20000, 4, torch.Generator().manual_seed(0))
    assert bool((w >= 0).all()) and torch.allclose(w.sum(1), torch.ones(20000))
    torch.testing.assert_close(w.mean(0), torch.full((4,), 0.25), atol=0.01, rtol=0)  # Dirichlet(1) means
    torch.testing.assert_close(w[:, 0].var(), torch.tensor(3 / 80), atol=0.002, rtol=0)  # (k-1)/(k^2 (k+1))
    assert torch.equal(w, random_fusion(20000, 4, torch.Generator().manual_seed(0)))
    picks = random_fusion(20000, 4, torch.Generator().manual_seed(1), "pick")
    assert torch.equal(picks.sum(1), torch.ones(20000)) and set(picks.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(picks.mean(0), torch.full((4,), 0.25), atol=0.015, rtol=0)
    assert random_fusion(3, 4, mode="mean") is None
    with pytest.raises(ValueError, match="fusion must be one of"):
        random_fusion(3, 4, mode="blend")


def test_local_context_is_order_invariant_with_mean_fusion_and_trains(tmp_path: Path):
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, local_levels=2)
    shots, eps = torch.rand(5, 1, 28, 28), torch.randn(3, 4)
    with torch.no_grad():
        torch.testing.assert_close(net.generate(shots, eps), net.generate(shots.flip(0), eps), rtol=1e-4, atol=1e-5)
    config = config_from_dict(TINY_SET_VAE, ["model.options.local_levels=1"])
    result = train(config, tmp_path / "run", show_progress=False)
    assert torch.isfinite(torch.tensor(result.final_loss))
    loaded = load_generator(tmp_path / "run")
    assert loaded.experiment.learner.model.local_levels == 1
    a = generate(loaded, shots[:3], 6, seed=1)
    assert torch.equal(a, generate(loaded, shots[:3], 6, seed=1)) and not torch.equal(a[0], a[1])


def test_sampling_near_the_shots_decodes_their_posterior_latents():
    """With one-hot weights and temperature 0, each new image is the training path's decoding of
    that shot's posterior mean at the context's mean, with that shot's local maps: what forward
    computes with zero noise and that shot's fusion."""
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, local_levels=2).double()
    shots = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    pick = torch.eye(3, dtype=torch.float64)[[2, 0]]
    with torch.no_grad():
        near = net.generate_near_shots(shots, torch.randn(2, 4, dtype=torch.float64), pick, temperature=0.0)
        terms = net(
            shots, shots[[2, 0]], torch.zeros(6, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64), pick
        )
    torch.testing.assert_close(near, torch.sigmoid(terms["logits"]))
    with torch.no_grad():  # the temperature spreads the latents: images differ from the decoded means
        spread = net.generate_near_shots(shots, torch.randn(2, 4, dtype=torch.float64), pick, temperature=1.0)
    assert not torch.allclose(spread, near)


def test_shot_sampler_is_chosen_at_load_time_and_checked(tmp_path: Path):
    train(config_from_dict(TINY_SET_VAE, ["model.options.local_levels=1"]), tmp_path / "run", show_progress=False)
    shots = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    prior = load_generator(tmp_path / "run")
    near = load_generator(tmp_path / "run", family={"sampler": "shots"})
    assert (prior.experiment.family.sampler, near.experiment.family.sampler) == ("prior", "shots")
    a = generate(near, shots, 6, seed=1)
    assert a.shape == (6, 1, 28, 28) and torch.equal(a, generate(near, shots, 6, seed=1))
    assert not torch.equal(a, generate(prior, shots, 6, seed=1))
    assert generate(near, shots[:1], 4, seed=1).shape == (4, 1, 28, 28)  # K = 1
    with pytest.raises(ConfigError, match="sampler must be one of"):
        load_generator(tmp_path / "run", family={"sampler": "nearest"})
    with pytest.raises(ConfigError, match="no option 'samples'"):
        load_generator(tmp_path / "run", family={"samples": "shots"})


def test_explain_shots_adds_the_context_images_to_the_images_explained():
    from metagen.fewshot.set_vae import SetVAEGenerator
    from metagen.tasks.task import Task

    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, local_levels=1).double()
    params = dict(net.named_parameters())
    support, query = torch.rand(3, 1, 28, 28, dtype=torch.float64), torch.rand(2, 1, 28, 28, dtype=torch.float64)
    task = Task(support, torch.zeros(3, dtype=torch.long), query, torch.zeros(2, dtype=torch.long), (0,))
    family = SetVAEGenerator(net, random_shots=False, explain_shots=True)
    loss = family.episode_loss(params, task, torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)  # the same draws, in the family's order: context, latents, fusion
    targets = torch.cat([query, support])
    eps_c, eps_z = torch.randn(6, generator=gen).double(), torch.randn(5, 4, generator=gen).double()
    fusion = random_fusion(5, 3, gen).double()
    expected = set_negative_elbo(net(support, targets, eps_c, eps_z, fusion), targets, "bernoulli")
    torch.testing.assert_close(loss, expected)
    queries_only = SetVAEGenerator(net, random_shots=False).episode_loss(params, task, torch.Generator().manual_seed(5))
    assert not torch.isclose(queries_only, loss)


def test_free_bits_floor_each_latent_dimensions_batch_mean_kl():
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16).double()
    shots, images = torch.rand(3, 1, 28, 28, dtype=torch.float64), torch.rand(5, 1, 28, 28, dtype=torch.float64)
    terms = net(shots, images, torch.zeros(6, dtype=torch.float64), torch.zeros(5, 4, dtype=torch.float64))
    kl_dims = kl_divergence(Normal(terms["mu_z"], (0.5 * terms["logvar_z"]).exp()),
                            Normal(terms["prior_mu"], (0.5 * terms["prior_logvar"]).exp())).mean(0)  # fmt: skip
    floor = float(kl_dims.detach().median())  # some dimensions under the floor, some over
    nll = torch.nn.functional.binary_cross_entropy_with_logits(terms["logits"], images, reduction="sum") / 5
    kl_c = kl_divergence(Normal(terms["mu_c"], (0.5 * terms["logvar_c"]).exp()), Normal(0.0, 1.0)).sum() / 5
    expected = nll + torch.maximum(kl_dims, torch.tensor(floor, dtype=torch.float64)).sum() + kl_c
    loss = set_negative_elbo(terms, images, "bernoulli", free_bits=floor)
    torch.testing.assert_close(loss, expected)
    assert loss > set_negative_elbo(terms, images, "bernoulli")
    under = kl_dims < floor  # the floor passes no gradient to the prior of those dimensions (it enters only the KL)
    (grad,) = torch.autograd.grad(loss, terms["prior_mu"])
    assert under.any() and torch.all(grad[:, under] == 0) and torch.all(grad[:, ~under].abs().sum(0) > 0)
    with pytest.raises(ConfigError, match="free_bits must be at least 0"):
        train(config_from_dict(TINY_SET_VAE, ["model.family.free_bits=-1"]), Path("unused"), show_progress=False)


def test_fit_prior_keeps_the_prior_learning_below_the_free_bits_floor_with_the_same_loss():
    """With ``fit_prior`` the loss value is the free-bits one; the prior's gradient is the plain
    (unclamped) KL's, in every dimension; the posterior's is the free-bits one's."""
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16).double()
    shots, images = torch.rand(3, 1, 28, 28, dtype=torch.float64), torch.rand(5, 1, 28, 28, dtype=torch.float64)
    terms = net(shots, images, torch.zeros(6, dtype=torch.float64), torch.zeros(5, 4, dtype=torch.float64))
    floor = 10.0  # every dimension under it: plain free bits pass the prior no gradient at all
    fitted = set_negative_elbo(terms, images, "bernoulli", free_bits=floor, fit_prior=True)
    clamped = set_negative_elbo(terms, images, "bernoulli", free_bits=floor)
    plain = set_negative_elbo(terms, images, "bernoulli")
    torch.testing.assert_close(fitted, clamped)
    keys = ("prior_mu", "prior_logvar", "mu_z", "logvar_z")
    grads = {name: torch.autograd.grad(loss, [terms[k] for k in keys], retain_graph=True)
             for name, loss in (("fitted", fitted), ("clamped", clamped), ("plain", plain))}  # fmt: skip
    assert all(torch.all(g == 0) for g in grads["clamped"][:2])  # the prior enters only the KL: no gradient
    for prior_grad, plain_grad in zip(grads["fitted"][:2], grads["plain"][:2]):
        torch.testing.assert_close(prior_grad, plain_grad)
        assert prior_grad.abs().sum() > 0
    for fitted_grad, clamped_grad in zip(grads["fitted"][2:], grads["clamped"][2:]):
        torch.testing.assert_close(fitted_grad, clamped_grad)  # the posterior's: reconstruction alone, as before
    assert SetVAEGenerator(net, free_bits=0.5, fit_prior=True).fit_prior
    with pytest.raises(ConfigError, match="fit_prior .* needs model.family.free_bits > 0"):
        SetVAEGenerator(net, fit_prior=True)  # with no floor there is nothing to keep the prior learning under


@pytest.mark.parametrize("sigma", [0.7, 1.0, 2.0])
def test_gaussian_blur_matches_scipy(sigma):
    images = torch.rand(2, 3, 17, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = gaussian_filter(images.numpy(), sigma=(0, 0, sigma, sigma), mode="nearest", truncate=3.0)
    torch.testing.assert_close(gaussian_blur(images, sigma), torch.from_numpy(expected))
    with pytest.raises(ValueError, match="needs a positive, finite std"):
        gaussian_blur(images, -sigma)


def _bar(column: int) -> torch.Tensor:
    """A 28x28 glyph: a vertical stroke two pixels wide whose left edge is at ``column``."""
    image = torch.zeros(1, 1, 28, 28, dtype=torch.float64)
    image[..., 4:24, column : column + 2] = 1.0
    return image


def test_blurred_alignment_tells_which_way_a_distant_stroke_should_move():
    """A stroke 8 pixels from the one it should match: the pixel likelihood scores it the same
    moved 1 or 2 pixels either way (no direction to learn), the blurred likelihood scores it better
    the nearer it comes; at no distance do both agree that the output is the target's."""
    target = _bar(16)

    def nll(column: int, sigma: float | None) -> float:
        logits = torch.logit(_bar(column).clamp(WARP_EPS, 1 - WARP_EPS))
        if sigma is None:
            return float(reconstruction_nll(logits, target, "bernoulli"))
        return float(blurred_reconstruction_nll(logits, target, "bernoulli", sigma))

    for shift in (1, 2):
        assert nll(8 + shift, None) == pytest.approx(nll(8 - shift, None))
    blurred = [nll(column, 2.0) for column in range(6, 12)]
    assert all(nearer < further for further, nearer in zip(blurred, blurred[1:]))
    assert nll(16, 2.0) < min(blurred) and nll(16, None) < nll(8, None)


def test_alignment_blur_adds_each_blurred_term_to_the_training_loss():
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, warp=True).double()
    shots, images = torch.rand(3, 1, 28, 28, dtype=torch.float64), torch.rand(4, 1, 28, 28, dtype=torch.float64)
    params = dict(net.named_parameters())
    aligned = SetVAEGenerator(net, fusion="pick", free_bits=0.1, alignment_blur=[1, 2.5])
    plain = SetVAEGenerator(net, fusion="pick", free_bits=0.1)
    loss = aligned._loss(params, shots, images, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)  # the same noise and fusion weights as the aligned loss drew
    eps_c, eps_z = torch.randn(6, generator=gen).double(), torch.randn(4, 4, generator=gen).double()
    terms = net(shots, images, eps_c, eps_z, random_fusion(4, 3, gen, "pick").double())
    blurred = sum(blurred_reconstruction_nll(terms["logits"], images, "bernoulli", s).mean() for s in (1.0, 2.5))
    torch.testing.assert_close(loss, set_negative_elbo(terms, images, "bernoulli", 0.1) + blurred)
    torch.testing.assert_close(plain._loss(params, shots, images, torch.Generator().manual_seed(3)), loss - blurred)
    for bad in ("[0]", "[-1, 2]", "2", "[a]", "[true]"):
        with pytest.raises(ConfigError, match="alignment_blur must be a list of positive blur stds"):
            train(config_from_dict(TINY_SET_VAE, [f"model.family.alignment_blur={bad}"]), Path("unused"),
                  show_progress=False)  # fmt: skip


def test_shot_terms_give_the_merge_of_the_fused_maps_side_by_side():
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, local_levels=3).double()
    shots = torch.rand(5, 1, 28, 28, dtype=torch.float64)
    z, c = torch.randn(7, 4, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    _, maps = net.features_and_maps(shots)
    for weights in (random_fusion(7, 5).double(), None):
        fused = SetVAE.fuse(maps, weights, 7)  # the reference: concatenate, then the merge block as a whole
        h = net.from_latent(torch.cat([z, c.expand(7, -1)], dim=1)).view(-1, net.base_width, 7, 7)
        for i, layer in enumerate(net.decoder):
            h = layer(net.merge[i](torch.cat([h, fused[i]], dim=1)) if i < 3 else h)
        torch.testing.assert_close(net.decode(z, c, net.shot_terms(maps, weights, 7)), h)


def test_warp_images_moves_pixels_by_the_displacement_and_keeps_the_border():
    image = torch.rand(2, 3, 12, 16, generator=torch.Generator().manual_seed(0))
    still = torch.zeros(2, 2, 12, 16)
    torch.testing.assert_close(warp_images(image, still), image, rtol=0, atol=1e-6)
    flow = still.clone()
    flow[:, 0] = 2 * 3 / 16  # three pixels right in x (grid units span 2 over 16 pixels): out[x] = in[x + 3]
    flow[:, 1] = -2 * 1 / 12  # one pixel up in y: out[y] = in[y - 1]
    moved = warp_images(image, flow)
    torch.testing.assert_close(moved[..., 1:, :13], image[..., :11, 3:], rtol=0, atol=1e-5)
    torch.testing.assert_close(moved[..., 0, :13], image[..., 0, 3:], rtol=0, atol=1e-5)  # the border row repeats
    torch.testing.assert_close(moved[..., 1:, 13:], image[..., :11, 15:].expand(-1, -1, -1, 3), rtol=0, atol=1e-5)


def test_a_warping_set_vae_deforms_its_picked_shots_by_the_displacement_it_predicts(tmp_path: Path):
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, warp=True, max_shift=0.2)
    shots = torch.rand(2, 1, 28, 28)
    pick = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    with torch.no_grad():  # no displacement at first: the picked shots themselves
        out = net.generate(shots, torch.randn(3, 4), fusion=pick)
    torch.testing.assert_close(out, shots[[0, 1, 1]].clamp(WARP_EPS, 1 - WARP_EPS), rtol=0, atol=1e-5)
    with torch.no_grad():  # a displacement of two pixels right everywhere: out[x] = shot[x + 2]
        net.flow.bias.copy_(torch.tensor([math.atanh((2 * 2 / 28) / (2 * 0.2)), 0.0]))
        out = net.generate(shots, torch.randn(3, 4), fusion=pick)
    shifted = shots[[0, 1, 1], ..., 2:].clamp(WARP_EPS, 1 - WARP_EPS)
    torch.testing.assert_close(out[..., :26], shifted, atol=1e-5, rtol=0)
    terms = net(shots, torch.rand(3, 1, 28, 28), torch.randn(6), torch.randn(3, 4), pick)
    set_negative_elbo(terms, torch.rand(3, 1, 28, 28).round(), "bernoulli").backward()
    assert net.flow.weight.grad.abs().sum() > 0 and not hasattr(net, "decoder")  # the displacement is learned
    with pytest.raises(ValueError, match="fused shot images"):
        net.decode(torch.randn(3, 4), torch.randn(6))
    for bad, match in (({"max_shift": 0.0}, "max_shift"), ({"local_levels": 1}, "local_levels must be 0")):
        with pytest.raises(ValueError, match=match):
            SetVAE(warp=True, **bad)
    warp = ["model.options.warp=true", "model.family.fusion=pick"]
    merging = config_from_dict(TINY_SET_VAE, [*warp, "model.options.local_levels=1"])
    with pytest.raises(ConfigError, match="local_levels must be 0"):  # a recipe gets the same clear refusal
        train(merging, tmp_path / "x", show_progress=False)
    result = train(config_from_dict(TINY_SET_VAE, warp), tmp_path / "run", show_progress=False)
    assert math.isfinite(result.final_loss)
    loaded = load_generator(tmp_path / "run")
    assert loaded.experiment.learner.model.warp
    a = generate(loaded, shots, 4, seed=1)
    assert a.shape == (4, 1, 28, 28) and torch.equal(a, generate(loaded, shots, 4, seed=1))


def test_a_warping_generator_picks_one_shot_per_image_in_training_and_sampling():
    """With no local levels the warping decoder still needs each image's own shot: an untrained one
    (no displacement) samples exact copies of single shots, never their mean."""
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, warp=True)
    family = SetVAEGenerator(net, fusion="pick")
    shots = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    params = dict(net.named_parameters())
    images = family.sample(params, shots, 12, torch.Generator().manual_seed(2))
    gaps = (images[:, None] - shots.clamp(WARP_EPS, 1 - WARP_EPS)[None]).abs().flatten(2).amax(dim=2)  # [12, 5]
    assert (gaps.min(dim=1).values < 1e-5).all() and len(set(gaps.argmin(dim=1).tolist())) > 1
    seen = []
    net.register_forward_hook(lambda module, args, out: seen.append(args[4]))  # the fusion weights passed in
    zeros = torch.zeros(3, dtype=torch.long)
    family.episode_loss(params, Task(shots[:3], zeros, shots[2:], zeros, (0,)), torch.Generator().manual_seed(3))
    weights = seen[0]  # one-hot rows: each image its own shot
    assert weights is not None and torch.equal(weights.sum(dim=1), torch.ones(len(weights)))
    assert set(weights.flatten().tolist()) <= {0.0, 1.0}


def test_a_flow_that_sees_its_shot_deforms_two_shots_differently_from_the_same_latent():
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, warp=True, flow_from_shot=True)
    shots = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    pick = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z, c = torch.randn(1, 4).expand(2, -1), torch.randn(6)
    h = net.from_latent(torch.cat([z, c.expand(2, -1)], dim=1)).view(2, -1, net.base_side, net.base_side)
    torch.testing.assert_close(h[0], h[1])  # (z, c) alone cannot tell the two shots apart
    with torch.no_grad():  # zero displacement at first: the shots as they are
        torch.testing.assert_close(torch.sigmoid(net.decode(z, c, source=shots)), shots.clamp(WARP_EPS, 1 - WARP_EPS),
                                   rtol=0, atol=1e-5)  # fmt: skip
        torch.nn.init.normal_(net.flow[-1].weight, std=0.1)
        seen = torch.cat([h, net.encoder[: net.n_conv](shots * 2 - 1)], dim=1)
        flow = net.displacement(seen)
    assert not torch.allclose(flow[0], flow[1], atol=1e-3)  # each shot gets its own deformation
    terms = net(shots, torch.rand(2, 1, 28, 28), torch.randn(6), torch.randn(2, 4), pick)
    set_negative_elbo(terms, torch.rand(2, 1, 28, 28).round(), "bernoulli").backward()
    assert net.flow[0][0].weight.grad.abs().sum() > 0 and net.encoder[0][0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="needs warp"):
        SetVAE(flow_from_shot=True)
    # without it the flow is the single convolution that earlier runs' checkpoints hold
    old = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, warp=True)
    assert isinstance(old.flow, torch.nn.Conv2d) and {k for k in old.state_dict() if k.startswith("flow")} == {
        "flow.weight", "flow.bias"}  # fmt: skip


def test_a_posterior_that_sees_its_shot_reads_the_shot_each_image_deforms():
    """q(z | x, c, shot): the same image explained from two different picked shots gets two
    different posteriors, each the posterior network applied by hand to (x, c, that shot); the prior
    does not read it; both samplers run. Without the option the posterior has the old input width."""
    torch.manual_seed(0)
    net = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, warp=True, posterior_sees_shot=True)
    shots = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    image = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(2)).expand(2, -1, -1, -1)
    pick = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # the same image from shot 0, then from shot 1
    eps_c = torch.zeros(6)
    with torch.no_grad():
        terms = net(shots, image, eps_c, torch.zeros(2, 4), pick)
        c, _ = net.context(net.features(shots))
        by_hand = net.latent_posterior(torch.cat([net.features(image), c.expand(2, -1), net.features(shots)], dim=1))
    torch.testing.assert_close(terms["mu_z"], by_hand[:, :4])
    torch.testing.assert_close(terms["logvar_z"], by_hand[:, 4:].clamp(-10.0, 6.0))
    assert not torch.allclose(terms["mu_z"][0], terms["mu_z"][1], atol=1e-4)
    torch.testing.assert_close(terms["prior_mu"][0], terms["prior_mu"][1])  # p(z | c): the same for both
    generated = SetVAEGenerator(net, fusion="pick").sample(dict(net.named_parameters()), shots, 3,
                                                          torch.Generator().manual_seed(3))  # fmt: skip
    assert generated.shape == (3, 1, 28, 28)
    near = SetVAEGenerator(net, fusion="pick", sampler="shots").sample(dict(net.named_parameters()), shots, 3,
                                                                       torch.Generator().manual_seed(3))  # fmt: skip
    assert near.shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="needs warp"):
        SetVAE(posterior_sees_shot=True)
    plain = SetVAE(latent_dim=4, context_dim=6, width=8, hidden=16, warp=True)
    assert plain.latent_posterior[0].in_features == 16 + 6 and net.latent_posterior[0].in_features == 2 * 16 + 6
