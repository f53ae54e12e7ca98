"""`synth gate`: turn metrics.json into pass/fail against params gate.thresholds.

Direction per metric comes from the registry (maximize: value >= threshold, minimize:
value <= threshold); the rule lives in `pipeline.metrics.gating` (the report shows the same
verdict). A null (not computable) metric is a failed check with its reason. Writes gate.json,
prints a table, raises GateFailed (exit 3) on failure; a threshold key that is unknown or
absent from metrics.json is a UserError (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pipeline.config import Params
from pipeline.errors import GateFailed, UserError
from pipeline.io import read_json, write_json
from pipeline.metrics.gating import absent_keys, check_rows, unknown_keys


def check(metrics: dict[str, Any], thresholds: dict[str, float],
          metrics_path: Path | str = "metrics.json") -> list[dict[str, Any]]:
    """One check row per threshold; unknown or absent metric keys are a UserError."""
    unknown = unknown_keys(thresholds)
    if unknown:
        raise UserError(f"gate.thresholds: unknown metric key(s) {', '.join(unknown)} "
                        f"(known: see pipeline/metrics/registry.py or docs/metrics.md)")
    absent = absent_keys(metrics, thresholds)
    if absent:
        raise UserError(f"gate.thresholds: metric {', '.join(absent)} is missing from "
                        f"{metrics_path} (e.g. utility.* needs prepare.target)")
    return check_rows(metrics, thresholds)


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """Readable fixed-width table for the console / CI log."""
    head = ("metric", "value", "rule", "result")
    body = [(r["metric"], _shown(r["value"]),
             (">= " if r["direction"] == "maximize" else "<= ") + f"{r['threshold']:g}",
             ("pass" if r["passed"] else "FAIL") + (f" ({r['reason']})" if r["reason"] else ""))
            for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
             for line in [head, *body]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def run(params: Params, metrics_path: Path, out_path: Path) -> dict[str, Any]:
    """Check, write out_path (gate.json), print the table; GateFailed if any check fails."""
    metrics = read_json(metrics_path)
    if not isinstance(metrics, dict):
        raise UserError(f"{metrics_path} must be a JSON object of metric keys")
    rows = check(metrics, params.gate.thresholds, metrics_path)
    failed = [r for r in rows if not r["passed"]]
    result = {"passed": not failed, "checks": rows}
    write_json(result, out_path)
    if rows:
        click.echo(format_table(rows))
    else:
        click.echo("gate: no thresholds set (gate.thresholds is empty); passing")
    if failed:
        names = ", ".join(f"{r['metric']}={_shown(r['value'])}" for r in failed)
        raise GateFailed(f"{len(failed)} of {len(rows)} checks failed: {names}")
    click.echo(f"gate: all {len(rows)} checks passed")
    return result
