"""Writing a report: ``report.json`` (every number, the protocol, seeds, sample counts, feature
checksum, software and machine) and ``report.md`` (tables and figures), atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # reports are written headless
import matplotlib.pyplot as plt  # noqa: E402

from metagen.environment import machine_info, software_versions  # noqa: E402
from metagen.io import write_bytes_atomic  # noqa: E402
from metagen.train.checkpoint import write_json_atomic  # noqa: E402


def write_report(out_dir: str | Path, summary: dict[str, Any], markdown: list[str]) -> Path:
    """Write ``report.json`` (``summary`` plus software and machine) and ``report.md``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    full = {**summary, "software": software_versions(), "machine": machine_info()}
    write_json_atomic(out / "report.json", full)
    write_bytes_atomic(out / "report.md", ("\n".join(markdown) + "\n").encode())
    return out / "report.md"


def save_figure(fig: plt.Figure, path: Path, dpi: int = 110) -> Path:
    """Write a matplotlib figure as a PNG atomically, and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return write_bytes_atomic(path, buffer.getvalue())


def interval_bars(
    groups: Sequence[str], series: dict[str, Sequence[tuple[float, Sequence[float] | None]]], title: str
) -> plt.Figure:
    """Grouped bars: one group per metric, one bar per series (value with an optional 95% interval)."""
    fig, ax = plt.subplots(figsize=(1.3 * len(groups) + 2, 3.2))
    width = 0.8 / max(len(series), 1)
    for i, (name, points) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        values = [v for v, _ in points]
        err = [[v - (ci[0] if ci else v) for v, ci in points], [(ci[1] if ci else v) - v for v, ci in points]]
        ax.bar(xs, values, width, yerr=err, capsize=3, label=name)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig
