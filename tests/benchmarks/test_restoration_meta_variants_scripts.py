"""The restoration benchmarks that train variants of the recipe side by side (step weights, noise
estimator, learning-rate schedule, a start from published weights) refuse on the command line what
they cannot train with, before training anything."""

import subprocess
import sys

import pytest

from tests.conftest import REPO

STEP_WEIGHTS, NOISE_ESTIMATOR = "restoration_step_weights.py", "restoration_noise_estimator.py"
LR_SCHEDULE, PUBLISHED_INIT = "restoration_lr_schedule.py", "restoration_published_init.py"


@pytest.mark.parametrize(
    ("script", "arguments", "message"),
    [
        (STEP_WEIGHTS, ["--train-seconds", "0", "--step-weights", "1", "1", "1"],
         "--train-seconds and --transfer-seconds must be"),
        (STEP_WEIGHTS, ["--step-weights", "1", "1"], "one weight per inner step"),  # the recipe has 2 inner steps
        (STEP_WEIGHTS, ["--step-weights", "0", "0", "0"], "not all 0"),
        (NOISE_ESTIMATOR, ["--transfer-seconds", "0"], "--train-seconds and --transfer-seconds must be"),
        (NOISE_ESTIMATOR, ["--meta-override", "meta.inner_steps=-1"], "meta.inner_steps must be 0 or more"),
        (NOISE_ESTIMATOR, ["--override", "train.nonsense=1"], "unknown config key train.nonsense"),
        (LR_SCHEDULE, ["--train-seconds", "-5"], "--train-seconds and --transfer-seconds must be"),
        (LR_SCHEDULE, ["--override", "train.lr_schedule=linear"], "'linear' is not a valid choice"),
        (LR_SCHEDULE, ["--sure-steps", "10", "0"], "--sure-steps"),
        (PUBLISHED_INIT, ["--train-seconds", "0"], "--train-seconds must be positive"),
        (PUBLISHED_INIT, ["--override", "meta.algorithm=nonsense"], "'nonsense' is not a valid choice"),
        (PUBLISHED_INIT, ["--dncnn", "/nonexistent/dncnn.pth"], "DnCNN-25 weights not found"),
        (PUBLISHED_INIT, ["--table", "../restoration"], "--table must be a file name"),
    ],
)  # fmt: skip
def test_what_cannot_be_trained_is_refused(tmp_path, script, arguments, message):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *arguments,
                           "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()  # nothing trained
