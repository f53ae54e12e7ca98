"""Privacy metrics against the real holdout: DCR share, DCR medians, NNDR, copies, MIA.

All distances are exact over all rows (chunked torch, `pipeline.metrics.distance`) in one
space whose ranges come from the train split, so distances to train and to holdout are on the
same scale. sdmetrics' own DCR metrics can be added on a seeded fixed-size subsample.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.metrics.distance import DistanceSpace, Embedded, embed, fit_space, nearest
from pipeline.metrics.features import row_keys


@dataclass
class PrivacyResult:
    """Flat metrics plus the distance samples the plots and report draw."""

    metrics: dict[str, float]
    dcr_synthetic_train: np.ndarray
    dcr_synthetic_holdout: np.ndarray
    dcr_holdout_train: np.ndarray
    raw_share: float  # share before the size adjustment (what sdmetrics would count)


def dcr_share(to_train: np.ndarray, to_holdout: np.ndarray) -> float:
    """Share of rows strictly closer to train than to holdout; exact ties count half."""
    closer = (to_train < to_holdout).astype(np.float64) + 0.5 * (to_train == to_holdout)
    return float(closer.mean())


def size_adjusted_share(raw: float, n_train: int, n_holdout: int) -> float:
    """Re-weight the raw share to equal train/holdout sizes.

    A fresh row (drawn like the real data, not memorised) finds its nearest neighbour in
    train with probability p0 = n_train / (n_train + n_holdout), e.g. 0.7 for a 70/30 split,
    so the raw share's "ideal" moves with the split. Weighting holdout wins by
    n_train / n_holdout maps p0 -> 0.5 while keeping 0 -> 0 and 1 -> 1 (all copies stay 1).
    Equal sizes: the raw share unchanged.
    """
    p0 = n_train / (n_train + n_holdout)
    odds_train, odds_hold = raw / p0, (1.0 - raw) / (1.0 - p0)
    return float(odds_train / (odds_train + odds_hold))


def _nndr(two_nearest: np.ndarray) -> np.ndarray:
    """nearest / second-nearest; 0/0 (duplicated train rows hit exactly) counts as 0: a copy."""
    d1, d2 = two_nearest[:, 0], two_nearest[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d2 > 0, d1 / d2, 0.0)
    return np.nan_to_num(ratio, nan=0.0, posinf=0.0)


def _rows(e: Embedded, idx: np.ndarray) -> Embedded:
    return Embedded(e.values[idx], e.missing[idx], e.onehot[idx])


def compute_privacy(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                    schema: dict[str, Any], seed: int, chunk_rows: int) -> PrivacyResult:
    """Every privacy metric that needs no sdmetrics call."""
    space = fit_space(train, schema, (holdout, synthetic))
    e_train, e_hold, e_syn = embed(train, space), embed(holdout, space), embed(synthetic, space)
    syn_train = nearest(e_syn, e_train, space, k=2, chunk_rows=chunk_rows)
    hold_train = nearest(e_hold, e_train, space, k=2, chunk_rows=chunk_rows)
    syn_hold = nearest(e_syn, e_hold, space, k=1, chunk_rows=chunk_rows)[:, 0]
    raw = dcr_share(syn_train[:, 0], syn_hold)
    share = size_adjusted_share(raw, len(train), len(holdout))
    syn_med = float(np.median(syn_train[:, 0]))
    hold_med = float(np.median(hold_train[:, 0]))
    metrics = {
        "privacy.dcr_share": share,
        "privacy.dcr_overfitting_protection": min(2.0 * (1.0 - share), 1.0),
        "privacy.dcr_synthetic_median": syn_med,
        "privacy.dcr_holdout_median": hold_med,
        # No spread among fresh real rows either: nothing to compare against, call it even.
        "privacy.dcr_baseline_ratio": syn_med / hold_med if hold_med > 0 else 1.0,
        "privacy.nndr_median": float(np.median(_nndr(syn_train))),
        "privacy.holdout_nndr_median": float(np.median(_nndr(hold_train))),
    }
    metrics.update(copy_rates(train, holdout, synthetic, schema))
    # MIA on equal-size seeded member / non-member samples so the classes balance.
    m = min(len(train), len(holdout))
    rng = np.random.default_rng(seed)
    members = _rows(e_train, np.sort(rng.choice(len(train), m, replace=False)))
    non_members = _rows(e_hold, np.sort(rng.choice(len(holdout), m, replace=False)))
    metrics["privacy.mia_auc"] = mia_auc(members, non_members, e_syn, space, chunk_rows)
    return PrivacyResult(metrics, syn_train[:, 0], syn_hold, hold_train[:, 0], raw)


def copy_rates(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
               schema: dict[str, Any]) -> dict[str, float]:
    """Exact-copy shares of synthetic and (baseline) holdout rows among train rows."""
    seen = row_keys(train, schema)
    return {
        "privacy.exact_copy_rate": float(np.isin(row_keys(synthetic, schema), seen).mean()),
        "privacy.holdout_copy_rate": float(np.isin(row_keys(holdout, schema), seen).mean()),
    }


def mia_auc(members: Embedded, non_members: Embedded, e_syn: Embedded, space: DistanceSpace,
            chunk_rows: int) -> float:
    """Distance attack: a record is called a member the closer it lies to a synthetic row.

    Members are train rows, non-members holdout rows (equal-size seeded samples, so the
    classes balance). AUC 0.5: the synthetic table does not reveal who was trained on.
    """
    d_mem = nearest(members, e_syn, space, k=1, chunk_rows=chunk_rows)[:, 0]
    d_non = nearest(non_members, e_syn, space, k=1, chunk_rows=chunk_rows)[:, 0]
    labels = np.r_[np.ones(len(d_mem)), np.zeros(len(d_non))]
    return float(roc_auc_score(labels, -np.r_[d_mem, d_non]))


def sdmetrics_dcr(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                  metadata: dict[str, Any], rows: int, seed: int) -> dict[str, float]:
    """sdmetrics' DCROverfittingProtection / DCRBaselineProtection on `rows` seeded rows each.

    They are pandas cross-merges (seconds per 1k x 1k), hence the fixed subsample. Their
    internal random draws are pinned: `_seed` on a subclass and numpy's global RNG.
    """
    from sdmetrics.single_table import DCRBaselineProtection, DCROverfittingProtection

    def sample(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sample(n=min(rows, len(frame)), random_state=seed).reset_index(drop=True)

    table_meta = metadata["tables"]["table"]
    seeded_baseline = type("SeededBaseline", (DCRBaselineProtection,), {"_seed": seed})
    syn, tr, ho = sample(synthetic), sample(train), sample(holdout)
    np.random.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        over = DCROverfittingProtection.compute(tr, syn, ho, table_meta, "table")
        base = seeded_baseline.compute(tr, syn, table_meta, "table")
    return {"privacy.sdm_dcr_overfitting_protection": float(over),
            "privacy.sdm_dcr_baseline_protection": float(base)}
