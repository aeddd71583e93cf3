"""Where metagen finds shared data and keeps its cache."""

from __future__ import annotations

import os
from pathlib import Path

from metagen.errors import InputError


def data_root() -> Path:
    """The folder of the real data sets: ``$METAGEN_DATA``, else ``../shared/data`` beside the CWD."""
    env = os.environ.get("METAGEN_DATA")
    return Path(env) if env else Path.cwd().parent / "shared" / "data"


def cache_dir() -> Path:
    """The on-disk cache of decoded images: ``$METAGEN_CACHE``, else ``~/.cache/metagen``."""
    env = os.environ.get("METAGEN_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "metagen"
    return base


def existing_path(path: str | os.PathLike, what: str = "path") -> Path:
    """Return ``path`` as a Path, or raise ``InputError`` naming it when it does not exist."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{what} not found: {p}")
    return p
