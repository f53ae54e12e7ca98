"""`synth evaluate` at scale: wall time and peak RSS on 300k- and 1M-row tables.

Each table is the built-in diamonds data resampled with replacement to N rows with ~1% noise
on the numeric columns (so rows are not exact duplicates), split 70/30 into train/holdout the
way `synth prepare` does; the "synthetic" table is an independent noisy resample as large as
train. Optionally a free-text-like categorical with thousands of levels is added (`--wide`),
which takes the block-scan privacy path and pools levels for the tree models.

Every evaluate runs in a fresh child process (`--child`) that reports its own wall time,
per-metric seconds and peak resident memory (getrusage ru_maxrss, imports included), so one
size cannot inflate the next. Results -> benchmarks/results/evaluate_scale.json.

    python benchmarks/evaluate_scale.py                      # 300k and 1M, diamonds
    python benchmarks/evaluate_scale.py --rows 300000 --wide 3000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(rows: int, seed: int, wide: int) -> pd.DataFrame:
    """diamonds resampled to `rows` rows, numeric columns jittered by ~1%."""
    from pipeline.data.registry import load_dataset

    base = load_dataset("diamonds")
    rng = np.random.default_rng(seed)
    df = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    for col in df.columns:
        if pd.api.types.is_float_dtype(df[col]):
            df[col] = (df[col] * rng.normal(1.0, 0.01, rows)).round(3)
        elif pd.api.types.is_integer_dtype(df[col]):
            df[col] = np.maximum(np.round(df[col] * rng.normal(1.0, 0.01, rows)), 1).astype(
                df[col].dtype)
    if wide:
        p = 1.0 / np.arange(1, wide + 1)
        df["title"] = pd.Series([f"title {i}" for i in range(wide)]).to_numpy()[
            rng.choice(wide, rows, p=p / p.sum())]
    return df


def write_inputs(rows: int, wide: int, seed: int, out: Path) -> None:
    """prepared/{train,holdout}.parquet + schema/metadata, synthetic.parquet, like prepare."""
    from pipeline import io
    from pipeline.data.schema import build_schema, coerce, infer_roles, to_sdmetrics_metadata
    from pipeline.data.split import split_table

    df = build(rows, seed, wide)
    roles = infer_roles(df, {"title": "categorical"} if wide else {})
    df = coerce(df, roles)
    train, holdout = split_table(df, 0.3, seed, df["cut"])
    schema = build_schema(train, roles, f"diamonds x{rows}", "cut")
    synthetic = coerce(build(len(train), seed + 1, wide), roles)
    io.write_parquet(train, out / "prepared" / "train.parquet")
    io.write_parquet(holdout, out / "prepared" / "holdout.parquet")
    io.write_json(schema, out / "prepared" / "schema.json")
    io.write_json(to_sdmetrics_metadata(schema), out / "prepared" / "metadata.json")
    io.write_parquet(synthetic, out / "synthetic.parquet")


class _Timings(logging.Handler):
    """Collects evaluate's "evaluate: <i>/<n> <metric> done in <s> s" log lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        m = re.match(r"evaluate: \d+/\d+ (\w+) done in ([\d.]+) s$", record.getMessage())
        if m:
            self.seconds[m.group(1)] = float(m.group(2))


def child(work: Path) -> None:
    """Run evaluate once in this process; print one JSON line with time and memory."""
    from pipeline.config import params_from_dict
    from pipeline.stages import evaluate

    handler = _Timings()
    logging.getLogger("pipeline").addHandler(handler)
    logging.getLogger("pipeline").setLevel(logging.INFO)
    started = time.perf_counter()
    metrics = evaluate.run(params_from_dict({"seed": 42}), work / "prepared",
                           work / "synthetic.parquet", None, work / "reports")
    wall = time.perf_counter() - started
    details = json.loads((work / "reports" / "details.json").read_text())
    print(json.dumps({"wall_s": round(wall, 1),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                            / 1024, 0),
                      "seconds": handler.seconds, "rows": details["rows"],
                      "sampling": details["sampling"],
                      "metrics": {k: metrics[k] for k in ("detection.auc", "privacy.dcr_share",
                                                          "privacy.mia_auc",
                                                          "privacy.exact_copy_rate")}}))


def measure(rows: int, wide: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="evaluate_scale_") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        write_inputs(rows, wide, seed, work)
        built = time.perf_counter() - t0
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, __file__, "--child", str(work)], env=env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"evaluate on {rows} rows failed:\n{proc.stderr[-4000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"table_rows": rows, "wide_levels": wide, "build_s": round(built, 1), **result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[300_000, 1_000_000])
    ap.add_argument("--wide", type=int, default=0, help="add a categorical with this many levels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results"
                    / "evaluate_scale.json")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    load = os.getloadavg()[0]
    runs = []
    for rows in args.rows:
        run = measure(rows, args.wide, args.seed)
        print(json.dumps(run), flush=True)
        runs.append(run)
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": []}
    keep = [r for r in previous["runs"] if (r["table_rows"], r["wide_levels"]) not in
            {(r2["table_rows"], r2["wide_levels"]) for r2 in runs}]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpus": os.cpu_count(), "load_at_start": round(load, 2),
                                    "runs": keep + runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
