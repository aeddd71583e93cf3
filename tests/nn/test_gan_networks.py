"""DCGAN networks: sizes, conditioning, projection and stateless spectral normalisation."""

import pytest
import torch

from metagen.nn import build_network


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 3), (128, 1)])
def test_shapes(size, channels):
    g = build_network("dcgan_generator", {"image_size": size, "channels": channels, "latent_dim": 8, "width": 4})
    d = build_network("dcgan_discriminator", {"image_size": size, "channels": channels, "width": 4})
    images = g(torch.randn(3, 8))
    assert images.shape == (3, channels, size, size) and images.min() >= 0 and images.max() <= 1
    assert d(images).shape == (3,)


def test_projection_discriminator_adds_the_class_term():
    d = build_network("dcgan_discriminator", {"width": 4, "num_classes": 5})
    x, y = torch.rand(2, 1, 28, 28), torch.tensor([1, 3])
    h = d.blocks(x * 2 - 1).flatten(1)
    assert torch.allclose(d(x, y), d.head(h).squeeze(1) + (d.embed(y) * h).sum(1), atol=1e-5)
    with pytest.raises(ValueError, match="needs labels"):
        d(x)
    g = build_network("dcgan_generator", {"latent_dim": 8, "width": 4, "num_classes": 5})
    z = torch.randn(2, 8)
    assert not torch.allclose(g(z, torch.tensor([0, 0])), g(z, torch.tensor([1, 1])))


def test_spectral_norm_is_exact_and_stateless():
    d = build_network("dcgan_discriminator", {"width": 4, "spectral_norm": True})
    assert not list(d.buffers())
    conv = d.blocks[2]
    w = conv.weight.detach()
    normalised = w / torch.linalg.svdvals(w.flatten(1))[0]
    x = torch.randn(1, 4, 28, 28)
    expected = torch.nn.functional.conv2d(x, normalised, conv.bias, stride=2, padding=1)
    assert torch.allclose(conv(x), expected, atol=1e-5)
    # with spectral norm every layer is 1-Lipschitz: the discriminator's gradient is bounded
    img = torch.rand(1, 1, 28, 28, requires_grad=True)
    (grad,) = torch.autograd.grad(d(img).sum(), img)
    assert grad.norm() <= 2.0 + 1e-4  # the input is scaled by 2 before the first layer
