"""Plain networks (no meta-learning inside). Importing this package registers them all."""

from metagen.nn import vae  # noqa: F401  (registers conv_vae)
from metagen.nn.registry import NETWORKS, build_network, register_network

__all__ = ["NETWORKS", "build_network", "register_network"]
