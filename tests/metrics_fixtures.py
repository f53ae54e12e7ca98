"""Small mixed-type tables with schema.json / metadata.json for the metrics tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.io import write_json, write_parquet


def make_table(n: int, seed: int, missing: bool = False) -> pd.DataFrame:
    """Correlated mixed-type rows: numeric, integer, categorical, boolean, datetime, id."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    age = np.clip(np.round(40 + 12 * z + rng.normal(0, 4, n)), 18, 90).astype("int64")
    income = np.exp(10 + 0.5 * z + rng.normal(0, 0.3, n))
    grade = np.where(z + rng.normal(0, 0.5, n) > 0.3, "high", np.where(z > -0.8, "mid", "low"))
    color = rng.choice(["red", "green", "blue", "black"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    smoker = (rng.random(n) < 0.2 + 0.3 * (z > 0)).astype(bool)
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta((z * 60 + 400).round(), unit="D")
    df = pd.DataFrame({
        "user_id": np.arange(seed * 1_000_000, seed * 1_000_000 + n, dtype="int64"),
        "age": age, "income": income, "grade": grade, "color": color,
        "smoker": smoker, "start": start.astype("datetime64[ns]"),
    })
    if missing:
        df.loc[rng.random(n) < 0.1, "income"] = np.nan
        df.loc[rng.random(n) < 0.1, "color"] = None
    return df


def make_schema(df: pd.DataFrame, target: str | None = None) -> dict[str, Any]:
    """schema.json for make_table frames (statistics from `df`)."""
    roles = {"user_id": "id", "age": "integer", "income": "numerical", "grade": "categorical",
             "color": "categorical", "smoker": "boolean", "start": "datetime"}
    cols = []
    for name, role in roles.items():
        col: dict[str, Any] = {"name": name, "role": role, "dtype": str(df[name].dtype),
                               "missing_rate": float(df[name].isna().mean())}
        if role in ("integer", "numerical"):
            col.update(min=float(df[name].min()), max=float(df[name].max()))
        if role in ("categorical", "boolean"):
            col["categories"] = {str(k): int(v) for k, v in df[name].value_counts().items()}
        cols.append(col)
    return {"version": 1, "dataset": "fixture", "n_rows": len(df), "target": target,
            "dropped": [], "columns": cols}


def make_metadata() -> dict[str, Any]:
    """sdmetrics unified metadata for make_table frames."""
    cols = {"user_id": {"sdtype": "id"}, "age": {"sdtype": "numerical"},
            "income": {"sdtype": "numerical"}, "grade": {"sdtype": "categorical"},
            "color": {"sdtype": "categorical"}, "smoker": {"sdtype": "boolean"},
            "start": {"sdtype": "datetime"}}
    return {"tables": {"table": {"columns": cols, "primary_key": "user_id"}}}


def write_inputs(root: Path, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 target: str | None = None) -> tuple[Path, Path]:
    """Write a prepared-data dir and a synthetic Parquet; return (data_dir, synthetic_path)."""
    data_dir = root / "prepared"
    write_parquet(train, data_dir / "train.parquet")
    write_parquet(holdout, data_dir / "holdout.parquet")
    write_json(make_schema(train, target), data_dir / "schema.json")
    write_json(make_metadata(), data_dir / "metadata.json")
    syn_path = root / "synthetic.parquet"
    write_parquet(synthetic, syn_path)
    return data_dir, syn_path
