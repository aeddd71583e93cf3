"""Degradations: seeded, self-describing, with the statistics they claim; bicubic super-resolution
input reproduces the published bicubic PSNR on Set5."""

import numpy as np
import pytest

from metagen.data.image_sets import load_image_set
from metagen.errors import ConfigError
from metagen.eval.image_quality import sr_scores
from metagen.grid import to_uint8
from metagen.tasks.degradations import DEGRADATIONS, Downscale, crop_to_multiple, parse_degradation

CLEAN = np.random.default_rng(0).uniform(0.2, 0.8, (64, 48)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
def test_every_degradation_is_seeded_and_round_trips_its_spec(name):
    d = parse_degradation(name)
    first = d.apply(CLEAN, np.random.default_rng(3))
    again = d.apply(CLEAN, np.random.default_rng(3))
    assert np.array_equal(first.image, again.image) and first.image.dtype == np.float32
    assert first.image.shape == crop_to_multiple(CLEAN, getattr(d, "scale", 1)).shape
    assert not np.array_equal(first.image, CLEAN)
    assert parse_degradation(d.spec()) == d
    colour = d.apply(np.stack([CLEAN] * 3, axis=-1), np.random.default_rng(3))
    assert colour.image.shape[2] == 3


def test_noise_statistics():
    rng = np.random.default_rng(0)
    flat = np.full((256, 256), 0.5, dtype=np.float32)
    assert np.std(parse_degradation("gaussian:sigma=50").apply(flat, rng).image - flat) == pytest.approx(
        50 / 255, rel=0.02
    )
    blind = parse_degradation("gaussian:sigma=10,sigma_max=40")
    levels = [np.std(blind.apply(flat, rng).image - flat) * 255 for _ in range(30)]
    assert 10 <= min(levels) and max(levels) <= 40.5 and np.ptp(levels) > 10
    poisson = parse_degradation("poisson:peak=20").apply(flat, rng).image
    assert np.mean(poisson) == pytest.approx(0.5, abs=0.01) and np.var(poisson) == pytest.approx(0.5 / 20, rel=0.05)
    missing = parse_degradation("missing:fraction=0.5").apply(flat, rng)
    assert missing.known.mean() == pytest.approx(0.5, abs=0.02) and np.all(missing.image[~missing.known] == 0)
    holes = parse_degradation("holes:count=1,size=0.25").apply(flat, rng)
    assert (~holes.known).sum() == 64 * 64
    sp = parse_degradation("saltpepper:amount=0.2").apply(flat, rng).image
    assert np.mean(sp != 0.5) == pytest.approx(0.2, abs=0.01) and set(np.unique(sp)) == {0.0, 0.5, 1.0}


def test_random_levels_are_drawn_per_application_or_fixed_per_task():
    flat = np.full((64, 64), 0.5, dtype=np.float32)
    rng = np.random.default_rng(0)
    ranged = parse_degradation("missing:fraction=0.1,fraction_max=0.4")
    lost = [1 - ranged.apply(flat, rng).known.mean() for _ in range(30)]
    assert 0.08 <= min(lost) and max(lost) <= 0.42 and np.ptp(lost) > 0.15
    task_level = ranged.instance(rng)
    assert task_level.fraction_max == 0 and 0.1 <= task_level.fraction <= 0.4
    assert task_level.spec() == f"missing:fraction={task_level.fraction},fraction_max=0.0"
    assert parse_degradation("gaussian:sigma=5,sigma_max=9").instance(rng).sigma_max == 0
    fixed = parse_degradation("holes")
    assert fixed.instance(rng) is fixed


def test_blurred_downscaling_blurs_by_the_stated_width():
    """A Gaussian blur of width b spreads a point's energy: the blurred image's power falls by the
    Gaussian's frequency response, measured here against the analytic sum over the DFT grid."""
    rng = np.random.default_rng(0)
    white = rng.normal(0, 1, (256, 256)).astype(np.float32)
    for width in (1.0, 2.0):
        blurred = Downscale(1, blur=width).apply(white, rng).image  # scale 1: the blur alone
        fy, fx = np.meshgrid(np.fft.fftfreq(256), np.fft.fftfreq(256), indexing="ij")
        response = np.exp(-2 * np.pi**2 * width**2 * (fx**2 + fy**2))  # of a unit-sum Gaussian
        assert blurred.var() == pytest.approx(np.mean(response**2), rel=0.1)
    smooth = np.random.default_rng(1).uniform(0.2, 0.8, (64, 64)).astype(np.float32)
    sharp, soft = (Downscale(2, blur=b).apply(smooth, rng).low_res for b in (0.0, 1.5))
    assert np.abs(np.diff(soft)).mean() < 0.6 * np.abs(np.diff(sharp)).mean()
    blind = parse_degradation("sr:scale=2,blur=0.5,blur_max=2")
    task = blind.instance(rng)
    assert task.blur_max == 0 and 0.5 <= task.blur <= 2 and task.scale == 2
    assert parse_degradation("sr:scale=2").instance(rng) == Downscale(2)
    with pytest.raises(ConfigError, match="blur widths non-negative"):
        parse_degradation("sr:scale=2,blur=-1")


def test_bad_specs_are_clear():
    with pytest.raises(ConfigError, match="unknown degradation 'blur'; choose one of"):
        parse_degradation("blur")
    with pytest.raises(ConfigError, match="bad parameter 'level=3'"):
        parse_degradation("gaussian:level=3")
    with pytest.raises(ConfigError, match="not a number"):
        parse_degradation("sr:scale=two")
    with pytest.raises(ConfigError, match="fractions must lie in"):
        parse_degradation("missing:fraction=1.5")


@pytest.mark.parametrize("scale, published", [(2, 33.66), (4, 28.42)])
def test_bicubic_reproduces_the_published_set5_baseline(shared_data, scale, published):
    """Bicubic super-resolution on Set5, Y channel, border cropped by the scale (Kim et al. 2016)."""
    psnrs = []
    for item in load_image_set("Set5", shared_data / "restoration"):
        hr = crop_to_multiple(item.pixels, scale)
        psnrs.append(sr_scores(to_uint8(Downscale(scale).apply(hr, np.random.default_rng(0)).image), hr, scale)[0])
    assert abs(np.mean(psnrs) - published) < 0.05
