"""Filling unknown pixels: pull-push against scipy's linear interpolation, the spline in tension
against scikit-image's biharmonic inpainting and the discrete Laplace equation."""

import numpy as np
import pytest
import torch
from scipy.interpolate import griddata
from skimage.restoration import inpaint_biharmonic

from metagen.eval.image_quality import psnr
from metagen.tasks.fill import _laplacian, fill_unknown, pull_push_fill, spline_fill


def smooth(h=45, w=61):
    yy, xx = np.mgrid[0:h, 0:w]
    return (0.5 + 0.3 * np.sin(xx / 6) * np.cos(yy / 8) + 0.1 * yy / h).astype(np.float32)


def as_u8(a):
    return np.uint8(np.clip(a, 0, 1) * 255 + 0.5)


def fill(image, known):
    out = pull_push_fill(torch.from_numpy(image)[None, None], torch.from_numpy(known)[None, None])
    return out[0, 0].numpy()


def test_known_pixels_stay_and_the_fill_is_a_blend_of_them():
    image = smooth()
    known = np.random.default_rng(0).random(image.shape) > 0.6
    known[10:30, 20:50] = False  # and a large hole
    filled = fill(image * known, known)
    assert np.array_equal(filled[known], image[known]) and np.isfinite(filled).all()
    assert image[known].min() - 1e-6 <= filled.min() and filled.max() <= image[known].max() + 1e-6


def test_missing_pixels_are_filled_close_to_linear_interpolation():
    """Pull-push is smoother than piecewise-linear interpolation over the Delaunay triangulation
    (about 43 against 52 dB on this smooth image; 28.5 against biharmonic's 31.1 dB on Set12 at
    50% missing): the start of the spline fill's conjugate gradients, not a finished inpainting."""
    image = smooth()
    known = np.random.default_rng(1).random(image.shape) >= 0.5
    known[[0, 0, -1, -1], [0, -1, 0, -1]] = True  # corners known: griddata then covers every pixel
    points = np.argwhere(known)
    linear = griddata(points, image[known], np.argwhere(np.ones_like(known)), method="linear").reshape(image.shape)
    ours, reference = psnr(as_u8(fill(image * known, known)), as_u8(image)), psnr(as_u8(linear), as_u8(image))
    assert reference - 12 < ours and ours > psnr(as_u8(image * known), as_u8(image)) + 20


def test_constant_images_fill_exactly_and_edge_cases():
    image = np.full((17, 23), 0.3, np.float32)
    known = np.zeros(image.shape, bool)
    known[3, 5] = True  # a single known pixel spreads everywhere
    assert np.allclose(fill(image * known, known), 0.3, atol=1e-6)
    assert np.array_equal(fill(image, ~np.zeros_like(known)), image)  # nothing to fill
    assert np.array_equal(fill(image, np.zeros_like(known)), np.zeros_like(image))  # nothing to fill from
    rgb = torch.rand(2, 3, 9, 8)
    mask = torch.rand(2, 1, 9, 8) > 0.5
    out = pull_push_fill(rgb, mask)
    assert out.shape == rgb.shape and torch.equal(out[mask.expand_as(rgb)], rgb[mask.expand_as(rgb)])


@pytest.mark.parametrize("side", [1, 2, 3])
def test_tiny_images(side):
    known = torch.zeros(1, 1, side, side, dtype=torch.bool)
    known[..., 0, 0] = True
    assert torch.allclose(pull_push_fill(torch.full((1, 1, side, side), 0.7), known), torch.tensor(0.7))


def spline(image, known, tension, iterations=2000):
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None, None]  # noqa: E731
    return spline_fill(t(image * known), t(known), tension, iterations, tolerance=1e-7)[0, 0].numpy()


def holey_mask(shape, seed):
    known = np.random.default_rng(seed).random(shape) > 0.5
    known[12:22, 25:40] = False  # and a hole
    return known


def test_spline_without_tension_is_scikit_image_biharmonic_inpainting():
    image, known = smooth(), holey_mask((45, 61), 2)
    ours, reference = spline(image, known, 0.0), inpaint_biharmonic(image * known, ~known)
    interior = np.zeros(known.shape, bool)
    interior[3:-3, 3:-3] = True  # the two treat the image border differently
    assert np.abs(ours - reference)[interior].max() < 1e-4
    assert np.abs(ours - reference).max() < 0.02
    assert np.array_equal(ours[known], image[known])


def test_full_tension_solves_the_laplace_equation_at_unknown_pixels():
    image, known = smooth(), holey_mask((45, 61), 3)
    harmonic = spline(image, known, 1.0)
    assert np.abs(_laplacian(torch.from_numpy(harmonic)[None, None])[0, 0].numpy()[~known]).max() < 1e-4
    # the maximum principle: no value outside the range of the known ones
    assert image[known].min() - 1e-5 <= harmonic.min() and harmonic.max() <= image[known].max() + 1e-5


def test_spline_fill_works_image_by_image_and_checks_its_tension():
    images = np.stack([smooth(), smooth()[::-1].copy()])[:, None]
    known = np.stack([holey_mask((45, 61), 4), holey_mask((45, 61), 5)])[:, None]
    batch = fill_unknown(torch.from_numpy(images * known), torch.from_numpy(known))
    for i in range(2):
        one = fill_unknown(torch.from_numpy(images[i : i + 1] * known[i : i + 1]), torch.from_numpy(known[i : i + 1]))
        assert torch.allclose(batch[i], one[0], atol=1e-5)
    everything = torch.ones(1, 1, 45, 61, dtype=torch.bool)
    assert torch.equal(spline_fill(torch.from_numpy(images[:1]), everything), torch.from_numpy(images[:1]))
    with pytest.raises(ValueError, match="tension"):
        spline_fill(torch.from_numpy(images[:1]), everything, tension=1.5)


def test_a_warm_start_reaches_the_same_fill_in_fewer_steps():
    """The refill of the self-supervised inpainting loss: a few more pixels hidden from a filled
    image. Started from that fill, the conjugate gradients reach the cold start's answer, and a few
    steps from it are already far closer to that answer than as many from the pull-push fill."""
    image, known = smooth(90, 122), holey_mask((90, 122), 6)
    known[30:60, 60:100] = False  # a large hole, the slow part of a cold start
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None, None]  # noqa: E731
    filled = spline_fill(t(image * known), t(known))
    fewer = known & (np.random.default_rng(7).random(known.shape) > 1 / 16)
    exact = spline_fill(filled, t(fewer), iterations=5000, tolerance=1e-7)
    cold, warm = spline_fill(filled, t(fewer)), spline_fill(filled, t(fewer), start=filled)
    assert torch.equal(warm[t(fewer).expand_as(warm)], filled[t(fewer).expand_as(filled)])  # known pixels stay
    assert (warm - exact).abs().max() < 5 * (cold - exact).abs().max() + 1e-4
    few_cold, few_warm = (spline_fill(filled, t(fewer), iterations=20, start=s) for s in (None, filled))
    assert (few_warm - exact).abs().max() < 0.2 * (few_cold - exact).abs().max()
