"""`synth augment`: the prepared training rows plus synthetic rows drawn under native
conditions (`pipeline/augment.py`), written to Parquet, and the augmentation lift on the real
holdout (`metrics/augmentation.py`) written as a metrics JSON for `dvc metrics`.

The lift compares a downstream model trained on the real rows alone with ones trained on
`augment.lift_seeds` augmented sets (the written one and further draws with the next seeds).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch

from pipeline import io
from pipeline.augment import augment
from pipeline.config import Params
from pipeline.errors import UserError
from pipeline.log import logger
from pipeline.metrics.augmentation import augmentation_lift
from pipeline.stages.generate import load_checkpoint


def run(params: Params, data_dir: Path, model_path: Path, out_path: Path,
        metrics_path: Path | None) -> None:
    """Write the augmented training set to `out_path` and its lift to `metrics_path`."""
    aug = params.augment
    model, transformer, schema, _ = load_checkpoint(model_path)
    real = _read(Path(data_dir) / "train.parquet")
    target = aug.target or schema.get("target") or params.prepare.target
    if aug.mode != "fill" and not target:
        raise UserError(f"augment.mode {aug.mode} needs a target: set augment.target or "
                        f"prepare.target")
    model = model.to("cuda" if torch.cuda.is_available() else "cpu")
    started = time.perf_counter()

    def draw(seed: int) -> pd.DataFrame:
        return augment(model, transformer, schema, real, aug.mode, target, seed,
                       params.generate.chunk_rows, aug.share, aug.factor, list(aug.groups),
                       aug.flag_column)

    out = draw(params.seed)
    io.write_parquet(out, out_path)
    logger.info("augment (%s): %d real + %d synthetic rows in %.2fs -> %s", aug.mode, len(real),
                len(out) - len(real), time.perf_counter() - started, out_path)
    if metrics_path is None or aug.lift_seeds == 0 or not target:
        return
    holdout = _read(Path(data_dir) / "holdout.parquet")
    sets = [out] + [draw(params.seed + i) for i in range(1, aug.lift_seeds)]
    if aug.flag_column:
        sets = [s.drop(columns=[aug.flag_column]) for s in sets]
    lift = augmentation_lift(real, sets, holdout, schema, target, params.seed)
    # metrics.json: numbers a user compares (`dvc metrics diff`); the rest next to it
    io.write_json({"augment": {"real_rows": len(real), "synthetic_rows": len(out) - len(real),
                               "real": lift["real"], "lift": lift["lift"]}}, metrics_path)
    io.write_json({"mode": aug.mode, "target": target, "task": lift["task"],
                   "minority": lift["minority"], "augmented": lift["augmented"]},
                  Path(metrics_path).with_name("details.json"))
    logger.info("augment: lift on the holdout %s", {k: round(v["mean"], 4)
                                                    for k, v in lift["lift"].items()})


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserError(f"{path} not found: run `synth prepare` first")
    return pd.read_parquet(path)
