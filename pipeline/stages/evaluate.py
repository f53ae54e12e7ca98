"""`synth evaluate`: score synthetic rows against the real splits; write metrics, plots, report.

Reads data_dir/{train,holdout}.parquet, schema.json, metadata.json and the synthetic Parquet.
Validates everything first (a synthetic table in other dtypes is converted to the real ones,
`metrics.coerce`), computes every metric, then writes (atomically) metrics.json (flat metric
key -> number or null, for `dvc metrics`), details.json (rows, sampling, per-column and
per-pair scores: what the report draws), plots/*.json and report.html into out_dir. Seeded
throughout: same inputs -> same metrics.json and details.json.

Sizes: fidelity, diagnostic, detection and utility score a seeded subsample of at most
`evaluate.max_rows` rows per table; privacy always searches the complete train, holdout and
synthetic tables and queries at most `evaluate.privacy_query_rows` rows per side. The details
(and the report) state the rows used and the standard errors the subsampling adds.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import Params
from pipeline.errors import UserError
from pipeline.io import atomic_path, read_json, read_table, write_json
from pipeline.metrics.attacks import compute_attacks
from pipeline.metrics.coerce import coerce_like
from pipeline.metrics.curves import read_curves, read_train_privacy
from pipeline.metrics.detection import detection_auc
from pipeline.metrics.fidelity import compute_fidelity
from pipeline.metrics.plots import distributions, histogram_rows
from pipeline.metrics.privacy import auc_se, compute_privacy, sdmetrics_dcr
from pipeline.metrics.registry import METRICS
from pipeline.metrics.report_html import render
from pipeline.metrics.utility import utility_scores

log = logging.getLogger(__name__)


def load_inputs(data_dir: Path, synthetic_path: Path) -> dict[str, Any]:
    """Read and cross-check the prepared splits, schema, metadata and synthetic table."""
    data_dir, synthetic_path = Path(data_dir), Path(synthetic_path)
    if not synthetic_path.is_file():
        raise UserError(f"synthetic table not found: {synthetic_path} (run `synth generate`)")
    for name in ("train.parquet", "holdout.parquet", "schema.json", "metadata.json"):
        if not (data_dir / name).is_file():
            raise UserError(f"{data_dir / name} not found (run `synth prepare`)")
    schema = read_json(data_dir / "schema.json")
    metadata = read_json(data_dir / "metadata.json")
    if not isinstance(schema, dict) or not isinstance(schema.get("columns"), list):
        raise UserError(f"{data_dir / 'schema.json'} has no 'columns' list")
    if "table" not in metadata.get("tables", {}):
        raise UserError(f"{data_dir / 'metadata.json'} must hold tables.table (sdmetrics form)")
    train = read_table(data_dir / "train.parquet")
    holdout = read_table(data_dir / "holdout.parquet")
    synthetic = read_table(synthetic_path)
    expected = [c["name"] for c in schema["columns"]]
    for label, frame in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        missing = [c for c in expected if c not in frame.columns]
        extra = [c for c in frame.columns if c not in expected]
        if missing or extra:
            where = synthetic_path if label == "synthetic" else data_dir / f"{label}.parquet"
            raise UserError(f"{where}: columns do not match schema.json "
                            f"(missing: {missing or 'none'}, unexpected: {extra or 'none'})")
        if len(frame) == 0:
            raise UserError(f"{label} table has no rows")
    coerced, notes = coerce_like(synthetic[expected], train, schema, synthetic_path)
    return {"train": train[expected], "holdout": holdout[expected],
            "synthetic": coerced, "schema": schema, "metadata": metadata, "coerced": notes}


def _cap(frame: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """Seeded row subsample for very large tables (order kept); small tables untouched."""
    if max_rows is None or len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    pick = np.sort(np.random.default_rng(seed).choice(len(frame), max_rows, replace=False))
    return frame.iloc[pick].reset_index(drop=True)


def _clean(value: Any) -> Any:
    """NaN -> None (JSON null), recursively; numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    return value


def _step(timings: dict[str, float], name: str, t0: float, parts: int) -> None:
    """Record and report one finished part of the evaluation as it finishes (progress)."""
    timings[name] = time.perf_counter() - t0
    log.info("evaluate: %d/%d %s done in %.1f s", len(timings), parts, name, timings[name])


def compute_all(inputs: dict[str, Any], params: Params) -> dict[str, Any]:
    """Every metric; returns {metrics, details, dcr, distributions} (no file I/O)."""
    ev, seed = params.evaluate, params.seed
    full = {k: inputs[k] for k in ("train", "holdout", "synthetic")}
    train = _cap(full["train"], ev.max_rows, seed)
    holdout = _cap(full["holdout"], ev.max_rows, seed + 1)
    synthetic = _cap(full["synthetic"], ev.max_rows, seed + 2)
    schema, metadata = inputs["schema"], inputs["metadata"]
    timings: dict[str, float] = {}
    parts = 4 + (ev.sdmetrics_dcr_rows > 0) + (ev.attack_rows > 0)
    log.info("evaluate: scoring %d synthetic rows against %d train and %d holdout rows "
             "(fidelity, detection, utility, privacy)", len(full["synthetic"]),
             len(full["train"]), len(full["holdout"]))
    t0 = time.perf_counter()
    fid = compute_fidelity(train, synthetic, metadata)
    _step(timings, "fidelity", t0, parts)
    metrics: dict[str, Any] = dict(fid.metrics)
    t0 = time.perf_counter()
    pooled_detection: dict[str, Any] = {}
    metrics.update(detection_auc(train, synthetic, schema, ev.detection_folds, seed,
                                 pooled_detection))
    _step(timings, "detection", t0, parts)
    t0 = time.perf_counter()
    util = utility_scores(train, holdout, synthetic, schema, seed)
    task = util.pop("task", None)
    pooled_utility = util.pop("pooled", {})
    metrics.update(util)
    _step(timings, "utility", t0, parts)
    t0 = time.perf_counter()
    # Privacy: complete reference tables, only the query side sampled (privacy.py).
    priv = compute_privacy(full["train"], full["holdout"], full["synthetic"], schema, seed,
                           ev.distance_chunk_rows, ev.privacy_query_rows)
    metrics.update(priv.metrics)
    _step(timings, "privacy", t0, parts)
    attack_details: dict[str, Any] = {}
    if ev.attack_rows > 0:
        t0 = time.perf_counter()
        attack_metrics, attack_details = compute_attacks(
            full["train"], full["holdout"], full["synthetic"], schema, seed, ev.attack_rows)
        metrics.update(attack_metrics)
        _step(timings, "attacks", t0, parts)
    if ev.sdmetrics_dcr_rows > 0:
        t0 = time.perf_counter()
        metrics.update(sdmetrics_dcr(full["train"], full["holdout"], full["synthetic"],
                                     metadata, ev.sdmetrics_dcr_rows, seed))
        _step(timings, "sdmetrics_dcr", t0, parts)
    unknown = set(metrics) - set(METRICS)
    if unknown:  # a metric without a registry entry could never be gated or explained
        raise RuntimeError(f"metrics missing from the registry: {sorted(unknown)}")
    n_det = min(len(train), len(synthetic))
    details = {"rows": {k: len(v) for k, v in full.items()},
               "sampling": {
                   "max_rows": ev.max_rows,
                   "scored_rows": {"train": len(train), "holdout": len(holdout),
                                   "synthetic": len(synthetic)},
                   "subsampled": any(len(a) < len(b) for a, b in
                                     zip((train, holdout, synthetic), full.values())),
                   "applies_to": "fidelity, diagnostic, detection, utility",
                   "detection_auc_se": auc_se(metrics["detection.auc"], n_det, n_det),
                   "privacy": priv.sampling},
               "high_cardinality": {"detection": pooled_detection, "utility": pooled_utility},
               "coerced_columns": inputs.get("coerced", []),
               "utility_task": task, "dcr_share_raw": priv.raw_share,
               "attacks": attack_details,
               "column_shapes": fid.column_shapes,
               "pair_trends": fid.pair_trends}
    dcr = histogram_rows({"synthetic_to_train": priv.dcr_synthetic_train,
                          "holdout_to_train": priv.dcr_holdout_train,
                          "synthetic_to_holdout": priv.dcr_synthetic_holdout})
    return {"metrics": metrics, "details": details, "dcr": dcr,
            "distributions": distributions(full["train"], full["synthetic"], schema)}


def run(params: Params, data_dir: Path, synthetic_path: Path, train_log_dir: Path | None,
        out_dir: Path) -> dict[str, Any]:
    """Evaluate and write out_dir/{metrics.json, details.json, plots/*.json, report.html};
    return metrics."""
    inputs = load_inputs(data_dir, synthetic_path)
    folds = params.evaluate.detection_folds
    small = [f"{k} {len(inputs[k])}" for k in ("train", "synthetic") if len(inputs[k]) < folds]
    if small:  # the detection classifier's stratified folds need this many rows per side
        raise UserError(f"evaluate needs at least evaluate.detection_folds ({folds}) rows in "
                        f"the train and synthetic tables, got {', '.join(small)}")
    result = compute_all(inputs, params)
    curves = read_curves(train_log_dir)
    result["metrics"].update(read_train_privacy(train_log_dir))
    metrics = _clean(result["metrics"])
    details = _clean(result["details"])
    page = render(metrics, details, result["distributions"], result["dcr"], curves,
                  params.gate.thresholds,
                  title=f"Synthetic data report: {inputs['schema'].get('dataset', 'table')}")
    out_dir = Path(out_dir)
    write_json(metrics, out_dir / "metrics.json")
    write_json(details, out_dir / "details.json")
    write_json([{"column": r["column"], "score": r["score"]} for r in details["column_shapes"]],
               out_dir / "plots" / "column_shapes.json")
    write_json(_clean(result["dcr"]), out_dir / "plots" / "dcr.json")
    with atomic_path(out_dir / "report.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("evaluate: wrote %s, %s, %s, %s", out_dir / "metrics.json",
             out_dir / "details.json", out_dir / "plots", out_dir / "report.html")
    return metrics
