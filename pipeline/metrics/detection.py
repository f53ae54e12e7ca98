"""Detection: can a strong tabular classifier tell real train rows from synthetic ones?

Cross-validated (stratified, seeded folds) ROC AUC of HistGradientBoostingClassifier on an
equal number of real and synthetic rows. 0.5 = indistinguishable, 1.0 = trivially separable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from pipeline.metrics.features import model_matrix


def detection_auc(real: pd.DataFrame, synthetic: pd.DataFrame, schema: dict[str, Any],
                  folds: int, seed: int, pooled: dict[str, Any] | None = None
                  ) -> dict[str, float]:
    """detection.auc (pooled out-of-fold AUC) and detection.score = 1 - 2|auc - 0.5|.

    `pooled`, when given, receives the columns whose rare levels shared one code
    (`features.model_matrix`).
    """
    n = min(len(real), len(synthetic))
    rng = np.random.default_rng(seed)
    # Equal class sizes: the AUC then reads the same whatever the generate row count was.
    real_s = real.iloc[np.sort(rng.choice(len(real), n, replace=False))]
    syn_s = synthetic.iloc[np.sort(rng.choice(len(synthetic), n, replace=False))]
    (x_real, x_syn), categorical, pooled_here = model_matrix([real_s, syn_s], schema)
    if pooled is not None:
        pooled.update(pooled_here)
    if x_real.shape[1] == 0:
        return {"detection.auc": 0.5, "detection.score": 1.0}
    x = np.vstack([x_real, x_syn])
    keep = ~np.isnan(x).all(axis=0)  # no value on either side: nothing to tell apart
    x, categorical = x[:, keep], [c for c, k in zip(categorical, keep) if k]
    if x.shape[1] == 0:
        return {"detection.auc": 0.5, "detection.score": 1.0}
    y = np.r_[np.zeros(n), np.ones(n)]
    oof = np.zeros(2 * n)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    # One OpenMP thread: on a busy 2-core box spin-waiting threads made fits 50-90x slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        for train_idx, test_idx in splitter.split(x, y):
            model = HistGradientBoostingClassifier(categorical_features=np.array(categorical),
                                                   max_iter=200, early_stopping=False,
                                                   random_state=seed)
            try:
                model.fit(x[train_idx], y[train_idx])
            except ValueError:  # a fold of a handful of rows: the booster cannot bin it
                return {"detection.auc": float("nan"), "detection.score": float("nan")}
            oof[test_idx] = model.predict_proba(x[test_idx])[:, 1]
    auc = float(roc_auc_score(y, oof))
    return {"detection.auc": auc, "detection.score": max(0.0, 1.0 - 2.0 * abs(auc - 0.5))}
