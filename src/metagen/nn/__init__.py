"""Plain networks (no meta-learning inside). Importing this package registers them all."""

from metagen.nn import classifier, restoration, vae  # noqa: F401  (registers conv4, dncnn, conv_vae)
from metagen.nn.registry import NETWORKS, build_network, register_network

__all__ = ["NETWORKS", "build_network", "register_network"]
