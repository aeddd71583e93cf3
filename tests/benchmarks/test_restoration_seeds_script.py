"""The restoration benchmark over training seeds refuses on the command line what it cannot train or
score, before training anything."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--train-seconds", "0"], "--train-seconds and --transfer-seconds must be positive"),
        (["--seeds", "1", "1"], "--seeds must be distinct"),
        (["--workers", "0"], "--workers at least 1"),
        (["--sets", "Set5", "--degradations", "poisson:peak=30"], "no condition Set5 poisson:peak=30"),
        (["--override", "train.nonsense=1"], "unknown config key train.nonsense"),
        (["--meta-override", "meta.inner_steps=-1"], "meta.inner_steps must be 0 or more"),
        (["--sure-steps", "10", "0"], "--sure-steps"),
    ],
)  # fmt: skip
def test_what_cannot_be_trained_or_scored_is_refused(tmp_path, arguments, message):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "restoration_seeds.py"), *arguments,
                           "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()  # nothing trained
