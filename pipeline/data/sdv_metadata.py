"""Column roles from an SDV metadata JSON (`prepare.metadata`), so SDV users bring theirs.

Reads what SDV's `Metadata.save_to_json` writes (`{"METADATA_SPEC_VERSION": ..., "tables":
{name: {"columns": {...}}}}`, one table) and SDV 1.0's single-table form (`{"columns":
{...}}`). Each described column's sdtype becomes a role:

    numerical    integer when computer_representation is Int*/UInt* or every value is whole,
                 else numerical
    categorical, ordinal -> categorical     boolean -> boolean     datetime -> datetime
    id           id (and the table's primary_key)
    any other sdtype (email, phone_number, address, ...: personal data SDV anonymises) -> id:
                 synthetic rows get fresh values, never a real one

Columns the metadata does not describe keep their inferred role; `prepare.columns` wins over
both. A file that cannot be read, several tables, a column not in the table or an sdtype the
data cannot hold is a one-line `UserError` naming the file and column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api import types as ptypes

from pipeline.errors import UserError

SDTYPE_ROLES = {"categorical": "categorical", "ordinal": "categorical", "boolean": "boolean",
                "datetime": "datetime", "id": "id"}


def read_sdv_metadata(path: str | Path) -> dict[str, Any]:
    """The single table's metadata dict (`{"columns": {...}, "primary_key"?: ...}`)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"prepare.metadata: file not found: {path}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(meta, dict):
        raise UserError(f"{path}: an SDV metadata file holds a JSON object")
    if "tables" in meta:
        tables = meta["tables"]
        if not isinstance(tables, dict) or not tables:
            raise UserError(f"{path}: 'tables' must map a table name to its metadata")
        if len(tables) > 1:
            raise UserError(f"{path} describes {len(tables)} tables ({', '.join(tables)}); "
                            "prepare reads one table: keep only its entry")
        (name, table), = tables.items()
        where = f"{path}: tables.{name}"
    else:
        table, where = meta, str(path)
    if not isinstance(table, dict) or not isinstance(table.get("columns"), dict):
        raise UserError(f"{where} has no 'columns' object (SDV metadata form)")
    return table


def roles_from_sdv(path: str | Path, df: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """column -> (role, why) for every column the metadata at `path` describes."""
    table = read_sdv_metadata(path)
    out: dict[str, tuple[str, str]] = {}
    for name, info in table["columns"].items():
        if name not in df.columns:
            raise UserError(f"{path}: column '{name}' is not in the table "
                            f"(columns: {', '.join(map(str, df.columns))})")
        sdtype = info.get("sdtype") if isinstance(info, dict) else None
        if not isinstance(sdtype, str) or not sdtype:
            raise UserError(f"{path}: column '{name}' has no sdtype")
        out[name] = (_role(sdtype, info, df[name], path, name),
                     f"{Path(path).name}: sdtype {sdtype}")
    key = table.get("primary_key")
    if isinstance(key, str) and key in out:
        out[key] = ("id", f"{Path(path).name}: primary_key")
    return out


def _role(sdtype: str, info: dict[str, Any], col: pd.Series, path: str | Path,
          name: str) -> str:
    if sdtype != "numerical":
        return SDTYPE_ROLES.get(sdtype, "id")
    if not ptypes.is_numeric_dtype(col):
        raise UserError(f"{path}: column '{name}' is sdtype numerical but holds "
                        f"{col.dtype} values, not numbers")
    rep = str(info.get("computer_representation", ""))
    values = col.dropna().to_numpy(dtype="float64")
    whole = len(values) > 0 and bool((values == values.round()).all())
    if rep.startswith(("Int", "UInt")):
        if not whole:
            raise UserError(f"{path}: column '{name}' is computer_representation {rep} but "
                            "holds fractions")
        return "integer"
    return "integer" if whole and not rep.startswith("Float") else "numerical"
