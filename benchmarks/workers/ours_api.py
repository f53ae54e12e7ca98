"""The one place the benchmark workers touch synth-pipeline's API (imported lazily, main venv).

It follows `pipeline.api.Synthesizer.fit/sample` step by step (validate -> roles -> schema ->
TableTransformer -> train_model's body -> generate.iter_chunks) but keeps the Trainer in hand,
so an epoch callback can time epochs and save samples at checkpoint epochs.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytorch_lightning as pl


def prepare(df: pd.DataFrame, name: str) -> tuple[pd.DataFrame, dict]:
    """(coerced table, schema.json dict) exactly as `synth prepare` / Synthesizer.fit build them."""
    from pipeline.config import PrepareParams
    from pipeline.data.schema import build_schema, coerce, infer_roles
    from pipeline.data.validate import validate_table

    p = PrepareParams(dataset=name)
    table, dropped = validate_table(df, p, name)
    roles = infer_roles(table, p.columns)
    table = coerce(table, roles)
    return table, build_schema(table, roles, name, None, dropped)


def fit_transformer(table: pd.DataFrame, schema: dict, seed: int = 42) -> Any:
    from pipeline.config import TransformParams
    from pipeline.tabular.transformer import TableTransformer

    return TableTransformer.fit(table, schema, TransformParams(), seed)


class _Epochs(pl.Callback):
    """Per-epoch seconds; `on_epoch_end(epoch, module)` time (checkpoint samples) excluded."""

    def __init__(self, on_epoch_end: Callable[[int, Any], None], budget_s: float | None = None,
                 started: float = 0.0) -> None:
        self.on_epoch_end, self.epoch_s, self.paused, self.loop_start = on_epoch_end, [], 0.0, 0.0
        self.budget_s, self.started = budget_s, started

    def on_train_start(self, trainer, module) -> None:
        self.loop_start = self._last = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:
        now = time.perf_counter()
        self.epoch_s.append(now - self._last)
        self.on_epoch_end(trainer.current_epoch + 1, module)
        self._last = time.perf_counter()
        self.paused += self._last - now
        if self.budget_s is not None:
            # stop when one more epoch (as long as the last one) would overrun the budget,
            # counted from `started` (setup included), pauses excluded
            spent = now - self.started - (self.paused - (self._last - now))
            if spent + self.epoch_s[-1] > self.budget_s:
                trainer.should_stop = True


def train(table: pd.DataFrame, schema: dict, transformer: Any, epochs: int, seed: int = 42,
          on_epoch_end: Callable[[int, Any], None] = lambda e, m: None,
          budget_s: float | None = None, started: float = 0.0) -> tuple[Any, _Epochs]:
    """Train at CTGAN's default architecture (the `train:` defaults: batch 500, pac 10, 256x2)."""
    from pipeline.config import TrainParams
    from pipeline.runtime import build_trainer
    from pipeline.stages.train import build_model

    params = TrainParams(epochs=epochs, accelerator="cpu")
    pl.seed_everything(seed, workers=True, verbose=False)
    matrix = np.ascontiguousarray(transformer.transform(table), dtype=np.float32)
    model = build_model(params, transformer, seed)
    model.set_training_data(matrix)
    clock = _Epochs(on_epoch_end, budget_s, started)
    trainer = build_trainer(params, False, [clock], checkpointing=False)
    trainer.fit(model)
    return model, clock


def sample(model: Any, transformer: Any, schema: dict, n: int, seed: int = 42,
           chunk_rows: int = 50_000) -> pd.DataFrame:
    """The generate path (model sampling + inverse transform), as Synthesizer.sample."""
    from pipeline.stages.generate import iter_chunks, plan_conditions

    plan = plan_conditions(transformer, schema, None)
    return pd.concat(list(iter_chunks(model, transformer, n, plan, seed, chunk_rows)),
                     ignore_index=True)


def dims(transformer: Any) -> dict:
    return {"data_dim": int(transformer.output_width),
            "cond_dim": int(sum(d.width for d in transformer.discrete))}


def dcr_scores(train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame,
               table_meta: dict) -> dict:
    """sdmetrics' two DCR scores computed with our chunked torch distances (same definitions:
    overfitting = min(2 * (1 - share closer to train), 1); baseline = median DCR(synthetic)
    / median DCR(uniform random rows within each column's range/categories), capped at 1)."""
    from pipeline.metrics.distance import embed, fit_space, nearest

    table, schema = prepare(train, "dcr")
    cols = [c["name"] for c in schema["columns"]]
    holdout, synth = holdout[cols], synth[cols]
    space = fit_space(table, schema, (holdout, synth))
    e_train, e_hold, e_syn = embed(table, space), embed(holdout, space), embed(synth, space)
    to_train = nearest(e_syn, e_train, space, k=1, chunk_rows=2048)[:, 0]
    to_hold = nearest(e_syn, e_hold, space, k=1, chunk_rows=2048)[:, 0]
    share = float(((to_train < to_hold) + 0.5 * (to_train == to_hold)).mean())
    rng = np.random.default_rng(0)
    rand = {}
    for c in cols:
        col = table[c]
        if pd.api.types.is_numeric_dtype(col) and col.dtype != bool:
            rand[c] = rng.uniform(col.min(), col.max(), len(synth)).astype(col.dtype)
        else:
            rand[c] = rng.choice(col.dropna().unique(), len(synth))
    e_rand = embed(pd.DataFrame(rand), space)
    to_rand = nearest(e_rand, e_train, space, k=1, chunk_rows=2048)[:, 0]
    med_rand = float(np.median(to_rand))
    return {"overfitting_score": min(2.0 * (1.0 - share), 1.0),
            "baseline_score": min(float(np.median(to_train)) / med_rand, 1.0) if med_rand else 1.0}
