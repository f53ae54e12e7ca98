"""Nested categories: a many-level column whose every level belongs to one level of another.

flights' `tailnum` (4,043 aircraft) belongs to one `carrier` each (99.7 % of rows; a few
aircraft changed hands). The GAN cannot learn 4,000 one-hot slots (the rare ones share a
pooled bucket drawn by frequency), so a generated row pairs a Delta aircraft with United, and
a classifier sees it at once. A `nested` rule records, for the child column, each level's
parent level and each parent level's children with their frequencies; decoding keeps the
generated child where it belongs to the generated parent and otherwise draws a child of that
parent by frequency (seeded), so child and parent always agree.

Found on the training table when the child has at least `_MIN_LEVELS` levels and at least
`_PURITY` of its non-missing rows sit under their level's majority parent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_MIN_LEVELS = 50
_PURITY = 0.99
_DISCRETE = ("categorical", "boolean")


def discover(df: pd.DataFrame, schema: dict[str, Any], taken: set[str]) -> list[dict]:
    """nested rules on `df`; `taken` columns (recomputed by other rules) are never children."""
    roles = {c["name"]: c["role"] for c in schema["columns"]}
    discrete = [c for c, r in roles.items() if r in _DISCRETE]
    rules: list[dict] = []
    for child in discrete:
        levels = df[child].nunique()
        if child in taken or levels < _MIN_LEVELS:
            continue
        best = None
        for parent in discrete:
            if parent == child or df[parent].isna().any() or df[parent].nunique() < 2 \
                    or df[parent].nunique() >= levels:
                continue
            rows = df[[child, parent]].dropna().astype(str)
            counts = rows.groupby([child, parent]).size()
            majority = counts.groupby(level=0).max()
            purity = majority.sum() / len(rows)
            if purity >= _PURITY and (best is None or purity > best[0]):
                best = (purity, parent, counts)
        if best is None:
            continue
        _, parent, counts = best
        rules.append(_rule(child, parent, counts))
        taken.add(child)
    return rules


def _rule(child: str, parent: str, counts: pd.Series) -> dict:
    """Each child level's majority parent ("owner"), and per parent its own levels with their
    row frequencies (a level that sometimes sits under another parent is drawn only under its
    owner, so a redrawn child always agrees)."""
    frame = counts.rename("n").reset_index()
    top = frame.sort_values(["n", child, parent], ascending=[False, True, True]) \
        .drop_duplicates(child).sort_values(child)
    total = frame.groupby(child)["n"].sum()
    top = top.assign(n=total.reindex(top[child]).to_numpy())
    children: dict[str, list] = {}
    for p, group in top.groupby(parent, sort=True):
        children[str(p)] = [group[child].tolist(), (group["n"] / group["n"].sum()).tolist()]
    return {"kind": "nested", "column": child, "parent": parent,
            "levels": top[child].tolist(), "owners": top[parent].tolist(),
            "children": children}


def apply(frame: pd.DataFrame, rule: dict, rng: np.random.Generator) -> None:
    """Redraw, in place, the child of every row whose child level is not one of its parent's."""
    child, parent = frame[rule["column"]], frame[rule["parent"]].astype(str).to_numpy()
    text = child.astype(str).to_numpy()
    owner = pd.Series(rule["owners"], index=rule["levels"]).reindex(text).to_numpy()
    wrong = child.notna().to_numpy() & (owner != parent)
    if not wrong.any():
        return
    values = child.to_numpy(dtype=object).copy()
    for p in np.unique(parent[wrong]):
        if p not in rule["children"]:
            continue
        rows = np.flatnonzero(wrong & (parent == p))
        names, freq = rule["children"][p]
        cum = np.cumsum(freq)
        pick = np.searchsorted(cum, rng.random(len(rows)) * cum[-1], side="right")
        values[rows] = np.asarray(names, dtype=object)[np.minimum(pick, len(names) - 1)]
    write_levels(frame, rule["column"], values, child)


def write_levels(frame: pd.DataFrame, name: str, text_values: np.ndarray,
                 old: pd.Series) -> None:
    """Write string levels back in the column's own dtype (categorical, object, numbers)."""
    if isinstance(old.dtype, pd.CategoricalDtype):
        cats = old.cat.categories
        lookup = pd.Series(cats, index=cats.astype(str))
        frame[name] = pd.Categorical(lookup.reindex(text_values.astype(str)).to_numpy(),
                                     categories=cats)
    elif pd.api.types.is_numeric_dtype(old.dtype) or pd.api.types.is_bool_dtype(old.dtype):
        frame[name] = pd.Series(pd.to_numeric(pd.Series(text_values, dtype=object)),
                                index=frame.index).astype(old.dtype)
    else:
        frame[name] = pd.Series(text_values, index=frame.index, dtype=old.dtype)
