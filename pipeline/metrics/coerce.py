"""Bring a synthetic table to the real table's dtypes before scoring it.

Another tool's sample of the same table often has the right columns in other dtypes: integers
written as floats, categories as strings or numbers, booleans as "True"/0/1, datetimes as
text, a column that is entirely null. Each column is converted to the dtype of the real
(train) column; a value that cannot be converted (text in a numeric column, an unparseable
date, "maybe" in a boolean column) is a UserError naming the file, the column and an example.
Category levels are never dropped: an unseen level stays as it is, for validity to count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import UserError
from pipeline.metrics.features import roles

TRUE = {"true", "t", "yes", "y", "1", "1.0"}
FALSE = {"false", "f", "no", "n", "0", "0.0"}


def coerce_like(synthetic: pd.DataFrame, real: pd.DataFrame, schema: dict[str, Any],
                where: Path | str) -> tuple[pd.DataFrame, list[str]]:
    """`synthetic` with each column in `real`'s dtype; also one note per converted column."""
    out, notes = {}, []
    for col, role in roles(schema).items():
        s, target = synthetic[col], real[col].dtype
        if s.dtype == target:
            out[col] = s.reset_index(drop=True)
            continue
        converted = _convert(s.reset_index(drop=True), real[col], role, f"{where}: column {col!r}")
        out[col] = converted
        notes.append(f"{col}: {s.dtype} -> {converted.dtype}")
    return pd.DataFrame(out), notes


def _convert(s: pd.Series, real: pd.Series, role: str, label: str) -> pd.Series:
    target = real.dtype
    if s.isna().all():
        return _all_null(len(s), target)
    if pd.api.types.is_bool_dtype(target) or role == "boolean" and _is_boolish(real):
        return _to_bool(s, target, label)
    if pd.api.types.is_datetime64_any_dtype(target):
        return _to_datetime(s, target, label)
    if pd.api.types.is_numeric_dtype(target):
        return _to_number(s, target, label, strict=role != "id")
    return _to_text(s, target)


def _all_null(n: int, target: Any) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(target):
        return pd.Series(pd.NaT, index=range(n), dtype=target)
    if pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target):
        return pd.Series(np.nan, index=range(n), dtype="float64")
    return pd.Series([None] * n, dtype=object)


def _fail(label: str, s: pd.Series, bad: pd.Series, what: str) -> UserError:
    example = s[bad].iloc[0]
    return UserError(f"{label}: {int(bad.sum())} value(s) are not {what} (e.g. {example!r}); "
                     "the synthetic table cannot be scored against the real schema")


def _to_number(s: pd.Series, target: Any, label: str, strict: bool) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("float64")
    values = pd.to_numeric(s.astype(object) if s.dtype == "category" else s, errors="coerce")
    bad = values.isna() & s.notna()
    if bad.any():
        if not strict:  # ids are never scored; keep them readable rather than fail
            return s.astype("string").astype(object)
        raise _fail(label, s, bad, "numbers")
    values = values.astype("float64")
    integral = pd.api.types.is_integer_dtype(target)
    finite = values.dropna()
    if integral and not values.isna().any() and bool((finite == np.round(finite)).all()):
        return values.astype(target)
    return values


def _to_datetime(s: pd.Series, target: Any, label: str) -> pd.Series:
    values = pd.to_datetime(s, errors="coerce", utc=getattr(target, "tz", None) is not None)
    bad = values.isna() & s.notna()
    if bad.any():
        raise _fail(label, s, bad, "dates")
    if getattr(values.dt, "tz", None) is not None and getattr(target, "tz", None) is None:
        values = values.dt.tz_convert(None)
    return values.astype(target)


def _is_boolish(real: pd.Series) -> bool:
    text = set(real.dropna().astype(str).str.lower())
    return bool(text) and text <= TRUE | FALSE


def _to_bool(s: pd.Series, target: Any, label: str) -> pd.Series:
    text = s.astype("string").str.strip().str.lower()
    values = pd.Series(pd.NA, index=s.index, dtype="boolean")
    values[text.isin(TRUE)] = True
    values[text.isin(FALSE)] = False
    bad = values.isna() & s.notna()
    if bad.any():
        raise _fail(label, s, bad, "booleans (true/false, yes/no, 1/0)")
    if isinstance(target, pd.BooleanDtype):
        return values
    if pd.api.types.is_bool_dtype(target) and not values.isna().any():
        return values.astype(bool)
    return values.astype(object).where(values.notna(), None)


def _to_text(s: pd.Series, target: Any) -> pd.Series:
    """Categories as the real table writes them: 3.0 -> "3" when the number is whole."""
    if pd.api.types.is_float_dtype(s.dtype):
        whole = s.notna() & (s == np.round(s))
        text = s.astype(object).where(s.notna(), None)
        text[whole] = s[whole].astype("int64").astype(str)
        text[~whole & s.notna()] = s[~whole & s.notna()].astype(str)
    else:
        text = s.astype("string").astype(object).where(s.notna(), None)
    if isinstance(target, pd.CategoricalDtype):
        levels = list(target.categories) + sorted(set(text.dropna()) - set(target.categories))
        return pd.Series(pd.Categorical(text, categories=levels))
    if isinstance(target, pd.StringDtype):
        return text.astype(target)
    return text
