"""Meta-learning algorithms on parameter dictionaries (torch.func)."""

from metagen.meta.inner import InnerLoop, adapt
from metagen.meta.learners import (
    ALGORITHMS,
    MAML,
    MetaLearner,
    MetaSGD,
    Reptile,
    make_learner,
)

__all__ = ["ALGORITHMS", "InnerLoop", "MAML", "MetaLearner", "MetaSGD", "Reptile", "adapt", "make_learner"]
