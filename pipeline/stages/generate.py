"""`synth generate`: sample rows from a checkpoint, streamed in chunks into one Parquet file.

Shared with `pipeline.api.Synthesizer.sample` and `pipeline.augment`: `load_checkpoint` ->
`plan_conditions` (`tabular/conditions.py`) -> `iter_chunks`. Discrete conditions, on any number
of columns, go into the one condition vector (the generator was trained on any-way condition
vectors), so every other column follows them; rows whose conditioned spans came out at another
category are redrawn, and the spans are forced as a last resort, so they hold in every row.
Numeric ranges and the transformer's order rules are kept by bounded, seeded rejection: a
condition the model cannot meet in REJECTION_ROUNDS rounds of redraws is a one-line error.
A model whose decoded-row refiner is on (`models/row_refine.py`, `train.refine_rows_draws`)
also keeps rows by it in the same loop, conditioned or not; it was fitted on unconditional
draws, so a rare condition may keep fewer per round (more redraws, bounded the same way).
Rows equal to a training row that no other training row shares are redrawn in that loop too
(`models/copy_guard.py`, `train.refuse_copies`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from pipeline import io
from pipeline.config import Params
from pipeline.errors import UserError
from pipeline.log import logger
from pipeline.models import row_refine
from pipeline.models.checkpoint import build_model, read_checkpoint
from pipeline.tabular.conditions import ConditionPlan, plan_conditions

__all__ = ["ConditionPlan", "iter_chunks", "load_checkpoint", "plan_conditions", "run"]

REJECTION_ROUNDS = 8
MAX_DRAW_FACTOR = 20  # rows drawn per round, at most this many times the rows still wanted
MIN_PIECE = 8192  # a round draws and decodes in pieces of max(chunk, this) rows


def run(params: Params, model_path: Path, out_path: Path, rows: int | None = None,
        conditions: dict[str, Any] | None = None, seed: int | None = None) -> None:
    """Write `rows` (default generate.rows, else the training row count) rows to `out_path`
    (Parquet, or CSV when it ends in .csv)."""
    fmt = out_format(out_path)
    model, transformer, schema, _ = load_checkpoint(model_path)
    n = rows or params.generate.rows or int(schema["n_rows"])
    chosen = conditions if conditions is not None else dict(params.generate.conditions)
    plan = plan_conditions(transformer, schema, chosen)
    seed = params.seed if seed is None else seed
    model = model.to("cuda" if torch.cuda.is_available() else "cpu")
    started = time.perf_counter()
    chunks = _progress(iter_chunks(model, transformer, n, plan, seed, params.generate.chunk_rows),
                       n, started)
    if fmt == "csv":
        io.write_csv_stream(chunks, out_path)
    else:
        write_parquet_stream(chunks, Path(out_path), arrow_schema(transformer))
    elapsed = time.perf_counter() - started
    logger.info("generated %d rows%s in %.2fs (%.0f rows/s) -> %s", n,
                f" with {chosen}" if chosen else "", elapsed, n / max(elapsed, 1e-9), out_path)
    if model.copy_guard.refused:
        logger.info("copy guard: %d drawn rows equalled a unique training row and were "
                    "redrawn (train.refuse_copies)", model.copy_guard.refused)


OUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def out_format(path: str | Path) -> str:
    """"parquet" or "csv" from the file name; anything else is refused (never a silent guess)."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUT_FORMATS:
        raise UserError(f"--out {path}: write .parquet or .csv (got '{suffix or 'no suffix'}')")
    return OUT_FORMATS[suffix]


def _progress(chunks: Iterator[pd.DataFrame], n: int, started: float
              ) -> Iterator[pd.DataFrame]:
    """Pass chunks through, logging rows done and time left when there are several."""
    done = 0
    for chunk in chunks:
        done += len(chunk)
        yield chunk
        if done < n:
            spent = time.perf_counter() - started
            logger.info("generate: %d/%d rows (%.0f%%), about %.0fs left", done, n,
                        100 * done / n, spent / done * (n - done))


def load_checkpoint(path: str | Path) -> tuple[Any, Any, dict, dict]:
    """(model in eval mode, TableTransformer, schema, raw checkpoint dict) from a checkpoint."""
    from pipeline.tabular.transformer import TableTransformer

    ckpt = read_checkpoint(path)
    model = build_model(ckpt, path)
    try:
        transformer = TableTransformer.from_dict(ckpt["synth"]["transformer"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} holds a broken transformer state: {exc}") from None
    return model, transformer, ckpt["synth"]["schema"], ckpt


def iter_chunks(model: Any, transformer: Any, n: int, plan: ConditionPlan, seed: int,
                chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Decoded chunks of at most `chunk_rows` rows; deterministic for a seed on one device.
    Rows go through `_accepted_rows` when conditions, row filters or the decoded-row refiner
    (`models/row_refine.py`, once fitted) keep some and drop others."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    refining = bool(model.row_refiner.on)
    for start in range(0, n, chunk_rows):
        size = min(chunk_rows, n - start)
        if plan.active or transformer.has_row_filters or refining:
            yield _accepted_rows(model, transformer, size, plan, generator, rng, start)
            continue
        frame = transformer.inverse_transform(model.sample(size, None, generator),
                                              generator=rng, start_row=start)
        fresh = model.copy_guard.keep(frame, transformer.columns, transformer.roles)
        if fresh.all():
            yield frame
            continue
        rest = _accepted_rows(model, transformer, size - int(fresh.sum()), plan, generator,
                              rng, start)  # redraws for the copies of training rows
        yield transformer.number_ids(pd.concat([frame[fresh], rest], ignore_index=True),
                                     start)


def _accepted_rows(model: Any, transformer: Any, size: int, plan: ConditionPlan,
                   generator: torch.Generator, rng: np.random.Generator,
                   start: int) -> pd.DataFrame:
    """`size` decoded rows under `plan` that keep the row filters (order: A <= B; together)
    and the decoded-row refiner: draw (in pieces of max(size, MIN_PIECE) rows), keep the rows whose
    conditioned spans came out right, whose numeric ranges hold, that keep the rules and that
    the refiner keeps, draw again for the rest, sized by the observed acceptance rate.
    Rows equal to a unique training row (`models/copy_guard.py`) are never kept.
    Bounded: after REJECTION_ROUNDS the rest comes from rows that meet the numeric ranges with
    a forced span, a broken rule or no refinement (logged); fewer than that is a UserError."""
    cols = row_refine.layout(transformer.columns, transformer.roles)
    parts, spare, have, rate, drawn = [], [], 0, 1.0, 0
    for _ in range(REJECTION_ROUNDS):
        want = size - have
        draw = min(int(want / max(rate, 1e-3) * 1.1) + 16, MAX_DRAW_FACTOR * want + 16)
        frames, natives = [], []
        piece = max(size, MIN_PIECE)
        for m in [piece] * (draw // piece) + [draw % piece] * bool(draw % piece):
            matrix = model.sample(m, plan.pairs or None, generator)
            natives.append(plan.native_match(matrix).cpu().numpy())
            frames.append(transformer.inverse_transform(plan.apply(matrix), generator=rng,
                                                        start_row=start))
        frame, native = pd.concat(frames, ignore_index=True), np.concatenate(natives)
        # a copy of a unique training row is never kept, not even as a last resort
        met = plan.holds(frame) & model.copy_guard.keep(frame, transformer.columns,
                                                        transformer.roles)
        best = met & native
        if transformer.has_row_filters:
            best &= transformer.satisfied(frame)
        best &= model.row_refiner.keep(frame, cols, rng)
        drawn += draw
        rate = max(float(best.mean()), 1e-3)
        kept = frame[best].head(want)
        parts.append(kept)
        spare.append(frame[met & ~best].head(size))
        have += len(kept)
        if have >= size:
            break
    else:
        pool = pd.concat(spare, ignore_index=True).head(size - have)
        if have + len(pool) < size:
            what = f"conditions {plan.text}" if plan.active else "generate"
            guard = (" and not copying a unique training row (train.refuse_copies)"
                     if bool(model.copy_guard.on) else "")
            raise UserError(f"{what}: the model produced only {have + len(pool)} of {size} rows "
                            f"that hold{guard} in {drawn} draws ({REJECTION_ROUNDS} rounds); "
                            f"widen the range, drop a condition or train longer")
        logger.warning("generate: %d of %d rows kept with a forced category, a broken rule "
                       "between columns or without refinement after %d rounds of redraws",
                       len(pool), size, REJECTION_ROUNDS)
        parts.append(pool)
    out = pd.concat(parts, ignore_index=True)
    return transformer.number_ids(out, start)


def arrow_schema(transformer: Any) -> pa.Schema:
    """The Parquet schema of generated rows, derived once from the transformer (not from the
    first chunk, where a mostly-missing column may be all null): one decoded probe row gives
    every column's dtype (categories, nullable ints, time zones); text columns are `string`
    even where the probe's value is missing."""
    probe = transformer.inverse_transform(np.zeros((1, transformer.output_width), np.float32))
    schema = pa.Schema.from_pandas(probe, preserve_index=False)
    for i, f in enumerate(schema):
        if pa.types.is_null(f.type):
            schema = schema.set(i, f.with_type(pa.string()))
    return schema


def write_parquet_stream(chunks: Iterator[pd.DataFrame], path: Path,
                         schema: pa.Schema | None = None) -> int:
    """Stream chunks into one Parquet file with `schema` (None: the first chunk's), atomically."""
    total = 0
    with io.atomic_path(path) as tmp:
        writer = None
        try:
            for df in chunks:
                table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(tmp, schema)
                writer.write_table(table)
                total += len(df)
        finally:
            if writer is not None:
                writer.close()
    return total
