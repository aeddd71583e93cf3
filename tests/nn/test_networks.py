"""Every registered network builds, has no buffers, and maps shapes as documented."""

import pytest
import torch

from metagen.errors import ConfigError
from metagen.nn import NETWORKS, build_network
from metagen.nn.blocks import downsample_steps


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_network_builds_without_buffers(name):
    net = build_network(name, {})
    assert not list(net.buffers())


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 3), (128, 1)])
def test_conv_vae_shapes(size, channels):
    net = build_network("conv_vae", {"image_size": size, "channels": channels, "latent_dim": 6, "width": 4})
    x = torch.rand(2, channels, size, size)
    logits, mu, logvar = net(x, torch.randn(2, 6))
    assert logits.shape == x.shape and mu.shape == logvar.shape == (2, 6)


def test_downsample_steps_and_bad_sizes():
    assert downsample_steps(28) == (2, 7) and downsample_steps(64) == (4, 4)
    with pytest.raises(ConfigError, match="does not halve"):
        build_network("conv_vae", {"image_size": 100})
    with pytest.raises(ConfigError, match="no option 'depth'; valid options: image_size"):
        build_network("conv_vae", {"depth": 3})
    with pytest.raises(ConfigError, match="unknown network"):
        build_network("resnet", {})


@pytest.mark.parametrize("channels, size", [(1, 24), (3, 19)])
def test_bias_free_unet_is_positively_homogeneous(channels, size):
    """Mohan et al. 2020: with no additive constants, f(a x) = a f(x) for every a > 0; the network
    with biases (the default) is not, which the same check must be able to see."""
    torch.manual_seed(0)
    x = torch.rand(2, channels, size, size)
    free = build_network("unet", {"channels": channels, "width": 4, "levels": 2, "bias_free": True})
    assert not [n for n, _ in free.named_parameters() if n.endswith("bias")]
    with torch.no_grad():
        for a in (0.1, 3.0, 40.0):
            torch.testing.assert_close(free(a * x), a * free(x), rtol=1e-4, atol=1e-5)
        biased = build_network("unet", {"channels": channels, "width": 4, "levels": 2})
        for name, p in biased.named_parameters():  # biases large enough that f(3x) and 3 f(x) must differ
            if name.endswith("bias"):
                p.add_(0.5)
        assert (biased(3 * x) - 3 * biased(x)).abs().max() > 1e-2
