"""Intervals over seeds, as the fixed protocols of DESIGN.md report results: the mean over at least
three seeds and a 95% interval."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def seed_interval95(values: list[float]) -> float:
    """Half-width of the 95% Student-t interval of the mean of ``values`` (one per seed), as the
    protocols of DESIGN.md ask: t(0.975, n - 1) * std / sqrt(n)."""
    n = len(values)
    return float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))
