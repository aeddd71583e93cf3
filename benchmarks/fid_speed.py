"""How long FID takes on 10,000 x 2,048 features (the size of a standard Inception FID), metagen
against torchmetrics' formula (eigenvalues of the covariance product) and the SciPy ``sqrtm``
reference, interleaved, median of repetitions. All three start from the same features and compute
their statistics in float64; the values must agree.

    python benchmarks/fid_speed.py [--reps 5] [--n 10000] [--dim 2048]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.linalg
import torch
from _common import machine_info, write_results
from torchmetrics.image.fid import _compute_fid

from metagen.eval.distribution import fid


def torchmetrics_fid(a: np.ndarray, b: np.ndarray) -> float:
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    return float(_compute_fid(ta.mean(0), torch.cov(ta.T), tb.mean(0), torch.cov(tb.T)))


def sqrtm_fid(a: np.ndarray, b: np.ndarray) -> float:
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s_a @ s_b)
    diff = a.mean(0) - b.mean(0)
    return float(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean).real)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=2048)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    mixing = rng.normal(scale=1 / np.sqrt(args.dim), size=(args.dim, args.dim))
    real = rng.normal(size=(args.n, args.dim)) @ mixing
    fake = rng.normal(size=(args.n, args.dim)) @ (mixing * 1.1) + 0.05
    methods = {"metagen": fid, "torchmetrics formula": torchmetrics_fid, "scipy sqrtm reference": sqrtm_fid}
    times: dict[str, list[float]] = {name: [] for name in methods}
    values: dict[str, float] = {}
    for _ in range(args.reps):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            values[name] = fn(real, fake)
            times[name].append(time.perf_counter() - t0)
    medians = {name: statistics.median(t) for name, t in times.items()}
    machine = machine_info()
    lines = [
        f"# FID on {args.n:,} x {args.dim:,} features (two sets)",
        "",
        "| implementation | median seconds | FID | relative difference to metagen |",
        "|---|---|---|---|",
        *[
            f"| {name} | {medians[name]:.2f} | {values[name]:.6f} | {abs(values[name] - values['metagen']) / values['metagen']:.1e} |"
            for name in methods
        ],
        "",
        f"Median of {args.reps} interleaved repetitions, each from the features (means, float64 covariances and the "
        "trace term). Target: under 3 s for metagen.",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, torch {torch.__version__}. Seed 0.",
        "",
        "Reproduce: `python benchmarks/fid_speed.py`",
    ]
    write_results("fid_speed", lines, {"n": args.n, "dim": args.dim, "reps": args.reps, "seconds": times,
                                       "median_seconds": medians, "fid": values, "machine": machine})  # fmt: skip


if __name__ == "__main__":
    main()
