"""`synth prepare`: load, validate, profile and split the real table; fit the transformer.

Order matters for the "no half-written outputs" promise: everything (loading, validation,
roles, split, schema, transformer) is computed in memory first; only then are the five files
written, each atomically, into `out_dir`.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pandas as pd

from pipeline import io
from pipeline.config import Params
from pipeline.data.roles import resolve_roles
from pipeline.data.schema import build_schema, coerce, to_sdmetrics_metadata
from pipeline.data.split import split_table
from pipeline.data.validate import load_source, require_modelable, validate_table
from pipeline.log import logger
from pipeline.tabular.columns import id_scheme
from pipeline.tabular.constraints import describe
from pipeline.tabular import residuals
from pipeline.tabular.transformer import TableTransformer

STRATIFIABLE = ("categorical", "boolean")


def run(params: Params, out_dir: Path) -> None:
    """Write train.parquet, holdout.parquet, schema.json, metadata.json, transformer.json."""
    p = params.prepare
    started = time.perf_counter()
    raw = load_source(p.dataset, p.csv)
    logger.info("loaded %s: %d rows x %d columns (%.2fs)", p.dataset, len(raw), raw.shape[1],
                time.perf_counter() - started)
    df, dropped = validate_table(raw, p, p.dataset)
    explained = resolve_roles(df, p)
    roles = {column: role for column, (role, _) in explained.items()}
    require_modelable(roles, p.dataset, p.target)
    df = coerce(df, roles)
    counts = sorted(Counter(roles.values()).items())
    logger.info("roles: %s", ", ".join(f"{n} {role}" for role, n in counts))
    for column, (role, why) in explained.items():
        logger.debug("column %s: %s (%s)", column, role, why)

    stratify_by = _stratify_column(df, roles, p.target, p.stratify)
    train, holdout = split_table(df, p.holdout_fraction, params.seed, stratify_by)
    logger.info("split: %d train rows, %d holdout rows%s", len(train), len(holdout),
                f" (stratified by {p.target})" if stratify_by is not None else "")

    schema = build_schema(train, roles, p.dataset, p.target, dropped)
    for entry in schema["columns"]:  # synthetic ids avoid every real one, holdout included
        if entry["role"] == "id":
            entry["id_scheme"] = id_scheme(df[entry["name"]])
    metadata = to_sdmetrics_metadata(schema)
    fit_started = time.perf_counter()
    transformer = TableTransformer.fit(train, schema, params.transform, params.seed).to_dict()
    logger.info("fitted the transformer in %.2fs", time.perf_counter() - fit_started)
    if transformer["constraints"]:
        logger.info("exact rules kept in generated rows: %s",
                    "; ".join(describe(r) for r in transformer["constraints"]))
    if transformer["residuals"]:
        logger.info("columns encoded as residuals: %s",
                    "; ".join(residuals.describe(f) for f in transformer["residuals"]))

    out_dir = Path(out_dir)
    io.write_parquet(train, out_dir / "train.parquet")
    io.write_parquet(holdout, out_dir / "holdout.parquet")
    io.write_json(schema, out_dir / "schema.json")
    io.write_json(metadata, out_dir / "metadata.json")
    io.write_json(transformer, out_dir / "transformer.json")
    logger.info("prepared %s in %.2fs", out_dir, time.perf_counter() - started)


def _stratify_column(df: pd.DataFrame, roles: dict[str, str], target: str | None,
                     stratify: bool) -> pd.Series | None:
    """The target column when a stratified split makes sense, else None (with a reason)."""
    if target is None or not stratify:
        return None
    if roles[target] not in STRATIFIABLE:
        logger.info("not stratifying: target '%s' is %s, not categorical/boolean",
                    target, roles[target])
        return None
    return df[target]
