"""Clock arithmetic between hh:mm columns, found in the training table and kept on decode.

Schedules write times of day as integers: 1545 is 15:45. nycflights13 has `dep_time` =
`sched_dep_time` + `dep_delay` minutes on that clock (and the same for arrivals), wrapping at
midnight; a GAN draws the three separately and gets the sum right in 0.5 % of rows, which a
classifier sees at once. A `clock` rule says that column A equals the clock time B plus C
minutes, on every training row where the three are present (a day's minutes wrap modulo 1440;
a column that writes midnight as 2400 and never as 0 keeps doing so); decoding recomputes A
from the generated B and C where both are present and keeps the generated A elsewhere.

A clock column is integer-valued with every value in 0..2400 and minutes (value % 100) < 60;
C is an integer column. Costs: each (A, B, C) candidate is checked on a <= 2,000-row probe,
survivors on every row.
"""

from __future__ import annotations

from itertools import permutations
from typing import Any

import numpy as np
import pandas as pd

_PROBE_ROWS = 2000
_MIN_ROWS = 20


def clock_minutes(hhmm: np.ndarray) -> np.ndarray:
    return (hhmm // 100) * 60 + hhmm % 100


def clock_sum(start: np.ndarray, minutes: np.ndarray, midnight_2400: bool) -> np.ndarray:
    """hh:mm of `start` (hh:mm) plus `minutes`, modulo a day; NaN where either is missing."""
    total = np.mod(clock_minutes(start) + minutes, 1440)
    out = (total // 60) * 100 + total % 60
    return np.where(out == 0, 2400.0, out) if midnight_2400 else out


def is_clock(x: np.ndarray) -> bool:
    x = x[~np.isnan(x)]
    return bool(len(x) and np.all(x == np.round(x)) and x.min() >= 0 and x.max() <= 2400
                and np.all(x % 100 < 60) and len(np.unique(x)) >= 60)


def discover(df: pd.DataFrame, schema: dict[str, Any], taken: set[str]) -> list[dict]:
    """clock rules A = B + C minutes; A is never in `taken` (columns other rules recompute or
    read), and a recomputed A is neither B nor C of another rule."""
    ints = [c["name"] for c in schema["columns"] if c["role"] in ("integer", "numerical")]
    if len(ints) < 3 or len(df) < _MIN_ROWS:
        return []
    values = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64) for c in ints}
    ints = [c for c in ints if np.all(np.isnan(values[c]) | (values[c] == np.round(values[c])))]
    clocks = [c for c in ints if is_clock(values[c])]
    idx = np.random.default_rng(0).choice(len(df), min(len(df), _PROBE_ROWS), replace=False)
    rules: list[dict] = []
    used: set[str] = set()
    for a, b in permutations(clocks, 2):
        if a in taken or a in used or b in {r["column"] for r in rules}:
            continue
        midnight = bool(np.any(values[a] == 2400) and not np.any(values[a] == 0))
        for c in ints:
            if c in (a, b) or c in {r["column"] for r in rules}:
                continue
            if not _holds(values, a, b, c, idx, midnight) or not _holds(values, a, b, c, None,
                                                                        midnight):
                continue
            rules.append({"kind": "clock", "column": a, "start": b, "minutes": c,
                          "midnight_2400": midnight})
            used.update((a, b, c))
            break
    return rules


def _holds(values: dict[str, np.ndarray], a: str, b: str, c: str, idx: np.ndarray | None,
           midnight: bool) -> bool:
    va, vb, vc = (values[k] if idx is None else values[k][idx] for k in (a, b, c))
    ok = ~(np.isnan(va) | np.isnan(vb) | np.isnan(vc))
    if ok.sum() < _MIN_ROWS or len(np.unique(vc[ok])) < 3:
        return False
    return bool(np.array_equal(clock_sum(vb[ok], vc[ok], midnight), va[ok]))


def recompute(frame: pd.DataFrame, rule: dict) -> np.ndarray:
    """The rule's column as float64: B + C where both are present, else the decoded value."""
    def num(name: str) -> np.ndarray:
        return pd.to_numeric(frame[name]).to_numpy(dtype=np.float64, na_value=np.nan)
    start, minutes, own = num(rule["start"]), num(rule["minutes"]), num(rule["column"])
    present = ~(np.isnan(start) | np.isnan(minutes))
    summed = clock_sum(np.where(present, start, 0.0), np.where(present, minutes, 0.0),
                       rule["midnight_2400"])
    return np.where(present, summed, own)
