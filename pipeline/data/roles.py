"""Every column's role and why: `prepare.columns` overrides, then an SDV metadata file
(`prepare.metadata`), then inference from the values (`schema.explain_role`).

`synth prepare` uses the roles; `synth inspect` prints them with the reasons so a user can fix
overrides before a long run.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import PrepareParams
from pipeline.data.schema import explain_role, infer_roles
from pipeline.data.sdv_metadata import roles_from_sdv


def resolve_roles(df: pd.DataFrame, prepare: PrepareParams) -> dict[str, tuple[str, str]]:
    """column -> (role, why), in column order; overrides are checked against the data."""
    given = roles_from_sdv(prepare.metadata, df) if prepare.metadata else {}
    overrides = {c: role for c, (role, _) in given.items()}
    overrides.update(prepare.columns)
    labels = {c: f"{prepare.metadata}: column '{c}' ({why})" for c, (_, why) in given.items()
              if c not in prepare.columns}
    roles = infer_roles(df, overrides, labels)  # validates every override against the data
    out = {}
    for column, role in roles.items():
        if column in prepare.columns:
            out[column] = (role, "prepare.columns override")
        elif column in given:
            out[column] = (role, given[column][1])
        else:
            out[column] = (role, explain_role(df[column])[1])
    return out
