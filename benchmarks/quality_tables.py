"""Table operations of the quality benchmark: the independent baseline and dtype alignment.

`independent_sample` is the trivial baseline: every column drawn on its own from its real
training marginal (missing values included), so marginals are near perfect and every dependence
between columns is gone. It shows how far column shapes saturate: a tool must beat it on pair
trends, detection and utility, not on shapes.

`cast_like` turns a reference tool's output into the real table's dtypes (ctgan/SDV give floats
for integers, objects for strings, ...), so `synth evaluate` reads every tool's rows the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def independent_sample(train: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """`rows` rows; column j is train[j] resampled with replacement, independently of the rest."""
    rng = np.random.default_rng(seed)
    out = {}
    for column in train.columns:  # a loop over columns, each one vectorised over rows
        picks = rng.integers(0, len(train), size=rows)
        out[column] = train[column].iloc[picks].reset_index(drop=True)
    return pd.DataFrame(out, columns=train.columns)


def cast_like(synthetic: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """Synthetic rows with exactly the real columns (order kept) in the real columns' dtypes.

    Integer columns are rounded (float64 if the tool produced missing values there), datetimes
    parsed, booleans kept boolean, strings as str with missing values as None. A missing column
    is a ValueError naming it.
    """
    missing = [c for c in real.columns if c not in synthetic.columns]
    if missing:
        raise ValueError(f"synthetic table lacks columns {missing}")
    return pd.DataFrame({c: _cast(synthetic[c].reset_index(drop=True), real[c])
                         for c in real.columns}, columns=real.columns)


def _cast(values: pd.Series, real: pd.Series) -> pd.Series:
    dtype = real.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return pd.to_datetime(values, errors="coerce").astype(dtype)
    if pd.api.types.is_bool_dtype(dtype):
        if values.isna().any():
            return values.map(_to_bool).astype(object)
        return values.map(_to_bool).astype(bool)
    if pd.api.types.is_integer_dtype(dtype):
        numbers = pd.to_numeric(values, errors="coerce").round()
        return numbers.astype(dtype) if not numbers.isna().any() else numbers.astype("float64")
    if pd.api.types.is_float_dtype(dtype):
        return pd.to_numeric(values, errors="coerce").astype(dtype)
    # strings (object / string / category): the same text the real column holds
    text = values.map(lambda v: None if _isna(v) else _text(v))
    return text.astype(object)


def _isna(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _text(value) -> str:
    """'1' for 1 and 1.0 (a tool that read a code column as numbers), else str(value)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _to_bool(value):
    if _isna(value):
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)
