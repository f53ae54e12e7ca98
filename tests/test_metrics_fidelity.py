"""Fidelity scores: same-distribution data scores high, shuffled columns lose pair trends."""

from __future__ import annotations

import numpy as np

from pipeline.metrics.fidelity import compute_fidelity
from tests.metrics_fixtures import make_metadata, make_table

REAL = make_table(800, seed=30)
META = make_metadata()


def test_same_distribution_scores_high() -> None:
    res = compute_fidelity(REAL, make_table(800, seed=31), META)
    m = res.metrics
    assert m["fidelity.column_shapes"] > 0.9
    # Mixed pairs are binned by sdmetrics; on 800 rows sampling noise alone costs ~0.15.
    assert m["fidelity.column_pair_trends_all"] > 0.75
    assert m["diagnostic.structure"] == 1.0
    assert m["diagnostic.validity"] > 0.9
    assert {r["column"] for r in res.column_shapes} == {"age", "income", "grade", "color",
                                                      "smoker", "start"}
    assert len(res.pair_trends) == 15  # 6 columns without the id -> 15 pairs


def test_shuffling_columns_destroys_pair_trends() -> None:
    rng = np.random.default_rng(0)
    shuffled = make_table(800, seed=31)
    for col in shuffled.columns:
        shuffled[col] = rng.permutation(shuffled[col].to_numpy())
    base = compute_fidelity(REAL, make_table(800, seed=31), META).metrics
    m = compute_fidelity(REAL, shuffled, META).metrics
    # Marginals survive a shuffle; joint structure does not.
    assert m["fidelity.column_shapes"] > 0.9
    assert m["fidelity.column_pair_trends_all"] < base["fidelity.column_pair_trends_all"] - 0.05
    assert m["fidelity.column_pair_trends"] < base["fidelity.column_pair_trends"] - 0.1


def test_deterministic() -> None:
    syn = make_table(500, seed=32)
    assert compute_fidelity(REAL, syn, META).metrics == compute_fidelity(REAL, syn, META).metrics
