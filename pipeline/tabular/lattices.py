"""Joint lattices: a column whose values depend on the exact value of another, kept on decode.

Measured quantities are often recorded on one grid and derived ones computed from them:
bikeshare's humidity comes from an integer dew point and the temperature, so each humidity
value goes with only a few of the 48 temperatures (11 on average), and a neighbouring humidity
with a different few. 97 % of the holdout's (humidity, temperature) pairs occur in the
training table, but only 6 % once each humidity is moved to a neighbouring value: the pairs
lie on a two-column lattice. A GAN draws both columns on their own value sets but off the
joint lattice (a third of its pairs were training pairs), and a classifier reading the pair
told its rows from real ones at AUC 0.82.

A `lattice` rule stores, for the target column, the values seen with each value of the source
column in at least `_MIN_COUNT` training rows (no pair that only one row holds) and their row
counts; decoding moves a generated target value onto its source value's set (`snap`). Where the
generated source value has no set, the target stays as generated. Rules may chain (bikeshare:
`temp` on its lattice with `atemp`, then `hum` with `temp`); sources are snapped first.

Found on the training table (>= `_MIN_ROWS` rows) for numeric columns that no other rule or
residual fit reads or recomputes (a residual fit's predictors are never targets: the fitted
column was decoded from their unsnapped values), the source with <= `_MAX_LEVELS` values and
the target with <= `exact_values_max`: rows are split in two halves; at least `_MIN_COVER` of
the second half's pairs must occur in the first, and at most `_MAX_SHIFTED` times as many once
each source value is moved to a neighbouring one (a dense joint, where any pair of common
values occurs, keeps its coverage there: no rule), and snapping such a moved row's target must
move it by <= `_MAX_MOVE` standard deviations (a correction, not a redraw: bikeshare `temp` on
`hum` moved 0.4 and lost to `hum` on `temp`, 0.05). Rules are accepted smallest move first,
each column the target of one rule at most, without cycles. Cost: one sort of integer pair
codes per candidate pair of columns on a <= `_TEST_ROWS`-row sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.tabular.values import numbers

_MIN_ROWS = 1000
_MAX_LEVELS = 500
_MIN_COVER = 0.9
_MAX_SHIFTED = 0.8
_MAX_MOVE = 0.1  # standard deviations of the target
_MIN_LEVEL_ROWS = 20  # a source value's set is kept (and tested) from this many rows
_MIN_COUNT = 2
_TEST_ROWS = 50000
_MAX_PAIRS = 20000  # a rule stores at most this many (source, target) pairs
_NUMERIC = ("numerical", "integer")


def grid_codes(x: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Index of each value in `levels` (sorted distinct values); -1 where missing or not one
    of them."""
    pos = np.clip(np.searchsorted(levels, np.nan_to_num(x, nan=levels[0])), 0, len(levels) - 1)
    return np.where(~np.isnan(x) & (levels[pos] == x), pos, -1)


def discover(df: pd.DataFrame, schema: dict[str, Any], fixed: set[str], read: set[str],
             exact_values_max: int) -> list[dict]:
    """lattice rules on `df` (the training split), sources before the targets they snap.
    `fixed`: columns other rules read or recompute (neither source nor target); `read`:
    columns residual fits read (never targets)."""
    if len(df) < _MIN_ROWS:
        return []
    cols = [c["name"] for c in schema["columns"]
            if c["role"] in _NUMERIC and c["name"] not in fixed and c["name"] in df.columns]
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(df), min(len(df), _TEST_ROWS), replace=False))
    values = {c: numbers(df[c]) for c in cols}
    levels = {c: np.unique(v[~np.isnan(v)]) for c, v in values.items()
              if np.isfinite(v[~np.isnan(v)]).all()}
    levels = {c: lv for c, lv in levels.items() if len(lv) >= 3}
    codes = {c: grid_codes(values[c][rows], levels[c]) for c in levels}
    half = rng.random(len(rows)) < 0.5
    sign = np.where(rng.random(len(rows)) < 0.5, -1, 1)
    found = []
    for a in levels:
        n_a = len(levels[a])
        if n_a > _MAX_LEVELS:
            continue
        # rows of well-seen source values, each moved to a neighbouring value (inward at the
        # ends) seen at least half as often: a sparse neighbour lacks pairs for want of rows
        seen_rows = np.bincount(codes[a][half & (codes[a] >= 0)], minlength=n_a)
        moved = codes[a] + np.where(codes[a] == 0, 1, np.where(codes[a] == n_a - 1, -1, sign))
        own, there = seen_rows[np.maximum(codes[a], 0)], seen_rows[np.clip(moved, 0, n_a - 1)]
        common = (codes[a] >= 0) & (own >= _MIN_LEVEL_ROWS // 2) & (there >= own / 2)
        for b in levels:
            if b == a or b in read or len(levels[b]) > exact_values_max:
                continue
            score = _evidence(codes[a], moved, codes[b], len(levels[b]), half, common,
                              levels[b], float(np.nanstd(values[b])))
            if score is not None:
                found.append((score, a, b))
    rules: dict[str, dict] = {}  # target -> rule
    for _, a, b in sorted(found):  # the smallest correction first
        if b in rules or _reaches(a, b, rules):
            continue
        rule = _table(values[a], values[b], a, b)
        if rule is not None:
            rules[b] = rule
    return _sources_first(rules)


def _evidence(a: np.ndarray, moved: np.ndarray, b: np.ndarray, n_b: int, half: np.ndarray,
              common: np.ndarray, b_levels: np.ndarray, b_std: float) -> float | None:
    """How far snapping moves the target (`move`, below) when target codes `b` lie on a
    lattice with source codes `a` (see the module docstring), else None. The table comes
    from the first half; the second half's pairs are looked up as they are and with the
    source moved; `move`: how far (in the target's standard deviations) the nearest set value
    is from the target of a moved row (small: a correction, not a redraw)."""
    both = (a >= 0) & (b >= 0)
    test = both & ~half & common
    if test.sum() < _MIN_ROWS // 4 or b_std <= 0:
        return None
    fit = both & half
    seen = np.unique(a[fit].astype(np.int64) * n_b + b[fit])
    cover = np.isin(a[test].astype(np.int64) * n_b + b[test], seen).mean()
    shifted = np.isin(moved[test].astype(np.int64) * n_b + b[test], seen).mean()
    if cover < _MIN_COVER or shifted > _MAX_SHIFTED * cover:
        return None
    key, val = np.divmod(seen, n_b)  # sorted by key, then value
    keys, starts = np.unique(key, return_index=True)
    snapped = _nearest(keys.astype(np.float64), np.r_[starts, len(key)], b_levels[val],
                       moved[test].astype(np.float64), b_levels[b[test]])
    move = np.nanmean(np.abs(snapped - b_levels[b[test]])) / b_std
    return float(move) if move <= _MAX_MOVE else None


def _reaches(a: str, b: str, rules: dict[str, dict]) -> bool:
    """Would snapping b from a close a cycle (a is snapped, directly or not, from b)?"""
    while a in rules:
        a = rules[a]["source"]
        if a == b:
            return True
    return False


def _sources_first(rules: dict[str, dict]) -> list[dict]:
    out: list[dict] = []
    placed: set[str] = set()
    while len(out) < len(rules):
        for target, rule in rules.items():
            if target not in placed and rule["source"] not in set(rules) - placed:
                out.append(rule)
                placed.add(target)
    return out


def _table(a: np.ndarray, b: np.ndarray, source: str, column: str) -> dict | None:
    """The rule: per source value (sorted `keys`, each seen in >= _MIN_LEVEL_ROWS rows), the
    sorted target values it holds in >= _MIN_COUNT rows, flat in `values` with their row
    `counts`, key k's at values[starts[k]:starts[k + 1]]."""
    ok = ~np.isnan(a) & ~np.isnan(b)
    keys, key_rows = np.unique(a[ok], return_counts=True)
    ok &= np.isin(a, keys[key_rows >= _MIN_LEVEL_ROWS])
    sets = set_table(a[ok], b[ok], _MAX_PAIRS)
    return None if sets is None else {"kind": "lattice", "column": column, "source": source,
                                      **sets}


def set_table(key: np.ndarray, y: np.ndarray, max_pairs: int) -> dict | None:
    """The (key, value) pairs that >= _MIN_COUNT rows hold, as sorted `keys`, the key k's
    values at values[starts[k]:starts[k + 1]] (sorted) and their row `counts`; None when
    none or more than `max_pairs`."""
    pairs, counts = np.unique(np.column_stack([key, y]), axis=0, return_counts=True)
    pairs, counts = pairs[counts >= _MIN_COUNT], counts[counts >= _MIN_COUNT]
    if len(pairs) == 0 or len(pairs) > max_pairs:
        return None
    keys, starts = np.unique(pairs[:, 0], return_index=True)  # pairs: by key, then value
    return {"keys": keys.tolist(), "starts": starts.tolist() + [len(pairs)],
            "values": pairs[:, 1].tolist(), "counts": counts.tolist()}


def snap(frame: pd.DataFrame, rule: dict, rng: np.random.Generator) -> None:
    """Move each decoded target value onto its source value's set, in place: to one of the
    two set values around it, the lower with probability c_lo d_hi / (c_lo d_hi + c_hi d_lo)
    (c: training rows holding the value, d: its distance). Weighing by the rows keeps the
    column's marginal where the set is uneven (bikeshare `hum`: value-share TV from real
    0.101 with this draw, 0.109 to the nearest value; detection 0.859 vs 0.864, offline)."""
    target = frame[rule["column"]]
    out = snapped(numbers(frame[rule["source"]]), numbers(target), rule, rng)
    frame[rule["column"]] = pd.Series(out, index=frame.index).astype(target.dtype)


def snapped(a: np.ndarray, b: np.ndarray, rule: dict, rng: np.random.Generator) -> np.ndarray:
    """`b` moved onto the sets of the rule's table at keys `a` (`snap`); b where a has none."""
    keys, starts = np.asarray(rule["keys"], dtype=np.float64), np.asarray(rule["starts"])
    values = np.asarray(rule["values"], dtype=np.float64)
    counts = np.asarray(rule["counts"], dtype=np.float64)
    hit, left, right = _bracket(keys, starts, values, a, b)
    d_lo, d_hi = np.abs(b - values[left]), np.abs(values[right] - b)
    w_lo, w_hi = counts[left] * d_hi, counts[right] * d_lo
    p_lo = np.where(w_lo + w_hi > 0, w_lo / np.maximum(w_lo + w_hi, 1e-300), 1.0)
    pick = np.where(rng.random(len(b)) < p_lo, left, right)
    out = b.copy()
    out[hit] = values[pick[hit]]
    return out


def _bracket(keys: np.ndarray, starts: np.ndarray, values: np.ndarray, a: np.ndarray,
             b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hit, left, right): rows where a == keys[k] and b is present, and the positions of the
    set values at or below / at or above b in values[starts[k]:starts[k + 1]] (the set's end
    on both where b is beyond it). Vectorised: one searchsorted over the sets end to end."""
    k = np.clip(np.searchsorted(keys, np.nan_to_num(a, nan=keys[0])), 0, len(keys) - 1)
    first, last = starts[k], starts[k + 1] - 1
    hit = (keys[k] == a) & ~np.isnan(b) & (last >= first)
    last = np.maximum(last, first)
    lo, span = values.min(), max(float(values.max() - values.min()), 1e-12)
    # key k's values sit in [2k, 2k + 1] on this axis: sorted end to end
    axis = 2.0 * np.repeat(np.arange(len(keys)), np.diff(starts)) + (values - lo) / span
    query = 2.0 * k + np.clip((np.nan_to_num(b) - lo) / span, 0.0, 1.0)
    right = np.minimum(np.clip(np.searchsorted(axis, query), first, last), len(values) - 1)
    left = np.minimum(np.clip(right - 1, first, last), len(values) - 1)
    # on a set value, or beyond the set's top: both ends are that value
    top = (values[right] == np.nan_to_num(b)) | (np.nan_to_num(b) > values[right])
    return hit, np.where(top, right, left), right


def _nearest(keys: np.ndarray, starts: np.ndarray, values: np.ndarray, a: np.ndarray,
             b: np.ndarray) -> np.ndarray:
    """b moved to the nearest value of its key's set where it has one; elsewhere b."""
    hit, left, right = _bracket(keys, starts, values, a, b)
    pick = np.where(np.abs(values[right] - b) <= np.abs(values[left] - b), right, left)
    return np.where(hit, values[pick], b)


def describe(rule: dict) -> str:
    return (f"{rule['column']} on its lattice with {rule['source']} "
            f"({len(rule['values'])} pairs, {len(rule['keys'])} {rule['source']} values)")
