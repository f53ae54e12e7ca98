"""`synth inspect`: the table prepare would read, each column's role and why, nothing written.

Runs prepare's loading, validation and role resolution (`data/roles.py`: `prepare.columns`,
then `prepare.metadata`, then inference) and renders one line per column, so a user can fix
overrides before a long run.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import PrepareParams
from pipeline.data.roles import resolve_roles
from pipeline.data.validate import load_source, validate_table


def inspect_table(prepare: PrepareParams) -> tuple[str, list[tuple[str, ...]]]:
    """(a heading line, rows of column, role, missing, distinct, why)."""
    raw = load_source(prepare.dataset, prepare.csv)
    df, dropped = validate_table(raw, prepare, prepare.dataset)
    explained = resolve_roles(df, prepare)
    rows = []
    for column, (role, why) in explained.items():
        col = df[column]
        note = "; the target (prepare.target)" if column == prepare.target else ""
        rows.append((str(column), role, f"{col.isna().mean():.1%}", str(_distinct(col)),
                     why + note))
    heading = (f"{prepare.dataset}: {len(df)} rows x {df.shape[1]} columns"
               + (f", target {prepare.target}" if prepare.target else ", no target")
               + (f"; all-null columns dropped: {', '.join(dropped)}" if dropped else ""))
    return heading, rows


def _distinct(col: pd.Series) -> int:
    try:
        return int(col.nunique())
    except TypeError:  # unhashable cells (lists from Parquet): count their text
        return int(col.astype(str).nunique())
