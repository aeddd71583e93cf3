"""Stein's unbiased risk estimate and the adaptation step it chooses, against references computed
here: the exact divergence by automatic differentiation, the true error with the clean image."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from metagen.fewshot.restorer import Restorer, adapt_and_restore, adapt_choosing_step, checked_steps
from metagen.meta import InnerLoop, make_learner
from metagen.nn.unet import UNet
from metagen.objectives.restoration import estimated_noise_std
from metagen.objectives.sure import monte_carlo_sure, sure_loss
from metagen.tasks.degradations import parse_degradation
from tests.fewshot.test_restorer import smooth_image


def exact_sure(denoise, noisy, noise_std):
    """SURE with the divergence taken exactly, one Jacobian column per pixel (the reference)."""
    variance = (noise_std**2).expand_as(noisy)
    y = noisy.clone().requires_grad_(True)
    out = denoise(y)
    flat = out.flatten()
    columns = [torch.autograd.grad(flat[i], y, retain_graph=True)[0].flatten()[i] for i in range(flat.numel())]
    diagonal = torch.stack(columns)
    fit = ((out.detach() - noisy) ** 2).flatten(1).mean(1)
    return fit - variance.flatten(1).mean(1) + 2 * (variance * diagonal.view_as(noisy)).flatten(1).mean(1)


def smooth_net(seed=0):
    """A small nonlinear, smooth denoiser: residual conv - tanh - conv."""
    gen = torch.Generator().manual_seed(seed)
    w1 = torch.randn(6, 1, 3, 3, generator=gen, dtype=torch.float64) * 0.3
    w2 = torch.randn(1, 6, 3, 3, generator=gen, dtype=torch.float64) * 0.3

    def denoise(x):
        return x - F.conv2d(torch.tanh(F.conv2d(x, w1, padding=1)), w2, padding=1)

    return denoise


def box_blur(x):
    return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, stride=1)


def test_the_monte_carlo_divergence_converges_to_the_exact_one():
    gen = torch.Generator().manual_seed(0)
    noisy = torch.rand(2, 1, 7, 9, generator=gen, dtype=torch.float64)
    std = 0.05 + 0.1 * torch.rand(2, 1, 7, 9, generator=gen, dtype=torch.float64)  # one level per pixel
    denoise = smooth_net()
    exact = exact_sure(denoise, noisy, std)
    probes = torch.Generator().manual_seed(1)
    estimates = torch.stack([monte_carlo_sure(denoise, noisy, std, probes) for _ in range(3000)])
    error = (estimates.mean(0) - exact).abs()
    assert torch.all(error < 4 * estimates.std(0) / np.sqrt(len(estimates)) + 1e-6), (estimates.mean(0), exact)
    # a single estimate scatters around the exact value; it is not the exact value by construction
    assert not torch.allclose(estimates[0], exact, atol=1e-6)


@pytest.mark.parametrize("heteroscedastic", [False, True])
def test_sure_is_unbiased_for_the_error_against_the_clean_image(heteroscedastic):
    """Averaged over noise draws, SURE matches the true error of a fixed denoiser; with the wrong
    noise level it does not (the check can fail)."""
    clean = torch.from_numpy(smooth_image(24, 28)).double()[None, None]
    std = 0.04 + 0.12 * clean if heteroscedastic else torch.full_like(clean, 0.1)
    draws = torch.Generator().manual_seed(2)
    truth, right, wrong = [], [], []
    for _ in range(400):
        noisy = clean + std * torch.randn(clean.shape, generator=draws, dtype=torch.float64)
        truth.append(float(((box_blur(noisy) - clean) ** 2).mean()))
        right.append(float(monte_carlo_sure(box_blur, noisy, std, draws)[0]))
        wrong.append(float(monte_carlo_sure(box_blur, noisy, 1.3 * std, draws)[0]))
    gap, wrong_gap = np.subtract(right, truth), np.subtract(wrong, truth)
    assert abs(gap.mean()) < 4 * gap.std() / np.sqrt(len(gap))
    assert abs(wrong_gap.mean()) > 8 * wrong_gap.std() / np.sqrt(len(wrong_gap))


def blend(weight):
    """A one-parameter denoiser: the noisy image blended with its blur, ``weight`` on the blur."""
    return lambda x: (1 - weight) * x + weight * box_blur(x)


def test_the_sure_loss_gradient_is_the_supervised_one_in_expectation():
    """Soltanayev and Chun 2018: the gradient of SURE in the weights, averaged over noise draws, is
    that of the error against the clean image, and its minimiser is the supervised one."""
    clean = torch.from_numpy(smooth_image(24, 28)).double()[None, None]
    draws = torch.Generator().manual_seed(4)
    for start in (0.2, 0.9):
        sure_grads, true_grads = [], []
        for _ in range(300):
            noisy = clean + 0.1 * torch.randn(clean.shape, generator=draws, dtype=torch.float64)
            weight = torch.tensor(start, dtype=torch.float64, requires_grad=True)
            (sure_grad,) = torch.autograd.grad(sure_loss(blend(weight), noisy, torch.tensor(0.1), draws), weight)
            (true_grad,) = torch.autograd.grad(((blend(weight)(noisy) - clean) ** 2).mean(), weight)
            sure_grads.append(float(sure_grad))
            true_grads.append(float(true_grad))
        gap = np.subtract(sure_grads, true_grads)
        assert abs(gap.mean()) < 4 * gap.std() / np.sqrt(len(gap)) + 1e-9, start
        assert np.sign(np.mean(sure_grads)) == np.sign(np.mean(true_grads)) != 0
    # so gradient descent on SURE alone finds the blend the clean image would choose
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=draws, dtype=torch.float64)
    grid = np.linspace(0, 1, 41)
    with torch.no_grad():
        true_best = grid[np.argmin([float(((blend(w)(noisy) - clean) ** 2).mean()) for w in grid])]
    weight = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.Adam([weight], lr=0.02)
    for _ in range(300):
        optimiser.zero_grad()
        sure_loss(blend(weight), noisy, torch.tensor(0.1), draws).backward()
        optimiser.step()
    assert float(weight) == pytest.approx(true_best, abs=0.1)


def test_the_restorer_adapts_by_sure_and_the_error_falls():
    torch.manual_seed(0)
    clean = smooth_image(40, 44)
    noisy = parse_degradation("gaussian:sigma=30").apply(clean, np.random.default_rng(1)).image
    family = Restorer(UNet(1, 8, 1), noise_loss="sure")
    x = torch.from_numpy(noisy)[None, None]
    params = dict(family.model.named_parameters())
    known = torch.ones_like(x, dtype=torch.bool)
    expected = sure_loss(family.model, x, estimated_noise_std(x), torch.Generator().manual_seed(5))
    assert family.task_loss(params, x, known, torch.Generator().manual_seed(5)).item() == pytest.approx(expected.item())
    learner = make_learner("fomaml", family.model, family.task_loss, InnerLoop(30, 3e-3, "adam"), 1e-3)
    errors = [float(np.mean((adapt_and_restore(learner, family, noisy, None, steps, crop=32) - clean) ** 2))
              for steps in (0, 30)]  # fmt: skip
    assert errors[1] < 0.7 * errors[0]  # the untrained network is about the identity: SURE alone teaches it to denoise


def test_checked_steps():
    assert checked_steps(10, 5) == [0, 5, 10]
    assert checked_steps(12, 5) == [0, 5, 10, 12]
    assert checked_steps(0, 5) == [0]
    with pytest.raises(ValueError):
        checked_steps(10, 0)


@pytest.fixture(scope="module")
def adapting():
    torch.manual_seed(0)
    clean = smooth_image(40, 44)
    noisy = parse_degradation("gaussian:sigma=30").apply(clean, np.random.default_rng(1)).image
    family = Restorer(UNet(1, 8, 1), noise_loss="renoise")
    learner = make_learner("fomaml", family.model, family.task_loss, InnerLoop(30, 3e-3, "adam"), 1e-3)
    return clean, noisy, family, learner


def test_the_chosen_step_restores_as_adapting_that_many_steps_does(adapting):
    _, noisy, family, learner = adapting
    restored, choice = adapt_choosing_step(learner, family, noisy, steps=12, every=4, crop=32)
    assert sorted(choice.risks) == [0, 4, 8, 12]
    assert choice.risks[choice.step] == min(choice.risks.values())
    fixed = adapt_and_restore(learner, family, noisy, None, steps=choice.step, crop=32)
    assert np.array_equal(restored, fixed)


def test_the_estimated_risk_follows_the_true_error_of_each_step(adapting):
    clean, noisy, family, learner = adapting
    _, choice = adapt_choosing_step(learner, family, noisy, steps=30, every=10, crop=32)
    for step, risk in choice.risks.items():
        true = float(np.mean((adapt_and_restore(learner, family, noisy, None, steps=step, crop=32) - clean) ** 2))
        assert risk == pytest.approx(true, rel=0.25), step
    # the untrained network is about the identity, so adapting helps: SURE sees it
    assert choice.step > 0 and choice.estimated_psnr > 10 * np.log10(1 / choice.risks[0])


def test_the_noise_level_follows_the_family_noise_model():
    ramp = torch.linspace(0.1, 0.9, 64, dtype=torch.float32)[None].repeat(64, 1)
    speckled = ramp * (1 + 0.3 * torch.randn(ramp.shape, generator=torch.Generator().manual_seed(0)))
    assert estimated_noise_std(speckled[None, None], "white").shape == (1, 1, 1, 1)
    per_pixel = estimated_noise_std(speckled[None, None], "signal")
    assert per_pixel.shape == (1, 1, 64, 64)
    assert per_pixel[0, 0, :, -8:].mean() > 3 * per_pixel[0, 0, :, :8].mean()  # speckle grows with the intensity
