"""Fidelity scores: same-distribution data scores high, shuffled columns lose pair trends."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.metrics.fidelity import compute_fidelity
from tests.metrics_fixtures import make_metadata, make_table

REAL = make_table(800, seed=30)
META = make_metadata()


def test_same_distribution_scores_high() -> None:
    res = compute_fidelity(REAL, make_table(800, seed=31), META)
    m = res.metrics
    assert m["fidelity.column_shapes"] > 0.9
    # Mixed pairs are binned (on the real edges); 800 rows of sampling noise cost ~0.07.
    assert m["fidelity.column_pair_trends_all"] > 0.9
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


def test_mixed_pairs_are_binned_on_the_real_edges() -> None:
    """Two tables equal but for the 4 rows holding a rare real maximum: sdmetrics 0.32 bins
    the synthetic column on its own (shorter) range, every bin shifts and the categorical x
    numeric pair scored 0.3; binned on the real edges it scores ~1 (module docstring)."""
    rng = np.random.default_rng(0)
    n = 4000
    group = rng.choice(["a", "b"], n)
    months = np.where(group == "a", rng.integers(1, 6, n), rng.integers(5, 10, n)) * 6.0
    real = pd.DataFrame({"group": group, "months": months})
    real.loc[:3, "months"] = 120.0
    synthetic = real.copy()
    synthetic.loc[:3, "months"] = 54.0
    meta = {"tables": {"table": {"columns": {"group": {"sdtype": "categorical"},
                                             "months": {"sdtype": "numerical"}}}}}
    m = compute_fidelity(real, synthetic, meta).metrics
    assert m["fidelity.column_pair_trends_all"] > 0.99
    assert m["fidelity.column_pair_trends"] > 0.99  # the QualityReport's own pairs too
    assert m["fidelity.overall"] > 0.99
    shifted = synthetic.copy()
    shifted["months"] = np.where(group == "a", rng.integers(5, 10, n), rng.integers(1, 6, n)) * 6.0
    assert compute_fidelity(real, shifted, meta).metrics["fidelity.column_pair_trends_all"] < 0.6
