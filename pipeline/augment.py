"""Augmented training sets: real rows plus synthetic rows drawn under native conditions.

Shared by `synth augment` (stages/augment.py) and `Synthesizer.augment`. Modes:

* `rebalance`: every class of the target up to `share` x the largest class's count (1.0: equal),
  each class's extra rows generated conditioned on that class;
* `fill`: each group of `groups` (`{conditions: {...}, rows: N}`) topped up to N rows, generated
  under the group's conditions (several columns and numeric ranges allowed);
* `multiply`: `factor` x the real rows in all; with a discrete target, each class's extra rows
  conditioned on it (class shares kept), else unconditional rows.

Every request goes through `tabular/conditions.plan_conditions` and `generate.iter_chunks`, the
code path of `synth generate --condition`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import torch

from pipeline.errors import UserError
from pipeline.tabular.conditions import plan_conditions

MODES = ("rebalance", "fill", "multiply")


def requests(real: pd.DataFrame, schema: dict, transformer: Any, mode: str,
             target: str | None, share: float = 1.0, factor: float = 2.0,
             groups: list[dict] | tuple = ()) -> list[tuple[dict[str, Any] | None, int]]:
    """[(conditions or None, rows to generate)] for a mode (UserError on a bad request)."""
    if mode not in MODES:
        raise UserError(f"augment.mode must be one of {', '.join(MODES)}, got '{mode}'")
    if mode == "fill":
        if not groups:
            raise UserError("augment.mode fill needs augment.groups: [{conditions: {...}, rows: N}]")
        out = []
        for i, group in enumerate(groups):
            if not isinstance(group, dict) or not group.get("conditions") or "rows" not in group:
                raise UserError(f"augment.groups[{i}] must be {{conditions: {{...}}, rows: N}}")
            plan = plan_conditions(transformer, schema, dict(group["conditions"]))
            have = int(plan.mask(real, transformer).sum())
            out.append((dict(group["conditions"]), max(0, int(group["rows"]) - have)))
        return out
    counts = class_counts(real, schema, target) if target else None
    if mode == "rebalance":
        if counts is None:
            raise UserError("augment.mode rebalance needs a target (augment.target or "
                            "prepare.target)")
        goal = math.ceil(share * int(counts.max()))
        return [({target: value}, goal - int(n)) for value, n in counts.items() if n < goal]
    extra = (factor - 1.0) * len(real)
    if counts is None:
        return [(None, int(round(extra)))]
    return [({target: value}, int(round(extra * n / len(real)))) for value, n in counts.items()]


def class_counts(real: pd.DataFrame, schema: dict, target: str) -> pd.Series | None:
    """Real rows per target class, or None for a numeric (regression) target."""
    from pipeline.metrics.augmentation import is_classification

    if target not in real.columns:
        raise UserError(f"augment: target '{target}' is not a column of the table")
    if not is_classification(real, schema, target):
        return None
    return real[target].dropna().value_counts(sort=False)


def augment(model: Any, transformer: Any, schema: dict, real: pd.DataFrame, mode: str,
            target: str | None, seed: int, chunk_rows: int = 50_000, share: float = 1.0,
            factor: float = 2.0, groups: list[dict] | tuple = (),
            flag: str | None = None) -> pd.DataFrame:
    """Real rows + the synthetic rows of `requests`; `flag` names a boolean column marking the
    synthetic rows (None: no such column)."""
    from pipeline.stages.generate import iter_chunks

    parts = [real]
    todo = requests(real, schema, transformer, mode, target, share, factor, groups)
    plans = [(plan_conditions(transformer, schema, c), n) for c, n in todo if n > 0]
    for i, (plan, n) in enumerate(plans):  # one request per class or group
        with torch.inference_mode():
            parts.extend(iter_chunks(model, transformer, n, plan, seed + 7919 * i, chunk_rows))
    synthetic = pd.concat(parts[1:], ignore_index=True) if len(parts) > 1 else real.iloc[:0]
    synthetic = _like(synthetic, real)
    out = pd.concat([real, synthetic], ignore_index=True)
    if flag:
        out[flag] = [False] * len(real) + [True] * len(synthetic)
    return out


def _like(synthetic: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """Synthetic rows in the real table's column order and dtypes where they cast cleanly."""
    synthetic = synthetic[list(real.columns)]
    for column in real.columns:
        if synthetic[column].dtype != real[column].dtype:
            try:
                synthetic[column] = synthetic[column].astype(real[column].dtype)
            except (TypeError, ValueError):
                continue  # the generated dtype stays where the real one cannot hold the values
    return synthetic
