"""The restoration issue's targets, checked against a benchmark run's rows: each line says met or
missed, and by how much."""

from __future__ import annotations

from typing import Any

from metagen.reports.restoration_benchmark import (
    CHOSEN_BY_SURE,
    INPUT,
    META_LABEL,
    PLAIN_LABEL,
    SELF_ENSEMBLE,
    SR_META_LABEL,
)

DNCNN_S_BSD68_SIGMA25 = 29.23  # Zhang et al. 2017, "Beyond a Gaussian Denoiser", Table 2 (DnCNN-S)
ADAPTED = f"{META_LABEL}, 10 steps"
SR_ADAPTED = f"{SR_META_LABEL}, 10 steps"
# the adapted model as it restores, and restoring by geometric self-ensemble where the run has that row
ADAPTED_ROWS = (ADAPTED, ADAPTED + SELF_ENSEMBLE)
SR_ADAPTED_ROWS = (*ADAPTED_ROWS, SR_ADAPTED, SR_ADAPTED + SELF_ENSEMBLE)
OURS = (META_LABEL, PLAIN_LABEL, INPUT)  # not peers: the networks under test and the input itself


def _rows(rows: list[dict[str, Any]], set_name: str, degradation: str) -> dict[str, dict[str, Any]]:
    return {r["method"]: r for r in rows if r["set"] == set_name and r["degradation"] == degradation}


def _verdict(value: float, bar: float, unit: str = "dB") -> str:
    gap = value - bar
    return f"met (+{gap:.2f} {unit})" if gap >= 0 else f"missed by {-gap:.2f} {unit}"


def _named(row: str) -> str:
    """How a target line names the adapted row it checks."""
    how = [f"steps {CHOSEN_BY_SURE}"] if CHOSEN_BY_SURE in row else []
    how += [SELF_ENSEMBLE[2:]] if row.endswith(SELF_ENSEMBLE) else []
    return "adapted model" + (f" ({', '.join(how)})" if how else "")


def _adapted_rows(rows: list[dict[str, Any]]) -> list[str]:
    """The adapted meta-learned rows the targets check: 10 steps, self-ensembled where the run has
    that row, and the rows whose steps SURE chose where it has those."""
    methods = dict.fromkeys(r["method"] for r in rows)
    chosen = [m for m in methods if m.startswith(f"{META_LABEL}, ") and CHOSEN_BY_SURE in m]
    return [*ADAPTED_ROWS, *chosen]


def target_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per target of the restoration issue that the rows cover, for the adapted model and,
    where the run has them, its self-ensembled rows."""
    lines = []
    adapted_rows = _adapted_rows(rows)
    bsd = _rows(rows, "BSD68", "gaussian:sigma=25")
    for row in (row for row in adapted_rows if row in bsd):
        value = bsd[row]["psnr"]
        lines.append(f"- BSD68 sigma 25, {_named(row)} at least DnCNN-S's published {DNCNN_S_BSD68_SIGMA25} dB: "
                     f"{value:.2f} dB, {_verdict(value, DNCNN_S_BSD68_SIGMA25)}")  # fmt: skip
    for key in dict.fromkeys((r["set"], r["degradation"]) for r in rows if not r["matched"]):
        these = _rows(rows, *key)
        peers = {m: r["psnr"] for m, r in these.items() if not m.startswith(OURS)}
        for row in (row for row in adapted_rows if row in these and peers):
            best = max(peers, key=peers.__getitem__)
            value = these[row]["psnr"]
            lines.append(f"- {key[0]}, {key[1]} (never trained on): {_named(row)} beats DnCNN-25 and every classical "
                         f"peer: {value:.2f} dB against {best} {peers[best]:.2f} dB, {_verdict(value, peers[best])}")  # fmt: skip
    sr = _rows(rows, "Set5", "sr:scale=2")
    for adapted in (name for name in SR_ADAPTED_ROWS if name in sr and INPUT in sr):
        bicubic = sr[INPUT]["psnr"]
        value = sr[adapted]["psnr"]
        lines.append(f"- Set5 x2, at least 2 dB above bicubic ({bicubic:.2f} dB here), {adapted}: {value:.2f} dB, "
                     f"{_verdict(value, bicubic + 2)}")  # fmt: skip
    for row in ADAPTED_ROWS:
        times = [r["seconds_per_image"] for r in rows if r["set"] == "BSD68" and r["method"] == row]
        if times:
            mean = sum(times) / len(times)
            lines.append(f"- 10 adaptation steps on a 481x321 BSD68 image under 3 s, {_named(row)}: {mean:.2f} s (mean "
                         f"over the BSD68 conditions), {'met' if mean < 3 else 'missed'}")  # fmt: skip
    return lines
