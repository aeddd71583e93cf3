"""The bias-free restoration benchmark's command line refuses budgets it cannot train with."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize("flag", ["--train-seconds", "--transfer-seconds"])
def test_a_budget_that_is_not_positive_is_refused(tmp_path, flag):
    script = REPO / "benchmarks" / "restoration_bias_free.py"
    done = subprocess.run([sys.executable, str(script), flag, "0", "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert "--train-seconds and --transfer-seconds must be positive" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()  # nothing trained


def test_a_sure_choice_that_cannot_adapt_is_refused_before_training(tmp_path):
    script = REPO / "benchmarks" / "restoration_bias_free.py"
    done = subprocess.run([sys.executable, str(script), "--sure-steps", "40", "0", "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert "--sure-steps N K needs N at least 0 and K at least 1" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()
