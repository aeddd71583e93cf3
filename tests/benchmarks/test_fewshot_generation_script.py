"""The few-shot generation benchmark's --keep-rows: rerun rows replace their old ones in the methods'
order and each row names the run that made it, a protocol that differs from the kept table's is
refused, and it needs --methods."""

import importlib
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "benchmarks" / "fewshot_generation.py"


@pytest.fixture(scope="module")
def script():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        yield importlib.import_module("fewshot_generation")
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_rerun_rows_replace_their_old_ones_in_the_methods_order_and_each_row_names_its_run(script):
    old = [{"method": "a", "v": 1}, {"method": "b", "v": 2}, {"method": "e", "v": 5, "command": ["--older"]},
           {"method": "copy", "baseline": True}]  # fmt: skip
    new = [{"method": "b", "v": 3, "command": ["--new"]}, {"method": "c", "v": 4, "command": ["--new"]}]
    merged = script.merge_rows(new, old, ["c", "a", "b", "d", "e"], ["--old"])
    assert [(r["method"], r["v"], r["command"]) for r in merged] == [
        ("c", 4, ["--new"]), ("a", 1, ["--old"]), ("b", 3, ["--new"]), ("e", 5, ["--older"])]
    lines = script.provenance_lines({"K=1": merged, "K=5": merged})
    assert lines[1:] == ["- c; b: `python benchmarks/fewshot_generation.py --new`",
                         "- a: `python benchmarks/fewshot_generation.py --old`",
                         "- e: `python benchmarks/fewshot_generation.py --older`"]  # fmt: skip


def test_kept_table_must_share_the_protocol(script, tmp_path, monkeypatch):
    monkeypatch.setattr(script, "RESULTS", tmp_path)
    parser = script.build_parser()
    with pytest.raises(SystemExit, match="no .*t.json to keep rows from"):
        script.kept_payload("t", parser.parse_args(["--features", "f"]), parser, "abc", {})
    command = ["--features", "f", "--budget", "180", "--seeds", "0", "1", "--max-classes", "50"]
    machine = {"cpu": "AMD EPYC", "cores": 2}
    kept = {"command": command, "feature_checksum": "abc", "machine": machine, "tables": {}}
    (tmp_path / "t.json").write_text(json.dumps(kept))
    same = parser.parse_args([*command, "--methods", "m", "--keep-rows"])
    assert script.kept_payload("t", same, parser, "abc", machine)["command"] == command
    changed = parser.parse_args(["--features", "f", "--budget", "90", "--seeds", "0", "1"])
    with pytest.raises(SystemExit, match="differs from this run in: budget, max_classes, feature space, machine"):
        script.kept_payload("t", changed, parser, "xyz", {"cpu": "AMD EPYC", "cores": 16})


def test_keep_rows_needs_methods():
    command = [sys.executable, str(SCRIPT), "--features", "f", "--keep-rows"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 2 and "--keep-rows needs --methods" in done.stderr
