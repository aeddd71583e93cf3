"""metagen: meta-learning for few-shot image generation and image restoration.

The package is organised by concern (see DESIGN.md): ``data`` (data sets), ``tasks`` (episodes),
``nn`` (plain networks), ``objectives`` (pure loss functions), ``meta`` (meta-learning algorithms
on parameter dictionaries), ``train`` (loops, checkpoints, logging), ``eval`` (metrics) and
``cli`` (the command line).
"""

__version__ = "0.1.0"

from metagen.errors import InputError, MetagenError  # noqa: E402

__all__ = ["__version__", "MetagenError", "InputError"]
