"""`synth gate`: turn metrics.json into pass/fail against params gate.thresholds.

Direction per metric comes from the registry (maximize: value >= threshold, minimize:
value <= threshold). Writes gate.json, prints a table, raises GateFailed (exit 3) on failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pipeline.config import Params
from pipeline.errors import GateFailed, UserError
from pipeline.io import read_json, write_json
from pipeline.metrics.registry import METRICS


def check(metrics: dict[str, Any], thresholds: dict[str, float],
          metrics_path: Path | str = "metrics.json") -> list[dict[str, Any]]:
    """One check row per threshold; unknown or absent metric keys are a UserError."""
    unknown = sorted(k for k in thresholds if k not in METRICS)
    if unknown:
        raise UserError(f"gate.thresholds: unknown metric key(s) {', '.join(unknown)} "
                        f"(known: see pipeline/metrics/registry.py or docs/metrics.md)")
    rows = []
    for key, threshold in thresholds.items():
        value = metrics.get(key)
        if value is None:
            raise UserError(f"gate.thresholds: metric {key} is missing or null in {metrics_path}"
                            " (e.g. utility.* needs prepare.target)")
        info = METRICS[key]
        rows.append({"metric": key, "value": float(value), "threshold": float(threshold),
                     "direction": info.goal, "passed": info.passes(float(value), threshold)})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Readable fixed-width table for the console / CI log."""
    head = ("metric", "value", "rule", "result")
    body = [(r["metric"], f"{r['value']:.4f}",
             (">= " if r["direction"] == "maximize" else "<= ") + f"{r['threshold']:g}",
             "pass" if r["passed"] else "FAIL") for r in rows]
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
        names = ", ".join(f"{r['metric']}={r['value']:.4f}" for r in failed)
        raise GateFailed(f"{len(failed)} of {len(rows)} checks failed: {names}")
    click.echo(f"gate: all {len(rows)} checks passed")
    return result
