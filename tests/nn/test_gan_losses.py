"""GAN losses against their formulas; the gradient penalty against a hand-computed gradient."""

import pytest
import torch

from metagen.objectives.gan import GAN_LOSSES, discriminator_loss, generator_loss, gradient_penalty

REAL, FAKE = torch.tensor([2.0, -0.5, 0.3]), torch.tensor([-1.0, 0.7, 0.0])
sig = torch.sigmoid


@pytest.mark.parametrize(
    "kind, d_expected, g_expected",
    [
        ("nonsaturating", -(sig(REAL).log().mean() + (1 - sig(FAKE)).log().mean()), -sig(FAKE).log().mean()),
        ("hinge", (1 - REAL).clamp(min=0).mean() + (1 + FAKE).clamp(min=0).mean(), -FAKE.mean()),
        ("wgan-gp", FAKE.mean() - REAL.mean(), -FAKE.mean()),
        ("lsgan", 0.5 * ((REAL - 1) ** 2).mean() + 0.5 * (FAKE**2).mean(), 0.5 * ((FAKE - 1) ** 2).mean()),
    ],
)
def test_losses_match_their_formulas(kind, d_expected, g_expected):
    assert discriminator_loss(kind, REAL, FAKE).item() == pytest.approx(d_expected.item(), rel=1e-6)
    assert generator_loss(kind, FAKE).item() == pytest.approx(g_expected.item(), rel=1e-6)


def test_every_loss_is_named_and_unknown_ones_refused():
    assert set(GAN_LOSSES) == {"nonsaturating", "hinge", "wgan-gp", "lsgan"}
    with pytest.raises(ValueError, match="choose one of"):
        discriminator_loss("vanilla", REAL, FAKE)


def test_gradient_penalty_of_a_linear_critic():
    """critic(x) = <w, x>: its gradient is w everywhere, so the penalty is 10 (||w|| - 1)^2."""
    w = torch.randn(1, 2, 3, 3)

    def critic(x):
        return (x * w).flatten(1).sum(1)

    real, fake = torch.rand(4, 2, 3, 3), torch.rand(4, 2, 3, 3)
    penalty = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert penalty.item() == pytest.approx(10 * (w.norm().item() - 1) ** 2, rel=1e-5)
    # differentiable through the critic's parameters (second order), for meta-learning
    w.requires_grad_(True)
    (grad,) = torch.autograd.grad(gradient_penalty(critic, real, fake), w)
    assert torch.allclose(grad, 20 * (w.norm() - 1) * w / w.norm(), atol=1e-5)
