"""Plot data for `dvc plots` (reports/plots/*.json) and the per-column distributions.

Everything here is plain lists of dicts/numbers so the same data feeds DVC templates and the
inline-SVG report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.metrics.features import DISCRETE_ROLES, as_float, as_text, roles

MAX_LEVELS = 12  # categorical charts show the most frequent levels, the rest as "(other)"


def histogram_rows(samples: dict[str, np.ndarray], bins: int = 30) -> list[dict[str, float]]:
    """Shared-edge histograms as rows {distance, <name>: share of rows, ...} for dvc plots."""
    finite = [s[np.isfinite(s)] for s in samples.values()]
    # Edges up to the largest 99th percentile; the far tail is folded into the last bin.
    hi = max([float(np.quantile(s, 0.99)) for s in finite if len(s)] + [1e-9])
    edges = np.linspace(0.0, hi, bins + 1)
    finite = [np.clip(s, 0.0, hi) for s in finite]
    rows = [{"distance": float((edges[i] + edges[i + 1]) / 2)} for i in range(bins)]
    for (name, _), values in zip(samples.items(), finite):
        counts, _ = np.histogram(values, bins=edges)
        share = counts / max(len(values), 1)
        for row, v in zip(rows, share):
            row[name] = float(v)
    return rows


def column_distribution(real: pd.Series, synthetic: pd.Series, role: str,
                        bins: int = 20) -> dict[str, Any]:
    """Real vs synthetic shares per level (discrete) or per shared histogram bin (numeric)."""
    if role in DISCRETE_ROLES or role == "constant":
        r, s = as_text(real).fillna("(missing)"), as_text(synthetic).fillna("(missing)")
        top = r.value_counts().index[:MAX_LEVELS].tolist()
        rs = r.where(r.isin(top), "(other)").value_counts(normalize=True)
        ss = s.where(s.isin(top), "(other)").value_counts(normalize=True)
        labels = top + (["(other)"] if "(other)" in rs.index or "(other)" in ss.index else [])
        return {"labels": labels, "real": [float(rs.get(k, 0.0)) for k in labels],
                "synthetic": [float(ss.get(k, 0.0)) for k in labels]}
    rv, sv = as_float(real), as_float(synthetic)
    rv, sv = rv[np.isfinite(rv)], sv[np.isfinite(sv)]
    if len(rv) == 0:
        return {"labels": [], "real": [], "synthetic": []}
    # Bin on the real 0.5-99.5% range so one synthetic outlier cannot flatten the chart.
    lo, hi = np.quantile(rv, [0.005, 0.995])
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    rc = np.histogram(np.clip(rv, lo, hi), edges)[0] / len(rv)
    sc = np.histogram(np.clip(sv, lo, hi), edges)[0] / max(len(sv), 1)
    labels = [_label((edges[i] + edges[i + 1]) / 2) for i in range(bins)]
    if role == "datetime":
        labels = [str(pd.Timestamp((edges[i] + edges[i + 1]) / 2, unit="s").date())
                  for i in range(bins)]
    return {"labels": labels, "real": rc.tolist(), "synthetic": sc.tolist()}


def _label(v: float) -> str:
    """A bin centre for an axis: 2007 not 2.01e+03, 0.123 not 0.12345."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def distributions(real: pd.DataFrame, synthetic: pd.DataFrame,
                  schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """column -> distribution comparison, for every non-id column."""
    return {col: column_distribution(real[col], synthetic[col], role)
            for col, role in roles(schema).items() if role != "id"}
