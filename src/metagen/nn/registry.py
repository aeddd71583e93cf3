"""Networks by name. A checkpoint stores the name and constructor arguments, so it rebuilds itself.

Adding a network is one decorated class; ``tests/nn/test_registry.py`` builds every entry.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, TypeVar

from torch import nn

from metagen.errors import ConfigError

NETWORKS: dict[str, type[nn.Module]] = {}
M = TypeVar("M", bound=type[nn.Module])


def register_network(name: str) -> Callable[[M], M]:
    def decorator(cls: M) -> M:
        if name in NETWORKS:
            raise ValueError(f"network {name!r} registered twice")
        NETWORKS[name] = cls
        cls.registry_name = name  # type: ignore[attr-defined]
        return cls

    return decorator


def build_network(name: str, options: dict[str, Any]) -> nn.Module:
    """Construct the registered network ``name`` with keyword ``options``, checking every key."""
    if name not in NETWORKS:
        raise ConfigError(f"unknown network {name!r}; choose one of: {', '.join(sorted(NETWORKS))}")
    cls = NETWORKS[name]
    params = inspect.signature(cls.__init__).parameters
    valid = [p for p in params if p != "self"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"network {name!r} has no option {unknown[0]!r}; valid options: {', '.join(valid)}")
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"network {name!r}: bad options {options} ({exc})") from None
