"""The restoration protocol: KAIR's noise, and the published DnCNN reproducing its published PSNR."""

import numpy as np
import pytest
import torch

from metagen.data.image_sets import NamedImage, load_image_set
from metagen.errors import CheckpointError, InputError
from metagen.eval.restoration import kair_gaussian_noise, module_restorer, score_denoiser
from metagen.grid import to_uint8
from metagen.nn.restoration import DnCNN, load_kair_dncnn


def test_kair_noise_is_seeded_unclipped_and_of_the_right_level():
    clean = np.full((200, 200), 250, dtype=np.uint8)
    noisy = kair_gaussian_noise(clean, 25)
    assert noisy.dtype == np.float32 and np.array_equal(noisy, kair_gaussian_noise(clean, 25))
    assert noisy.max() > 1.0  # not clipped
    assert np.std(noisy - 250 / 255) == pytest.approx(25 / 255, rel=0.02)
    np.random.seed(0)  # the KAIR recipe, written out
    assert np.allclose(noisy, np.float32(250 / 255) + np.random.normal(0, 25 / 255, clean.shape), atol=1e-6)


def test_identity_restorer_scores_the_noisy_input():
    rng = np.random.default_rng(0)
    images = [NamedImage("a", rng.integers(0, 256, (32, 40), dtype=np.uint8))]
    scores = score_denoiser(lambda x: x, images, 25, "toy")
    noisy = to_uint8(kair_gaussian_noise(images[0].pixels, 25))
    assert scores.psnr == [
        pytest.approx(10 * np.log10(255**2 / np.mean((noisy - images[0].pixels.astype(float)) ** 2)))
    ]
    with pytest.raises(InputError, match="returned shape"):
        score_denoiser(lambda x: x[:10], images, 25, "toy")


def test_dncnn_is_residual_and_runs_grey_and_colour():
    net = DnCNN(channels=3, depth=4, width=8)
    torch.nn.init.zeros_(net.body[-1].weight)
    torch.nn.init.zeros_(net.body[-1].bias)
    x = torch.rand(1, 3, 20, 24)
    assert torch.equal(net(x), x)
    out = module_restorer(net)(x[0].permute(1, 2, 0).numpy())
    assert out.shape == (20, 24, 3) and np.allclose(out, x[0].permute(1, 2, 0).numpy())


def test_foreign_or_tampered_weights_are_refused(tmp_path, capsys):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a weights file")
    with pytest.raises(CheckpointError, match="not a readable PyTorch weights file"):
        load_kair_dncnn(junk)
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not a KAIR DnCNN"):
        load_kair_dncnn(other)
    short = tmp_path / "short.pth"
    torch.save({"model.0.weight": torch.zeros(64, 1, 3, 3), "model.2.weight": torch.zeros(1, 64, 3, 3)}, short)
    with pytest.raises(CheckpointError, match="do not match"):
        load_kair_dncnn(short)

    class Payload:  # a pickle that would run code on load: weights_only refuses it
        def __reduce__(self):
            return (print, ("code ran",))

    evil = tmp_path / "evil.pth"
    torch.save({"model.0.weight": Payload()}, evil)
    with pytest.raises(CheckpointError):
        load_kair_dncnn(evil)
    assert "code ran" not in capsys.readouterr().out
    with pytest.raises(InputError, match="not found"):
        load_kair_dncnn(tmp_path / "missing.pth")


@pytest.mark.slow
@pytest.mark.parametrize("set_name, published", [("Set12", 30.44), ("BSD68", 29.23)])
def test_published_dncnn_reproduces_published_psnr(shared_data, set_name, published):
    """DnCNN-S at sigma 25 (Zhang et al. 2017; KAIR's weights): mean PSNR within 0.02 dB."""
    net = load_kair_dncnn(shared_data / "pretrained" / "dncnn_25_kair.pth")
    scores = score_denoiser(module_restorer(net), load_image_set(set_name, shared_data / "restoration"), 25, set_name)
    assert abs(scores.mean_psnr - published) < 0.02
    assert 0.8 < scores.mean_ssim < 0.9


def test_image_sets_from_folders_and_bad_input(tmp_path, shared_data):
    set5 = load_image_set("Set5", shared_data / "restoration")
    assert [i.name for i in set5] == ["baby", "bird", "butterfly", "head", "woman"]
    assert all(i.pixels.ndim == 3 and i.pixels.dtype == np.uint8 for i in set5)
    (tmp_path / "Set12").mkdir()
    with pytest.raises(InputError, match="no images"):
        load_image_set("Set12", tmp_path)
    with pytest.raises(InputError, match="unknown image set"):
        load_image_set("Urban100", tmp_path)
    with pytest.raises(InputError, match="not found"):
        load_image_set("BSD68", tmp_path / "nowhere")
