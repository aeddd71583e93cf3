"""Plain networks (no meta-learning inside). Importing this package registers them all."""

from metagen.nn import classifier, embedding, gan, restoration, set_gan, set_vae, unet, vae  # noqa: F401  (registers every network)
from metagen.nn.registry import NETWORKS, build_network, register_network

__all__ = ["NETWORKS", "build_network", "register_network"]
