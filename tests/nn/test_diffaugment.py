"""DiffAugment: seeded, differentiable, and each operation doing what it says."""

import pytest
import torch

from metagen.objectives.diffaugment import POLICIES, cutout, diff_augment, translation


def test_seeded_and_differentiable():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    a = diff_augment(x, POLICIES, torch.Generator().manual_seed(1))
    b = diff_augment(x, POLICIES, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape
    (grad,) = torch.autograd.grad(a.sum(), x)
    assert grad.abs().sum() > 0
    with pytest.raises(ValueError, match="choose from"):
        diff_augment(x, ["flip"])


def test_translation_shifts_content_and_cutout_zeros_a_square():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    moved = translation(x, torch.Generator().manual_seed(0))
    positions = {tuple(torch.nonzero(m[0]).tolist()[0]) for m in moved}
    assert all(abs(r - 8) <= 2 and abs(c - 8) <= 2 for r, c in positions) and len(positions) > 5
    ones = torch.ones(8, 1, 16, 16)
    cut = cutout(ones, torch.Generator().manual_seed(0))
    zeros = (cut == 0).flatten(1).sum(1)
    assert torch.all(zeros <= 64) and torch.all(zeros > 0)  # an 8x8 square, clipped at the borders
