"""Attack-based privacy risks: singling out, linkability, attribute inference.

Implemented from the published method (Giomi et al., PETS 2023, "A Unified Framework for
Quantifying Privacy Risk in Synthetic Data"), not from anonymeter's code. Each attack uses
only the synthetic table and is scored twice: on training rows (its success rate r_train)
and on holdout rows the model never saw (the control, r_control). What the synthetic data
reveals beyond what anyone could infer about the population is the risk
    risk = (r_train - r_control) / (1 - r_control),
reported with a 95% interval from the two rates' Wilson intervals (worst and best case),
clipped to [0, 1].

* singling out: predicates of `SO_COLUMNS` conditions (category ==, numeric <= or >= a value,
  towards the value's nearer tail) built from random synthetic rows and columns, kept when
  they isolate exactly one synthetic row; success when the
  predicate isolates exactly one row of the table attacked. Train is attacked on a seeded
  subsample as large as the holdout, so both sides have equal sizes (a predicate isolates
  one row more easily in a smaller table).
* linkability: the columns are split into two seeded halves; a target row is linked when
  its nearest synthetic row on one half is also its nearest on the other.
* inference: for up to `MAX_SECRETS` seeded secret columns, the attacker knows all other
  columns, takes the nearest synthetic row's secret as the guess; correct when equal
  (discrete) or within 5% of the column's train range (numeric). The risk is the largest
  over the secrets; the per-column risks are in the details.
Nearest neighbours are exact (`attack_space.knn`, chunked); the synthetic reference is a
seeded sample of at most `REFERENCE_ROWS` rows.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from pipeline.metrics.attack_space import encode, knn
from pipeline.metrics.features import DISCRETE_ROLES, roles, usable_columns
from pipeline.metrics.membership import density_mia

SO_COLUMNS = 3
CANDIDATES = 20  # candidate predicates per wanted singling-out attack
MAX_SECRETS = 5
REFERENCE_ROWS = 20_000
TOLERANCE = 0.05
Z95 = 1.959964
MASK_CELLS = 1 << 24  # booleans per singling-out block (queries x rows)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a success rate."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = successes / n, Z95 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def risk(hits_train: np.ndarray, hits_control: np.ndarray) -> dict[str, float]:
    """Giomi et al.'s risk from per-attack successes on train and on the control."""
    n_t, n_c = len(hits_train), len(hits_control)
    r_t = float(np.mean(hits_train)) if n_t else 0.0
    r_c = float(np.mean(hits_control)) if n_c else 0.0
    lo_t, hi_t = wilson(int(np.sum(hits_train)), n_t)
    lo_c, hi_c = wilson(int(np.sum(hits_control)), n_c)

    def excess(a: float, c: float) -> float:
        return float(np.clip((a - c) / (1 - c), 0.0, 1.0)) if c < 1 else 0.0

    return {"risk": excess(r_t, r_c), "ci_low": excess(lo_t, hi_c), "ci_high": excess(hi_t, lo_c),
            "train_rate": r_t, "control_rate": r_c, "attacks": n_t}


def _matches(table: np.ndarray, cols: np.ndarray, vals: np.ndarray, ops: np.ndarray
             ) -> np.ndarray:
    """Rows of `table` each predicate matches ([Q] counts), in blocks of MASK_CELLS."""
    out = np.zeros(len(cols), dtype=np.int64)
    block = max(1, MASK_CELLS // max(len(table), 1))
    for s in range(0, len(cols), block):
        c, v, o = cols[s:s + block], vals[s:s + block], ops[s:s + block]
        mask = np.ones((len(c), len(table)), dtype=bool)
        for p in range(c.shape[1]):
            x = table[:, c[:, p]].T  # [Q, N]
            val, op = v[:, p:p + 1], o[:, p:p + 1]
            with np.errstate(invalid="ignore"):
                hit = np.where(op == 0, x == val, np.where(op == 1, x <= val, x >= val))
            mask &= np.where(op == 3, np.isnan(x), hit)
        out[s:s + block] = mask.sum(1)
    return out


def singling_out(syn: np.ndarray, train: np.ndarray, control: np.ndarray, discrete: np.ndarray,
                 n: int, rng: np.random.Generator) -> dict[str, float]:
    """Multivariate singling-out risk (module docstring) over model-matrix values."""
    k = min(SO_COLUMNS, syn.shape[1])
    if k == 0 or len(syn) == 0:
        return risk(np.zeros(0), np.zeros(0))
    cand = CANDIDATES * n
    rows = rng.integers(0, len(syn), cand)
    cols = np.argsort(rng.random((cand, syn.shape[1])), axis=1)[:, :k]
    vals = syn[rows[:, None], cols]
    # numeric conditions point at the value's nearer tail (<= below the synthetic median,
    # >= above it): the predicates that can isolate a row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(syn, 0)
    ops = np.where(discrete[cols], 0, np.where(vals <= median[cols], 1, 2))
    ops = np.where(np.isnan(vals), 3, ops)
    keep = np.flatnonzero(_matches(syn, cols, vals, ops) == 1)[:n]
    cols, vals, ops = cols[keep], vals[keep], ops[keep]
    if len(train) > len(control):  # equal-size sides (module docstring)
        train = train[np.sort(rng.choice(len(train), len(control), replace=False))]
    return risk(_matches(train, cols, vals, ops) == 1, _matches(control, cols, vals, ops) == 1)


def _subset(x: np.ndarray, slices: dict[str, slice], cols: list[str]) -> np.ndarray:
    return np.hstack([x[:, slices[c]] for c in cols]) if cols else x[:, :0]


def linkability(e_syn: np.ndarray, targets: np.ndarray, control: np.ndarray,
                slices: dict[str, slice], rng: np.random.Generator) -> dict[str, Any]:
    """Two-halves linkage risk (module docstring); `targets`/`control` are encoded rows."""
    cols = list(slices)
    order = [cols[i] for i in rng.permutation(len(cols))]
    half_a, half_b = order[: len(order) // 2], order[len(order) // 2:]
    if not half_a or not half_b:
        return risk(np.zeros(0), np.zeros(0))

    def linked(x: np.ndarray) -> np.ndarray:
        _, ia = knn(_subset(x, slices, half_a), _subset(e_syn, slices, half_a))
        _, ib = knn(_subset(x, slices, half_b), _subset(e_syn, slices, half_b))
        return ia[:, 0] == ib[:, 0]

    return risk(linked(targets), linked(control))


def inference(e_syn: np.ndarray, raw_syn: np.ndarray, sides: dict[str, tuple], spans: np.ndarray,
              slices: dict[str, slice], discrete: np.ndarray, secrets: list[int]
              ) -> dict[str, dict[str, float]]:
    """Per secret column: the nearest-synthetic-row guess risk (module docstring).
    `sides` maps "train"/"control" to (encoded rows, raw model-matrix rows)."""
    names = list(slices)
    out = {}
    for j in secrets:
        known = [c for i, c in enumerate(names) if i != j]
        hits = {}
        for side, (enc, raw) in sides.items():
            _, idx = knn(_subset(enc, slices, known), _subset(e_syn, slices, known))
            guess, truth = raw_syn[idx[:, 0], j], raw[:, j]
            both_nan = np.isnan(guess) & np.isnan(truth)
            with np.errstate(invalid="ignore"):
                ok = guess == truth if discrete[j] else \
                    np.abs(guess - truth) <= TOLERANCE * spans[j]
            hits[side] = ok | both_nan
        out[names[j]] = risk(hits["train"], hits["control"])
    return out


def compute_attacks(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                    schema: dict[str, Any], seed: int, attack_rows: int
                    ) -> tuple[dict[str, float], dict[str, Any]]:
    """metrics (privacy.*_risk) and details (rates, intervals, per-secret risks)."""
    rng = np.random.default_rng(seed + 11)
    if len(synthetic) > REFERENCE_ROWS:
        synthetic = synthetic.iloc[np.sort(rng.choice(len(synthetic), REFERENCE_ROWS,
                                                      replace=False))]
    (e_tr, e_ho, e_sy), slices, (m_tr, m_ho, m_sy) = encode([train, holdout, synthetic], schema)
    role = roles(schema)
    discrete = np.array([role[c] in DISCRETE_ROLES for c in usable_columns(schema)], bool)
    n = min(attack_rows, len(train), len(holdout))
    pick_t = np.sort(rng.choice(len(train), n, replace=False))
    pick_c = np.sort(rng.choice(len(holdout), n, replace=False))
    so = singling_out(m_sy, m_tr, m_ho, discrete, attack_rows, rng)
    link = linkability(e_sy, e_tr[pick_t], e_ho[pick_c], slices, rng)
    with warnings.catch_warnings():  # all-missing columns: span 0
        warnings.simplefilter("ignore", RuntimeWarning)
        spans = np.nan_to_num(np.nanmax(m_tr, 0) - np.nanmin(m_tr, 0))
    secrets = sorted(rng.permutation(len(slices))[:MAX_SECRETS].tolist())
    inf = inference(e_sy, m_sy, {"train": (e_tr[pick_t], m_tr[pick_t]),
                                 "control": (e_ho[pick_c], m_ho[pick_c])},
                    spans, slices, discrete, secrets)
    worst = max(inf.values(), key=lambda r: r["risk"]) if inf else risk(np.zeros(0),
                                                                         np.zeros(0))
    mia, mia_details = density_mia(e_tr, e_ho, e_sy, attack_rows, rng)
    metrics = {"privacy.singling_out_risk": so["risk"],
               "privacy.linkability_risk": link["risk"],
               "privacy.inference_risk": worst["risk"], **mia}
    details = {"singling_out": so, "linkability": link, "inference": worst,
               "membership_density": mia_details,
               "inference_by_column": inf, "reference_rows": len(synthetic),
               "method": "Giomi et al. 2023 (PETS): risk = (r_train - r_control) / "
                         "(1 - r_control), 95% Wilson-based interval"}
    return metrics, details
