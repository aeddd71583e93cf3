"""The adaptation-speed benchmark: its command line refuses what it cannot measure, with no
traceback, and its network timings cover every layout, precision and kind of work."""

import subprocess
import sys

import numpy as np
import pytest

from metagen.nn.restoration import DnCNN
from tests.conftest import REPO

SCRIPT = REPO / "benchmarks" / "restoration_adaptation_speed.py"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--steps", "0"], "--steps, --max-images and --reps must be at least 1"),
        ([], "run not found"),
    ],
)
def test_what_cannot_be_measured_is_refused(tmp_path, arguments, message):
    done = subprocess.run([sys.executable, str(SCRIPT), "--run", str(tmp_path / "missing"), *arguments],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_network_timings_cover_every_layout_precision_and_work(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from restoration_adaptation_speed import network_timings

    model = DnCNN(1, 3, 4)
    timings = network_timings(model, np.random.default_rng(0).random((40, 72)), reps=1)
    cases = {(t["work"], t["layout"], t["precision"]) for t in timings}
    assert len(timings) == len(cases) == 8
    assert {work for work, _, _ in cases} == {"pass", "step"}
    assert all(t["seconds"] > 0 for t in timings)
    assert all(p.is_contiguous() for p in model.parameters())  # the model is given back as it came
