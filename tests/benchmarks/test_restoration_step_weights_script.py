"""The step-weights restoration benchmark's command line refuses what it cannot train with, before
training anything."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--train-seconds", "0", "--step-weights", "1", "1", "1"], "--train-seconds and --transfer-seconds must be"),
        (["--step-weights", "1", "1"], "one weight per inner step"),  # the recipe has 2 inner steps
        (["--step-weights", "0", "0", "0"], "not all 0"),
    ],
)
def test_what_cannot_be_trained_is_refused(tmp_path, arguments, message):
    script = REPO / "benchmarks" / "restoration_step_weights.py"
    done = subprocess.run([sys.executable, str(script), *arguments, "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()  # nothing trained
