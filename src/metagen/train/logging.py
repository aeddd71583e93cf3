"""Run logs: metrics appended to ``metrics.jsonl``, TensorBoard events when tensorboard is
installed, and a tqdm progress bar with ETA and the current losses."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm


class RunLogger:
    """Writes one JSON object per logged step; on resume, drops lines past the resumed step so the
    log reads as if the run had never stopped."""

    def __init__(
        self, run_dir: Path, total_steps: int, start_step: int, show_progress: bool = True, enabled: bool = True
    ):
        self.enabled = enabled
        if not enabled:  # a non-first process of a distributed run writes nothing
            return
        self.path = run_dir / "metrics.jsonl"
        if self.path.exists():
            kept = [ln for ln in self.path.read_text().splitlines() if ln.strip() and _step_of(ln) <= start_step]
            self.path.write_text("".join(ln + "\n" for ln in kept))
        self._file = open(self.path, "a")
        self._tb = _tensorboard_writer(run_dir / "tensorboard")
        self._bar = tqdm(
            total=total_steps,
            initial=start_step,
            desc="meta-train",
            unit="step",
            disable=not show_progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def step(self, step: int, metrics: dict[str, float], write: bool) -> None:
        if not self.enabled:
            return
        self._bar.update(1)
        self._bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()}, refresh=False)
        if write:
            self.record(step, metrics)

    def rewind(self, step: int) -> None:
        """Move the progress bar back to ``step`` (after a rollback); the log keeps its history."""
        if self.enabled:
            self._bar.n = step
            self._bar.refresh()

    def record(self, step: int, metrics: dict[str, float]) -> None:
        """Append ``metrics`` for ``step`` to the log (and TensorBoard) without advancing the bar."""
        if not self.enabled:
            return
        self._file.write(json.dumps({"step": step, **metrics}) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        if not self.enabled:
            return
        self._bar.close()
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (json.JSONDecodeError, AttributeError, ValueError):
        return 1 << 62  # a damaged line (cut off by a kill) is dropped


def _tensorboard_writer(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is an optional extra
        return None
    return SummaryWriter(str(folder))
