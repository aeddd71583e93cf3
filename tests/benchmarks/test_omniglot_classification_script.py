"""The Omniglot classification benchmark's command line refuses what it cannot run."""

import subprocess
import sys

from tests.conftest import REPO


def test_only_that_matches_no_recipe_is_refused(tmp_path):
    script = REPO / "benchmarks" / "omniglot_classification.py"
    done = subprocess.run(
        [sys.executable, str(script), "--only", "7way", "--work", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "no recipe in" in done.stderr and "matches --only 7way" in done.stderr
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written
