"""Privacy metrics against the real holdout: DCR share, DCR medians, NNDR, copies, MIA.

Every reference side is the FULL table: each queried row's nearest train / holdout /
synthetic neighbour is exact over all of that table's rows (`pipeline.metrics.distance`), in
one space whose ranges come from the train split, so distances to train and to holdout are
on the same scale. Only the query side is a seeded subsample once it is larger than
`query_rows` (synthetic rows for DCR and NNDR, holdout rows for the baselines, train members
and holdout non-members for the membership attack); `PrivacyResult.sampling` states the rows
used and the standard errors this adds. Exact copies are counted over all rows.
sdmetrics' own DCR metrics can be added on a seeded fixed-size subsample.
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
from pipeline.metrics.neighbours import TREE_MIN_ROWS, tree_ok

# Block scans cost ~30 ns per row pair on 2 cores: without a KD-tree, query rows are further
# capped so one evaluate scans at most this many pairs (about a minute).
SCAN_PAIRS = 2_000_000_000
MIN_QUERY_ROWS = 1000


@dataclass
class PrivacyResult:
    """Flat metrics plus the distance samples the plots and report draw."""

    metrics: dict[str, float]
    dcr_synthetic_train: np.ndarray
    dcr_synthetic_holdout: np.ndarray
    dcr_holdout_train: np.ndarray
    raw_share: float  # share before the size adjustment (what sdmetrics would count)
    sampling: dict[str, Any]  # rows queried vs reference rows, method, standard errors


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


def _pick(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted seeded subsample of range(n) of `size` rows (all rows when size >= n)."""
    if size >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size, replace=False))


def share_se(to_train: np.ndarray, to_holdout: np.ndarray, population: int) -> float:
    """Standard error of `dcr_share` from a simple random sample of `population` rows.

    Includes the finite-population correction: 0 when every row was queried.
    """
    n = len(to_train)
    if n < 2 or n >= population:
        return 0.0
    closer = (to_train < to_holdout).astype(np.float64) + 0.5 * (to_train == to_holdout)
    fpc = (population - n) / (population - 1)
    return float(np.std(closer, ddof=1) / np.sqrt(n) * np.sqrt(fpc))


def adjusted_se(raw: float, se_raw: float, n_train: int, n_holdout: int) -> float:
    """Delta-method standard error of `size_adjusted_share` (slope a*b / (a*r + b*(1-r))^2)."""
    p0 = n_train / (n_train + n_holdout)
    a, b = 1.0 / p0, 1.0 / (1.0 - p0)
    return float(a * b / (a * raw + b * (1.0 - raw)) ** 2 * se_raw)


def auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley-McNeil standard error of a ROC AUC from n_pos positives and n_neg negatives."""
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc ** 2) + (n_neg - 1) * (q2 - auc ** 2))
    return float(np.sqrt(max(var, 0.0) / (n_pos * n_neg)))


def query_budget(query_rows: int | None, exact_index: bool, reference_rows: int) -> int | None:
    """Rows per query side: `query_rows`, and without a KD-tree at most SCAN_PAIRS pairs."""
    if exact_index:
        return query_rows
    scan = max(MIN_QUERY_ROWS, SCAN_PAIRS // max(reference_rows, 1))
    return scan if query_rows is None else min(query_rows, scan)


def _method(tree: bool, *reference_rows: int) -> str:
    """How the nearest neighbours were found (both ways are exact)."""
    if tree and min(reference_rows) >= TREE_MIN_ROWS:
        return "exact: k-d tree on an L1 embedding"
    if tree and max(reference_rows) >= TREE_MIN_ROWS:
        return "exact: k-d tree for large references, block scan for small ones"
    return "exact: block scan"


def compute_privacy(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                    schema: dict[str, Any], seed: int, chunk_rows: int,
                    query_rows: int | None = None) -> PrivacyResult:
    """Every privacy metric that needs no sdmetrics call (see the module docstring)."""
    space = fit_space(train, schema, (holdout, synthetic))
    e_train, e_hold, e_syn = embed(train, space), embed(holdout, space), embed(synthetic, space)
    n_tr, n_ho, n_sy = len(train), len(holdout), len(synthetic)
    tree = tree_ok([e_train, e_hold, e_syn], space)
    budget = query_budget(query_rows, tree, 2 * n_tr + n_ho + 2 * n_sy)
    cap = max(n_tr, n_ho, n_sy) if budget is None else budget
    rng = np.random.default_rng(seed)
    q_syn = e_syn.rows(_pick(n_sy, cap, rng))
    q_hold = e_hold.rows(_pick(n_ho, cap, rng))

    def near(q: Embedded, ref: Embedded, k: int) -> np.ndarray:
        return nearest(q, ref, space, k=k, chunk_rows=chunk_rows)

    syn_train = near(q_syn, e_train, 2)
    hold_train = near(q_hold, e_train, 2)
    syn_hold = near(q_syn, e_hold, 1)[:, 0]
    raw = dcr_share(syn_train[:, 0], syn_hold)
    share = size_adjusted_share(raw, n_tr, n_ho)
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
    m = min(n_tr, n_ho, cap)
    members = e_train.rows(_pick(n_tr, m, rng))
    non_members = e_hold.rows(_pick(n_ho, m, rng))
    metrics["privacy.mia_auc"] = mia_auc(members, non_members, e_syn, space, chunk_rows)
    se_raw = share_se(syn_train[:, 0], syn_hold, n_sy)
    se_share = adjusted_se(raw, se_raw, n_tr, n_ho)
    sampling = {
        "method": _method(tree, n_tr, n_ho, n_sy),
        "reference_rows": {"train": n_tr, "holdout": n_ho, "synthetic": n_sy},
        "query_rows": {"synthetic": len(syn_hold), "holdout": len(hold_train),
                       "mia_members": m, "mia_non_members": m},
        "query_subsampled": len(syn_hold) < n_sy or len(hold_train) < n_ho,
        "dcr_share_se": se_share,
        "dcr_overfitting_protection_se": 2.0 * se_share,
        "mia_auc_se": auc_se(metrics["privacy.mia_auc"], m, m),
        "copies": "all rows",
    }
    return PrivacyResult(metrics, syn_train[:, 0], syn_hold, hold_train[:, 0], raw, sampling)


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
