"""Helpers shared by the benchmark scripts: the machine a table was measured on, and writing a
results table with its JSON twin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metagen.environment import machine_info  # noqa: F401  (re-exported for the benchmark scripts)

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, lines: list[str], payload: dict[str, Any]) -> None:
    """Write benchmarks/results/NAME.md (the table) and NAME.json (the same numbers), and print the table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    print("\n".join(lines))
