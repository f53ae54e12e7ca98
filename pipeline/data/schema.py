"""Column roles and the `schema.json` profile of a table, plus its sdmetrics metadata form.

`infer_roles` decides each column's role (numerical, integer, categorical, boolean, datetime,
id, constant) on the whole table, applying `prepare.columns` overrides; `coerce` converts
columns to the dtype their role needs (date strings -> datetime64); `build_schema` writes the
statistics (missing rate, min/max, category counts) of a table, normally the train split;
`to_sdmetrics_metadata` turns a schema into sdmetrics' unified metadata. The rules are
documented in docs/datasets.md.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.tseries.api import guess_datetime_format

from pipeline.errors import UserError
from pipeline.log import logger

SCHEMA_VERSION = 1
ROLES = ("numerical", "integer", "categorical", "boolean", "datetime", "id", "constant")
ID_MIN_ROWS = 50  # below this, "every value is unique" says nothing about keys
ID_MAX_SPAN = 2.0  # integer keys are dense: max - min + 1 <= ID_MAX_SPAN * rows
DATE_SAMPLE = 500  # object columns are tested as dates on this many non-null values
DATE_MARKERS = r"[-/:]"  # a date string has a separator; "2001" alone stays a number/category
DATE_MIN_PARSED = 0.5  # a date column needs more than this share of its values to parse
DATE_GUESSES = 5  # formats are guessed from this many date-like values


def infer_roles(df: pd.DataFrame, overrides: dict[str, str] | None = None,
                labels: dict[str, str] | None = None) -> dict[str, str]:
    """Role of every column, in column order; overrides win but must fit the data.

    `labels` names where a column's override came from in errors (default
    `prepare.columns.<column>`)."""
    overrides, labels = overrides or {}, labels or {}
    for column, role in overrides.items():
        if column not in df.columns:
            raise UserError(f"prepare.columns names column '{column}', which is not in the table")
        if role not in ROLES:
            raise UserError(f"prepare.columns.{column}: unknown role '{role}' "
                            f"(choose from {', '.join(ROLES)})")
    roles = {}
    for column in df.columns:
        if column in overrides:
            _check_override(df[column], labels.get(column, f"prepare.columns.{column}"),
                            overrides[column])
            roles[column] = overrides[column]
        else:
            roles[column] = infer_role(df[column])
    return roles


def infer_role(col: pd.Series) -> str:
    """The role of one column from its values alone (the name is never used)."""
    return explain_role(col)[0]


def explain_role(col: pd.Series) -> tuple[str, str]:
    """(role, why) for one column from its values alone; `synth inspect` prints the why."""
    values = col.dropna()
    if len(values) == len(col) and values.nunique() == 1:
        return "constant", "the same value in every row"
    if ptypes.is_bool_dtype(col) or _all_bools(values):
        return "boolean", "only True/False values"
    if ptypes.is_datetime64_any_dtype(col):
        return "datetime", f"stored as dates ({col.dtype})"
    if ptypes.is_numeric_dtype(col):
        if ptypes.is_integer_dtype(col):
            if _is_integer_key(col):
                return "id", ("unique, complete, dense integers (a row number or key; "
                              "override with prepare.columns if it is a quantity)")
            return "integer", "whole numbers"
        if _integral(values):
            return "integer", "whole numbers (stored as floats, e.g. with missing values)"
        return "numerical", "numbers with fractions"
    fmt = _date_format(values)
    if fmt is not None and _parsed_share(values, fmt) > DATE_MIN_PARSED:
        return "datetime", f"text that parses as dates ({fmt})"
    if _is_string_key(col):
        return "id", "unique, complete text values: nothing to learn as categories"
    return "categorical", f"{values.nunique()} distinct text values"


def coerce(df: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    """Copy of df with each column in a dtype its role and Parquet can hold: datetime-role
    strings parsed (vectorised, one inferred format), object True/False/None as nullable
    `boolean`, and mixed-type objects (e.g. numbers and text in one CSV column) as strings."""
    out = df.copy()
    for column, role in roles.items():
        col = out[column]
        if role == "datetime" and not ptypes.is_datetime64_any_dtype(col):
            out[column] = _parse_dates(col, column)
        elif col.dtype == object and role == "boolean" and _all_bools(col.dropna()):
            out[column] = col.astype("boolean")
        elif col.dtype == object and ptypes.infer_dtype(col, skipna=True) not in (
                "string", "empty", "boolean"):
            out[column] = col.where(col.isna(), col.astype(str))
    return out


def build_schema(df: pd.DataFrame, roles: dict[str, str], dataset: str,
                 target: str | None = None, dropped: list[str] | None = None) -> dict[str, Any]:
    """The `schema.json` dict (docs/architecture.md) describing df's columns under roles."""
    return {
        "version": SCHEMA_VERSION,
        "dataset": dataset,
        "n_rows": int(len(df)),
        "target": target,
        "dropped": list(dropped or []),
        "columns": [_describe(df[c], c, roles[c]) for c in df.columns],
    }


METADATA_SPEC_VERSION = "V1"  # read by sdmetrics and by SDV 1.x and 2.x `Metadata`


def to_sdmetrics_metadata(schema: dict[str, Any]) -> dict[str, Any]:
    """The table's metadata in the form sdmetrics and SDV's `Metadata.load_from_dict` read:
    `{"METADATA_SPEC_VERSION": "V1", "tables": {"table": {...}}, "relationships": []}`.

    No `computer_representation` (SDV 2 rejects it; sdmetrics' reports do not use it): the
    integer/float distinction lives in schema.json."""
    columns: dict[str, dict[str, str]] = {}
    primary_key = None
    for col in schema["columns"]:
        role = col["role"]
        if role in ("numerical", "integer"):
            columns[col["name"]] = {"sdtype": "numerical"}
        elif role == "datetime":
            entry = {"sdtype": "datetime"}
            if not col["dtype"].startswith("datetime64"):
                entry["datetime_format"] = "%Y-%m-%dT%H:%M:%S"
            columns[col["name"]] = entry
        elif role == "id":
            columns[col["name"]] = {"sdtype": "id"}
            primary_key = primary_key or col["name"]
        elif role == "boolean":
            columns[col["name"]] = {"sdtype": "boolean"}
        else:  # categorical, constant
            columns[col["name"]] = {"sdtype": "categorical"}
    table: dict[str, Any] = {"columns": columns}
    if primary_key is not None:
        table["primary_key"] = primary_key
    return {"METADATA_SPEC_VERSION": METADATA_SPEC_VERSION, "tables": {"table": table},
            "relationships": []}


def _describe(col: pd.Series, name: str, role: str) -> dict[str, Any]:
    """One entry of schema["columns"]."""
    entry: dict[str, Any] = {"name": name, "role": role, "dtype": str(col.dtype),
                             "missing_rate": round(float(col.isna().mean()), 6)}
    values = col.dropna()
    if role in ("numerical", "integer") and len(values):
        cast = int if role == "integer" else float
        entry["min"], entry["max"] = cast(values.min()), cast(values.max())
    elif role == "datetime" and len(values):
        entry["min"], entry["max"] = values.min().isoformat(), values.max().isoformat()
    elif role in ("categorical", "boolean"):
        keys = values.map(_bool_key) if role == "boolean" else values.astype(str)
        counts = keys.value_counts()
        entry["categories"] = {str(k): int(v) for k, v in counts[counts > 0].items()}
    elif role == "constant":
        entry["value"] = _plain(values.iloc[0]) if len(values) else None
    return entry


def _check_override(col: pd.Series, where: str, role: str) -> None:
    """Reject overrides the data cannot honour (they would fail later, less clearly)."""
    values = col.dropna()
    if role in ("numerical", "integer") and not ptypes.is_numeric_dtype(col):
        raise UserError(f"{where}: role '{role}' needs numbers, "
                        f"column has dtype {col.dtype}")
    if role == "integer" and not _integral(values):
        raise UserError(f"{where}: role 'integer' but the column has fractions")
    if role == "boolean" and values.nunique() > 2:
        raise UserError(f"{where}: role 'boolean' but the column has "
                        f"{values.nunique()} distinct values")
    if role == "constant" and col.nunique(dropna=False) > 1:
        raise UserError(f"{where}: role 'constant' but the column has "
                        "more than one value")
    if role == "datetime" and not ptypes.is_datetime64_any_dtype(col):
        _parse_dates(col, str(col.name), warn=False)


def _all_bools(values: pd.Series) -> bool:
    """Object column holding only True/False (a bool column with missing values)."""
    return (values.dtype == object and len(values) > 0
            and ptypes.infer_dtype(values, skipna=True) == "boolean")


def _integral(values: pd.Series) -> bool:
    """Non-empty numeric values that are all whole numbers (ints read as float due to NaN)."""
    if not len(values):
        return False
    arr = values.to_numpy(dtype="float64")
    return bool(np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))


def _is_integer_key(col: pd.Series) -> bool:
    """Unique, complete and dense integers (row numbers, sequential keys)."""
    n = len(col)
    if n < ID_MIN_ROWS or col.isna().any() or not col.is_unique:
        return False
    span = float(col.max()) - float(col.min()) + 1
    return span <= ID_MAX_SPAN * n


def _is_string_key(col: pd.Series) -> bool:
    """Unique and complete strings: nothing to learn as categories, so it is an identifier."""
    return len(col) >= ID_MIN_ROWS and not col.isna().any() and col.is_unique


def _date_format(values: pd.Series) -> str | None:
    """The strftime format that parses most of a sample of string values, or None.

    Most sample values must look like dates (hold a separator) and more than DATE_MIN_PARSED
    of them must parse; the format parsing the most wins (a few bad values do not matter)."""
    if not len(values) or ptypes.infer_dtype(values.iloc[:DATE_SAMPLE]) != "string":
        return None
    sample = values.iloc[:DATE_SAMPLE].astype(str)
    datelike = sample.str.contains(DATE_MARKERS)
    if not datelike.mean() > DATE_MIN_PARSED:
        return None
    best, best_share = None, DATE_MIN_PARSED
    for fmt in _candidate_formats(sample[datelike]):
        share = _parsed_share(sample, fmt)
        if share > best_share:
            best, best_share = fmt, share
        if share == 1.0:
            break
    return best


def _parsed_share(values: pd.Series, fmt: str) -> float:
    """Share of (non-null) values that parse as dates in `fmt`."""
    parsed = pd.to_datetime(values.astype(str), format=fmt, errors="coerce")
    return float(parsed.notna().mean()) if len(values) else 0.0


def _candidate_formats(sample: pd.Series) -> list[str]:
    """ISO 8601 when the values start with a 4-digit year, then the formats pandas guesses
    from the first date-like values, month-first and day-first, if they have a 4-digit year
    (so "10-20" age bands never become dates)."""
    formats = []
    if bool(sample.str.match(r"\s*\d{4}-").mean() > DATE_MIN_PARSED):
        formats.append("ISO8601")
    for dayfirst in (False, True):  # "01/02/2020" is ambiguous: the sample decides
        for value in sample.iloc[:DATE_GUESSES]:
            with warnings.catch_warnings():  # pandas warns when dayfirst cannot apply
                warnings.simplefilter("ignore", UserWarning)
                guessed = guess_datetime_format(value, dayfirst=dayfirst)
            if guessed and "%Y" in guessed and guessed not in formats:
                formats.append(guessed)
    return formats


def _parse_dates(col: pd.Series, name: str, warn: bool = True) -> pd.Series:
    """Parse a whole column with the format found on its sample. Values that do not parse
    become missing (logged with a count) unless most fail: then it is a UserError."""
    values = col.dropna()
    fmt = _date_format(values.astype(str)) if len(values) else "ISO8601"
    if fmt is None:
        raise UserError(f"column '{name}' cannot be parsed as dates")
    parsed = pd.to_datetime(col.where(col.isna(), col.astype(str)), format=fmt,
                            errors="coerce")
    bad = parsed.isna() & col.notna()
    n_bad = int(bad.sum())
    if n_bad and not n_bad < (1.0 - DATE_MIN_PARSED) * len(values):
        raise UserError(f"column '{name}' cannot be parsed as dates: {n_bad} of {len(values)} "
                        f"values are not dates in format {fmt} (e.g. '{col[bad].iloc[0]}')")
    if n_bad and warn:
        logger.warning("column '%s': %d of %d values are not dates in format %s (e.g. %r); "
                       "they become missing", name, n_bad, len(values), fmt, col[bad].iloc[0])
    return parsed


def _bool_key(value: Any) -> str:
    return "true" if bool(value) else "false"


def _plain(value: Any) -> Any:
    """A JSON-able Python scalar for a constant's value."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
