"""The restoration benchmark over training seeds: means and Student-t intervals over seeds, and
seed-paired differences, checked against scipy's t interval and hand-computed differences."""

import numpy as np
import pytest
from scipy import stats

from metagen.reports.restoration_seeds import aggregate_over_seeds, best_peer, paired_differences, seeds_markdown

META10, META0 = "metagen meta-learned, 10 steps", "metagen meta-learned, 0 steps"
PLAIN10, PLAIN0 = "same net, ordinary training, 10 steps", "same net, ordinary training, 0 steps"
INPUT, TV, NLM = "degraded input (bicubic for SR)", "total variation (skimage)", "non-local means (skimage)"


def _row(degradation: str, method: str, psnr: float, matched: bool = False) -> dict:
    return {"set": "BSD68", "degradation": degradation, "matched": matched, "method": method, "psnr": psnr,
            "ssim": psnr / 100, "images": 12, "seconds_per_image": 0.5}  # fmt: skip


def _rows_by_seed() -> dict[int, list[dict]]:
    """Three seeds of the networks on a never-seen and a matched condition; the peers with the first seed only."""
    networks = {META10: (24.0, 24.3, 24.9), META0: (23.5, 23.6, 24.0), PLAIN10: (24.2, 24.1, 25.0),
                PLAIN0: (23.9, 23.7, 24.4)}  # fmt: skip
    rows: dict[int, list[dict]] = {}
    for index, seed in enumerate((3, 5, 8)):
        rows[seed] = [_row("poisson:peak=30", method, values[index]) for method, values in networks.items()]
        rows[seed] += [_row("gaussian:sigma=25", method, values[index] + 5, True)
                       for method, values in networks.items()]  # fmt: skip
        rows[seed].append(_row("poisson:peak=30", INPUT, 19.0))  # the input beats no network but is no peer
    rows[3] += [_row("poisson:peak=30", TV, 24.1), _row("poisson:peak=30", NLM, 23.0),
                _row("gaussian:sigma=25", TV, 40.0, True)]  # fmt: skip
    return rows


def test_means_and_intervals_over_seeds_match_scipy():
    aggregated = aggregate_over_seeds(_rows_by_seed())
    row = next(r for r in aggregated if r["degradation"] == "poisson:peak=30" and r["method"] == META10)
    values = [24.0, 24.3, 24.9]
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert row["seeds"] == [3, 5, 8] and row["psnr"] == values
    assert row["psnr_mean"] == pytest.approx(np.mean(values))
    assert row["psnr_ci95"] == pytest.approx((high - low) / 2)
    assert row["ssim_mean"] == pytest.approx(np.mean(values) / 100)
    peer = next(r for r in aggregated if r["degradation"] == "poisson:peak=30" and r["method"] == TV)
    assert peer["seeds"] == [3] and peer["psnr_ci95"] is None and peer["psnr_mean"] == 24.1


def test_the_best_peer_is_neither_a_network_under_test_nor_the_input():
    aggregated = aggregate_over_seeds(_rows_by_seed())
    assert best_peer(aggregated, ("BSD68", "poisson:peak=30")) == (TV, 24.1)
    assert best_peer(aggregated, ("BSD68", "speckle:std=0.3")) is None


def test_paired_differences_are_per_seed():
    differences = paired_differences(aggregate_over_seeds(_rows_by_seed()))
    found = {(d["degradation"], d["method"], d["against"]): d for d in differences}
    meta_vs_plain = found["poisson:peak=30", META10, PLAIN10]
    assert meta_vs_plain["differences"] == pytest.approx([-0.2, 0.2, -0.1])
    assert meta_vs_plain["above_zero"] == 1 and meta_vs_plain["mean"] == pytest.approx(-0.1 / 3)
    # paired, so the spread between seeds cancels: a narrower interval than either method's own
    per_method = aggregate_over_seeds(_rows_by_seed())
    own = next(r["psnr_ci95"] for r in per_method if r["degradation"] == "poisson:peak=30" and r["method"] == META10)
    assert meta_vs_plain["ci95"] < own
    assert found["poisson:peak=30", META10, META0]["differences"] == pytest.approx([0.5, 0.7, 0.9])
    assert found["poisson:peak=30", PLAIN10, PLAIN0]["above_zero"] == 3
    peer = found["poisson:peak=30", META10, f"{TV} (best peer)"]
    assert peer["differences"] == pytest.approx([-0.1, 0.2, 0.8]) and peer["above_zero"] == 2
    published = found["gaussian:sigma=25", META10, "DnCNN-S published (29.23 dB)"]
    assert published["differences"] == pytest.approx([-0.23, 0.07, 0.67])
    # a matched condition is no target against the peers
    assert not any(d["degradation"] == "gaussian:sigma=25" and "best peer" in d["against"] for d in differences)
    assert not any("x8" in d["method"] for d in differences)  # no self-ensembled rows were scored


def test_self_ensembled_rows_are_compared_with_the_best_peer_too():
    rows = _rows_by_seed()
    for index, seed in enumerate((3, 5, 8)):
        rows[seed].append(_row("poisson:peak=30", META10 + ", x8 self-ensemble", 24.5 + index))
    found = {(d["method"], d["against"]): d for d in paired_differences(aggregate_over_seeds(rows))}
    assert found[META10 + ", x8 self-ensemble", f"{TV} (best peer)"]["differences"] == pytest.approx([0.4, 1.4, 2.4])


def test_the_markdown_gives_every_seed_and_marks_the_peers_scored_once():
    aggregated = aggregate_over_seeds(_rows_by_seed())
    text = "\n".join(seeds_markdown(aggregated, paired_differences(aggregated), [3, 5, 8]))
    assert "## BSD68, poisson:peak=30 (never trained on)" in text and "## BSD68, gaussian:sigma=25 (matched)" in text
    assert f"| {META10} | 24.40 ± " in text and "| 24.00, 24.30, 24.90 |" in text
    assert f"| {TV} | 24.10 | 0.2410 | (once: no seed) |" in text
    assert f"| BSD68 | poisson:peak=30 | {META10} | {PLAIN10} | -0.03 ± " in text and "| 1/3 |" in text
