"""Image metric functions on controlled feature sets (pipeline/images/scores.py)."""

import numpy as np
import pytest

from pipeline.images import scores


def _gauss(n, shift=0.0, scale=1.0, seed=0, dim=8):
    return np.random.default_rng(seed).normal(shift, scale, (n, dim))


def test_frechet_is_zero_for_one_set_and_grows_with_the_shift():
    x = _gauss(2000)
    assert scores.frechet(x, x) == pytest.approx(0.0, abs=1e-6)
    near, far = scores.frechet(x, _gauss(2000, 0.5, seed=1)), scores.frechet(x, _gauss(2000, 2.0, seed=1))
    assert near == pytest.approx(8 * 0.25, rel=0.2) and far == pytest.approx(8 * 4.0, rel=0.1)
    # rank-deficient features (dead ReLUs) stay finite
    y = x.copy()
    y[:, :3] = 0
    assert np.isfinite(scores.frechet(y, y + 0.1))


def test_precision_recall_separate_fidelity_from_coverage():
    real = _gauss(1500)
    p, r = scores.precision_recall(real, _gauss(1500, seed=1), chunk=256)
    assert p > 0.85 and r > 0.85  # same distribution
    collapsed = _gauss(1500, scale=0.2, seed=2)  # inside the real support, covers little
    p, r = scores.precision_recall(real, collapsed)
    assert p > 0.95 and r < 0.5
    p, r = scores.precision_recall(real, _gauss(1500, shift=10, seed=3))
    assert p == 0.0 and r == 0.0


def test_nn_distances_find_copies_and_separability_tells_apart():
    ref = np.random.default_rng(0).integers(0, 256, (50, 8, 8, 1), dtype=np.uint8)
    d, idx = scores.nn_distances(ref[[7, 3]], ref, chunk=1)
    assert np.allclose(d, 0, atol=1e-3) and list(idx) == [7, 3]  # matmul cdist: ~1e-4
    same = scores.separability_auc(_gauss(600), _gauss(600, seed=1))
    apart = scores.separability_auc(_gauss(600), _gauss(600, shift=1.0, seed=1))
    assert abs(same - 0.5) < 0.08 and apart > 0.95
