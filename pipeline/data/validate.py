"""Loading the real table and rejecting what the pipeline cannot use, before anything is written.

`load_source` reads `prepare.dataset` (a built-in name or a .csv/.parquet path, checking the raw
header for duplicate names that pandas would silently rename); `validate_table` checks the
table against the prepare params and applies the all-null policy. Every problem is a one-line
UserError naming the file, column or key.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from pipeline.config import CsvParams, PrepareParams
from pipeline.data.csvformat import CsvFormat, detect_format, read_header
from pipeline.data.registry import DATASETS, load_dataset
from pipeline.errors import UserError
from pipeline.io import TABLE_SUFFIXES, read_table
from pipeline.log import logger

MIN_ROWS = 2  # one row for training and one for the holdout
NOTHING_TO_LEARN = ("id", "constant")  # roles the transformer gives no span


def load_source(dataset: str, csv_params: CsvParams | None = None) -> pd.DataFrame:
    """The table named by `prepare.dataset`: a built-in name, else a CSV/Parquet path (a CSV's
    encoding and delimiter from `prepare.csv`, else detected: data/csvformat.py)."""
    if dataset in DATASETS:
        return load_dataset(dataset)
    path = Path(dataset)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise UserError(f"prepare.dataset '{dataset}' is neither a built-in dataset "
                        f"({', '.join(DATASETS)}) nor a .csv/.parquet file")
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    fmt = detect_format(path, csv_params) if TABLE_SUFFIXES[path.suffix.lower()] == "csv" else None
    _check_raw_header(path, fmt)
    df = read_table(path, fmt.read_csv_kwargs() if fmt else None)
    return df.rename(columns=_strip_bom)


def validate_table(df: pd.DataFrame, params: PrepareParams,
                   source: str) -> tuple[pd.DataFrame, list[str]]:
    """Check df against params; return it without all-null columns, and their names."""
    if df.shape[1] == 0 or len(df) == 0:
        raise UserError(f"{source}: the table is empty ({len(df)} rows, {df.shape[1]} columns)")
    if len(df) < MIN_ROWS:
        raise UserError(f"{source}: the table has a single row; need at least {MIN_ROWS} "
                        "to hold one out")
    names = [str(c) for c in df.columns]
    duplicates = _duplicates(names)
    if duplicates:
        raise UserError(f"{source}: duplicate column name(s): {', '.join(duplicates)}")
    df = df.set_axis(names, axis=1)
    if params.target is not None and params.target not in df.columns:
        raise UserError(f"prepare.target '{params.target}' is not a column of {source}")
    unknown = [c for c in params.columns if c not in df.columns]
    if unknown:
        raise UserError(f"prepare.columns names column(s) not in {source}: {', '.join(unknown)}")
    infinite = [c for c in df.columns if ptypes.is_float_dtype(df[c])
                and bool(np.isinf(df[c].to_numpy(dtype="float64", na_value=np.nan)).any())]
    if infinite:
        raise UserError(f"{source}: infinite values in column(s): {', '.join(infinite)}")
    return _drop_all_null(df, params, source)


def require_modelable(roles: dict[str, str], source: str, target: str | None = None) -> None:
    """A table whose columns are all ids or constants leaves the GAN nothing to learn, and a
    target that is an id or a constant leaves nothing to predict (ML utility, stratifying)."""
    if target is not None and roles.get(target) in NOTHING_TO_LEARN:
        kind = "an id" if roles[target] == "id" else "a constant"
        raise UserError(f"prepare.target '{target}' is {kind}"
                        f" column of {source}: nothing to predict (choose another or null)")
    if any(role not in NOTHING_TO_LEARN for role in roles.values()):
        return
    shown = ", ".join(f"{c} ({r})" for c, r in list(roles.items())[:5])
    more = ", ..." if len(roles) > 5 else ""
    hint = (" (one column: is the file delimited by something else? set prepare.csv.sep)"
            if len(roles) == 1 else "")
    raise UserError(f"{source}: nothing to model: every column is an id or a constant: "
                    f"{shown}{more}{hint}")


def _drop_all_null(df: pd.DataFrame, params: PrepareParams,
                   source: str) -> tuple[pd.DataFrame, list[str]]:
    """The all-null policy: drop with a warning when prepare.drop_all_null, else refuse."""
    empty = [c for c in df.columns if df[c].isna().all()]
    if not empty:
        return df, []
    if params.target in empty:
        raise UserError(f"prepare.target '{params.target}' is empty (all values missing) "
                        f"in {source}")
    if not params.drop_all_null:
        raise UserError(f"{source}: column(s) with only missing values: {', '.join(empty)} "
                        "(set prepare.drop_all_null: true to drop them)")
    if len(empty) == df.shape[1]:
        raise UserError(f"{source}: every column has only missing values")
    overridden = [c for c in empty if c in params.columns]
    if overridden:
        raise UserError(f"prepare.columns names all-null column(s): {', '.join(overridden)}")
    logger.warning("dropping %d column(s) with only missing values: %s",
                   len(empty), ", ".join(empty))
    return df.drop(columns=empty), empty


def _strip_bom(name):
    """A byte-order mark left in a column name (Parquet written from a BOM-read CSV)."""
    return name.lstrip("\ufeff") if isinstance(name, str) else name


def _check_raw_header(path: Path, fmt: CsvFormat | None) -> None:
    """Duplicate column names, read from the file itself (pandas renames CSV ones to `a.1`)."""
    try:
        if fmt is not None:
            header = read_header(path, fmt)
        else:
            import pyarrow.parquet as pq

            header = pq.read_schema(path).names
    except Exception as exc:  # broken files: read_table reports them with pandas' message
        logger.debug("could not read the header of %s: %s", path, exc)
        return
    duplicates = _duplicates(header)
    if duplicates:
        raise UserError(f"{path}: duplicate column name(s): {', '.join(duplicates)}")


def _duplicates(names: list[str]) -> list[str]:
    return sorted(n for n, k in Counter(names).items() if k > 1)
