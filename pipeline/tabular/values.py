"""Conversions between a column's real values and the numbers the encoders work on.

`NumberCodec` maps numerical, integer and datetime columns to float64 (plus a missing mask) and
back, restoring rounding, range and dtype. `restore_dtype` casts decoded values to the schema's
pandas dtype (nullable variants when the column can hold missing values, so every generated
chunk has the same dtype). `json_value` turns numpy/pandas scalars into plain JSON values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import UserError

# Datetime resolutions tried from coarsest to finest: a date-only column is encoded in days and
# decodes to whole days exactly; a column with seconds in seconds, and so on.
_DATETIME_UNITS_NS = [86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3, 1]
_MAX_DECIMALS = 6


def row_labels(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    """One string per row for the values of `cols`, joined by a unit separator (how pair
    levels and stored keys are matched; `frame`'s index)."""
    out = frame[cols[0]].astype(str)
    for c in cols[1:]:
        out = out.str.cat(frame[c].astype(str), sep="\x1f")
    return out


def numbers(series: pd.Series) -> np.ndarray:
    """A column as float64, NaN where missing or not a number."""
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def json_value(value: Any) -> Any:
    """A plain JSON value (bool/int/float/str) for a scalar from numpy or pandas."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def _nullable_dtype(dtype: Any) -> Any:
    """The dtype that can also hold missing values: int64 -> Int64, bool -> boolean."""
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return pd.api.types.pandas_dtype(dtype.name.capitalize().replace("Uint", "UInt"))
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return pd.BooleanDtype()
    return dtype


def restore_dtype(values: np.ndarray, missing: np.ndarray | None, dtype: str, name: str,
                  categories: list | None = None) -> pd.Series:
    """Cast decoded `values` to the pandas `dtype` string; rows where `missing` is set become NA.

    `missing` is None when the column never has missing values; otherwise integer and boolean
    dtypes become their nullable variants (Int64, boolean) whether or not this chunk has any.
    """
    target = pd.api.types.pandas_dtype(dtype)
    if isinstance(target, pd.CategoricalDtype) or dtype == "category":
        out = pd.Categorical(values, categories=categories)
        if missing is not None:
            out[missing] = np.nan
        return pd.Series(out, name=name)
    if missing is None:
        return pd.Series(values, name=name).astype(target)
    target = _nullable_dtype(target)
    if isinstance(target, np.dtype) and target.kind == "f":
        arr = np.asarray(values, dtype=target).copy()
        arr[missing] = np.nan
        return pd.Series(arr, name=name)
    if isinstance(target, np.dtype) and target.kind == "O":
        arr = np.asarray(values, dtype=object).copy()
        arr[missing] = np.nan
        return pd.Series(arr, name=name, dtype=object)
    series = pd.Series(values, name=name).astype(target)
    return series.mask(pd.Series(missing, index=series.index))


def key_positions(keys: list, src: pd.Series) -> np.ndarray:
    """Index into `keys` (a lookup table's sorted keys) of every value of `src`; a numeric value
    the table lacks (between keys) takes the nearest key, any other unknown value 0."""
    numeric = pd.api.types.is_numeric_dtype(src) and not pd.api.types.is_bool_dtype(src)
    pos = pd.Index(keys).get_indexer(src.to_numpy() if numeric else src.to_numpy(dtype=object))
    if numeric and (pos < 0).any():
        k, x = np.asarray(keys, dtype=np.float64), src.to_numpy(dtype=np.float64)
        near = np.clip(np.searchsorted(k, x), 1, len(k) - 1)
        near -= (x - k[near - 1]) < (k[near] - x)
        pos = np.where(pos < 0, near, pos)
    return np.maximum(pos, 0)


def datetime_ns(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(int64 nanoseconds since the epoch in UTC, missing mask) for a datetime-like column."""
    s = series
    if not pd.api.types.is_datetime64_any_dtype(s):
        try:
            s = pd.to_datetime(s)
        except (ValueError, TypeError) as exc:
            raise UserError(f"column '{series.name}' is not a datetime: {exc}") from None
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    s = s.astype("datetime64[ns]")
    missing = s.isna().to_numpy()
    return s.to_numpy().view("int64"), missing


def _decimals(x: np.ndarray) -> int | None:
    """Fewest decimal places (<= 6) to which rounding gives back every value of `x` bit for
    bit, else None. Bit for bit, not to a tolerance: `2000 + 1/12` is within 1e-9 (relative)
    of its 6-decimal rounding, and a classifier splits on the 3e-7 difference when the column
    has few distinct values (txhousing `date`, nycflights13 `wind_speed`)."""
    for d in range(_MAX_DECIMALS + 1):
        if np.array_equal(np.round(x, d), x):
            return d
    return None


@dataclass
class NumberCodec:
    """Float view of a numerical/integer/datetime column and the rules to decode it.

    kind: "number", "integer" or "datetime". Datetimes become (ns - origin) / unit_ns with the
    coarsest unit that divides every value. Decoding rounds (integers, datetimes in their unit,
    numbers to the real data's decimal places when it has <= 6), clips to [lo, hi] (the real
    min/max in the float view) and casts to `dtype`.
    """

    name: str
    kind: str
    dtype: str
    lo: float
    hi: float
    decimals: int | None = None
    origin: int = 0
    unit_ns: int = 1

    @classmethod
    def fit(cls, series: pd.Series, role: str, dtype: str) -> "NumberCodec":
        """Learn range, resolution and rounding from the real (training) column."""
        name = str(series.name)
        if role == "datetime":
            ns, missing = datetime_ns(series)
            ns = ns[~missing]
            if not len(ns):
                raise UserError(f"column '{name}' has no datetimes to fit")
            unit = next(u for u in _DATETIME_UNITS_NS if np.all(ns % u == 0))
            origin = int(ns.min())
            return cls(name, "datetime", dtype, 0.0, float((int(ns.max()) - origin) // unit),
                       None, origin, int(unit))
        codec = cls(name, "integer" if role == "integer" else "number", dtype, 0.0, 0.0)
        x, missing = codec.to_float(series)
        x = x[~missing]
        if not len(x) or not np.isfinite(x).all():
            raise UserError(f"column '{name}' needs finite numbers to fit, and has "
                            f"{'none' if not len(x) else 'infinite values'}")
        codec.lo, codec.hi = float(x.min()), float(x.max())
        codec.decimals = 0 if role == "integer" else _decimals(x)
        return codec

    def to_float(self, series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(float64 values, missing mask); missing rows hold NaN."""
        if self.kind == "datetime":
            ns, missing = datetime_ns(series)
            x = ((ns - self.origin) // self.unit_ns).astype(np.float64)
            x[missing] = np.nan
            return x, missing
        try:
            x = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
        except (ValueError, TypeError) as exc:
            raise UserError(f"column '{self.name}' is not numeric: {exc}") from None
        return x, np.isnan(x)

    def from_float(self, x: np.ndarray, missing: np.ndarray | None) -> pd.Series:
        """Round, clip and cast float64 values back to the column's real dtype."""
        x = np.clip(np.asarray(x, dtype=np.float64), self.lo, self.hi)
        if self.decimals is not None:
            x = np.round(x, self.decimals)
        if self.kind == "datetime":
            ns = np.round(x).astype(np.int64) * self.unit_ns + self.origin
            return self._to_datetime(ns, missing)
        return restore_dtype(x, missing, self.dtype, self.name)

    def _to_datetime(self, ns: np.ndarray, missing: np.ndarray | None) -> pd.Series:
        values = ns.view("datetime64[ns]").copy()
        if missing is not None:
            values[missing] = np.datetime64("NaT")
        s = pd.Series(values, name=self.name)
        try:
            target = pd.api.types.pandas_dtype(self.dtype)
        except TypeError:
            return s
        if isinstance(target, pd.DatetimeTZDtype):
            return s.dt.tz_localize("UTC").dt.tz_convert(target.tz).astype(target)
        if isinstance(target, np.dtype) and target.kind == "M":
            return s.astype(target)
        return s  # the real column held datetime strings: give datetimes, not strings

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NumberCodec":
        return cls(**d)
