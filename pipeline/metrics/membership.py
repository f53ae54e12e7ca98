"""Density-ratio membership inference (the idea of DOMIAS, van Breugel et al., AISTATS 2023).

A generator that overfits puts more synthetic density on its training rows than the real
distribution has there. The attack scores a record by p_synthetic(x) / p_real(x): the real
density is estimated from a REFERENCE half of the holdout, and the non-members it is tested
on are the other half (disjoint), members are an equal-size seeded sample of train. Both
densities are k-nearest-neighbour estimates (k = 1), p(x) ~ k / (n * r_k(x)^d), so the log ratio is
d * (log r_k,real(x) - log r_k,synthetic(x)) + const and ranks like
log r_k,real - log r_k,synthetic (no bandwidth to tune). Reported as ROC AUC (0.5 = no
information) and the true-positive rate at a 1% false-positive rate, the operating point
that matters for the few most exposed records (Carlini et al. 2022). Searches are exact and
chunked (`attack_space.knn`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from pipeline.metrics.attack_space import knn

K = 1  # 1-NN densities: a memorised row (r_synthetic = 0) scores highest, as it should
TINY = 1e-6  # a copy sits at distance 0: log(0 + TINY) ranks it first, finitely


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float) -> float:
    """Largest true-positive rate with false-positive rate <= fpr."""
    f, t, _ = roc_curve(labels, scores)
    return float(t[f <= fpr].max()) if np.any(f <= fpr) else 0.0


def density_mia(e_train: np.ndarray, e_holdout: np.ndarray, e_syn: np.ndarray, rows: int,
                rng: np.random.Generator) -> tuple[dict[str, float], dict[str, Any]]:
    """privacy.mia_density_auc / privacy.mia_density_tpr_at_1pct_fpr, and details."""
    order = rng.permutation(len(e_holdout))
    half = len(order) // 2
    n = min(rows, len(e_train), half)
    if n < 2 or len(e_syn) == 0:
        return ({"privacy.mia_density_auc": float("nan"),
                 "privacy.mia_density_tpr_at_1pct_fpr": float("nan")}, {"rows": n})
    reference = e_holdout[order[:len(order) - n]]
    non_members = e_holdout[order[len(order) - n:]]
    members = e_train[np.sort(rng.choice(len(e_train), n, replace=False))]
    k = max(1, min(K, len(reference) - 1, len(e_syn)))
    queries = np.vstack([members, non_members])
    r_syn = knn(queries, e_syn, k)[0][:, -1]
    r_ref = knn(queries, reference, k)[0][:, -1]
    scores = np.log(r_ref + TINY) - np.log(r_syn + TINY)
    labels = np.r_[np.ones(n), np.zeros(n)]
    metrics = {"privacy.mia_density_auc": float(roc_auc_score(labels, scores)),
               "privacy.mia_density_tpr_at_1pct_fpr": tpr_at_fpr(labels, scores, 0.01)}
    return metrics, {"members": n, "non_members": n, "reference_rows": len(reference), "k": k}
