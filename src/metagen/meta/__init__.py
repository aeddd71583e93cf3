"""Meta-learning algorithms on parameter dictionaries (torch.func)."""

from metagen.meta.inner import InnerLoop, ParamGroup, adapt, adapt_groups
from metagen.meta.learners import (
    ALGORITHMS,
    MAML,
    MetaLearner,
    MetaSGD,
    Reptile,
    make_learner,
)

__all__ = [
    "ALGORITHMS",
    "InnerLoop",
    "MAML",
    "MetaLearner",
    "MetaSGD",
    "ParamGroup",
    "Reptile",
    "adapt",
    "adapt_groups",
    "make_learner",
]
