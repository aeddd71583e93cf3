"""The restoration benchmark's machinery on a tiny image set: conditions, scoring, peers."""

import numpy as np
import pytest

from metagen.reports.classical import CLASSICAL
from metagen.reports.restoration_benchmark import Condition, degrade, per_channel, run_condition
from tests.conftest import write_image


@pytest.fixture
def tiny_sets(tmp_path):
    yy, xx = np.mgrid[0:40, 0:44]
    grey = np.uint8(128 + 90 * np.sin(xx / 5) * np.cos(yy / 7))
    for i in range(2):
        write_image(tmp_path / "Set12" / f"{i:02d}.png", np.roll(grey, 3 * i, axis=1))
    write_image(tmp_path / "Set5" / "HR" / "a.png", np.stack([grey, grey // 2, 255 - grey], axis=-1))
    return tmp_path


def test_conditions_score_every_applicable_method(tiny_sets):
    methods = {"identity": lambda x, known: x, **CLASSICAL}
    rows = run_condition(Condition("Set12", "gaussian:sigma=25", True), methods, tiny_sets, None)
    by_name = {r["method"]: r for r in rows}
    assert "biharmonic inpainting (skimage)" not in by_name  # not a denoiser
    assert by_name["identity"]["images"] == 2 and by_name["identity"]["psnr"] == pytest.approx(20.5, abs=0.6)
    assert by_name["non-local means (skimage)"]["psnr"] > by_name["identity"]["psnr"] + 3
    holes = {
        r["method"]: r for r in run_condition(Condition("Set12", "missing:fraction=0.5", False), methods, tiny_sets, 1)
    }
    assert set(holes) == {"identity", "biharmonic inpainting (skimage)"}
    assert holes["biharmonic inpainting (skimage)"]["psnr"] > holes["identity"]["psnr"] + 10


def test_super_resolution_runs_on_the_y_channel(tiny_sets):
    reference, degraded = degrade(Condition("Set5", "sr:scale=2", False), np.zeros((41, 44, 3), np.uint8) + 50, 0, 0)
    assert reference.shape == degraded.image.shape == (40, 44) and reference.dtype == np.uint8
    outputs = {}
    rows = run_condition(
        Condition("Set5", "sr:scale=2", False), {"bicubic": lambda x, k: x}, tiny_sets, None, 0, outputs
    )
    assert rows[0]["psnr"] > 25 and set(outputs) == {"bicubic", "input", "clean"}


def test_per_channel_runs_a_grey_method_on_colour():
    calls = []

    def grey(x, known):
        calls.append(x.shape)
        return x * 0.5

    out = per_channel(grey)(np.ones((4, 5, 3), np.float32), None)
    assert calls == [(4, 5)] * 3 and out.shape == (4, 5, 3) and np.all(out == 0.5)
