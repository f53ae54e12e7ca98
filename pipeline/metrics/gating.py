"""The gate's rule, shared by `synth gate` and the HTML report so both give one verdict.

Per threshold: a finite value passes when it is on the good side (registry direction, ties
pass). A metric that is present but not computable (null / NaN in metrics.json, e.g.
`utility.ratio` when the real model scores <= 0) FAILS, with the reason in its row: a CI gate
must not pass on a number it never saw. A key absent from metrics.json (a threshold on a
metric evaluate never writes, e.g. `utility.*` without `prepare.target`) is a configuration
error that the caller reports (exit 2).
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.metrics.registry import METRICS

NOT_COMPUTABLE = "not computable (null in metrics.json)"


def unknown_keys(thresholds: dict[str, float]) -> list[str]:
    """Threshold keys that no metric in the registry has."""
    return sorted(k for k in thresholds if k not in METRICS)


def absent_keys(metrics: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """Threshold keys that metrics.json does not hold at all."""
    return [k for k in thresholds if k not in metrics]


def finite(value: Any) -> float | None:
    """value as a float, or None when it is null, NaN, infinite or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def check_rows(metrics: dict[str, Any], thresholds: dict[str, float]) -> list[dict[str, Any]]:
    """One row {metric, value, threshold, direction, passed, reason} per present key."""
    rows = []
    for key, threshold in thresholds.items():
        if key not in metrics or key not in METRICS:
            continue
        info, value = METRICS[key], finite(metrics[key])
        passed = value is not None and info.passes(value, float(threshold))
        reason = NOT_COMPUTABLE if value is None else ""
        rows.append({"metric": key, "value": value, "threshold": float(threshold),
                     "direction": info.goal, "passed": passed, "reason": reason})
    return rows
