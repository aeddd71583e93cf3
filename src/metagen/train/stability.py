"""Detecting a diverged meta-training run, and the bookkeeping of rolling it back.

A run has diverged when its loss or any of its parameters is NaN or infinite, or, for GANs, when the
discriminator has won outright (it calls nearly every real image real and nearly every generated
image fake) for ``patience`` steps in a row: the generator's gradient then carries almost no
signal and the run only gets worse. The training loop answers a divergence by reloading the last
good checkpoint and lowering the learning rates, a bounded number of times (see
``metagen.train.loop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import torch

WIN_MARGIN = 0.01  # "outright": D(real) above 1 - margin and D(fake) below margin


@dataclass
class DivergenceWatch:
    """Watches each step's metrics; ``patience`` 0 turns the discriminator check off."""

    patience: int
    streak: int = 0
    streak_start: int = 0

    def verdict(self, step: int, metrics: dict[str, float], params: Iterable[torch.Tensor]) -> str | None:
        """Why the run has diverged at ``step``, or None while it is healthy."""
        bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
        if bad:
            return f"non-finite {', '.join(bad)} ({', '.join(f'{k}={metrics[k]}' for k in bad)})"
        if not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):  # one device sync
            return "non-finite parameters after the outer step"
        d_real, d_fake = metrics.get("d_real"), metrics.get("d_fake")
        if d_real is None or d_fake is None or not self.patience:
            return None
        if d_real > 1 - WIN_MARGIN and d_fake < WIN_MARGIN:
            if self.streak == 0:
                self.streak_start = step
            self.streak += 1
        else:
            self.streak = 0
        if self.streak >= self.patience:
            return (
                f"the discriminator has won outright for {self.streak} steps "
                f"(D(real) {d_real:.4f}, D(generated) {d_fake:.4f})"
            )
        return None

    def last_good_step(self, step: int) -> int:
        """The newest step known healthy: before the streak for a discriminator win, else the one
        before ``step``."""
        return (self.streak_start - 1) if self.streak >= max(self.patience, 1) else step - 1

    def reset(self) -> None:
        self.streak = 0


@dataclass
class Rollbacks:
    """The rollbacks a run has taken: ``lr_scale`` multiplies its configured learning rates."""

    lr_scale: float = 1.0
    events: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"lr_scale": self.lr_scale, "events": list(self.events)}

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> "Rollbacks":
        if not data:
            return cls()
        return cls(float(data["lr_scale"]), list(data["events"]))  # type: ignore[arg-type]
