"""Categorical columns that follow a series: bikeshare's weather situation along the hours.

bikeshare holds one row per hour of 2011; its `weathersit` (clear / misty / rain) stays for
hours at a time, so the rows near a given (`day`, `hr`) share it, while the GAN draws it from
a smooth density over the whole year: a classifier reading (`day`, `weathersit`) told the
rows apart at AUC 0.61, and dropping the column from the rows moved full-table detection by
0.021. Numeric columns get a trend along such a key (`trends.py`); a `series` rule is the
same for a categorical column: the training rows in key order are cut into runs of `m` rows
and each run's category counts are stored; decoding draws the column from the counts of the
run a generated row's key falls in (seeded). Redrawing, not keeping a generated category
that the run holds: offline on one trained bikeshare model, detection 0.784 -> 0.763 by
redrawing from the day's counts, 0.774 by keeping a category the day has.

Opt-in (`transform.series: true`): on bikeshare the rule moved detection by -0.016 and the DCR
share by about +0.005 (three re-draws of one model). Found on >= `_MIN_ROWS` training rows for
a categorical column with 2 to
`_MAX_LEVELS` categories, no missing values, that no other rule sets, along the key of an
accepted residual trend (evidence that the table is a series along it: bikeshare's `atemp`,
`temp` and `hum` follow `day` + `hr` / 24; no trend, no rule), when runs of `m` rows (two-fold
cross-fitted over `trends.RUN_ROWS`, as trends are) predict the held-out fold's categories
with a log loss <= `_MAX_RATIO` of the marginal entropy (bikeshare `weathersit`: 0.62 against
0.84, ratio 0.74; nyc_weather `origin` along `time_hour` 1.02, txhousing `city` along `date`
1.05: no rule). The stored runs hold 2 m rows (the key span that m rows of one fold covered),
at least 10 training rows each: counts, never a copy of one row. The counts are training
statistics outside DP's guarantee (docs/privacy.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.tabular import trends
from pipeline.tabular.nesting import write_levels
from pipeline.tabular.values import json_value

_MIN_ROWS = 1000
_MAX_LEVELS = 100
_MAX_RATIO = 0.8
_PRIOR = 0.5  # pseudo-count per category in the cross-fitted log loss


def discover(df: pd.DataFrame, schema: dict[str, Any], fits: list[dict], fixed: set[str]
             ) -> list[dict]:
    """series rules on `df` along the keys of `fits`' ungrouped trends; `fixed` columns (set
    by other rules) are never targets."""
    if len(df) < _MIN_ROWS:
        return []
    keys: list[dict] = []
    for f in fits:
        trend = f.get("trend")
        if trend and trend.get("group") is None and trend["key"] not in keys:
            keys.append(trend["key"])
    if not keys:
        return []
    key_x = [trends.key_values(df, k) for k in keys]
    rules = []
    for e in schema["columns"]:
        name = e["name"]
        if e["role"] != "categorical" or name in fixed \
                or df[name].isna().any() or any(name in k["columns"] for k in keys):
            continue
        code, labels = pd.factorize(df[name], sort=True)
        if not 2 <= len(labels) <= _MAX_LEVELS:
            continue
        share = np.bincount(code) / len(code)
        entropy = float(-(share * np.log(share)).sum())
        best = None
        for key, x in zip(keys, key_x):
            ok = ~np.isnan(x)
            for m in trends.RUN_ROWS:
                loss = _cross_fitted_loss(x[ok], code[ok], len(labels), m)
                if best is None or loss < best[0]:
                    best = (loss, key, m)
        if best is not None and best[0] <= _MAX_RATIO * entropy:
            rules.append(_rule(df, name, code, labels, best[1], 2 * best[2]))
    return rules


def _runs(x: np.ndarray, code: np.ndarray, n_levels: int, m: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """(key value where each run starts, counts [runs, levels]) of runs of m rows in key
    order; a short last run joins the one before."""
    order = np.argsort(x, kind="stable")
    n_runs = max(1, len(x) // m)
    run = np.minimum(np.arange(len(x)) // m, n_runs - 1)
    counts = np.zeros((n_runs, n_levels), dtype=np.int64)
    np.add.at(counts, (run, code[order]), 1)
    return x[order][::m][:n_runs], counts


def _run_of(starts: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(starts, x, side="right") - 1, 0, len(starts) - 1)


def _cross_fitted_loss(x: np.ndarray, code: np.ndarray, n_levels: int, m: int) -> float:
    """Mean two-fold out-of-fold log loss of each row's category under its run's counts."""
    fold = np.random.default_rng(0).random(len(x)) < 0.5
    total = 0.0
    for f in (True, False):
        fit, test = fold == f, fold != f
        if fit.sum() < m or not test.any():
            return np.inf
        starts, counts = _runs(x[fit], code[fit], n_levels, m)
        rows = counts[_run_of(starts, x[test])] + _PRIOR
        total -= float(np.log(rows[np.arange(len(rows)), code[test]]
                              / rows.sum(axis=1)).sum())
    return total / len(x)


def _rule(df: pd.DataFrame, name: str, code: np.ndarray, labels: pd.Index, key: dict,
          m: int) -> dict:
    x = trends.key_values(df, key)
    ok = ~np.isnan(x)
    starts, counts = _runs(x[ok], code[ok], len(labels), m)
    return {"kind": "series", "column": name, "key": list(key["columns"]),
            "origins": list(key["origins"]), "steps": list(key["steps"]),
            "starts": starts.tolist(), "labels": [json_value(v) for v in labels],
            "counts": counts.tolist()}


def apply(frame: pd.DataFrame, rule: dict, rng: np.random.Generator) -> None:
    """In place: each row's column drawn from the counts of the run its key falls in (rows
    with a missing key keep theirs)."""
    key = {"columns": rule["key"], "origins": rule["origins"], "steps": rule["steps"]}
    x = trends.key_values(frame, key)
    ok = ~np.isnan(x)
    if not ok.any():
        return
    cum = np.cumsum(np.asarray(rule["counts"], dtype=np.float64), axis=1)
    rows = cum[_run_of(np.asarray(rule["starts"], dtype=np.float64), x[ok])]
    u = rng.random(len(rows)) * rows[:, -1]
    pick = np.minimum((rows <= u[:, None]).sum(axis=1), rows.shape[1] - 1)
    name = rule["column"]
    values = frame[name].astype(str).to_numpy(dtype=object).copy()
    values[ok] = np.asarray([str(v) for v in rule["labels"]], dtype=object)[pick]
    write_levels(frame, name, values, frame[name])


def describe(rule: dict) -> str:
    return (f"{rule['column']} drawn along {' + '.join(rule['key'])} "
            f"({len(rule['starts'])} runs)")
