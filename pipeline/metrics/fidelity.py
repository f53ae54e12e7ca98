"""Fidelity via sdmetrics' unified QualityReport and DiagnosticReport (sdmetrics 0.32).

Determinism: `num_rows_subsample = None` so contingency pairs are not subsampled unseeded.
`fidelity.column_pair_trends` is sdmetrics' thresholded score (only pairs correlated in the
real data count, since 0.27); `fidelity.column_pair_trends_all` reruns the same property with
its thresholds at 0, i.e. the same per-pair metrics over every pair.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

TABLE = "table"


@dataclass
class FidelityResult:
    """Flat metrics plus per-column and per-pair detail for plots and the report."""

    metrics: dict[str, float]
    column_shapes: list[dict[str, Any]] = field(default_factory=list)
    pair_trends: list[dict[str, Any]] = field(default_factory=list)


def _without_ids(frame: pd.DataFrame, metadata: dict[str, Any]) -> tuple[pd.DataFrame, dict]:
    """Drop id columns: sdmetrics skips them in shapes/pairs and they only cost time."""
    meta = copy.deepcopy(metadata)
    table = meta["tables"][TABLE]
    ids = [c for c, m in table["columns"].items() if m.get("sdtype") == "id"]
    for c in ids:
        del table["columns"][c]
    if table.get("primary_key") in ids:
        del table["primary_key"]
    table.pop("alternate_keys", None)
    return frame.drop(columns=[c for c in ids if c in frame.columns]), meta


def _score(value: Any) -> float:
    """NaN (no eligible column/pair) stays NaN; JSON writers turn it into null."""
    return float(value) if value is not None and not pd.isna(value) else float("nan")


def compute_fidelity(real: pd.DataFrame, synthetic: pd.DataFrame,
                     metadata: dict[str, Any]) -> FidelityResult:
    """Quality (shapes, thresholded and all-pairs trends) and diagnostic scores."""
    from sdmetrics.reports import DiagnosticReport, QualityReport
    from sdmetrics.reports.single_table._properties import ColumnPairTrends

    real_q, meta_q = _without_ids(real, metadata)
    syn_q, _ = _without_ids(synthetic, metadata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sdmetrics warns per odd column; scores say enough
        quality = QualityReport()
        quality.num_rows_subsample = None
        quality.generate({TABLE: real_q}, {TABLE: syn_q}, meta_q, verbose=False)
        all_pairs = ColumnPairTrends()  # thresholds default to 0 on the bare property
        all_pairs.num_rows_subsample = None
        all_score = all_pairs.get_score(real_q, syn_q, meta_q["tables"][TABLE])
        diagnostic = DiagnosticReport()
        diagnostic.num_rows_subsample = None
        diagnostic.generate({TABLE: real}, {TABLE: synthetic}, metadata, verbose=False)

    props = quality.get_properties().set_index("Property")["Score"]
    diag = diagnostic.get_properties().set_index("Property")["Score"]
    metrics = {
        "fidelity.overall": _score(quality.get_score()),
        "fidelity.column_shapes": _score(props.get("Column Shapes")),
        "fidelity.column_pair_trends": _score(props.get("Column Pair Trends")),
        "fidelity.column_pair_trends_all": _score(all_score),
        "diagnostic.overall": _score(diagnostic.get_score()),
        "diagnostic.validity": _score(diag.get("Data Validity")),
        "diagnostic.structure": _score(diag.get("Data Structure")),
    }
    shapes = quality.get_details("Column Shapes")
    shape_rows = [{"column": str(r.Column), "metric": str(r.Metric), "score": _score(r.Score)}
                  for r in shapes.itertuples()]
    pairs = all_pairs.details
    thresholded = quality.get_details("Column Pair Trends")
    counted = set(zip(thresholded["Column 1"], thresholded["Column 2"],
                      thresholded["Meets Threshold?"].fillna(False).astype(bool)))
    pair_rows = [{"column_1": str(a), "column_2": str(b), "metric": str(m), "score": _score(s),
                  "counted_by_sdmetrics": (a, b, True) in counted}
                 for a, b, m, s in zip(pairs["Column 1"], pairs["Column 2"], pairs["Metric"],
                                       pairs["Score"])]
    return FidelityResult(metrics, shape_rows, pair_rows)

