"""Attack-based privacy risks (Giomi et al. 2023) and the density-ratio membership attack."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.metrics import attack_space
from pipeline.metrics.attacks import compute_attacks, risk, wilson
from pipeline.metrics.membership import tpr_at_fpr
from tests.metrics_fixtures import make_schema, make_table

TRAIN = make_table(700, seed=30)
HOLDOUT = make_table(300, seed=31)
SCHEMA = make_schema(TRAIN)


def test_leaked_copy_of_train_is_caught_by_every_attack() -> None:
    metrics, details = compute_attacks(TRAIN, HOLDOUT, TRAIN.copy(), SCHEMA, seed=0,
                                       attack_rows=300)
    assert metrics["privacy.linkability_risk"] > 0.8
    assert metrics["privacy.inference_risk"] > 0.8
    assert metrics["privacy.singling_out_risk"] > 0.2
    assert metrics["privacy.mia_density_auc"] > 0.95
    assert metrics["privacy.mia_density_tpr_at_1pct_fpr"] > 0.5
    so = details["singling_out"]
    assert so["attacks"] > 50 and so["train_rate"] > so["control_rate"]
    assert so["ci_low"] <= so["risk"] <= so["ci_high"]


def test_fresh_sample_from_the_population_shows_no_risk() -> None:
    metrics, details = compute_attacks(TRAIN, HOLDOUT, make_table(700, seed=32), SCHEMA,
                                       seed=0, attack_rows=300)
    assert metrics["privacy.linkability_risk"] < 0.1
    assert metrics["privacy.singling_out_risk"] < 0.2
    assert metrics["privacy.inference_risk"] < 0.5
    assert 0.4 < metrics["privacy.mia_density_auc"] < 0.6
    assert metrics["privacy.mia_density_tpr_at_1pct_fpr"] < 0.1
    # the interval of a no-leak sample includes 0
    assert all(details[k]["ci_low"] == 0.0 for k in ("singling_out", "linkability"))


def test_attacks_are_deterministic() -> None:
    fresh = make_table(400, seed=33)
    a = compute_attacks(TRAIN, HOLDOUT, fresh, SCHEMA, seed=5, attack_rows=200)
    b = compute_attacks(TRAIN, HOLDOUT, fresh, SCHEMA, seed=5, attack_rows=200)
    assert a == b


def test_knn_is_exact_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    q, r = rng.random((37, 5)), rng.random((101, 5))
    monkeypatch.setattr(attack_space, "QUERY_BLOCK", 8)
    monkeypatch.setattr(attack_space, "REFERENCE_BLOCK", 16)
    dist, idx = attack_space.knn(q, r, k=3)
    full = np.abs(q[:, None, :] - r[None, :, :]).sum(-1)
    np.testing.assert_array_equal(idx, np.argsort(full, 1)[:, :3])
    np.testing.assert_allclose(dist, np.sort(full, 1)[:, :3], rtol=1e-5)


def test_risk_and_wilson_interval() -> None:
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    r = risk(np.r_[np.ones(60), np.zeros(40)], np.r_[np.ones(20), np.zeros(80)])
    assert r["risk"] == pytest.approx((0.6 - 0.2) / 0.8)
    assert r["ci_low"] < r["risk"] < r["ci_high"]
    # doing worse on train than on the control is no risk
    assert risk(np.zeros(10), np.ones(5) * 0)["risk"] == 0.0


def test_tpr_at_low_fpr() -> None:
    labels = np.r_[np.ones(100), np.zeros(100)]
    scores = np.r_[np.arange(100) + 1000.0, np.arange(100)]  # perfectly separable
    assert tpr_at_fpr(labels, scores, 0.01) == 1.0
    assert tpr_at_fpr(labels, -scores, 0.01) == 0.0
