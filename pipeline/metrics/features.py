"""Column roles from schema.json and the encodings the metrics share.

`model_matrix` feeds the tree classifiers (categoricals as integer codes flagged categorical,
datetimes as seconds, ids and constants dropped). HistGradientBoosting takes at most
`TREE_LEVELS` (255) levels per categorical feature, so a column with more keeps its
`TREE_LEVELS - 1` most frequent levels (frequency in the first, reference frame) and pools the
rest into one shared code; `row_keys` gives a hash per row for
exact-copy checks that does not depend on dtype details (int vs float, category vs object).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

NUMERIC_ROLES = ("numerical", "integer")
DISCRETE_ROLES = ("categorical", "boolean")
SKIP_ROLES = ("id", "constant")
TREE_LEVELS = 255  # sklearn HistGradientBoosting: categorical cardinality <= max_bins (255)


def roles(schema: dict[str, Any]) -> dict[str, str]:
    """column name -> role, in schema order."""
    return {c["name"]: c["role"] for c in schema["columns"]}


def usable_columns(schema: dict[str, Any], exclude: tuple[str, ...] = ()) -> list[str]:
    """Columns carrying information about a row: not ids, not constants, not `exclude`."""
    return [n for n, r in roles(schema).items() if r not in SKIP_ROLES and n not in exclude]


def as_float(series: pd.Series) -> np.ndarray:
    """Numeric or datetime column -> float64 (datetimes as epoch seconds), NaN for missing."""
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dt.tz_localize(None) if series.dt.tz is not None else series
        out = values.astype("int64").to_numpy(dtype=np.float64) / 1e9
        out[values.isna().to_numpy()] = np.nan
        return out
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64").to_numpy()
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


def as_text(series: pd.Series) -> pd.Series:
    """Discrete column -> strings, missing values kept as None (their own level)."""
    text = series.astype("string")
    return text.astype(object).where(text.notna(), None)


def model_matrix(frames: list[pd.DataFrame], schema: dict[str, Any],
                 exclude: tuple[str, ...] = ()
                 ) -> tuple[list[np.ndarray], list[bool], dict[str, dict[str, int]]]:
    """Encode several frames identically for HistGradientBoosting.

    Returns one float matrix per frame, the categorical-feature mask and the pooled columns
    ({column: {"levels": distinct levels over all frames, "kept": levels with their own
    code}}; empty when every column fits). Category codes are deterministic: up to
    TREE_LEVELS levels each get a code in sorted order; beyond that the TREE_LEVELS - 1 most
    frequent levels of frames[0] (ties by name) keep a code and every other level shares one.
    """
    cols = usable_columns(schema, exclude)
    role = roles(schema)
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    mask: list[bool] = []
    pooled: dict[str, dict[str, int]] = {}
    for col in cols:
        if role[col] in DISCRETE_ROLES:
            texts = [as_text(f[col]) for f in frames]
            levels = sorted(set().union(*(set(t.dropna()) for t in texts)))
            if len(levels) > TREE_LEVELS:
                levels = _top_levels(texts[0], levels, TREE_LEVELS - 1)
                pooled[col] = {"levels": len(set().union(*(set(t.dropna()) for t in texts))),
                               "kept": len(levels)}
            for block, text in zip(blocks, texts):
                codes = pd.Categorical(text, categories=levels).codes.astype(np.float64)
                if col in pooled:  # not kept (and present): the shared "other" code
                    codes[(codes < 0) & text.notna().to_numpy()] = len(levels)
                codes[codes < 0] = np.nan  # HGB treats NaN as missing, its own branch
                block.append(codes)
            mask.append(True)
        else:
            for block, frame in zip(blocks, frames):
                block.append(as_float(frame[col]))
            mask.append(False)
    mats = [np.column_stack(b) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames)]
    return mats, mask, pooled


def _top_levels(reference: pd.Series, levels: list[str], keep: int) -> list[str]:
    """The `keep` most frequent levels of `reference` (ties and unseen levels by name)."""
    counts = reference.value_counts().reindex(levels, fill_value=0)
    order = pd.DataFrame({"level": levels, "n": counts.to_numpy()})
    order = order.sort_values(["n", "level"], ascending=[False, True], kind="mergesort")
    return sorted(order["level"].head(keep).tolist())


def row_keys(frame: pd.DataFrame, schema: dict[str, Any]) -> np.ndarray:
    """uint64 hash per row over the non-id columns in a dtype-independent canonical form;
    positional: the frame's index plays no part (a filtered or sampled frame hashes its rows)."""
    role = roles(schema)
    cols = [n for n, r in role.items() if r != "id"]
    canon = {}
    for col in cols:
        if role[col] in DISCRETE_ROLES or role[col] == "constant":
            canon[col] = as_text(frame[col]).to_numpy()
        else:
            canon[col] = as_float(frame[col])
    table = pd.DataFrame(canon, index=pd.RangeIndex(len(frame)))
    return pd.util.hash_pandas_object(table, index=False).to_numpy()
