"""Small building blocks shared by the networks."""

from __future__ import annotations

from torch import nn


def downsample_steps(size: int) -> tuple[int, int]:
    """How many stride-2 halvings take ``size`` to a base side of 4..7, and that side.

    28 -> (2, 7); 32 -> (3, 4); 64 -> (4, 4); 128 -> (5, 4).
    """
    steps, side = 0, size
    while side > 7 and side % 2 == 0:
        side //= 2
        steps += 1
    if side > 7 or side < 3:
        raise ValueError(f"image size {size} does not halve to a base side of 3..7; use 28, 32, 64 or 128")
    return steps, side


def conv_gn_act(
    c_in: int, c_out: int, kernel: int, stride: int, padding: int, transpose: bool = False
) -> nn.Sequential:
    """Convolution, GroupNorm, SiLU. GroupNorm keeps no running statistics, so a network built from
    these blocks has no buffers and nothing leaks between meta-learning tasks. The convolution has no
    bias: the normalisation would cancel it (its gradient is zero but for rounding, which Adam's
    per-parameter scaling would turn into steps of full size), and GroupNorm's shift replaces it."""
    conv_cls = nn.ConvTranspose2d if transpose else nn.Conv2d
    conv = conv_cls(c_in, c_out, kernel, stride, padding, bias=False)
    return nn.Sequential(conv, nn.GroupNorm(min(8, c_out), c_out), nn.SiLU())


def check_image_network(channels: int, likelihood: str | None = None) -> None:
    """Refuse channel counts other than 1 or 3, and likelihoods other than 'bernoulli' or 'gaussian'."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if likelihood is not None and likelihood not in ("bernoulli", "gaussian"):
        raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")


def encoder_layers(image_size: int, channels: int, width: int) -> tuple[list[nn.Module], list[int], int]:
    """The convolutional encoder shared by the VAEs and the set GAN: a 3x3 block, then stride-2
    blocks down to the base side. Returns the layers, the widths (``width`` doubled per halving, up
    to 4x) and the base side."""
    steps, side = downsample_steps(image_size)
    widths = [min(width * 2**i, 4 * width) for i in range(steps + 1)]
    layers = [conv_gn_act(channels, widths[0], 3, 1, 1)]
    layers += [conv_gn_act(widths[i], widths[i + 1], 4, 2, 1) for i in range(steps)]
    return layers, widths, side
