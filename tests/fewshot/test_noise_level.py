"""The noise-level function: Gaussian, Poisson and multiplicative noise recovered from noisy images
alone, and re-noising that follows it."""

import numpy as np
import pytest
import torch

from metagen.errors import ConfigError
from metagen.fewshot.restorer import Restorer
from metagen.nn.unet import UNet
from metagen.objectives.noise_level import fit_noise_level_function, noise_std_map
from metagen.objectives.restoration import renoise_loss


def ramps(count=8, side=64):
    """Smooth images spanning intensities 0.1 to 0.9 (a ramp each, in both directions)."""
    yy, xx = np.mgrid[0:side, 0:side] / (side - 1)
    shapes = [xx, yy, 1 - xx, 1 - yy, (xx + yy) / 2, 1 - (xx + yy) / 2, xx * yy, 1 - xx * yy]
    return np.stack([0.1 + 0.8 * shapes[i % len(shapes)] for i in range(count)])[:, None].astype(np.float32)


def fitted_std(noisy):
    coefficients = fit_noise_level_function(torch.from_numpy(noisy))
    return coefficients, noise_std_map(torch.from_numpy(noisy), coefficients).numpy()


@pytest.mark.parametrize(
    "name, make, true_std",
    [
        ("gaussian", lambda x, rng: x + rng.normal(0, 0.1, x.shape), lambda x: np.full_like(x, 0.1)),
        ("poisson", lambda x, rng: rng.poisson(x * 30) / 30, lambda x: np.sqrt(x / 30)),
        ("speckle", lambda x, rng: x + x * rng.normal(0, 0.3, x.shape), lambda x: 0.3 * x),
    ],
)
def test_the_fitted_level_follows_the_true_one(name, make, true_std):
    clean = ramps()
    noisy = make(clean, np.random.default_rng(0)).astype(np.float32)
    coefficients, std = fitted_std(noisy)
    assert (coefficients >= 0).all()
    middle = (clean > 0.25) & (clean < 0.85)  # the extremes' blocks straddle bins
    ratio = std[middle] / true_std(clean)[middle]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.1), name
    assert np.quantile(ratio, 0.05) > 0.75 and np.quantile(ratio, 0.95) < 1.3, name


def test_white_noise_gives_a_flat_curve():
    clean = ramps()
    noisy = (clean + np.random.default_rng(1).normal(0, 0.05, clean.shape)).astype(np.float32)
    _, std = fitted_std(noisy)
    assert std.max() / std.min() < 1.25 and np.median(std) == pytest.approx(0.05, rel=0.1)


def test_signal_dependent_renoising_adds_noise_that_grows_with_the_intensity():
    clean = torch.from_numpy(ramps())
    noisy = clean + clean * 0.3 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
    seen = []
    alpha = 0.5
    for model in ("white", "signal"):
        renoise_loss(lambda z: seen.append(z) or z, noisy, torch.Generator().manual_seed(3), alpha, model)
    white, signal = ((z - noisy) / alpha for z in seen)
    dark, bright = clean < 0.3, clean > 0.7
    assert white[0][bright[0]].std() / white[0][dark[0]].std() == pytest.approx(1.0, abs=0.15)  # one level
    assert signal[bright].std() / signal[dark].std() > 2.5  # the true ratio is about 3.5 here
    assert signal[bright].std() == pytest.approx(0.3 * clean[bright].mean(), rel=0.15)


def test_the_restorer_takes_a_noise_model_and_refuses_an_unknown_one():
    assert Restorer(UNet(1, 4, 1), noise_loss="renoise", noise_model="signal").noise_model == "signal"
    with pytest.raises(ConfigError, match="noise_model"):
        Restorer(UNet(1, 4, 1), noise_model="pink")
