"""PSNR and SSIM against scikit-image; the Y channel against its MATLAB formula."""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from metagen.errors import InputError
from metagen.eval.image_quality import crop_border, psnr, rgb_to_y, sr_scores, ssim


def noisy_pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    clean = (np.add.outer(np.arange(shape[0]), np.arange(shape[1])) * 2 % 256).astype(np.uint8)
    if len(shape) == 3:
        clean = np.stack([clean, 255 - clean, clean // 2], axis=-1)
    noisy = np.clip(clean + rng.normal(0, 20, shape), 0, 255).astype(np.uint8)
    return clean, noisy


def skimage_ssim(a, b, data_range, channel_axis=None):
    # Wang et al.'s settings, as scikit-image documents them
    return structural_similarity(
        a,
        b,
        data_range=data_range,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=channel_axis,
    )


@pytest.mark.parametrize("shape", [(48, 64), (33, 41, 3)])
def test_psnr_and_ssim_match_scikit_image(shape):
    clean, noisy = noisy_pair(shape)
    channel_axis = 2 if len(shape) == 3 else None
    assert psnr(noisy, clean) == pytest.approx(peak_signal_noise_ratio(clean, noisy, data_range=255), rel=1e-12)
    assert ssim(noisy, clean) == pytest.approx(skimage_ssim(noisy, clean, 255, channel_axis), rel=1e-9)
    as_float = noisy.astype(np.float64) / 255, clean.astype(np.float64) / 255
    assert ssim(*as_float, data_range=1.0) == pytest.approx(skimage_ssim(*as_float, 1.0, channel_axis), rel=1e-9)


def test_identical_images():
    clean, _ = noisy_pair((20, 20))
    assert psnr(clean, clean) == float("inf") and ssim(clean, clean) == pytest.approx(1.0)


def test_y_channel_matches_matlab_formula():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]], dtype=np.uint8)
    # MATLAB rgb2ycbcr on these five colours: 81, 145, 41, 235, 16
    assert rgb_to_y(rgb).tolist() == [[81.0, 145.0, 41.0, 235.0, 16.0]]
    assert np.allclose(rgb_to_y(rgb / 255.0) * 255, [[81.481, 144.553, 40.966, 235.0, 16.0]])


def test_sr_scores_crop_the_border_of_the_y_channel():
    clean, noisy = noisy_pair((40, 40, 3))
    y_clean, y_noisy = crop_border(rgb_to_y(clean), 2), crop_border(rgb_to_y(noisy), 2)
    assert sr_scores(noisy, clean, 2) == (psnr(y_noisy, y_clean), ssim(y_noisy, y_clean))


def test_mismatched_or_tiny_images_are_refused():
    clean, noisy = noisy_pair((20, 20))
    with pytest.raises(InputError, match="differ in shape"):
        psnr(clean, noisy[:10])
    with pytest.raises(InputError, match="at least 11x11"):
        ssim(clean[:8, :8], noisy[:8, :8])
    with pytest.raises(InputError, match="cannot crop"):
        crop_border(clean, 10)
