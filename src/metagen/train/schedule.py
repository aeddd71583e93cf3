"""The outer learning rate over a run (``train.lr_schedule``): constant, or decayed along a half
cosine from its value at the start to zero at the end of the run (Loshchilov and Hutter 2017,
"SGDR: Stochastic Gradient Descent with Warm Restarts", without the restarts). A run ends at
``train.steps`` or, with ``train.time_budget_s``, when its training time is spent, whichever comes
first, so its progress is the larger of the two fractions: a time-budgeted run decays over its
budget. Only the outer loop's rate follows the schedule; the inner loop's is part of what
adaptation does at test time and stays as it is."""

from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "cosine")


def training_progress(steps_done: int, steps: int, trained_seconds: float, budget_seconds: float | None) -> float:
    """How much of the run is done, in [0, 1]: the larger of steps done over ``steps`` and, with a
    time budget, training seconds over it."""
    done = steps_done / steps if steps > 0 else 1.0
    if budget_seconds:
        done = max(done, trained_seconds / budget_seconds)
    return min(max(done, 0.0), 1.0)


def lr_factor(schedule: str, progress: float) -> float:
    """The outer learning rate's multiplier at ``progress`` (see :func:`training_progress`): 1 for
    'constant', (1 + cos(pi * progress)) / 2 for 'cosine'."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"the learning-rate schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
