import pytest
import torch
import torch.nn.functional as F

from metagen.errors import ConfigError
from metagen.fewshot.restorer import Restorer
from metagen.nn.self_ensemble import DIHEDRAL, self_ensemble, transform, untransform
from metagen.nn.unet import UNet


def test_the_eight_symmetries_are_distinct_and_undone():
    image = torch.randn(2, 3, 5, 7)
    seen = []
    for turns, mirror in DIHEDRAL:
        moved = transform(image, turns, mirror)
        assert moved.shape[-2:] == ((5, 7) if turns % 2 == 0 else (7, 5))
        assert torch.equal(untransform(moved, turns, mirror), image)
        assert not any(m.shape == moved.shape and torch.equal(m, moved) for m in seen)
        seen.append(moved)
    assert len(seen) == 8


def test_self_ensemble_of_a_convolution_is_the_convolution_with_the_symmetrised_kernel():
    # independent reference: conjugating a zero-padded convolution by a symmetry of the square
    # transforms its kernel, so the average over the group convolves with the kernel's group average
    torch.manual_seed(0)
    kernel, image = torch.randn(1, 1, 3, 3), torch.randn(2, 1, 9, 6)
    symmetrised = torch.stack([transform(kernel, t, m) for t, m in DIHEDRAL]).mean(dim=0)
    got = self_ensemble(lambda x: F.conv2d(x, kernel, padding=1), image)
    assert torch.allclose(got, F.conv2d(image, symmetrised, padding=1), atol=1e-6)
    assert not torch.allclose(got, F.conv2d(image, kernel, padding=1), atol=1e-3)


def test_self_ensemble_leaves_an_equivariant_restorer_as_it_is():
    image = torch.randn(1, 2, 6, 11)
    assert torch.allclose(self_ensemble(torch.sigmoid, image), torch.sigmoid(image), atol=1e-7)


def test_restorer_option_restores_by_self_ensemble():
    torch.manual_seed(1)
    model = UNet(1, 4, 1)
    params = dict(model.named_parameters())
    noisy = torch.rand(1, 1, 13, 18)
    plain = Restorer(model).restore(params, noisy)
    ensembled = Restorer(model, self_ensemble=True).restore(params, noisy)
    with torch.no_grad():
        assert torch.allclose(ensembled, self_ensemble(model, noisy), atol=1e-6)
        assert torch.allclose(plain, model(noisy), atol=1e-6)
    assert not torch.allclose(ensembled, plain, atol=1e-4)
    # inpainting: the known pixels still come back exactly as observed
    known = torch.rand(1, 1, 13, 18) > 0.5
    out = Restorer(model, self_ensemble=True).restore(params, noisy, known)
    assert torch.equal(out[known], noisy[known]) and torch.allclose(out[~known], ensembled[~known], atol=1e-6)
    with pytest.raises(ConfigError, match="self_ensemble"):
        Restorer(model, self_ensemble="yes")
