"""FID and KID against torchmetrics, a SciPy sqrtm reference and their definitions."""

import numpy as np
import pytest
import scipy.linalg
import torch
import torchmetrics.image.fid as tm_fid
import torchmetrics.image.kid as tm_kid

from metagen.data.glyphs import load_glyphs
from metagen.errors import InputError
from metagen.eval.distribution import fid, gaussian_stats, inception_score, kid, mmd2_unbiased


class Passthrough(torch.nn.Module):
    """A torchmetrics "feature extractor" that hands back the features it is given."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, x):
        return x


def torchmetrics_fid(a: np.ndarray, b: np.ndarray) -> float:
    metric = tm_fid.FrechetInceptionDistance(feature=Passthrough(a.shape[1]))
    metric.update(torch.from_numpy(a), real=True)
    metric.update(torch.from_numpy(b), real=False)
    return float(metric.compute())


def sqrtm_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with scipy.linalg.sqrtm (the reference implementation's route)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s_a @ s_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean).real)


def glyph_features(seed: int, n: int = 600) -> np.ndarray:
    """Real image features: 7x7 average-pooled glyphs (49 dimensions)."""
    images = load_glyphs(size=28).images[np.random.default_rng(seed).choice(11632, n, replace=False)]
    pooled = torch.nn.functional.avg_pool2d(torch.from_numpy(images).double() / 255, 4)
    return pooled.flatten(1).numpy()


def random_pair(dim: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, dim))
    b = rng.normal(size=(400, dim)) @ rng.normal(scale=0.3, size=(dim, dim)) + 0.5
    return a, b


@pytest.mark.parametrize("source", ["random", "glyphs"])
def test_fid_matches_torchmetrics_and_sqrtm(source):
    a, b = random_pair() if source == "random" else (glyph_features(0), glyph_features(1) ** 1.5)
    ours = fid(a, b)
    assert ours > 0.01
    assert ours == pytest.approx(torchmetrics_fid(a, b), rel=1e-4)
    assert ours == pytest.approx(sqrtm_fid(a, b), rel=1e-4)


def test_fid_singular_covariances_match_torchmetrics():
    """Fewer samples than dimensions: the covariances are singular (the Cholesky path fails)."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(40, 64)), rng.normal(loc=0.2, size=(50, 64))
    assert fid(a, b) == pytest.approx(torchmetrics_fid(a, b), rel=1e-4)


def test_fid_zero_for_identical_sets_and_grows_with_shift():
    a, _ = random_pair()
    assert abs(fid(a, a)) < 1e-8
    shifts = [fid(a, a + t) for t in (0.1, 0.2, 0.4)]
    # equal covariances: FID is exactly the squared distance between the means
    assert shifts == pytest.approx([32 * t * t for t in (0.1, 0.2, 0.4)], rel=1e-6)


def test_gaussian_stats_match_numpy():
    a, _ = random_pair()
    stats = gaussian_stats(a)
    assert np.allclose(stats.cov, np.cov(a, rowvar=False)) and stats.count == 500


def brute_mmd2(x, y):
    m, d = len(x), x.shape[1]
    k = lambda u, v: (u @ v / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_mmd_matches_its_definition():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 5)), rng.normal(loc=0.3, size=(12, 5))
    assert mmd2_unbiased(x, y) == pytest.approx(brute_mmd2(x, y), rel=1e-10)


@pytest.mark.parametrize("source", ["random", "glyphs"])
def test_kid_matches_torchmetrics(source):
    a, b = random_pair() if source == "random" else (glyph_features(0), glyph_features(1) ** 1.5)
    n = min(len(a), len(b))
    metric = tm_kid.KernelInceptionDistance(feature=Passthrough(a.shape[1]), subsets=2, subset_size=n)
    metric.update(torch.from_numpy(a[:n]), real=True)
    metric.update(torch.from_numpy(b[:n]), real=False)
    # a subset of all n samples is the whole set in another order: the score is the same
    ours = kid(a[:n], b[:n], subsets=2, subset_size=n)
    assert ours.mean == pytest.approx(float(metric.compute()[0]), rel=1e-4)
    assert ours.std == pytest.approx(0.0, abs=1e-9) and ours.subset_size == n


def test_kid_subsets_are_seeded_and_cut_to_the_smaller_set():
    a, b = random_pair()
    first, again = kid(a, b, subsets=10, subset_size=1000, seed=4), kid(a, b, subsets=10, subset_size=1000, seed=4)
    assert first == again and first.subset_size == 400 and first.std > 0
    assert abs(kid(a[:250], a[250:], subsets=20).mean) < 0.02 < kid(a, b, subsets=20).mean


def test_bad_features_are_refused():
    a, _ = random_pair()
    with pytest.raises(InputError, match="2-D"):
        fid(a[0], a)
    with pytest.raises(InputError, match="dimensions differ"):
        fid(a, a[:, :5])
    with pytest.raises(InputError, match="NaN"):
        fid(a, np.full_like(a, np.nan))
    with pytest.raises(InputError, match="at least 2"):
        kid(a[:1], a)


def brute_inception_score(logits, splits):
    p = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    out = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0)
        out.append(np.exp(np.mean([np.sum(q * (np.log(q) - np.log(marginal))) for q in part])))
    return np.mean(out), np.std(out)


def test_inception_score_matches_its_definition_and_torchmetrics():
    import torchmetrics.image.inception as tm_is

    rng = np.random.default_rng(5)
    logits = rng.normal(scale=3.0, size=(300, 10))
    ours = inception_score(logits, splits=3)
    assert (ours.mean, ours.std) == pytest.approx(brute_inception_score(logits, 3), rel=1e-9)
    metric = tm_is.InceptionScore(feature=Passthrough(10), splits=1)
    metric.update(torch.from_numpy(logits))
    assert inception_score(logits, splits=1).mean == pytest.approx(float(metric.compute()[0]), rel=1e-6)
    # confident and evenly spread over classes: the score approaches the number of classes
    confident = np.eye(10)[np.arange(300) % 10] * 50.0
    assert inception_score(confident, 1).mean == pytest.approx(10.0, rel=1e-6)
    assert inception_score(np.zeros((50, 10)), 1).mean == pytest.approx(1.0)


def test_bad_metric_arguments_are_refused():
    a, b = random_pair()
    with pytest.raises(InputError, match="at least one subset"):
        kid(a, b, subsets=0)
    with pytest.raises(InputError, match="splits must be between"):
        inception_score(a[:5], splits=6)
