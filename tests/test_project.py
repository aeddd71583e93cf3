"""The README's commands and CI's stay the same."""

from tests.conftest import REPO


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    command = "bash scripts/setup.sh && python3 -m pytest -q"
    assert command in readme and command in ci
    assert "bash scripts/setup.sh && metagen demo --out demo_out" in readme
