"""Divergence handling: detection, rollback to the last good checkpoint with lower learning rates,
a bounded number of times, then a clear stop. Divergences are forced by poisoning the weights."""

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from metagen.meta.learners import MetaLearner
from metagen.train.config import config_from_dict
from metagen.train.loop import DivergenceError, train
from metagen.train.stability import DivergenceWatch
from tests.tiny import TINY


def poison_weights_at(monkeypatch: pytest.MonkeyPatch, calls: set[int]) -> list[int]:
    """Make the n-th outer step (counting every call, 1-based) leave NaN weights, for n in ``calls``."""
    original, count = MetaLearner.outer_step, []

    def poisoned(self, tasks, gens):
        out = original(self, tasks, gens)
        count.append(1)
        if len(count) in calls:
            with torch.no_grad():
                next(self.model.parameters()).fill_(math.nan)
        return out

    monkeypatch.setattr(MetaLearner, "outer_step", poisoned)
    return count


def test_watch_flags_non_finite_values_and_a_discriminator_that_wins():
    watch = DivergenceWatch(patience=3)
    ok = [torch.ones(2)]
    assert watch.verdict(1, {"loss": 1.0}, ok) is None
    assert "non-finite loss" in watch.verdict(1, {"loss": math.nan}, ok)
    assert "non-finite parameters" in watch.verdict(1, {"loss": 1.0}, [torch.tensor([1.0, math.inf])])
    winning = {"loss": 1.0, "d_real": 0.999, "d_fake": 0.001}
    assert watch.verdict(10, winning, ok) is None
    assert watch.verdict(11, {**winning, "d_fake": 0.3}, ok) is None  # the streak is broken
    assert [watch.verdict(s, winning, ok) for s in (12, 13)] == [None, None]
    assert "won outright for 3 steps" in watch.verdict(14, winning, ok)
    assert watch.last_good_step(14) == 11
    assert DivergenceWatch(patience=0).verdict(1, winning, ok) is None


def test_forced_divergence_rolls_back_and_finishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    poison_weights_at(monkeypatch, {3})  # step 3 leaves NaN weights: caught there, back to step 2
    cfg = config_from_dict(TINY, ["train.checkpoint_every=2"])
    result = train(cfg, tmp_path / "run", show_progress=False)
    assert result.steps == 6 and math.isfinite(result.final_loss)
    record = json.loads((tmp_path / "run/run.json").read_text())
    assert record["lr_scale"] == 0.5
    [event] = record["rollbacks"]
    assert event["at_step"] == 3 and event["to_step"] == 2 and "non-finite parameters" in event["reason"]
    weights = load_file(tmp_path / "run/model.safetensors")
    assert all(bool(torch.isfinite(w).all()) for w in weights.values())
    saved = json.loads((tmp_path / "run/model.json").read_text())
    assert saved["stability"]["lr_scale"] == 0.5
    lr = saved["optimizer"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(cfg.meta.outer_lr * 0.5)


def test_divergence_before_the_first_checkpoint_goes_back_to_the_start(tmp_path, monkeypatch):
    poison_weights_at(monkeypatch, {1})
    result = train(config_from_dict(TINY, ["train.checkpoint_every=4"]), tmp_path / "run", show_progress=False)
    [event] = json.loads((tmp_path / "run/run.json").read_text())["rollbacks"]
    assert event["to_step"] == 0 and result.steps == 6


def test_persistent_divergence_stops_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    poison_weights_at(monkeypatch, set(range(1, 100)))
    cfg = config_from_dict(TINY, ["train.max_rollbacks=2"])
    with pytest.raises(DivergenceError, match="2 rollbacks with learning rates x0.5 each did not cure it"):
        train(cfg, tmp_path / "run", show_progress=False)


def test_resume_keeps_the_lowered_learning_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    poison_weights_at(monkeypatch, {3})
    train(config_from_dict(TINY, ["train.checkpoint_every=2", "train.steps=4"]), tmp_path / "run", show_progress=False)
    monkeypatch.undo()
    train(config_from_dict(TINY, ["train.checkpoint_every=2"]), tmp_path / "run", resume=True, show_progress=False)
    record = json.loads((tmp_path / "run/run.json").read_text())
    assert record["resumed_from"] == 4 and record["lr_scale"] == 0.5 and len(record["rollbacks"]) == 1
    saved = json.loads((tmp_path / "run/model.json").read_text())
    assert saved["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.5 * TINY_LR)


TINY_LR = config_from_dict(TINY).meta.outer_lr
