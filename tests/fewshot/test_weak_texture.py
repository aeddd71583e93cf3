"""The weak-texture noise estimator against references computed here: patch sums taken one patch at
a time, the energy distribution of pure noise by sampling, and the true level of noise added to
images that carry fine texture (where the wavelet estimate counts texture as noise)."""

import numpy as np
import pytest
import torch

from metagen.errors import ConfigError
from metagen.fewshot.restorer import Restorer
from metagen.nn.unet import UNet
from metagen.objectives.noise_level import fit_noise_level_function, noise_std_map
from metagen.objectives.restoration import estimate_noise_sigma, estimated_noise_std
from metagen.objectives.weak_texture import (
    _energy_gamma,
    channel_patches,
    estimate_noise_sigma_weak_texture,
    gradient_energy,
    tail_variance,
)


def textured(h=96, w=112, seed=0):
    """A smooth image, half of it overlaid with fine stripes (energy at the finest scale)."""
    yy, xx = np.mgrid[0:h, 0:w]
    phase = np.random.default_rng(seed).uniform(0, 6)
    image = 0.5 + 0.3 * np.sin(xx / 9 + phase) * np.cos(yy / 11)
    stripes = 0.08 * np.sign(np.sin(np.pi * (xx + yy) / 2 + 0.3))  # period 4 along the diagonal
    return (image + np.where(xx < w // 2, stripes, 0)).astype(np.float32)


def test_gradient_energy_and_patches_match_one_patch_at_a_time():
    x = torch.rand(2, 3, 11, 13, generator=torch.Generator().manual_seed(0))
    energy, patches = gradient_energy(x, 5), channel_patches(x, 5)
    columns = 13 - 5 + 1
    for b, c, top, left in ((0, 0, 0, 0), (1, 2, 6, 8), (0, 1, 3, 4)):
        block = x[b, c, top : top + 5, left : left + 5]
        index = top * columns + left
        expected = ((block[:, 1:] - block[:, :-1]) ** 2).sum() + ((block[1:] - block[:-1]) ** 2).sum()
        assert float(energy[b, c, index]) == pytest.approx(float(expected), rel=1e-5)
        assert torch.equal(patches[b, c, index], block.flatten())


def test_the_energy_of_pure_noise_has_the_gamma_mean_and_variance():
    sigma = 0.1
    noise = sigma * torch.randn(4, 1, 80, 80, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    energy = gradient_energy(noise, 7)[..., ::7].flatten().numpy()  # patches seven apart: nearly independent
    shape, scale = _energy_gamma(7)
    assert energy.mean() == pytest.approx(shape * scale * sigma**2, rel=0.03)
    assert energy.var() == pytest.approx(shape * (scale * sigma**2) ** 2, rel=0.15)
    assert shape * scale == pytest.approx(2 * 7 * 6 * 2)  # tr(M): each difference holds two pixels


def test_tail_variance_drops_the_structure_eigenvalues():
    noise = torch.linspace(0.9, 1.1, 40, dtype=torch.float64)
    assert tail_variance(noise) == pytest.approx(1.0, rel=1e-6)
    with_structure = torch.sort(torch.cat([noise, torch.tensor([5.0, 20.0, 80.0], dtype=torch.float64)])).values
    assert tail_variance(with_structure) == pytest.approx(1.0, rel=0.02)
    assert with_structure.mean() > 3  # the mean of all would be far off


@pytest.mark.parametrize("sigma", [0.02, 0.06, 0.2])
def test_texture_is_not_counted_as_noise(sigma):
    images = np.stack([textured(seed=s) for s in range(3)])[:, None]
    noisy = torch.from_numpy(images + np.random.default_rng(2).normal(0, sigma, images.shape).astype(np.float32))
    ours = estimate_noise_sigma_weak_texture(noisy).flatten().numpy()
    assert ours == pytest.approx([sigma] * 3, rel=0.06)
    if sigma < 0.05:  # where the stripes outweigh the noise, the wavelet estimate reads them as noise
        assert (estimate_noise_sigma(noisy).flatten().numpy() > 1.3 * sigma).all()


def test_the_noise_level_function_from_weak_texture_follows_the_true_one():
    clean = np.stack([textured(seed=s) for s in range(4)])[:, None]
    noisy = np.random.default_rng(3).poisson(np.clip(clean, 0, None) * 30) / 30
    noisy = torch.from_numpy(noisy).float()
    std = noise_std_map(noisy, fit_noise_level_function(noisy, estimator="weak_texture"))
    ratio = std.numpy() / np.sqrt(clean / 30)
    middle = (clean > 0.3) & (clean < 0.7)
    assert np.median(ratio[middle]) == pytest.approx(1.0, abs=0.1)
    assert estimated_noise_std(noisy, "signal", "weak_texture").shape == noisy.shape
    with pytest.raises(ValueError, match="noise estimator"):
        estimated_noise_std(noisy, "white", "median")


def test_the_restorer_takes_the_estimator_and_refuses_an_unknown_one():
    family = Restorer(UNet(1, 4, 1), noise_loss="renoise", noise_estimator="weak_texture")
    noise = np.random.default_rng(4).normal(0, 0.03, (96, 112)).astype(np.float32)
    noisy = torch.from_numpy(textured()[None, None] + noise)
    assert torch.equal(family.noise_std(noisy), estimate_noise_sigma_weak_texture(noisy))
    with pytest.raises(ConfigError, match="noise_estimator"):
        Restorer(UNet(1, 4, 1), noise_estimator="pca")
    assert float(family.noise_std(noisy)) == pytest.approx(0.03, rel=0.06)


def test_the_binned_levels_of_pure_noise_read_its_level_from_a_batch_of_crops():
    from metagen.objectives.weak_texture import binned_weak_texture_levels

    noise = 0.5 + 0.1 * torch.randn(8, 1, 64, 64, generator=torch.Generator().manual_seed(5))  # adaptation's batch
    levels, variances = binned_weak_texture_levels(noise, bins=16)
    assert 3 <= len(levels) < 16  # fewer groups, each with enough patches for its covariance
    assert np.all(np.diff(levels) > 0)
    assert variances.mean() / 0.01 == pytest.approx(1.0, abs=0.03)
    assert np.all(np.abs(variances / 0.01 - 1) < 0.06)


def test_an_image_too_small_for_a_covariance_gets_the_wavelet_estimate():
    small = torch.rand(2, 1, 8, 9, generator=torch.Generator().manual_seed(6))  # 6 patches of 49 pixels
    assert torch.equal(estimate_noise_sigma_weak_texture(small), estimate_noise_sigma(small))
    assert torch.equal(fit_noise_level_function(small, estimator="weak_texture"), fit_noise_level_function(small))
    assert float(estimate_noise_sigma_weak_texture(torch.rand(1, 1, 40, 40))) > 0.1  # uniform noise: std 0.29


def test_adaptation_estimates_the_noise_level_of_its_batch_once(monkeypatch):
    import metagen.fewshot.restorer as restorer
    from metagen.fewshot.restorer import adapt_and_restore
    from metagen.meta import InnerLoop, make_learner

    calls = []
    estimate = restorer.estimated_noise_std
    monkeypatch.setattr(restorer, "estimated_noise_std", lambda *args: calls.append(args[0]) or estimate(*args))
    noisy = textured() + np.random.default_rng(7).normal(0, 0.05, (96, 112)).astype(np.float32)
    for loss in ("renoise", "sure"):
        calls.clear()
        family = Restorer(UNet(1, 4, 1), noise_loss=loss, noise_estimator="weak_texture")
        learner = make_learner("fomaml", family.model, family.task_loss, InnerLoop(5, 1e-3, "adam"), 1e-3)
        adapt_and_restore(learner, family, noisy, None, steps=5, crop=32)
        assert len(calls) == 1, loss  # five steps on one batch of crops
    batch = torch.from_numpy(noisy[None, None, :48, :48].copy())
    first = family.noise_std(batch)
    assert family.noise_std(batch) is first and len(calls) == 2  # asked again: the same estimate
    batch.mul_(2)  # the same tensor changed in place is estimated again
    assert float(family.noise_std(batch)) == pytest.approx(2 * float(first), rel=1e-5) and len(calls) == 3
