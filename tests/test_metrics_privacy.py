"""Privacy metrics on constructed cases with known answers."""

from __future__ import annotations

import numpy as np

import pytest

from pipeline.metrics.privacy import compute_privacy, dcr_share, sdmetrics_dcr, size_adjusted_share
from tests.metrics_fixtures import make_metadata, make_schema, make_table

TRAIN = make_table(600, seed=10)
HOLDOUT = make_table(400, seed=11)
SCHEMA = make_schema(TRAIN)


def test_copy_of_train_is_flagged() -> None:
    res = compute_privacy(TRAIN, HOLDOUT, TRAIN.copy(), SCHEMA, seed=0, chunk_rows=128).metrics
    assert res["privacy.dcr_share"] == 1.0
    assert res["privacy.dcr_overfitting_protection"] == 0.0
    assert res["privacy.exact_copy_rate"] == 1.0
    assert res["privacy.dcr_synthetic_median"] == 0.0
    assert res["privacy.nndr_median"] == 0.0
    assert res["privacy.mia_auc"] == 1.0  # every member sits at distance 0
    assert res["privacy.holdout_copy_rate"] == 0.0


def test_independent_sample_is_near_half() -> None:
    fresh = make_table(600, seed=12)
    res = compute_privacy(TRAIN, HOLDOUT, fresh, SCHEMA, seed=0, chunk_rows=128).metrics
    # Train is 1.5x the holdout (raw share ~0.6); the size-adjusted share is ~0.5.
    assert 0.4 < res["privacy.dcr_share"] < 0.6
    assert res["privacy.dcr_overfitting_protection"] > 0.6
    assert res["privacy.exact_copy_rate"] == 0.0
    assert 0.4 < res["privacy.mia_auc"] < 0.6
    assert 0.7 < res["privacy.dcr_baseline_ratio"] < 1.3


def test_equal_sizes_give_half_share() -> None:
    train, hold, fresh = make_table(500, 20), make_table(500, 21), make_table(500, 22)
    res = compute_privacy(train, hold, fresh, make_schema(train), 0, 256).metrics
    assert abs(res["privacy.dcr_share"] - 0.5) < 0.07


def test_size_adjustment() -> None:
    assert size_adjusted_share(0.7, 700, 300) == pytest.approx(0.5)
    assert size_adjusted_share(1.0, 700, 300) == 1.0
    assert size_adjusted_share(0.0, 700, 300) == 0.0
    assert size_adjusted_share(0.42, 500, 500) == pytest.approx(0.42)


def test_dcr_share_ties_count_half() -> None:
    assert dcr_share(np.array([0.0, 0.1, 0.2]), np.array([0.0, 0.2, 0.1])) == 0.5


def test_deterministic() -> None:
    fresh = make_table(300, seed=13)
    a = compute_privacy(TRAIN, HOLDOUT, fresh, SCHEMA, seed=3, chunk_rows=100).metrics
    b = compute_privacy(TRAIN, HOLDOUT, fresh, SCHEMA, seed=3, chunk_rows=64).metrics
    assert a == b


def test_sdmetrics_dcr_agrees_on_copy_and_fresh() -> None:
    meta = make_metadata()
    copy = sdmetrics_dcr(TRAIN, HOLDOUT, TRAIN.copy(), meta, rows=150, seed=0)
    assert copy["privacy.sdm_dcr_overfitting_protection"] == 0.0
    assert copy["privacy.sdm_dcr_baseline_protection"] == 0.0
    fresh = sdmetrics_dcr(TRAIN, HOLDOUT, make_table(600, 14), meta, rows=150, seed=0)
    assert fresh["privacy.sdm_dcr_overfitting_protection"] > 0.7
    again = sdmetrics_dcr(TRAIN, HOLDOUT, make_table(600, 14), meta, rows=150, seed=0)
    assert fresh == again
