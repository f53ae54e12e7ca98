"""Scoring worker (main venv): one sdmetrics version scores every tool's output the same way.

Tasks:
  quality  sdmetrics QualityReport score of each synthetic Parquet file vs the real table
  dcr      sdmetrics DCROverfittingProtection / DCRBaselineProtection seconds and scores on
           n train / n holdout / n synthetic rows, next to ours (pipeline.metrics, imported
           lazily) on the very same rows
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import pandas as pd

from common import discrete_columns, emit, load_table, timer

warnings.filterwarnings("ignore")
TABLE = "table"


def sdmetrics_metadata(df: pd.DataFrame) -> dict:
    """Unified sdmetrics metadata from dtypes alone, identical for every tool's output."""
    disc = set(discrete_columns(df))
    cols = {c: {"sdtype": "categorical" if c in disc else "numerical"} for c in df.columns}
    return {"tables": {TABLE: {"columns": cols}}}


def quality(args: argparse.Namespace) -> dict:
    from sdmetrics.reports import QualityReport

    real = load_table(args.data, args.quality_rows, seed=1)
    meta = sdmetrics_metadata(real)
    scores, seconds = {}, {}
    for path in args.synthetic:
        synth = pd.read_parquet(path)[list(real.columns)].head(args.quality_rows)
        for col in real.columns:  # sdv/ctgan may hand back other dtypes; score values, not dtypes
            synth[col] = synth[col].astype(real[col].dtype, errors="ignore")
        report = QualityReport()
        t0 = time.perf_counter()
        report.generate({TABLE: real}, {TABLE: synth}, meta, verbose=False)
        seconds[Path(path).stem] = time.perf_counter() - t0
        scores[Path(path).stem] = float(report.get_score())
    return {"task": "quality", "rows": len(real), "scores": scores, "report_s": seconds}


def _dcr_inputs(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    real = load_table(args.data, 2 * args.dcr_rows, seed=2)
    train, holdout = real.iloc[: args.dcr_rows], real.iloc[args.dcr_rows:].reset_index(drop=True)
    synth = pd.read_parquet(args.synthetic[0])[list(real.columns)].head(args.dcr_rows)
    return train, holdout, synth


def dcr_sdmetrics(args: argparse.Namespace) -> dict:
    from sdmetrics.single_table import DCRBaselineProtection, DCROverfittingProtection

    train, holdout, synth = _dcr_inputs(args)
    meta = sdmetrics_metadata(train)
    out: dict = {"task": "dcr-sdmetrics", "rows": len(train)}
    with timer(out, "overfitting_s"):
        out["overfitting_score"] = float(DCROverfittingProtection.compute(
            train, synth, holdout, meta, TABLE))
    with timer(out, "baseline_s"):
        out["baseline_score"] = float(DCRBaselineProtection.compute(train, synth, meta, TABLE))
    out["total_s"] = out["overfitting_s"] + out["baseline_s"]
    return out


def dcr_ours(args: argparse.Namespace) -> dict:
    from ours_api import dcr_scores  # lazy: our metrics may not exist yet

    train, holdout, synth = _dcr_inputs(args)
    meta = sdmetrics_metadata(train)
    out: dict = {"task": "dcr-ours", "rows": len(train)}
    with timer(out, "total_s"):
        out.update(dcr_scores(train, holdout, synth, meta["tables"][TABLE]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("task", choices=["quality", "dcr-sdmetrics", "dcr-ours"])
    p.add_argument("--data", required=True)
    p.add_argument("--synthetic", nargs="+", required=True)
    p.add_argument("--quality-rows", type=int, default=10_000)
    p.add_argument("--dcr-rows", type=int, default=2_000)
    args = p.parse_args()
    tasks = {"quality": quality, "dcr-sdmetrics": dcr_sdmetrics, "dcr-ours": dcr_ours}
    result = tasks[args.task](args)
    result.setdefault("tool", "sdmetrics" if args.task != "dcr-ours" else "ours")
    emit(result)


if __name__ == "__main__":
    main()
