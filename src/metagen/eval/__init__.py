"""Metrics, each usable without training."""

from metagen.eval.fidelity import class_fidelity, memorisation_ratio

__all__ = ["class_fidelity", "memorisation_ratio"]
