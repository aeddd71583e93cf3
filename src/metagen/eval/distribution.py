"""Distances between feature distributions: FID and KID, as pure functions of feature arrays.

Features are rows of a 2-D array ([N, D], one sample a row) in any feature space: Inception pool
features, a domain embedding, or raw pixels. Every statistic is computed in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dtrmm

from metagen.errors import InputError


def as_features(x: np.ndarray, name: str = "features", min_rows: int = 2) -> np.ndarray:
    """``x`` as a finite float64 [N, D] array with at least ``min_rows`` rows, or a clear error."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array [samples, features], got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise InputError(f"{name} needs at least {min_rows} samples, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contain NaN or Inf")
    return arr


@dataclass(frozen=True)
class GaussianStats:
    """Mean [D] and covariance [D, D] of a feature set (float64), and how many samples made them."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


def gaussian_stats(features: np.ndarray) -> GaussianStats:
    """The sample mean and unbiased covariance of ``features`` [N, D] (N >= 2)."""
    x = as_features(features)
    mean = x.mean(axis=0)
    centred = x - mean
    cov = centred.T @ centred / (len(x) - 1)
    return GaussianStats(mean, cov, len(x))


def _psd_factor(cov: np.ndarray) -> tuple[np.ndarray, bool]:
    """A matrix L with L @ L.T == cov: Cholesky where ``cov`` is positive definite, otherwise the
    eigen-decomposition with negative round-off eigenvalues clipped (singular covariances arise
    whenever there are fewer samples than feature dimensions). The flag says whether L is the
    (lower-triangular) Cholesky factor."""
    try:
        return np.linalg.cholesky(cov), True
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        return v * np.sqrt(np.clip(w, 0.0, None)), False


def trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """tr((cov_a cov_b)^(1/2)) for two covariance matrices, through eigenvalues.

    With cov_a = L L^T, the product cov_a cov_b has the eigenvalues of the symmetric positive
    semi-definite L^T cov_b L, so the trace of the square root is the sum of the square roots of
    those (real, non-negative) eigenvalues. No matrix square root (``scipy.linalg.sqrtm``) is formed.
    """
    factor, triangular = _psd_factor(cov_a)
    if triangular:  # triangular products at half the cost of full ones
        inner = dtrmm(1.0, factor, dtrmm(1.0, factor, cov_b, side=0, lower=1, trans_a=1), side=1, lower=1)
    else:
        inner = factor.T @ cov_b @ factor
    eig = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """The Frechet distance between the Gaussians fitted to two feature sets (Heusel et al. 2017,
    "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium"):
    ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))."""
    if a.mean.shape != b.mean.shape:
        raise InputError(f"feature dimensions differ: {a.mean.shape[0]} vs {b.mean.shape[0]}")
    diff = a.mean - b.mean
    value = diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * trace_sqrt_product(a.cov, b.cov)
    return float(max(value, 0.0))


def fid(real: np.ndarray, generated: np.ndarray) -> float:
    """FID between two feature sets [N, D] and [M, D]."""
    return frechet_distance(gaussian_stats(real), gaussian_stats(generated))


def polynomial_kernel(a: np.ndarray, b: np.ndarray, degree: int = 3, gamma: float | None = None, coef: float = 1.0):
    """k(x, y) = (gamma x.y + coef)^degree, gamma = 1/D by default (the KID kernel)."""
    gamma = 1.0 / a.shape[1] if gamma is None else gamma
    return (a @ b.T * gamma + coef) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None, coef: float = 1.0):
    """The unbiased estimate of the squared maximum mean discrepancy between two equal-sized sets
    [m, D] under the polynomial kernel (Binkowski et al. 2018, "Demystifying MMD GANs", eq. 3):
    the within-set terms leave out the diagonal, the cross term uses every pair."""
    m = len(x)
    if len(y) != m or m < 2:
        raise InputError(f"MMD needs two sets of the same size (at least 2), got {len(x)} and {len(y)}")
    k_xx = polynomial_kernel(x, x, degree, gamma, coef)
    k_yy = polynomial_kernel(y, y, degree, gamma, coef)
    k_xy = polynomial_kernel(x, y, degree, gamma, coef)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.mean())


@dataclass(frozen=True)
class KIDResult:
    """KID mean and standard deviation over ``subsets`` random subsets of ``subset_size`` samples."""

    mean: float
    std: float
    subsets: int
    subset_size: int


def kid(
    real: np.ndarray,
    generated: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
) -> KIDResult:
    """Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial
    kernel, averaged over random subsets drawn without replacement (seeded). ``subset_size`` is cut
    to the smaller set's size, as torch-fidelity and clean-fid do; the standard deviation is over
    subsets (population form, as torchmetrics reports it)."""
    x, y = as_features(real, "real features"), as_features(generated, "generated features")
    if x.shape[1] != y.shape[1]:
        raise InputError(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    if subsets < 1:
        raise InputError(f"KID needs at least one subset, got {subsets}")
    m = min(subset_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    scores = [
        mmd2_unbiased(x[rng.permutation(len(x))[:m]], y[rng.permutation(len(y))[:m]], degree, gamma, coef)
        for _ in range(subsets)
    ]
    return KIDResult(float(np.mean(scores)), float(np.std(scores)), subsets, m)


@dataclass(frozen=True)
class ISResult:
    """Inception Score mean and standard deviation over ``splits`` equal parts of the samples."""

    mean: float
    std: float
    splits: int


def inception_score(logits: np.ndarray, splits: int = 10) -> ISResult:
    """Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs"):
    exp(E_x KL(p(y|x) || p(y))) from classifier logits [N, classes], computed on each of ``splits``
    consecutive parts of the samples (in the given order) as the reference implementation does.
    Meaningful only with the ImageNet Inception classifier's logits (``--inception-weights``)."""
    x = as_features(logits, "logits")
    if not 1 <= splits <= len(x):
        raise InputError(f"splits must be between 1 and the number of samples ({len(x)}), got {splits}")
    log_p = x - x.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    scores = []
    for part in np.array_split(log_p, splits):
        log_marginal = np.log(np.exp(part).mean(axis=0))
        kl = (np.exp(part) * (part - log_marginal)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return ISResult(float(np.mean(scores)), float(np.std(scores)), splits)
