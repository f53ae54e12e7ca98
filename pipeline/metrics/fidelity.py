"""Fidelity via sdmetrics' unified QualityReport and DiagnosticReport (sdmetrics 0.32).

Determinism: `num_rows_subsample = None` so contingency pairs are not subsampled unseeded.
`fidelity.column_pair_trends` is sdmetrics' thresholded score (only pairs correlated in the
real data count, since 0.27); `fidelity.column_pair_trends_all` reruns the same property with
its thresholds at 0, i.e. the same per-pair metrics over every pair.

One correction to sdmetrics 0.32 (pinned): for a numeric-vs-categorical pair, ColumnPairTrends
bins the numeric column into 10 equal-width bins *of each table's own range*, so a synthetic
column that misses the real maximum by a few rows is binned on shifted edges and the pair scores
near 0 while the two distributions match (credit `Status` x `Time`: 0.098; the 72-month loans
are 0.3 % of rows). Its maintainers' stated intent (SDMetrics PR #368) is bins from the real
data with open outer edges, applied to both tables; `RealBinnedPairTrends` does exactly that,
for the all-pairs score and inside the QualityReport, so `fidelity.overall` agrees with it.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TABLE = "table"


def _pair_trends_class():
    """`RealBinnedPairTrends`, built on first use (sdmetrics imports take seconds)."""
    from sdmetrics.reports.single_table._properties import ColumnPairTrends

    class RealBinnedPairTrends(ColumnPairTrends):
        """ColumnPairTrends that bins numeric/datetime columns of both tables on the real
        table's edges (10 equal-width bins, outer edges open)."""

        def __init__(self, real: pd.DataFrame, table_meta: dict[str, Any]):
            super().__init__()
            processed = self._convert_datetime_columns_to_numeric(real.copy(), table_meta)
            self._edges: dict[str, np.ndarray] = {}
            for name, meta in table_meta["columns"].items():
                if meta.get("sdtype") not in ("numerical", "datetime"):
                    continue
                values = pd.to_numeric(processed[name], errors="coerce").dropna()
                if not len(values):
                    continue
                try:
                    edges = np.histogram_bin_edges(values.to_numpy(dtype=np.float64))
                except ValueError:  # a range too narrow for 10 float bins (huge datetimes):
                    continue  # sdmetrics' own binning fails too and records the pair as failed
                edges[0], edges[-1] = -np.inf, np.inf
                self._edges[name] = edges

        def _discretize_column(self, column_name, data, bin_edges=None):
            return super()._discretize_column(column_name, data,
                                              self._edges.get(column_name, bin_edges))

    return RealBinnedPairTrends


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

    real_q, meta_q = _without_ids(real, metadata)
    syn_q, _ = _without_ids(synthetic, metadata)
    pair_trends = _pair_trends_class()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sdmetrics warns per odd column; scores say enough
        quality = QualityReport()
        quality._properties["Column Pair Trends"] = pair_trends(real_q, meta_q["tables"][TABLE])
        quality.num_rows_subsample = None
        quality.generate({TABLE: real_q}, {TABLE: syn_q}, meta_q, verbose=False)
        all_pairs = pair_trends(real_q, meta_q["tables"][TABLE])  # thresholds default to 0
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

