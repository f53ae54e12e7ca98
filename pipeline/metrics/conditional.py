"""Conditional fidelity: synthetic rows generated under conditions C scored against the real
rows that meet C (column shapes, pair trends over all pairs, detection AUC), on the columns
that C does not fix (a column fixed to one value on both sides says nothing)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.data.schema import to_sdmetrics_metadata
from pipeline.metrics.detection import detection_auc
from pipeline.metrics.fidelity import compute_fidelity
from pipeline.tabular.conditions import plan_conditions


def conditional_scores(real: pd.DataFrame, synthetic: pd.DataFrame, conditions: dict[str, Any],
                       schema: dict, transformer: Any, seed: int = 0, folds: int = 3
                       ) -> dict[str, float]:
    """Scores of `synthetic` (generated under `conditions`) against real rows meeting them."""
    plan = plan_conditions(transformer, schema, conditions)
    subset = real[plan.mask(real, transformer)]
    fixed = {transformer.discrete[d].column for d, _ in plan.pairs}
    kept = {**schema, "columns": [c for c in schema["columns"] if c["name"] not in fixed]}
    names = [c["name"] for c in kept["columns"]]
    real_c, syn_c = subset[names].reset_index(drop=True), synthetic[names].reset_index(drop=True)
    fid = compute_fidelity(real_c, syn_c, to_sdmetrics_metadata(kept))
    out = {"real_rows": int(len(real_c)), "synthetic_rows": int(len(syn_c)),
           "fidelity.column_shapes": fid.metrics["fidelity.column_shapes"],
           "fidelity.column_pair_trends_all": fid.metrics["fidelity.column_pair_trends_all"]}
    if len(real_c) >= 2 * folds and len(syn_c) >= 2 * folds:
        out["detection.auc"] = detection_auc(real_c, syn_c, kept, folds, seed)["detection.auc"]
    return out
