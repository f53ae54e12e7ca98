"""Seeded train/holdout split, optionally stratified by a label column.

The holdout is what privacy metrics compare against, so it must never leak into training and
must be reproducible: the same table, fraction and seed always give the same rows. Both parts
keep the original row order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.log import logger


def split_table(df: pd.DataFrame, holdout_fraction: float, seed: int,
                stratify_by: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): round(n * holdout_fraction) rows held out (stratified: to within a
    row per class), at least one row in each part.

    With `stratify_by`, every class keeps its share in both parts (missing values are a class
    of their own); if a class has fewer than two rows it cannot be in both, so the split falls
    back to a plain random one with a warning.
    """
    n = len(df)
    n_holdout = int(min(max(round(n * holdout_fraction), 1), n - 1))
    rng = np.random.default_rng(seed)
    if stratify_by is not None:
        codes, uniques = pd.factorize(stratify_by, use_na_sentinel=False)
        counts = np.bincount(codes, minlength=len(uniques))
        if counts.min() < 2:
            small = [str(u) for u, c in zip(uniques, counts) if c < 2]
            logger.warning("not stratifying by '%s': class(es) with fewer than 2 rows: %s",
                           stratify_by.name, ", ".join(small[:5]))
            stratify_by = None
    if stratify_by is None:
        holdout = np.zeros(n, dtype=bool)
        holdout[rng.permutation(n)[:n_holdout]] = True
    else:
        holdout = _stratified_mask(codes, counts, n_holdout, rng)
    return (df.loc[~holdout].reset_index(drop=True), df.loc[holdout].reset_index(drop=True))


def _stratified_mask(codes: np.ndarray, counts: np.ndarray, n_holdout: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Holdout mask taking each class's quota of randomly ranked rows (no per-row loop)."""
    quotas = _quotas(counts, n_holdout)
    order = np.lexsort((rng.random(len(codes)), codes))  # by class, random within class
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts[codes[order]]
    return rank < quotas[codes]


def _quotas(counts: np.ndarray, n_holdout: int) -> np.ndarray:
    """Per-class holdout sizes summing to n_holdout (largest remainder), each in [1, count-1]."""
    exact = counts * (n_holdout / counts.sum())
    quotas = np.floor(exact).astype(np.int64)
    leftover = n_holdout - int(quotas.sum())
    if leftover > 0:
        quotas[np.argsort(-(exact - quotas), kind="stable")[:leftover]] += 1
    return np.clip(quotas, 1, counts - 1)
