"""The restoration benchmark over several training seeds, as DESIGN.md's protocols ask (the mean
and a 95% interval over at least three seeds): each network row's PSNR and SSIM per seed, with
their mean and 95% Student-t interval; the peers, which do not depend on the training seed, scored
once; and seed-paired PSNR differences: the meta-learned network against the same network trained
ordinarily at the same adaptation, adaptation against none, and, on degradations never trained on,
the adapted network against the best peer (the restoration issue's target), on BSD68 sigma 25
against DnCNN-S's published 29.23 dB."""

from __future__ import annotations

from typing import Any

import numpy as np

from metagen.reports.intervals import seed_interval95
from metagen.reports.restoration_benchmark import META_LABEL, PLAIN_LABEL
from metagen.reports.restoration_targets import ADAPTED, ADAPTED_ROWS, DNCNN_S_BSD68_SIGMA25, OURS

Rows = list[dict[str, Any]]
PLAIN_ADAPTED = f"{PLAIN_LABEL}, 10 steps"
# (method, against): the seed-paired comparisons made on every condition that has both rows
PAIRS = (
    (ADAPTED, PLAIN_ADAPTED),
    (ADAPTED, f"{META_LABEL}, 0 steps"),
    (PLAIN_ADAPTED, f"{PLAIN_LABEL}, 0 steps"),
)


def mean_and_interval(values: list[float]) -> tuple[float, float | None]:
    """The mean of ``values`` (one per seed) and the half-width of its 95% Student-t interval
    (None for a single value)."""
    return float(np.mean(values)), (seed_interval95(values) if len(values) > 1 else None)


def aggregate_over_seeds(rows_by_seed: dict[int, Rows]) -> Rows:
    """One row per (set, degradation, method) of the benchmark rows of each seed: the seeds it was
    scored for, its PSNR and SSIM per seed, their means and 95% half-widths (None where there is
    one seed, as for the peers scored once)."""
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for seed, rows in rows_by_seed.items():
        for row in rows:
            entry = grouped.setdefault(
                (row["set"], row["degradation"], row["method"]),
                {key: row[key] for key in ("set", "degradation", "matched", "method")}
                | {"seeds": [], "psnr": [], "ssim": []},
            )
            entry["seeds"].append(seed)
            entry["psnr"].append(row["psnr"])
            entry["ssim"].append(row["ssim"])
    for entry in grouped.values():
        for metric in ("psnr", "ssim"):
            entry[f"{metric}_mean"], entry[f"{metric}_ci95"] = mean_and_interval(entry[metric])
    return list(grouped.values())


def _psnr_by_seed(aggregated: Rows, key: tuple[str, str], method: str) -> dict[int, float]:
    for row in aggregated:
        if (row["set"], row["degradation"]) == key and row["method"] == method:
            return dict(zip(row["seeds"], row["psnr"]))
    return {}


def best_peer(aggregated: Rows, key: tuple[str, str]) -> tuple[str, float] | None:
    """The peer (not a network under test, not the input) with the highest mean PSNR on the
    condition ``key`` (set, degradation), and that PSNR; None where no peer was scored."""
    peers = {r["method"]: r["psnr_mean"] for r in aggregated
             if (r["set"], r["degradation"]) == key and not r["method"].startswith(OURS)}  # fmt: skip
    if not peers:
        return None
    best = max(peers, key=peers.__getitem__)
    return best, peers[best]


def _difference(key: tuple[str, str], matched: bool, method: str, against: str, per_seed: dict[int, float]) -> dict:
    values = list(per_seed.values())
    mean, half = mean_and_interval(values)
    return {"set": key[0], "degradation": key[1], "matched": matched, "method": method, "against": against,
            "seeds": list(per_seed), "differences": values, "mean": mean, "ci95": half,
            "above_zero": sum(value > 0 for value in values)}  # fmt: skip


def paired_differences(aggregated: Rows) -> Rows:
    """Per condition, the seed-paired PSNR differences (method minus what it is compared against,
    per seed), their mean and 95% half-width, and how many seeds are above zero: :data:`PAIRS`;
    the adapted network (and its geometric self-ensemble, where scored) against the best peer on
    degradations never trained on, and on BSD68 sigma 25 against DnCNN-S's published 29.23 dB
    (Zhang et al. 2017)."""
    out = []
    for set_name, degradation, matched in dict.fromkeys((r["set"], r["degradation"], r["matched"]) for r in aggregated):
        key = (set_name, degradation)
        for method, against in PAIRS:
            mine, theirs = _psnr_by_seed(aggregated, key, method), _psnr_by_seed(aggregated, key, against)
            shared = [seed for seed in mine if seed in theirs]
            if shared:
                out.append(_difference(key, matched, method, against, {s: mine[s] - theirs[s] for s in shared}))
        peer = best_peer(aggregated, key)
        for row in ADAPTED_ROWS:  # the adapted network, and self-ensembled where it was scored so
            adapted = _psnr_by_seed(aggregated, key, row)
            if adapted and peer and not matched:
                out.append(_difference(key, matched, row, f"{peer[0]} (best peer)",
                                       {s: value - peer[1] for s, value in adapted.items()}))  # fmt: skip
            if adapted and key == ("BSD68", "gaussian:sigma=25"):
                out.append(_difference(key, matched, row, f"DnCNN-S published ({DNCNN_S_BSD68_SIGMA25} dB)",
                                       {s: value - DNCNN_S_BSD68_SIGMA25 for s, value in adapted.items()}))  # fmt: skip
    return out


def _with_interval(mean: float, half: float | None, digits: int, signed: bool = False) -> str:
    text = f"{mean:+.{digits}f}" if signed else f"{mean:.{digits}f}"
    return text if half is None else f"{text} ± {half:.{digits}f}"


def seeds_markdown(aggregated: Rows, differences: Rows, seeds: list[int]) -> list[str]:
    """The tables of a seeds run: the paired differences first, then each condition's rows (mean ±
    95% half-width over seeds, and the PSNR of each seed)."""
    lines = ["## Seed-paired PSNR differences (dB)", "",
             "| set | degradation | method | against | mean ± 95% | per seed | seeds above 0 |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for d in differences:
        per_seed = ", ".join(f"{value:+.2f}" for value in d["differences"])
        lines.append(f"| {d['set']} | {d['degradation']} | {d['method']} | {d['against']} | "
                     f"{_with_interval(d['mean'], d['ci95'], 2, signed=True)} | {per_seed} | "
                     f"{d['above_zero']}/{len(d['differences'])} |")  # fmt: skip
    for set_name, degradation, matched in dict.fromkeys((r["set"], r["degradation"], r["matched"]) for r in aggregated):
        lines += ["", f"## {set_name}, {degradation} ({'matched' if matched else 'never trained on'})", "",
                  f"| method | PSNR | SSIM | PSNR, seeds {', '.join(map(str, seeds))} |",
                  "|---|---|---|---|"]  # fmt: skip
        for r in (r for r in aggregated if (r["set"], r["degradation"]) == (set_name, degradation)):
            per_seed = ", ".join(f"{value:.2f}" for value in r["psnr"]) if len(r["seeds"]) > 1 else "(once: no seed)"
            lines.append(f"| {r['method']} | {_with_interval(r['psnr_mean'], r['psnr_ci95'], 2)} | "
                         f"{_with_interval(r['ssim_mean'], r['ssim_ci95'], 4)} | {per_seed} |")  # fmt: skip
    return lines
