"""Notebook API: `Synthesizer(...).fit(df)`, `.sample(n, conditions=...)`, `.save` / `.load`.

The same functions as the CLI stages (schema inference and transformer from prepare's modules,
`train_model` from the train stage, the chunked sampler of the generate stage), and the same
checkpoint format, so a notebook model can be `synth generate`d and vice versa.

    >>> from pipeline import Synthesizer
    >>> synth = Synthesizer(steps=6000, batch_size=500).fit(df, target="income")
    >>> synthetic = synth.sample(1000, conditions={"sex": "Female", "age": ">=60"})
    >>> balanced = synth.augment(df, mode="rebalance")  # real rows + synthetic minority rows
    >>> synth.save("model.ckpt"); Synthesizer.load("model.ckpt").sample(10, seed=1)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from pipeline import io
from pipeline.config import PrepareParams, TrainParams, TransformParams, section_from_dict
from pipeline.errors import UserError


class Synthesizer:
    """A CTGAN-class synthesizer for one table. `**train` overrides any `train:` param."""

    def __init__(self, steps: int = 6000, epochs: int | None = None, batch_size: int = 500,
                 transform: dict[str, Any] | None = None, seed: int = 42,
                 chunk_rows: int = 50_000, **train: Any) -> None:
        self.train_params: TrainParams = section_from_dict(
            TrainParams, {"steps": steps, "epochs": epochs, "batch_size": batch_size, **train}, "train")
        self.transform_params: TransformParams = section_from_dict(
            TransformParams, dict(transform or {}), "transform")
        self.seed = seed
        self.chunk_rows = chunk_rows
        self._model: Any = None
        self._transformer: Any = None
        self._schema: dict | None = None
        self._trainer: Any = None
        self._checkpoint: dict | None = None

    def fit(self, df: pd.DataFrame, target: str | None = None,
            columns: dict[str, str] | None = None) -> "Synthesizer":
        """Infer the schema (role overrides in `columns`), fit the transformer, train the GAN."""
        from pipeline.data.schema import build_schema, coerce, infer_roles
        from pipeline.data.validate import require_modelable, validate_table
        from pipeline.stages.train import train_model
        from pipeline.tabular.transformer import TableTransformer

        if not isinstance(df, pd.DataFrame):
            raise UserError(f"fit expects a pandas DataFrame, got {type(df).__name__}")
        prepare = PrepareParams(dataset="dataframe", target=target, columns=dict(columns or {}))
        table, dropped = validate_table(df, prepare, "dataframe")
        roles = infer_roles(table, prepare.columns)
        require_modelable(roles, "dataframe", target)
        table = coerce(table, roles)
        schema = build_schema(table, roles, "dataframe", target, dropped)
        transformer = TableTransformer.fit(table, schema, self.transform_params, self.seed)
        self._model, self._trainer = train_model(table, schema, transformer, self.train_params,
                                                 self.seed, model_path=None)
        self._transformer, self._schema, self._checkpoint = transformer, schema, None
        return self

    def sample(self, n: int, conditions: dict[str, Any] | None = None,
               seed: int | None = None) -> pd.DataFrame:
        """`n` synthetic rows; `conditions` {column: value or numeric range (">=60",
        "1000..2000", [lo, hi])} hold in every row (`tabular/conditions.py`)."""
        from pipeline.stages.generate import iter_chunks, plan_conditions

        self._require_fitted()
        if not isinstance(n, int) or n < 1:
            raise UserError(f"sample: n must be a positive integer, got {n!r}")
        plan = plan_conditions(self._transformer, self._schema, conditions)
        chunks = iter_chunks(self._model, self._transformer, n, plan,
                             self.seed if seed is None else seed, self.chunk_rows)
        return pd.concat(list(chunks), ignore_index=True)

    def interpolate(self, seed_a: int, seed_b: int, steps: int = 8,
                    conditions: dict[str, Any] | None = None) -> pd.DataFrame:
        """Rows along the latent path between two seeds' first latent points; the first and
        last rows are `sample(1, conditions, seed=seed_a)` and `seed_b`'s
        (`pipeline/tabular_latent.py`)."""
        from pipeline.stages.generate import plan_conditions
        from pipeline.tabular_latent import interpolate_rows

        self._require_fitted()
        plan = plan_conditions(self._transformer, self._schema, conditions)
        return interpolate_rows(self._model, self._transformer, plan, (seed_a, seed_b), steps)

    def augment(self, df: pd.DataFrame, mode: str = "rebalance", target: str | None = None,
                share: float = 1.0, factor: float = 2.0, groups: list[dict] | None = None,
                seed: int | None = None, flag: str | None = None) -> pd.DataFrame:
        """`df` (real rows) plus synthetic rows: `rebalance` every class of `target` up to
        `share` x the largest, `fill` each `{conditions, rows}` group up to its rows, or
        `multiply` to `factor` x the rows; all drawn under native conditions."""
        from pipeline.augment import augment

        self._require_fitted()
        target = target or (self._schema or {}).get("target")
        if mode != "fill" and not target:
            raise UserError(f"augment mode {mode} needs a target column (target=...)")
        return augment(self._model, self._transformer, self._schema, df, mode, target,
                       self.seed if seed is None else seed, self.chunk_rows, share, factor,
                       list(groups or []), flag)

    def save(self, path: str | Path) -> None:
        """Write the checkpoint (same format as `synth train`; atomic)."""
        from pipeline.stages.train import save_checkpoint

        self._require_fitted()
        path = Path(path)
        if self._trainer is not None:
            save_checkpoint(self._trainer, path)
            return
        with io.atomic_path(path) as tmp:
            torch.save(self._checkpoint, tmp)

    @classmethod
    def load(cls, path: str | Path) -> "Synthesizer":
        """A Synthesizer from any checkpoint written by `save` or `synth train`."""
        from pipeline.stages.generate import load_checkpoint

        model, transformer, schema, ckpt = load_checkpoint(path)
        meta = ckpt["synth"]
        known = {f.name for f in dataclasses.fields(TrainParams)}
        train = {k: v for k, v in (meta.get("train") or {}).items() if k in known}
        self = cls(seed=int(meta.get("seed", 42)), **train)
        self._model, self._transformer, self._schema = model, transformer, schema
        self._checkpoint = ckpt
        return self

    def _require_fitted(self) -> None:
        if self._model is None:
            raise UserError("this Synthesizer is not fitted: call .fit(df) or Synthesizer.load")
