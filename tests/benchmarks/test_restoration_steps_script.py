"""The adaptation-steps benchmark's command line refuses what it cannot score, with no traceback."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--conditions", "Set12"], "a condition is SET:DEGRADATION"),
        (["--conditions", "Set12:gaussian:sigma=75", "--steps", "-1"], "--steps must be 0 or more"),
        (["--conditions", "Set12:gaussian:sigma=75", "--sure-every", "0"], "--sure-every must be at least 1"),
        (["--conditions", "Set12:gaussian:sigma=75", "--steps", "1"], "run not found"),
        (["--conditions", "Set12:gaussian:sigma=75", "--compare", "noise_loss"], "must look like key=value"),
    ],
)
def test_what_cannot_be_scored_is_refused(tmp_path, arguments, message):
    script = REPO / "benchmarks" / "restoration_steps.py"
    done = subprocess.run([sys.executable, str(script), "--run", str(tmp_path / "missing"), *arguments],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
