"""Columns that a key narrows to a few values: a flight number flies a few routes.

flights' flight numbers name routes and schedules: 90 % of a (`carrier`, `flight`)'s rows go
to its most common `dest`, 98 % leave from its most common `origin`, while the GAN pairs
flight numbers with any airport (two-feature detection AUC: `flight` x `dest` 0.83). A
`keyset` rule records, for each key value seen in >= `_MIN_COUNT` training rows with a target
value (the key's "set"), those target values with their row counts; decoding keeps a
generated target that is in its key's set and draws one from the set by count otherwise
(seeded); a key value the table lacks keeps the generated target. Targets that the same key
narrows are drawn together, and a target whose best key reads another target joins that
one's draw where the joint still covers the rows (flights: `flight` from `sched_dep_time`,
`dest` and `carrier` from `flight`, `origin` from (`sched_dep_time`, `dest`) become one
draw of (`flight`, `dest`, `carrier`, `origin`) from `sched_dep_time`: the timetable).
Rules and fits that read a target (`distance =
table[origin, dest]`, `air_time ~ profile(dest)`, `tailnum` nested in `carrier`) see its
final value: `decode_order.plan` runs the keyset rule before them.

Found on >= `_MIN_ROWS` training rows for a categorical or integer target with >= 3 values
and no missing values, keyed by one or two plain columns (categorical, boolean or integer,
at most one of two integer, no missing values, none that another rule or a fit sets), when
the key has >= `_MIN_KEY_ROWS` rows per value on average, >= `_MIN_COVER` of the rows sit on
a stored (key, value) pair, and the sets are narrow: a value drawn from the target's marginal
lands in its row's set with probability ("chance") <= `_MAX_CHANCE` (flights `dest` given
(`carrier`, `flight`): 0.04). Candidates are taken best first by reach x (1 - chance), where
reach is the probability that a key drawn from its columns' marginals is a stored one (a
generated key the rule cannot look up fixes nothing), one key per target, skipping a key that
would depend on the target itself. No pair seen in a single training row
is stored; the tables are training statistics outside DP's guarantee (docs/privacy.md).
Found on flights only among the built-in tables. The search is bounded for wide and long
tables: the first `_MAX_COLUMNS` plain columns, scored on <= `_SCORE_ROWS` rows (40
categorical columns x 1,000,000 rows: 5 s on 2 cores).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from pipeline.tabular.nesting import write_levels
from pipeline.tabular.values import json_value, row_labels

_MIN_ROWS = 1000
_MIN_COUNT = 2
_MIN_KEY_ROWS = 5
_MIN_KEYS = 20
_MIN_COVER = 0.9
_MAX_CHANCE = 0.5
_MIN_LEVELS = 3
_MAX_PAIRS = 20000
# bounds on the search (pairs of columns x targets, each one pass over the rows): 16 plain
# columns, in schema order, and 250,000 rows (flights' 235,743 are all scored)
_MAX_COLUMNS = 16
_SCORE_ROWS = 250000
_KEY_ROLES = ("categorical", "boolean", "integer")
_TARGET_ROLES = ("categorical", "integer")


def _score(key: np.ndarray, n_keys: int, target: np.ndarray, n_levels: int
           ) -> tuple[float, float] | None:
    """(cover, chance) of target given key (factorized codes), or None when
    the key has too few rows per value. Counts are taken over the pairs that occur (sparse)."""
    if n_keys < _MIN_KEYS or len(key) < _MIN_KEY_ROWS * n_keys:
        return None
    pairs, counts = np.unique(key.astype(np.int64) * n_levels + target, return_counts=True)
    of_key, level = pairs // n_levels, pairs % n_levels
    stored = counts >= _MIN_COUNT
    marginal = np.bincount(target, minlength=n_levels) / len(key)
    per_key = np.bincount(key, minlength=n_keys)
    cover = float(counts[stored].sum() / len(key))
    chance = float((per_key[of_key] * marginal[level])[stored].sum() / len(key))
    return cover, chance


def discover(df: pd.DataFrame, schema: dict[str, Any], fixed: set[str]) -> list[dict]:
    """keyset rules on `df`; `fixed` columns (set by other rules or fits) are neither keys nor
    targets."""
    if len(df) < _MIN_ROWS:
        return []
    role = {c["name"]: c["role"] for c in schema["columns"]}
    plain = [c for c, r in role.items() if r in _KEY_ROLES and c not in fixed
             and not df[c].isna().any()][:_MAX_COLUMNS]
    # scored on <= _SCORE_ROWS rows (a seeded sample), the stored pairs taken from all rows
    probe = df if len(df) <= _SCORE_ROWS else df.iloc[np.sort(
        np.random.default_rng(0).choice(len(df), _SCORE_ROWS, replace=False))]
    codes = {c: pd.factorize(probe[c], sort=True)[0] for c in plain}
    levels = {c: int(codes[c].max()) + 1 for c in plain}
    targets = [c for c in plain if role[c] in _TARGET_ROLES and levels[c] >= _MIN_LEVELS]
    if not targets:
        return []
    keys: list[tuple[str, ...]] = [(c,) for c in plain] + [
        (a, b) for a, b in combinations(plain, 2) if role[a] != "integer" or role[b] != "integer"]
    passing: list[tuple[float, str, tuple[str, ...]]] = []
    for key in keys:
        code, n_keys = _key_codes(codes, levels, key)
        reach = None
        for t in targets:
            score = None if t in key else _score(code, n_keys, codes[t], levels[t])
            if score and score[0] >= _MIN_COVER and score[1] <= _MAX_CHANCE:
                reach = _reach(codes, levels, key) if reach is None else reach
                passing.append((-reach * (1.0 - score[1]), t, key))
    # best first: a narrow set (a generated value off it is likely) under a key that generated
    # rows are likely to hold; a target may key a later rule as long as no target depends on
    # itself
    key_of: dict[str, tuple[str, ...]] = {}
    for _, t, key in sorted(passing):
        if t not in key_of and not any(_depends(c, t, key_of) for c in key):
            key_of[t] = key
    _join(df, key_of)
    by_key: dict[tuple[str, ...], list[str]] = {}
    for t, key in key_of.items():
        by_key.setdefault(key, []).append(t)
    rules: list[dict] = []
    for key, cols in by_key.items():
        # drawn together when the pairs of all targets still cover the rows, else the first
        rule = _rule(df, list(key), cols) or _rule(df, list(key), cols[:1])
        if rule is not None:
            rules.append(rule)
    return rules


def _join(df: pd.DataFrame, key_of: dict[str, tuple[str, ...]]) -> None:
    """In place: a target whose key reads another target is drawn together with that one,
    from its key, where the joint still covers >= _MIN_COVER of the rows (a key that does
    not narrow the target spreads the joint over rare tuples, which fails that): a chain
    (`flight` from `sched_dep_time`, `dest` from `flight`) only keeps each link, a joint draw
    keeps the whole (flights, offline on one model: detection 0.775 chained, 0.716 with the
    timetable drawn from `sched_dep_time`)."""
    for _ in range(len(key_of)):
        moved = False
        for t, own in list(key_of.items()):
            for c in own:
                key = key_of.get(c)
                if key is None or t in key:
                    continue
                rest = {u: k for u, k in key_of.items() if u != t}
                if any(_depends(k, t, rest) for k in key):
                    continue
                together = [u for u, k in key_of.items() if k == key] + [t]
                if _rule(df, list(key), together) is not None:
                    key_of[t] = key
                    moved = True
                    break
        if not moved:
            return


def _depends(column: str, target: str, key_of: dict[str, tuple[str, ...]]) -> bool:
    """Is `column` `target`, or drawn (through accepted rules) from a key that reads it?"""
    return column == target or any(_depends(c, target, key_of) for c in key_of.get(column, ()))


def _reach(codes: dict[str, np.ndarray], levels: dict[str, int], key: tuple[str, ...]
           ) -> float:
    """The probability that a key drawn from its columns' marginals, independently, is one
    the rule stores (>= _MIN_COUNT rows): how often a generated key can be looked up at all
    (flights (`carrier`, `sched_dep_time`) 0.79, (`sched_dep_time`, `dest`) 0.47)."""
    shares = [np.bincount(codes[c], minlength=levels[c]) / len(codes[c]) for c in key]
    code, n_keys = _key_codes(codes, levels, key)
    counts = np.bincount(code, minlength=n_keys)
    first = np.flatnonzero(np.r_[True, np.diff(np.sort(code)) != 0])  # one row per key value
    rows = np.argsort(code, kind="stable")[first]
    p = np.prod([s[codes[c][rows]] for s, c in zip(shares, key)], axis=0)
    return float(p[counts[code[rows]] >= _MIN_COUNT].sum())


def _key_codes(codes: dict[str, np.ndarray], levels: dict[str, int], key: tuple[str, ...]
               ) -> tuple[np.ndarray, int]:
    if len(key) == 1:
        return codes[key[0]], levels[key[0]]
    code, uniq = pd.factorize(codes[key[0]].astype(np.int64) * levels[key[1]] + codes[key[1]])
    return code, len(uniq)


def _rule(df: pd.DataFrame, key: list[str], cols: list[str]) -> dict | None:
    """The stored (key, target values) pairs with >= _MIN_COUNT rows, when the targets taken
    together still cover >= _MIN_COVER of the rows."""
    frame = df[key + cols]
    counts = frame.astype(object).value_counts(sort=False).rename("n").reset_index()
    kept = counts[counts["n"] >= _MIN_COUNT].sort_values(key + cols, kind="stable")
    if kept["n"].sum() < _MIN_COVER * len(df) or len(kept) > _MAX_PAIRS:
        return None
    return {"kind": "keyset", "key": key, "columns": cols,
            "pairs": [[json_value(v) for v in row] for row in
                      kept[key + cols].itertuples(index=False, name=None)],
            "counts": kept["n"].astype(int).tolist()}


def apply(frame: pd.DataFrame, rule: dict, rng: np.random.Generator) -> None:
    """In place: rows whose targets are not in their key's set take a pair drawn by count."""
    key, cols = rule["key"], rule["columns"]
    table = pd.DataFrame(rule["pairs"], columns=key + cols)
    table_keys = row_labels(table, key)
    row_keys = row_labels(frame, key)
    seen = row_labels(frame, key + cols).isin(set(row_labels(table, key + cols))).to_numpy()
    # pairs are sorted by key: each key's pairs are one block of the cumulative counts
    names, first = np.unique(table_keys.to_numpy(), return_index=True)
    block_start = np.sort(first)
    cum = np.cumsum(rule["counts"]).astype(np.float64)
    before = np.r_[0.0, cum][block_start]
    block_end = np.r_[block_start[1:], len(cum)]
    total = cum[block_end - 1] - before
    order = np.argsort(first)  # names[order[i]] is the key of block i
    block_of = pd.Series(np.arange(len(order)), index=names[order])
    block = block_of.reindex(row_keys.to_numpy()).to_numpy()
    redraw = ~seen & ~np.isnan(block)
    if not redraw.any():
        return
    b = block[redraw].astype(np.int64)
    pick = np.searchsorted(cum, before[b] + rng.random(len(b)) * total[b], side="right")
    pick = np.minimum(pick, block_end[b] - 1)
    for c in cols:
        values = frame[c].astype(str).to_numpy(dtype=object).copy()
        values[redraw] = table[c].astype(str).to_numpy(dtype=object)[pick]
        write_levels(frame, c, values, frame[c])


def describe(rule: dict) -> str:
    return (f"{', '.join(rule['columns'])} in the set of {', '.join(rule['key'])} "
            f"({len(rule['pairs'])} pairs)")
