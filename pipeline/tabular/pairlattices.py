"""Lattices over a pair: a column that two recorded columns nearly fix, kept on decode.

bikeshare's "feels like" temperature `atemp` is computed from the temperature and the
humidity (and the wind): each `temp` value goes with a few `atemp` values, and each (`temp`,
`hum`) pair with about one (65 % of the training rows sit on a pair of >= 2 rows holding a
single `atemp`). The GAN draws `atemp` from a smooth trend plus noise; a classifier reading
(`atemp`, `hum`) told its rows from real ones at AUC 0.63, and snapping each generated `atemp`
to its (`temp`, `hum`) pair's set moved full-table detection from 0.775 to 0.73 offline.

A `lattice2` rule stores, for the target, the values that each (a, b) source pair holds in
>= 2 training rows, with their row counts (never a triple that one row holds); the
pair is looked up by each source's position on its stored value grid, and decoding moves a
generated target onto its pair's set (`lattices.snap`: one of the two set values around it,
weighted by rows and distance). A pair the table lacks keeps the target as generated.

Found on >= `_MIN_ROWS` training rows, for numeric targets with >= 3 values (any number:
nyc_weather's relative humidity, 2,375 values, is a function of `temp` and `dewp`: reach
0.90, cover 0.97; snapped, detection 0.829 -> 0.822) that no rule sets or snaps, sources
numeric with 3..`_MAX_LEVELS` values, on the
first `_MAX_COLUMNS` such columns, rows split in two halves: of the second half, >= `_MIN_REACH`
must sit on a pair the first half holds, >= `_MIN_COVER` of those with a target value the
pair holds there, and the pair must narrow the target beyond either source alone: a value
drawn by count from the target's set under one source lands in the pair's set with
probability ("chance") <= `_MAX_CHANCE` (bikeshare `atemp` | (`temp`, `hum`): reach 0.93,
cover 0.91). Best (lowest chance) first, one rule per target, a target never a source of
another. The search is bounded: the first `_MAX_COLUMNS` numeric columns, scored on <=
`_TEST_ROWS` rows (20 integer columns of 50 values x 200,000 rows: 8 s on 2 cores). The
tables are training statistics outside DP's guarantee (docs/privacy.md).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from pipeline.tabular import lattices
from pipeline.tabular.lattices import grid_codes
from pipeline.tabular.values import numbers

_MIN_ROWS = 1000
_MAX_LEVELS = 500
_MAX_COLUMNS = 16
_TEST_ROWS = 50000
_MIN_REACH = 0.8
_MIN_COVER = 0.85
_MAX_CHANCE = 0.7
_MAX_PAIRS = 50000


def discover(df: pd.DataFrame, schema: dict[str, Any], fixed: set[str], snapped: set[str]
             ) -> list[dict]:
    """lattice2 rules on `df`; `fixed` columns (set by other rules) are neither sources nor
    targets, `snapped` ones (single-source lattice targets) are not targets."""
    if len(df) < _MIN_ROWS:
        return []
    cols = [c["name"] for c in schema["columns"]
            if c["role"] in ("numerical", "integer") and c["name"] not in fixed][:_MAX_COLUMNS]
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(df), min(len(df), _TEST_ROWS), replace=False))
    half = rng.random(len(rows)) < 0.5
    values = {c: numbers(df[c]) for c in cols}
    grids = {c: np.unique(v[~np.isnan(v)]) for c, v in values.items()}
    grids = {c: g for c, g in grids.items() if len(g) >= 3 and np.isfinite(g).all()}
    codes = {c: grid_codes(values[c][rows], grids[c]) for c in grids}
    small = [c for c in grids if len(grids[c]) <= _MAX_LEVELS]  # the columns sources may be
    found = []
    for t in grids:
        if t in snapped:
            continue
        for a, b in combinations([c for c in small if c != t], 2):
            chance = _chance(codes[a], codes[b], codes[t], len(grids[b]), len(grids[t]), half)
            if chance is not None:
                found.append((chance, t, a, b))
    rules: dict[str, dict] = {}
    sources_used: set[str] = set()
    for _, t, a, b in sorted(found):
        if t in rules or t in sources_used or a in rules or b in rules:
            continue
        rule = _table(values, grids, t, a, b)
        if rule is not None:
            rules[t] = rule
            sources_used |= {a, b}
    return list(rules.values())


def _chance(a: np.ndarray, b: np.ndarray, t: np.ndarray, n_b: int, n_t: int,
            half: np.ndarray) -> float | None:
    """The larger of the two single-source chances (module docstring) over the second half's
    rows, or None when reach or cover fall short."""
    ok = (a >= 0) & (b >= 0) & (t >= 0)
    fit, test = ok & half, ok & ~half
    if test.sum() < _MIN_ROWS // 4:
        return None
    pair = a.astype(np.int64) * n_b + b
    triple = pair * n_t + t
    seen_pairs, seen_triples = np.unique(pair[fit]), np.unique(triple[fit])
    on = test & np.isin(pair, seen_pairs)
    if on.mean() / test.mean() < _MIN_REACH:
        return None
    if np.isin(triple[on], seen_triples).mean() < _MIN_COVER:
        return None
    worst = 0.0
    pair_of = seen_triples // n_t
    p_index = np.searchsorted(seen_pairs, pair_of)
    rows_p = np.searchsorted(seen_pairs, pair[on])
    for which, single in enumerate((a, b)):
        # first-half counts of (this source, target); per stored pair, the share of its
        # source value's rows whose target lies in the pair's set
        st, st_count = np.unique(single[fit].astype(np.int64) * n_t + t[fit],
                                 return_counts=True)
        total = np.bincount(single[fit], minlength=int(single.max()) + 1)
        src_of_triple = pair_of // n_b if which == 0 else pair_of % n_b
        wanted = src_of_triple * n_t + seen_triples % n_t
        at = np.minimum(np.searchsorted(st, wanted), len(st) - 1)
        inside = np.where(st[at] == wanted, st_count[at], 0)
        mass = np.bincount(p_index, weights=inside, minlength=len(seen_pairs))
        src = seen_pairs // n_b if which == 0 else seen_pairs % n_b
        share = mass / np.maximum(total[src], 1)
        worst = max(worst, float(share[rows_p].mean()))
    return worst if worst <= _MAX_CHANCE else None


def _table(values: dict, grids: dict, t: str, a: str, b: str) -> dict | None:
    """The rule: (pair key, target value) with >= 2 training rows, in `lattices.set_table`'s
    layout."""
    ca, cb = grid_codes(values[a], grids[a]), grid_codes(values[b], grids[b])
    y = values[t]
    ok = (ca >= 0) & (cb >= 0) & ~np.isnan(y)
    key = (ca.astype(np.int64) * len(grids[b]) + cb)[ok].astype(np.float64)
    sets = lattices.set_table(key, y[ok], _MAX_PAIRS)
    return None if sets is None else {"kind": "lattice2", "column": t, "sources": [a, b],
                                      "grids": [grids[a].tolist(), grids[b].tolist()],
                                      **sets}


def snap(frame: pd.DataFrame, rule: dict, rng: np.random.Generator) -> None:
    """Move each decoded target onto its (a, b) pair's set, in place (`lattices.snap`)."""
    (a, b), (grid_a, grid_b) = rule["sources"], rule["grids"]
    ca = grid_codes(numbers(frame[a]), np.asarray(grid_a, dtype=np.float64))
    cb = grid_codes(numbers(frame[b]), np.asarray(grid_b, dtype=np.float64))
    key = np.where((ca >= 0) & (cb >= 0), ca.astype(np.float64) * len(grid_b) + cb, np.nan)
    target = frame[rule["column"]]
    out = lattices.snapped(key, numbers(target), rule, rng)
    frame[rule["column"]] = pd.Series(out, index=frame.index).astype(target.dtype)


def describe(rule: dict) -> str:
    a, b = rule["sources"]
    return (f"{rule['column']} on its lattice with ({a}, {b}) ({len(rule['values'])} "
            f"triples, {len(rule['keys'])} pairs)")
