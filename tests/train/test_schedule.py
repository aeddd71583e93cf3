"""The outer learning rate's schedule: the cosine's values, the progress of step- and time-bounded
runs, a run that follows it (logged per step) and refuses a change of it on resume (resuming on it
exactly is tested with the other resumptions, in test_loop.py)."""

import json
import math
from pathlib import Path

import pytest

from metagen.errors import ConfigError, InputError
from metagen.train.config import config_from_dict
from metagen.train.loop import train
from metagen.train.schedule import lr_factor, training_progress
from tests.tiny import TINY

COSINE = ["train.lr_schedule=cosine"]


def test_cosine_falls_from_one_to_zero_through_one_half():
    assert lr_factor("cosine", 0.0) == 1.0 and lr_factor("cosine", 1.0) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor("cosine", 0.5) == pytest.approx(0.5)
    assert lr_factor("cosine", 0.25) == pytest.approx((2 + math.sqrt(2)) / 4)
    assert lr_factor("constant", 0.9) == 1.0
    with pytest.raises(ValueError, match="one of"):
        lr_factor("linear", 0.5)


def test_progress_is_whichever_end_comes_first():
    assert training_progress(25, 100, 10.0, None) == 0.25
    assert training_progress(25, 100, 60.0, 120.0) == 0.5  # the budget is half spent
    assert training_progress(75, 100, 60.0, 120.0) == 0.75
    assert training_progress(10, 100, 500.0, 120.0) == 1.0


def logged(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_run_follows_the_cosine_step_by_step(tmp_path: Path):
    cfg = config_from_dict(TINY, COSINE)
    train(cfg, tmp_path / "run", show_progress=False)
    steps, lr = cfg.train.steps, cfg.meta.outer_lr
    rates = {row["step"]: row["outer_lr"] for row in logged(tmp_path / "run")}
    assert sorted(rates) == list(range(1, steps + 1))
    for step, rate in rates.items():  # the rate of step k is set before it, at progress (k - 1) / steps
        assert rate == pytest.approx(lr * (1 + math.cos(math.pi * (step - 1) / steps)) / 2)
    assert "outer_lr" not in logged(train(config_from_dict(TINY), tmp_path / "flat", show_progress=False).run_dir)[0]


def test_an_unknown_schedule_or_a_change_on_resume_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="lr_schedule"):
        config_from_dict(TINY, ["train.lr_schedule=linear"])
    train(config_from_dict(TINY), tmp_path / "run", show_progress=False)
    with pytest.raises(InputError, match="cannot resume: the config differs from the run's in train.lr_schedule"):
        train(config_from_dict(TINY, COSINE), tmp_path / "run", resume=True, show_progress=False)
