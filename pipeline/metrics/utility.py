"""ML utility: train on synthetic, test on the real holdout, compared with train on real.

Classification (categorical/boolean target) -> macro F1, regression -> R^2; both with
HistGradientBoosting, seeded, same features and encoding for both training sets. Above
EARLY_STOPPING_ROWS fitting rows the classifier stops early on a stratified held-out tenth,
so a class seen in a single fitting row is left out there (one row teaches it nothing; TVAE's
flights rows drew one carrier once, which made scikit-learn's split fail).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import f1_score, r2_score
from threadpoolctl import threadpool_limits

from pipeline.errors import UserError
from pipeline.metrics.features import DISCRETE_ROLES, as_float, as_text, model_matrix, roles


MAX_INTEGER_CLASSES = 10
# scikit-learn's "auto": early stopping on a held-out tenth above this many fitting rows
EARLY_STOPPING_ROWS = 10000


def utility_scores(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                   schema: dict[str, Any], seed: int) -> dict[str, Any]:
    """utility.* metrics plus "task" (score name) and "pooled" (columns whose rare levels
    shared one code, see `features.model_matrix`); empty when schema has no target."""
    target = schema.get("target")
    if not target:
        return {}
    role = roles(schema).get(target)
    if role is None:
        raise UserError(f"schema.json: target '{target}' is not one of its columns")
    frames = [f[f[target].notna()] for f in (train, holdout, synthetic)]
    (x_tr, x_ho, x_sy), categorical, pooled = model_matrix(frames, schema, exclude=(target,))
    # An integer label with few values (0/1 risk, a 1-5 rating) is a class, not a quantity.
    classify = role in DISCRETE_ROLES or (
        role == "integer" and frames[0][target].nunique() <= MAX_INTEGER_CLASSES)
    if classify:
        ys = [as_text(f[target]).to_numpy(dtype=object).astype(str) for f in frames]
    else:
        ys = [as_float(f[target]) for f in frames]
    with threadpool_limits(limits=1, user_api="openmp"):  # see detection.py: oversubscription
        real = _fit_score(x_tr, ys[0], x_ho, ys[1], categorical, classify, seed)
        syn = _fit_score(x_sy, ys[2], x_ho, ys[1], categorical, classify, seed)
    # A real score <= 0 (R^2 worse than the mean) leaves no utility to keep a share of.
    ratio = syn / real if real > 0 else float("nan")
    return {"utility.synthetic_score": syn, "utility.real_score": real, "utility.ratio": ratio,
            "task": "classification (macro F1)" if classify else "regression (R^2)",
            "pooled": pooled}


def _fit_score(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
               categorical: list[bool], classify: bool, seed: int) -> float:
    # A feature with no value at all in the fitting rows (a synthetic column that came out
    # all null) carries nothing and makes HistGradientBoosting's binning fail: leave it out.
    keep = ~np.isnan(x).all(axis=0) if len(x) else np.zeros(x.shape[1], dtype=bool)
    x, x_test, cats = x[:, keep], x_test[:, keep], np.array(categorical, dtype=bool)[keep]
    if len(y_test) == 0:  # no holdout row has the target (a 3-row table): nothing to score
        return float("nan")
    if len(y) == 0 or x.shape[1] == 0:
        return 0.0
    if classify:
        early = len(y) > EARLY_STOPPING_ROWS
        levels, counts = np.unique(y, return_counts=True)
        if early and (counts < 2).any():  # its validation split is stratified: a class seen
            keep = ~np.isin(y, levels[counts < 2])  # once cannot be split
            x, y, levels = x[keep], y[keep], levels[counts >= 2]
        if len(levels) == 0:  # every class seen once: nothing left to learn from
            return 0.0
        if len(levels) < 2:  # a synthetic set with one class cannot learn anything
            return float(f1_score(y_test, np.full(len(y_test), y[0]), average="macro"))
        model = HistGradientBoostingClassifier(categorical_features=cats, random_state=seed,
                                               early_stopping=early)
        model.fit(x, y)
        return float(f1_score(y_test, model.predict(x_test), average="macro"))
    model = HistGradientBoostingRegressor(categorical_features=cats, random_state=seed)
    model.fit(x, y)
    return float(r2_score(y_test, model.predict(x_test)))
