"""Detection AUC and ML utility on data with known answers."""

from __future__ import annotations

import numpy as np

from pipeline.metrics.detection import detection_auc
from pipeline.metrics.utility import utility_scores
from tests.metrics_fixtures import make_schema, make_table

REAL = make_table(800, seed=40)
SCHEMA = make_schema(REAL)


def test_same_distribution_is_undetectable() -> None:
    res = detection_auc(REAL, make_table(800, seed=41), SCHEMA, folds=3, seed=0)
    assert 0.4 < res["detection.auc"] < 0.6
    assert res["detection.score"] > 0.8


def test_obviously_different_is_detected() -> None:
    fake = make_table(800, seed=41)
    fake["income"] = fake["income"] * 3
    fake["color"] = "red"
    res = detection_auc(REAL, fake, SCHEMA, folds=3, seed=0)
    assert res["detection.auc"] > 0.95
    assert res["detection.score"] < 0.1


def test_detection_deterministic() -> None:
    fake = make_table(500, seed=42)
    assert detection_auc(REAL, fake, SCHEMA, 3, 7) == detection_auc(REAL, fake, SCHEMA, 3, 7)


def test_utility_classification_and_regression() -> None:
    hold, good = make_table(400, seed=43), make_table(800, seed=44)
    schema = make_schema(REAL, target="grade")
    res = utility_scores(REAL, hold, good, schema, seed=0)
    assert res["utility.real_score"] > 0.5
    assert 0.8 < res["utility.ratio"] < 1.2
    # Labels independent of the features: the synthetic-trained model learns nothing.
    noise = good.copy()
    noise["grade"] = np.random.default_rng(0).permutation(noise["grade"].to_numpy())
    bad = utility_scores(REAL, hold, noise, schema, seed=0)
    assert bad["utility.ratio"] < 0.8
    reg = utility_scores(REAL, hold, good, make_schema(REAL, target="income"), seed=0)
    assert reg["task"].startswith("regression") and reg["utility.real_score"] > 0.2


def test_no_target_no_utility() -> None:
    assert utility_scores(REAL, REAL, REAL, SCHEMA, seed=0) == {}


def test_integer_target_with_few_values_is_a_classification() -> None:
    """A 0/1 integer label (german_credit's `risk`) is scored by macro F1, not R^2."""
    hold, good = make_table(400, seed=43), make_table(800, seed=44)
    frames = []
    for f in (REAL, hold, good):
        f = f.copy()
        f["flag"] = (f["income"] > f["income"].median()).astype("int64")
        frames.append(f)
    schema = make_schema(frames[0], target="flag")
    schema["columns"].append({"name": "flag", "role": "integer", "dtype": "int64",
                              "missing_rate": 0.0, "min": 0.0, "max": 1.0})
    res = utility_scores(*frames, schema, seed=0)
    assert res["task"].startswith("classification")
    assert res["utility.real_score"] > 0.5 and 0.8 < res["utility.ratio"] < 1.2


def test_utility_without_a_labelled_holdout_row_is_not_a_number() -> None:
    """A tiny table whose holdout rows all lack the target: no score, and no crash."""
    schema = make_schema(REAL, target="income")
    hold = make_table(5, seed=45)
    hold["income"] = np.nan
    res = utility_scores(REAL, hold, make_table(50, seed=46), schema, seed=0)
    assert np.isnan(res["utility.real_score"]) and np.isnan(res["utility.ratio"])


def test_utility_on_a_large_set_with_a_class_drawn_once() -> None:
    """Above EARLY_STOPPING_ROWS the classifier validates on a stratified split, which cannot
    hold a class seen in one row (TVAE's flights rows): scored, not a crash, and the score is
    the one the set earns without that row."""
    from pipeline.metrics.utility import EARLY_STOPPING_ROWS

    schema = make_schema(REAL, target="grade")
    hold = make_table(400, seed=43)
    big = make_table(EARLY_STOPPING_ROWS + 6000, seed=47)
    rare = "low"  # every copy of one class but the first dropped
    once = big[(big["grade"] != rare) | (big.index == big[big["grade"] == rare].index[0])]
    assert (once["grade"] == rare).sum() == 1 and len(once) > EARLY_STOPPING_ROWS
    res = utility_scores(REAL, hold, once, schema, seed=0)
    without = utility_scores(REAL, hold, once[once["grade"] != rare], schema, seed=0)
    assert res["utility.synthetic_score"] == without["utility.synthetic_score"]
    assert 0 < res["utility.synthetic_score"] < res["utility.real_score"]  # "low" never predicted


def test_utility_on_a_large_set_where_every_class_is_drawn_once() -> None:
    """Left with no class seen twice, the synthetic set teaches nothing: a score of 0, the
    same as an empty set, not a crash."""
    from pipeline.metrics.utility import EARLY_STOPPING_ROWS

    schema = make_schema(REAL, target="grade")
    hold = make_table(400, seed=43)
    big = make_table(EARLY_STOPPING_ROWS + 10, seed=47)
    big["grade"] = [f"g{i}" for i in range(len(big))]
    res = utility_scores(REAL, hold, big, schema, seed=0)
    assert res["utility.synthetic_score"] == 0.0
    assert res["utility.real_score"] > 0
