"""Losses as pure functions of tensors."""

from metagen.objectives.vae import gaussian_kl, negative_elbo, reconstruction_nll

__all__ = ["gaussian_kl", "negative_elbo", "reconstruction_nll"]
