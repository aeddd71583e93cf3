"""Losses as pure functions of tensors."""

from metagen.objectives.classification import accuracy, cross_entropy
from metagen.objectives.vae import gaussian_kl, negative_elbo, reconstruction_nll

__all__ = ["accuracy", "cross_entropy", "gaussian_kl", "negative_elbo", "reconstruction_nll"]
