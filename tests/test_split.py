"""Train/holdout split: seeded, sized, stratified, with a fallback for tiny classes."""

import logging

import numpy as np
import pandas as pd

from pipeline.data.split import split_table


def frame(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    label = rng.choice(["a", "b", "c"], n, p=[0.7, 0.25, 0.05])
    return pd.DataFrame({"i": np.arange(n), "x": rng.normal(size=n), "label": label})


def test_same_seed_same_split_other_seed_other_split():
    df = frame()
    a_train, a_hold = split_table(df, 0.3, seed=1)
    b_train, b_hold = split_table(df, 0.3, seed=1)
    c_train, _ = split_table(df, 0.3, seed=2)
    pd.testing.assert_frame_equal(a_train, b_train)
    pd.testing.assert_frame_equal(a_hold, b_hold)
    assert not a_train["i"].equals(c_train["i"])


def test_sizes_partition_and_row_order():
    df = frame(n=101)
    train, hold = split_table(df, 0.3, seed=0)
    assert (len(train), len(hold)) == (71, 30)
    assert sorted(pd.concat([train["i"], hold["i"]])) == list(range(101))
    assert train["i"].is_monotonic_increasing and hold["i"].is_monotonic_increasing
    assert list(train.index) == list(range(71))


def test_each_part_gets_a_row_on_tiny_tables():
    train, hold = split_table(frame(n=2), 0.01, seed=0)
    assert (len(train), len(hold)) == (1, 1)
    train, hold = split_table(frame(n=2), 0.99, seed=0)
    assert (len(train), len(hold)) == (1, 1)


def test_stratification_keeps_class_shares():
    df = frame(n=2000)
    train, hold = split_table(df, 0.25, seed=3, stratify_by=df["label"])
    assert len(hold) == 500
    full = df["label"].value_counts(normalize=True)
    for part in (train, hold):
        shares = part["label"].value_counts(normalize=True)
        assert np.allclose(shares[full.index], full, atol=1.5 / len(part))


def test_missing_target_values_are_a_class_of_their_own():
    df = frame(n=400)
    df.loc[df.index % 8 == 0, "label"] = None
    train, hold = split_table(df, 0.5, seed=0, stratify_by=df["label"])
    assert train["label"].isna().sum() == hold["label"].isna().sum() == 25


def test_too_small_class_falls_back_with_a_warning(caplog):
    df = frame(n=200)
    df.loc[0, "label"] = "lonely"
    logger = logging.getLogger("pipeline")
    logger.addHandler(caplog.handler)
    try:
        train, hold = split_table(df, 0.3, seed=0, stratify_by=df["label"])
    finally:
        logger.removeHandler(caplog.handler)
    assert "not stratifying by 'label'" in caplog.text and "lonely" in caplog.text
    assert (len(train), len(hold)) == (140, 60)
