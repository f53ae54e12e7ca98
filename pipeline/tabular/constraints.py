"""Exact rules between numeric columns, found in the training table and kept in generated rows.

Real tables carry rules that hold in every row: a loan amount never exceeds the price
(`Amount <= Price`), a total is the sum of its parts (`bikers = casual + registered`), one
column is a function of another (`logwage = log(wage)`). A GAN only approximates them, and a
classifier spots every broken one. `discover` finds the kinds below on the training table, each
holding in 100 % of the rows where its columns are present (plus `datepart` rules, an integer
column that is a calendar part of a datetime column, found by `dateparts.py`, and `nested`
rules, a many-level category that belongs to one level of another, `nesting.py`; and `retime`
rules, a timestamp's hour set from another column before its parts are recomputed; `clock`
rules, an hh:mm column = another + a column of minutes, `clocks.py`; `lookup2` rules, a column
that a pair of discrete columns determines, `twokeys.py`; `lattice` rules, a column whose
values depend on the exact value of another, found after the residual fits by `lattices.py`;
`keyset` rules, columns that a key narrows to a few values, found last by `keysets.py`; the
order decoding applies rules and restores fits in is `decode_order.py`'s):

- derived: column B is a monotone function of column A (one B value per A value); decoding
  recomputes B from A by interpolating the real (A, B) pairs;
- linear: C = x A + y B + z (to float tolerance; a sum, or `date = year + month / 12 - 1/12`);
  decoding recomputes C;
- lookup: B (any non-missing numeric or discrete column) takes one value per value of A,
  where A repeats (day of year -> weekday, season, holiday); decoding looks B up from A;
- order: A <= B where that is not implied by the ranges alone (the two ranges overlap
  enough that independent draws break it at least `_MIN_ORDER_BREAK` of the time);
  generation keeps only rows that satisfy it (bounded rejection, `generate.iter_chunks`);
- together: A sits on its point mass exactly when B sits on its own (calm: wind direction 0
  when the wind speed is 0), kept by the same rejection.

A column that a derived/linear rule recomputes is never the source of another rule, so applying
them in order is well defined. Rules are plain JSON in the transformer state. Costs: pairs
and triples of numeric columns checked on a <= 2,000-row sample first, survivors on all rows.
"""

from __future__ import annotations

import dataclasses
from itertools import combinations, permutations
from typing import Any

import numpy as np
import pandas as pd

from pipeline.tabular import (clocks, dateparts, keysets, lattices, nesting, pairlattices, series,
                              twokeys)
from pipeline.tabular.values import json_value, key_positions, numbers

_PROBE_ROWS = 2000
_MAX_PAIRS = 5000  # a derived rule stores at most this many (A, B) knots
_MIN_ORDER_BREAK = 0.02
_MIN_MASS = 0.01  # a together rule's point masses hold at least this share of their rows
_MAX_COLUMNS = 40
_LOOKUP_ROWS_PER_KEY = 5  # beyond this many numeric columns only pairs are searched (no sums)


def _values(df: pd.DataFrame, cols: list[str]) -> dict[str, np.ndarray]:
    return {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64) for c in cols}


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= 1e-9 * np.maximum(1.0, np.abs(b))))


def _derived(a: np.ndarray, b: np.ndarray) -> dict | None:
    """Knots (x, y) when b is a monotone function of a on rows where both are present."""
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return None
    ok = ~np.isnan(a)
    x, y = a[ok], b[ok]
    xs, first = np.unique(x, return_index=True)
    if len(xs) < 3 or len(xs) > _MAX_PAIRS or len(np.unique(y)) < 3:
        return None
    order = np.argsort(x, kind="stable")
    sx, sy = x[order], y[order]
    same = sx[1:] == sx[:-1]
    if np.any(sy[1:][same] != sy[:-1][same]):
        return None  # one A value with several B values
    ys = y[first]
    dy = np.diff(ys)
    if not (np.all(dy > 0) or np.all(dy < 0)):
        return None
    return {"x": xs.tolist(), "y": ys.tolist()}


def _linear(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray | None:
    """(x, y, z) with c = x a + y b + z exactly on the probe rows (x, y != 0), else None.
    Coefficients within 1e-9 of an integer or a simple fraction are snapped to it."""
    ok = ~(np.isnan(a) | np.isnan(b) | np.isnan(c))
    if ok.sum() < 20 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return None
    design = np.column_stack([a[ok], b[ok], np.ones(ok.sum())])
    coef, *_ = np.linalg.lstsq(design, c[ok], rcond=None)
    for i, v in enumerate(coef):
        for den in (1, 2, 3, 4, 12, 100):
            if abs(v * den - round(v * den)) < 1e-9:
                coef[i] = round(v * den) / den
                break
    if abs(coef[0]) < 1e-12 or abs(coef[1]) < 1e-12:
        return None
    return coef if _close(design @ coef, c[ok]) else None


def _lookups(df: pd.DataFrame, schema: dict[str, Any], recomputed: set[str],
             parted: set[str]) -> list[dict]:
    """lookup rules: B takes one value per value of A (day of year -> weekday, season,
    holiday), where A repeats enough (>= _LOOKUP_ROWS_PER_KEY rows per value on average) for
    that to be evidence rather than A being nearly unique; neither column has missing values."""
    role = {c["name"]: c["role"] for c in schema["columns"]}
    usable = [c for c, r in role.items() if r in ("numerical", "integer", "categorical",
                                                    "boolean") and not df[c].isna().any()]
    codes = {c: pd.factorize(df[c], sort=True) for c in usable}
    n_values = {c: len(codes[c][1]) for c in usable}
    out: list[dict] = []
    sources: set[str] = set()
    for a in usable:
        if a in recomputed or not (3 <= n_values[a] <= _MAX_PAIRS) \
                or len(df) < _LOOKUP_ROWS_PER_KEY * n_values[a]:
            continue
        key = codes[a][0]
        for b in usable:
            if b == a or b in recomputed or b in parted or b in sources or n_values[b] < 2 \
                    or n_values[b] >= n_values[a]:
                continue
            # one b per a: the number of distinct (a, b) pairs equals the number of a values
            pairs = np.unique(key.astype(np.int64) * n_values[b] + codes[b][0])
            if len(pairs) != n_values[a]:
                continue
            first = pd.Series(codes[b][0]).groupby(key).first().to_numpy()
            keys = [json_value(v) for v in codes[a][1]]
            out.append({"kind": "lookup", "column": b, "source": a, "keys": keys,
                        "values": [json_value(codes[b][1][i]) for i in first]})
            recomputed.add(b)
            sources.add(a)
    return out



def discover(df: pd.DataFrame, schema: dict[str, Any]) -> list[dict]:
    """Rules that hold on every row of `df` (the training split) between its numeric columns.
    Datepart rules come first: their columns are recomputed before any rule reads them, so
    they may be the sources of later rules (flights: `sched_dep_time = 100 hour + minute`)."""
    rules: list[dict] = dateparts.discover(df, schema)
    # retime rules first: they move a timestamp before its parts are recomputed from it
    rules = dateparts.retimes(df, schema, rules) + rules
    rules += clocks.discover(df, schema, {r["column"] for r in rules})
    fixed = {r["column"] for r in rules} | {r["source"] for r in rules if r["kind"] == "retime"} \
        | {r[k] for r in rules if r["kind"] == "clock" for k in ("start", "minutes")}
    rules += _numeric_rules(df, schema, fixed)
    # two-column lookups next (an order rule only filters rows, so its columns may take part),
    # nested rules last: they redraw a child after its parent has its final value
    rules += twokeys.discover(df, schema, columns([r for r in rules if r["kind"] != "order"]))
    return rules + nesting.discover(df, schema, columns(rules))


def columns(rules: list[dict]) -> set[str]:
    """Every column that `rules` read or recompute."""
    return {r["column"] for r in rules if "column" in r} | {
        v for r in rules for k in ("source", "sources", "parts", "low", "high", "start",
                                   "minutes") if k in r
        for v in (r[k] if isinstance(r[k], list) else [r[k]])}


def writes(rule: dict) -> set[str]:
    """The columns a rule sets in decoded rows (none for the row filters)."""
    return set() if rule["kind"] in FILTERS else set(rule.get("columns") or [rule["column"]])


def reads(rule: dict) -> set[str]:
    """The columns whose decoded values a rule reads (a filter: the columns it checks)."""
    used = columns([rule]) | set(rule.get("columns") or []) | set(rule.get("key") or []) \
        | ({rule["parent"]} if "parent" in rule else set())
    return used - writes(rule)


def _numeric_rules(df: pd.DataFrame, schema: dict[str, Any], parted: set[str]) -> list[dict]:
    """derived, lookup, linear and order rules; `parted` columns (datepart rules) are never
    recomputed again but may be sources."""
    cols = [c["name"] for c in schema["columns"] if c["role"] in ("numerical", "integer")]
    rules: list[dict] = []
    if len(cols) < 2 or len(df) < 20:
        return rules
    full = _values(df, cols)
    probe_idx = np.random.default_rng(0).choice(len(df), min(len(df), _PROBE_ROWS),
                                                replace=False)
    probe = {c: v[probe_idx] for c, v in full.items()}
    recomputed: set[str] = set()
    for a, b in permutations(cols, 2):
        if b in recomputed or b in parted or a in recomputed:
            continue
        if _derived(probe[a], probe[b]) is None:
            continue
        knots = _derived(full[a], full[b])
        if knots is not None:
            rules.append({"kind": "derived", "column": b, "source": a, **knots})
            recomputed.add(b)
    for rule in _lookups(df, schema, recomputed, parted):
        rules.append(rule)
        recomputed.add(rule["column"])
    if len(cols) <= _MAX_COLUMNS:
        for a, b in combinations(cols, 2):
            for c in cols:
                if c in (a, b) or c in recomputed or c in parted or a in recomputed \
                        or b in recomputed:
                    continue
                coef = _linear(probe[a], probe[b], probe[c])
                if coef is None:
                    continue
                fa, fb, fc = full[a], full[b], full[c]
                if not np.array_equal(np.isnan(fa) | np.isnan(fb), np.isnan(fc)):
                    continue
                ok = ~np.isnan(fc)
                if _close(coef[0] * fa[ok] + coef[1] * fb[ok] + coef[2], fc[ok]):
                    rules.append({"kind": "linear", "column": c, "parts": [a, b],
                                  "coef": [float(v) for v in coef]})
                    recomputed.add(c)
    shuffle = np.random.default_rng(1)
    for a, b in permutations(cols, 2):
        fa, fb = full[a], full[b]
        both = ~np.isnan(fa) & ~np.isnan(fb)
        if both.sum() < 20 or not np.all(fa[both] <= fb[both]):
            continue
        # Would independent draws break it? (else the ranges alone keep it; nothing to learn)
        broken = np.mean(shuffle.permutation(fa[both]) > fb[both])
        if broken >= _MIN_ORDER_BREAK and not (a in recomputed and b in recomputed):
            rules.append({"kind": "order", "low": a, "high": b})
    return rules + _together(full, cols, recomputed, shuffle)


def _together(full: dict[str, np.ndarray], cols: list[str], recomputed: set[str],
              shuffle: np.random.Generator) -> list[dict]:
    """together rules: A takes its point mass exactly when B takes its own (nyc_weather: wind
    direction 0 exactly when the wind speed is 0, calm, in all 898 such training rows; a GAN
    broke it in 6.9 % of its rows). A point mass: the column's smallest or most common value,
    in >= _MIN_MASS of its rows; checked like an order rule (held in every row where both are
    present, broken by independent draws at least _MIN_ORDER_BREAK of the time)."""
    masses: dict[str, list[float]] = {}
    for c in cols:
        v = full[c][~np.isnan(full[c])]
        if c in recomputed or len(v) < 20:
            continue
        values, counts = np.unique(v, return_counts=True)
        if len(values) >= 3:
            masses[c] = [values[i] for i in {0, int(np.argmax(counts))}
                         if counts[i] >= _MIN_MASS * len(v)]
    rules = []
    for a, b in combinations([c for c in masses if masses[c]], 2):
        both = ~np.isnan(full[a]) & ~np.isnan(full[b])
        if both.sum() < 20:
            continue
        for va in masses[a]:
            for vb in masses[b]:
                at_a, at_b = full[a][both] == va, full[b][both] == vb
                if np.array_equal(at_a, at_b) and \
                        np.mean(shuffle.permutation(at_a) != at_b) >= _MIN_ORDER_BREAK:
                    rules.append({"kind": "together", "columns": [a, b],
                                  "values": [json_value(va), json_value(vb)]})
    return rules


def _recomputed(frame: pd.DataFrame, rule: dict) -> np.ndarray:
    """The values a datepart, clock, derived or linear rule gives its column, from the decoded
    sources."""
    if rule["kind"] == "datepart":
        return dateparts.parts_of(frame[rule["source"]], rule["zone"], rule["part"])
    if rule["kind"] == "derived":
        return np.interp(numbers(frame[rule["source"]]), rule["x"], rule["y"])
    if rule["kind"] == "clock":
        return clocks.recompute(frame, rule)
    (a, b), (x, y, z) = rule["parts"], rule["coef"]
    return x * numbers(frame[a]) + y * numbers(frame[b]) + z


def apply(frame: pd.DataFrame, rules: list[dict], codecs: dict[str, Any],
          rng: np.random.Generator | None = None) -> pd.DataFrame:
    """Recompute the columns of retime, datepart, clock, derived, linear, lookup, nested,
    lattice, lattice2, keyset and series rules in decoded rows, in place; numeric results go
    through the column's codec (`codecs` = name -> NumericColumn) so its rounding and dtype
    stay its own. Returns `frame`."""
    for rule in rules:
        if rule["kind"] == "lookup":
            _apply_lookup(frame, rule)
        elif rule["kind"] == "retime":
            dateparts.retime(frame, rule)
        elif rule["kind"] == "lookup2":
            twokeys.apply(frame, rule)
        elif rule["kind"] == "nested":
            nesting.apply(frame, rule, rng if rng is not None else np.random.default_rng(0))
        elif rule["kind"] == "lattice":
            lattices.snap(frame, rule, rng if rng is not None else np.random.default_rng(0))
        elif rule["kind"] == "keyset":
            keysets.apply(frame, rule, rng if rng is not None else np.random.default_rng(0))
        elif rule["kind"] == "lattice2":
            pairlattices.snap(frame, rule, rng if rng is not None else np.random.default_rng(0))
        elif rule["kind"] == "series":
            series.apply(frame, rule, rng if rng is not None else np.random.default_rng(0))
        elif rule["kind"] in ("datepart", "clock", "derived", "linear"):
            values = _recomputed(frame, rule)
            column = codecs[rule["column"]]
            missing = np.isnan(values)
            # The column's rounding and dtype, not its range clip: a clipped total breaks
            # the sum.
            unclipped = dataclasses.replace(column.codec, lo=-np.inf, hi=np.inf)
            frame[rule["column"]] = unclipped.from_float(
                np.where(missing, 0.0, values), missing if column.has_missing else None).values
    return frame


def _apply_lookup(frame: pd.DataFrame, rule: dict) -> None:
    """B = table[A]; a numeric A value the table lacks (between keys) takes the nearest key's
    entry."""
    pos = key_positions(rule["keys"], frame[rule["source"]])
    mapped = np.asarray(rule["values"], dtype=object)[pos]
    target = frame[rule["column"]]
    if isinstance(target.dtype, pd.CategoricalDtype):
        frame[rule["column"]] = pd.Categorical(mapped, categories=target.cat.categories)
    else:
        frame[rule["column"]] = pd.Series(mapped, index=frame.index).astype(target.dtype)


def satisfied(frame: pd.DataFrame, rules: list[dict]) -> np.ndarray:
    """Boolean mask of rows that keep every order and together rule (missing values never
    break one)."""
    ok = np.ones(len(frame), dtype=bool)
    for rule in rules:
        if rule["kind"] == "order":
            ok &= ~(numbers(frame[rule["low"]]) > numbers(frame[rule["high"]]))
        elif rule["kind"] == "together":
            (a, b), (va, vb) = rule["columns"], rule["values"]
            x, y = numbers(frame[a]), numbers(frame[b])
            ok &= np.isnan(x) | np.isnan(y) | ((x == va) == (y == vb))
    return ok


FILTERS = ("order", "together")  # rules that generation keeps by redrawing rows


def describe(rule: dict) -> str:
    """One readable line per rule (logs and docs)."""
    if rule["kind"] == "derived":
        return f"{rule['column']} = f({rule['source']}) (monotone, {len(rule['x'])} knots)"
    if rule["kind"] == "lookup":
        return f"{rule['column']} = table[{rule['source']}] ({len(rule['keys'])} keys)"
    if rule["kind"] == "nested":
        return f"{rule['column']} nested in {rule['parent']} ({len(rule['levels'])} levels)"
    if rule["kind"] == "datepart":
        return f"{rule['column']} = {rule['part']} of {rule['source']} ({rule['zone'] or 'UTC'})"
    if rule["kind"] == "lattice":
        return lattices.describe(rule)
    if rule["kind"] == "keyset":
        return keysets.describe(rule)
    if rule["kind"] == "series":
        return series.describe(rule)
    if rule["kind"] == "lattice2":
        return pairlattices.describe(rule)
    if rule["kind"] == "lookup2":
        a, b = rule["sources"]
        return f"{rule['column']} = table[{a}, {b}] ({len(rule['keys'])} keys)"
    if rule["kind"] == "clock":
        return f"{rule['column']} = {rule['start']} + {rule['minutes']} minutes (hh:mm clock)"
    if rule["kind"] == "retime":
        return (f"hour of {rule['column']} ({rule['zone'] or 'UTC'}) = table[{rule['source']}] "
                f"({len(rule['keys'])} keys)")
    if rule["kind"] == "linear":
        (a, b), (x, y, z) = rule["parts"], rule["coef"]
        term = lambda k, n: n if k == 1 else f"{k:g} {n}"  # noqa: E731
        out = f"{rule['column']} = {term(x, a)} + {term(y, b)}"
        return out + (f" {'-' if z < 0 else '+'} {abs(z):g}" if z else "")
    if rule["kind"] == "together":
        (a, b), (va, vb) = rule["columns"], rule["values"]
        return f"{a} = {va:g} exactly when {b} = {vb:g}"
    return f"{rule['low']} <= {rule['high']}"
