"""Reading and writing tables and JSON, always atomically (tmp file + rename)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import UserError

TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; outputs should be shareable
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(obj: Any, path: str | Path) -> None:
    """Write `obj` as pretty JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    """Read JSON; a missing or broken file is a UserError naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    """Write a DataFrame to Parquet (dtypes, categories and datetimes preserved), atomically."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_csv_stream(chunks: Iterator[pd.DataFrame], path: str | Path) -> int:
    """Stream chunks into one CSV file (header once, ISO dates, empty = missing), atomically."""
    total = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        for df in chunks:
            df.to_csv(fh, index=False, header=total == 0, date_format="%Y-%m-%dT%H:%M:%S")
            total += len(df)
    return total


def read_table(path: str | Path, csv_options: dict[str, Any] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file; unknown suffix, missing or unreadable file -> UserError.

    `csv_options` go to `pandas.read_csv` (encoding, sep, decimal: see data/csvformat.py)."""
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UserError(
            f"unsupported file format '{path.suffix}' for {path}: use .csv or .parquet"
        )
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    try:
        if kind == "csv":
            return pd.read_csv(path, **(csv_options or {}))
        return pd.read_parquet(path)
    except Exception as exc:  # pandas/pyarrow raise many types for broken files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read {path}: {first}") from None


def _json_default(obj: Any) -> Any:
    """Make numpy scalars and timestamps JSON-serialisable."""
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
