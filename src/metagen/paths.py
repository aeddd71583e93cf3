"""Where metagen finds shared data and keeps its cache."""

from __future__ import annotations

import os
from pathlib import Path

from metagen.errors import InputError


def data_root(what: str = "this data set") -> Path:
    """The folder of the real data sets, ``$METAGEN_DATA``. There is no guess from the working
    directory: without the variable, ``what`` needs an explicit root."""
    env = os.environ.get("METAGEN_DATA")
    if not env:
        raise InputError(f"{what} needs --root PATH (or data.root in the recipe, or METAGEN_DATA)")
    return Path(env)


def cache_dir() -> Path:
    """The on-disk cache of decoded images: ``$METAGEN_CACHE``, else ``~/.cache/metagen``."""
    env = os.environ.get("METAGEN_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "metagen"
    return base
