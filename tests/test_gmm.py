"""The batched variational Gaussian-mixture fit (pipeline/tabular/gmm.py)."""

from __future__ import annotations

import numpy as np

from pipeline.tabular.gmm import compress, fit_mixtures
from pipeline.tabular.numeric import ModeNormalizer

TRUE_W = np.array([0.6, 0.3, 0.1])
TRUE_MU = np.array([-5.0, 0.0, 8.0])
TRUE_SD = np.array([1.0, 0.5, 2.0])


def _three(n: int = 10_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = (TRUE_W * n).astype(int)
    return rng.permutation(np.concatenate(
        [rng.normal(m, s, k) for m, s, k in zip(TRUE_MU, TRUE_SD, counts)]))


def _standard(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    return (x - x.mean()) / x.std(), float(x.mean()), float(x.std())


def test_recovers_a_known_three_component_mixture():
    z, center, scale = _standard(_three())
    fit = fit_mixtures([z], [3])
    order = np.argsort(fit.means[0])
    np.testing.assert_allclose(fit.weights[0][order], TRUE_W, atol=0.01)
    np.testing.assert_allclose(center + scale * fit.means[0][order], TRUE_MU, atol=0.1)
    np.testing.assert_allclose(scale * np.sqrt(fit.variances[0][order]), TRUE_SD, rtol=0.05)
    assert fit.converged[0]


def test_extra_modes_stay_inside_the_true_components():
    """With 10 modes allowed, the fit may split a component but never blurs two together:
    the kept modes, grouped by the nearest true mean, give back the true weights and means."""
    z, center, scale = _standard(_three())
    fit = fit_mixtures([z], [10])
    keep = fit.weights[0] >= 0.005
    w, mu = fit.weights[0][keep], center + scale * fit.means[0][keep]
    nearest = np.abs(mu[:, None] - TRUE_MU).argmin(axis=1)
    group_w = np.bincount(nearest, weights=w, minlength=3)
    group_mu = np.bincount(nearest, weights=w * mu, minlength=3) / group_w
    np.testing.assert_allclose(group_w / w.sum(), TRUE_W, atol=0.01)
    np.testing.assert_allclose(group_mu, TRUE_MU, atol=0.1)


def test_deterministic():
    z, _, _ = _standard(_three(3000, seed=1))
    a, b = fit_mixtures([z], [10]), fit_mixtures([z], [10])
    for field in ("weights", "means", "variances", "n_iter"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    x = _three(3000, seed=1)
    one = ModeNormalizer.fit(x, 10, 0.005, 1000, seed=4)
    assert one == ModeNormalizer.fit(x, 10, 0.005, 1000, seed=4)
    assert one != ModeNormalizer.fit(x, 10, 0.005, 1000, seed=5)  # the seed picks the rows


def test_batched_fit_equals_fitting_each_column_alone():
    rng = np.random.default_rng(2)
    columns = [_standard(_three(4000, seed=3))[0],
               _standard(rng.exponential(1.0, 2500))[0],
               _standard(rng.integers(0, 4, 900).astype(float))[0],  # 4 distinct values
               _standard(rng.normal(0, 1, 30_000))[0]]
    n_modes = [10, 7, 4, 10]
    batch = fit_mixtures(columns, n_modes)
    for c, (z, k) in enumerate(zip(columns, n_modes)):
        alone = fit_mixtures([z], [k])
        for field in ("weights", "means", "variances"):
            np.testing.assert_array_equal(getattr(batch, field)[c, :k], getattr(alone, field)[0])
        assert batch.n_iter[c] == alone.n_iter[0] and batch.converged[c] == alone.converged[0]
        assert (batch.weights[c, k:] == 0).all()  # beyond its truncation level
    np.testing.assert_allclose(batch.weights.sum(axis=1), 1.0)


def test_compress_keeps_counts_sums_and_squares():
    rng = np.random.default_rng(4)
    few = rng.integers(0, 50, 5000).astype(float)
    n, mean, within = compress(few, 64)
    assert len(n) == 50 and (within == 0).all() and n.sum() == 5000
    np.testing.assert_array_equal(mean, np.unique(few))
    many = rng.normal(0, 1, 5000)
    n, mean, within = compress(many, 64)
    assert len(n) == 64 and n.sum() == 5000 and (np.diff(mean) > 0).all()
    np.testing.assert_allclose((n * mean).sum(), many.sum(), atol=1e-9)
    np.testing.assert_allclose((within + n * mean ** 2).sum(), (many ** 2).sum())
