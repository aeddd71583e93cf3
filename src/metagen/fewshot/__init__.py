"""Few-shot generators: a network, its objective and its sampler, bound for the meta-learner."""

from metagen.fewshot.classifier import FewShotClassifier
from metagen.fewshot.vae import VAEGenerator

__all__ = ["FewShotClassifier", "VAEGenerator"]
