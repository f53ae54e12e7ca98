"""Augmentation lift: a downstream model trained on real rows vs on real + synthetic rows,
both scored on the real holdout.

Classification (discrete target, or an integer one with few values): macro F1, balanced
accuracy and the recall of the training set's rarest class (where augmentation matters most);
regression: R^2. HistGradientBoosting, the same features and encoding for every training set
(`features.model_matrix`). `lift_summary` turns per-seed scores into lift mean and spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import balanced_accuracy_score, f1_score, r2_score, recall_score
from threadpoolctl import threadpool_limits

from pipeline.errors import UserError
from pipeline.metrics.features import DISCRETE_ROLES, as_float, as_text, model_matrix, roles

MAX_INTEGER_CLASSES = 10


def is_classification(frame: pd.DataFrame, schema: dict[str, Any], target: str) -> bool:
    role = roles(schema).get(target)
    if role is None:
        raise UserError(f"augment: target '{target}' is not a column of the table")
    return role in DISCRETE_ROLES or (role == "integer"
                                      and frame[target].nunique() <= MAX_INTEGER_CLASSES)


def labels(frame: pd.DataFrame, target: str, classify: bool) -> np.ndarray:
    if classify:
        return as_text(frame[target]).to_numpy(dtype=object).astype(str)
    return as_float(frame[target])


def matrices(frames: list[pd.DataFrame], schema: dict[str, Any], target: str
             ) -> tuple[list[np.ndarray], list[np.ndarray], list[bool], bool]:
    """(feature matrices, label arrays, categorical mask, classify) for frames that share one
    encoding; rows with a missing target are left out."""
    frames = [f[f[target].notna()] for f in frames]
    xs, categorical, _ = model_matrix(frames, schema, exclude=(target,))
    classify = is_classification(frames[0], schema, target)
    return xs, [labels(f, target, classify) for f in frames], categorical, classify


def fit_score(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              categorical: list[bool], classify: bool, seed: int, minority: str | None = None
              ) -> dict[str, float]:
    """Downstream scores on the holdout of a model fitted on (x, y)."""
    keep = ~np.isnan(x).all(axis=0) if len(x) else np.zeros(x.shape[1], dtype=bool)
    x, x_test, cats = x[:, keep], x_test[:, keep], np.array(categorical, dtype=bool)[keep]
    with threadpool_limits(limits=1, user_api="openmp"):  # see detection.py: oversubscription
        if not classify:
            model = HistGradientBoostingRegressor(categorical_features=cats, random_state=seed)
            return {"r2": float(r2_score(y_test, model.fit(x, y).predict(x_test)))}
        if len(np.unique(y)) < 2:
            pred = np.full(len(y_test), y[0])
        else:
            model = HistGradientBoostingClassifier(categorical_features=cats, random_state=seed)
            pred = model.fit(x, y).predict(x_test)
    out = {"macro_f1": float(f1_score(y_test, pred, average="macro")),
           "balanced_accuracy": float(balanced_accuracy_score(y_test, pred))}
    if minority is not None:
        out["minority_recall"] = float(recall_score(y_test, pred, labels=[minority],
                                                    average="macro", zero_division=0.0))
    return out


def rarest(y: np.ndarray) -> str:
    values, counts = np.unique(y, return_counts=True)
    return str(values[np.argmin(counts)])


def augmentation_lift(real: pd.DataFrame, augmented: list[pd.DataFrame],
                      holdout: pd.DataFrame, schema: dict[str, Any], target: str,
                      seed: int = 0) -> dict[str, Any]:
    """Real-only vs each augmented training set (one per seed), scored on the holdout:
    {"real": scores, "augmented": [scores...], "lift": {metric: {mean, std}}, "minority"}."""
    xs, ys, categorical, classify = matrices([real, holdout, *augmented], schema, target)
    minority = rarest(ys[0]) if classify else None
    base = fit_score(xs[0], ys[0], xs[1], ys[1], categorical, classify, seed, minority)
    runs = [fit_score(x, y, xs[1], ys[1], categorical, classify, seed + i, minority)
            for i, (x, y) in enumerate(zip(xs[2:], ys[2:]))]
    return {"task": "classification" if classify else "regression", "minority": minority,
            "real": base, "augmented": runs, "lift": lift_summary(base, runs)}


def lift_summary(base: dict[str, float], runs: list[dict[str, float]]) -> dict[str, dict]:
    """Per metric: mean and standard deviation (over runs) of run - base."""
    out = {}
    for key in base:
        diffs = np.array([r[key] - base[key] for r in runs], dtype=float)
        out[key] = {"mean": float(diffs.mean()) if len(diffs) else float("nan"),
                    "std": float(diffs.std(ddof=1)) if len(diffs) > 1 else 0.0}
    return out
