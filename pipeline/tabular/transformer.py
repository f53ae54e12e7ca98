"""The reversible table transformer: real rows <-> the float32 matrix the GAN learns.

Columns are encoded by role (`columns.py`): numerical/integer/datetime by mode-specific
normalisation or quantiles, categorical/boolean as one-hot, id and constant columns with no span
(regenerated on decoding). `spans` and `discrete` describe the matrix to the model and sampler
(`spans.py`). The fitted state is plain JSON (`to_dict`/`from_dict`), exact on round trip.

Randomness: `transform` samples each numerical row's mode from its posterior with a generator
seeded from (seed, column index), so the same state and data always give the same matrix;
`inverse_transform` draws rare-bucket categories from the given generator (default: seeded).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.config import TransformParams
from pipeline.errors import UserError
from pipeline.tabular import (constraints, decode_order, keysets, lattices, pairlattices,
                              residuals)
from pipeline.tabular import series as series_rules
from pipeline.tabular.categorical import CategoricalEncoder
from pipeline.tabular.numeric import QuantileScaler
from pipeline.tabular.columns import (CODECS, ConstantColumn, DiscreteCodec, IdColumn,
                                      NumericColumn)
from pipeline.tabular.spans import (DiscreteColumn, Span, discrete_to_list, spans_to_list,
                                    total_width)

FORMAT_VERSION = 2
NUMERIC_ROLES = ("numerical", "integer", "datetime")
DISCRETE_ROLES = ("categorical", "boolean")
ROLES = (*NUMERIC_ROLES, *DISCRETE_ROLES, "id", "constant")
_MAX_LABELS = 20  # an integer target with at most this many values is encoded as a label

Codec = NumericColumn | DiscreteCodec | IdColumn | ConstantColumn


def _column_seed(seed: int, index: int) -> int:
    """An independent, reproducible seed per column (fit subsample, mixture init, mode draws)."""
    return int(np.random.SeedSequence([seed % 2**32, index]).generate_state(1)[0])


class TableTransformer:
    """Fitted per-column codecs in schema order, with the span layout they produce."""

    def __init__(self, codecs: list[Codec], roles: list[str], seed: int,
                 params: TransformParams, rules: list[dict] | None = None,
                 fits: list[dict] | None = None) -> None:
        self.codecs = codecs
        self.rules = list(rules or [])  # exact rules between columns (`constraints.py`)
        self.fits = list(fits or [])  # columns encoded as a residual (`residuals.py`)
        self._decode_plan = decode_order.plan(self.rules, self.fits)
        self.roles = roles
        self.seed = int(seed)
        self.params = params
        self.spans: list[Span] = []
        self.discrete: list[DiscreteColumn] = []
        self._slices: list[slice] = []
        start = 0
        for codec in codecs:
            col_start = start
            for kind, width in codec.layout():
                self.spans.append(Span(codec.name, kind, start, width))
                start += width
            self._slices.append(slice(col_start, start))
            if isinstance(codec, DiscreteCodec):
                self.discrete.append(DiscreteColumn(codec.name, col_start, start - col_start,
                                                    tuple(codec.encoder.labels)))

    @property
    def output_width(self) -> int:
        return total_width(self.spans)

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.codecs]

    @classmethod
    def fit(cls, df: pd.DataFrame, schema: dict, params: TransformParams,
            seed: int) -> "TableTransformer":
        """Fit every column of `schema` on `df` (the training split).

        The numerical columns' mixtures are fitted together, in one vectorised batch, each on
        <= params.fit_rows sampled rows (`gmm.py`).
        """
        entries = _schema_columns(df, schema)
        roles = [e["role"] for e in entries]
        rules = constraints.discover(df, schema) if params.constraints else []
        fits = residuals.discover(df, entries, rules, params.residual_r2,
                                  params.exact_values_max,
                                  params.trend_r2) if params.residual_r2 else []
        if params.constraints:  # after the fits: their predictors are never snapped
            rules += lattices.discover(
                df, schema, constraints.columns([r for r in rules if r["kind"] != "order"]),
                set().union(*(residuals.reads(f) for f in fits)), params.exact_values_max)
            # lattices over a pair of sources, where one source alone leaves several values
            rules += pairlattices.discover(
                df, schema, set().union(*(constraints.writes(r) for r in rules
                                          if r["kind"] != "lattice")),
                {r["column"] for r in rules if r["kind"] == "lattice"})
            # along the fits' trend keys: categorical columns of a series (opt-in)
            if params.series:
                rules += series_rules.discover(
                    df, schema, fits, set().union(*(constraints.writes(r) for r in rules)))
            # last: a keyset rule may fix what fits and rules read (`decode_order.py`)
            rules += keysets.discover(df, schema, set().union(
                {f["column"] for f in fits}, *(constraints.writes(r) for r in rules)))
        df, entries = residuals.forward(df, fits), residuals.entries(entries, fits)
        label = _integer_label(df, entries, schema.get("target"), set().union(
            {f["column"] for f in fits}, *(constraints.writes(r) for r in rules)))
        entries = [{**e, "role": "categorical"} if e["name"] == label else e for e in entries]
        numeric = [i for i, e in enumerate(entries) if e["role"] in NUMERIC_ROLES]
        fitted = NumericColumn.fit_many(
            [(df[entries[i]["name"]], entries[i]["role"], entries[i]["dtype"],
              _column_seed(seed, i), _has_missing(entries[i])) for i in numeric], params)
        codecs: list[Any] = [None] * len(entries)
        for i, codec in zip(numeric, fitted):
            codecs[i] = codec
        for i, e in enumerate(entries):
            series = df[e["name"]]
            if e["role"] in DISCRETE_ROLES:
                codecs[i] = DiscreteCodec(CategoricalEncoder.fit(
                    series, e["dtype"], params.rare_category_fraction, params.max_categories,
                    _has_missing(e)))
            elif e["role"] == "id":
                codecs[i] = IdColumn.fit(series, e["dtype"], e.get("id_scheme"))
            elif e["role"] == "constant":
                codecs[i] = ConstantColumn.fit(series, e["dtype"], e.get("value"),
                                               _has_missing(e))
        return cls(codecs, roles, seed, params, rules, fits)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Encode `df` (must hold every fitted column) as a float32 [n_rows, output_width]."""
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise UserError(f"table lacks column(s) the transformer was fitted on: "
                            f"{', '.join(missing)}")
        df = residuals.forward(df, self.fits)
        out = np.empty((len(df), self.output_width), dtype=np.float32)
        for i, (codec, sl) in enumerate(zip(self.codecs, self._slices)):
            rng = np.random.default_rng(_column_seed(self.seed, i))
            out[:, sl] = codec.encode(df[codec.name], rng)
        return out

    def inverse_transform(self, matrix: np.ndarray | torch.Tensor,
                          generator: np.random.Generator | None = None,
                          start_row: int = 0) -> pd.DataFrame:
        """Decode a matrix (e.g. generator output) into a table with the schema's dtypes.

        One-hot spans are read by argmax, scalars are clipped to [-1, 1]. `start_row` numbers
        regenerated id columns, so chunks decoded one after another get unique ids.
        """
        if isinstance(matrix, torch.Tensor):
            matrix = matrix.detach().to("cpu", torch.float32).numpy()
        matrix = np.asarray(matrix)
        if matrix.ndim != 2 or matrix.shape[1] != self.output_width:
            raise UserError(f"matrix has shape {matrix.shape}; the transformer expects "
                            f"[rows, {self.output_width}]")
        rng = generator if generator is not None else np.random.default_rng(self.seed)
        data = {codec.name: codec.decode(matrix[:, sl], rng, start_row)
                for codec, sl in zip(self.codecs, self._slices)}
        frame = pd.DataFrame(data, columns=self.columns)
        codecs = {c.name: c for c in self.codecs}
        for kind, step in self._decode_plan:
            if kind == "fit":
                residuals.restore(frame, [step])
            else:
                constraints.apply(frame, [step], codecs, rng)
        return frame

    def tie_tables(self) -> list[dict]:
        """Per quantile-encoded scalar: its matrix column, its missing-flag column (-1: none)
        and `QuantileScaler.tie_table`'s edges / ranks (`pipeline/models/snap.py`)."""
        out = []
        for codec, sl in zip(self.codecs, self._slices):
            if isinstance(codec, NumericColumn) and isinstance(codec.encoder, QuantileScaler):
                edges, ranks = codec.encoder.tie_table()
                out.append({"column": sl.start, "missing": sl.stop - 1 if codec.has_missing
                            else -1, "edges": edges, "ranks": ranks})
        return out

    @property
    def has_row_filters(self) -> bool:
        return any(r["kind"] in constraints.FILTERS for r in self.rules)

    def satisfied(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of a decoded frame that keep every order and together rule (`constraints.py`)."""
        return constraints.satisfied(frame, self.rules)

    def number_ids(self, frame: pd.DataFrame, start_row: int) -> pd.DataFrame:
        """Regenerated id columns numbered from `start_row` (after rows were filtered)."""
        for codec in self.codecs:
            if isinstance(codec, IdColumn):
                frame[codec.name] = codec.decode(np.zeros((len(frame), 0), np.float32), None,
                                                 start_row).values
        return frame

    def condition(self, column: str, value: Any) -> tuple[int, int]:
        """(index into `discrete`, category slot) for conditioning generation on column=value."""
        for d_index, codec in enumerate(c for c in self.codecs if isinstance(c, DiscreteCodec)):
            if codec.name == column:
                return d_index, codec.encoder.slot_of(value)
        valid = [d.column for d in self.discrete]
        shown = ", ".join(valid[:10]) + (", ..." if len(valid) > 10 else "")
        what = "is not categorical/boolean" if column in self.columns else "is not a column"
        raise UserError(f"cannot condition on '{column}': it {what} (conditionable columns: "
                        f"{shown or 'none'})")

    def to_dict(self) -> dict:
        """Plain-JSON state (lists, numbers, strings); spans are included for readers."""
        return {"version": FORMAT_VERSION, "seed": self.seed, "params": asdict(self.params),
                "roles": self.roles, "columns": [c.to_dict() for c in self.codecs],
                "spans": spans_to_list(self.spans),
                "discrete": discrete_to_list(self.discrete), "constraints": self.rules,
                "residuals": self.fits}

    @classmethod
    def from_dict(cls, d: dict) -> "TableTransformer":
        if d.get("version") != FORMAT_VERSION:
            raise UserError(f"transformer state has version {d.get('version')!r}; this code "
                            f"reads version {FORMAT_VERSION} (re-run prepare)")
        codecs = [CODECS[c["type"]].from_dict(c) for c in d["columns"]]
        return cls(codecs, list(d["roles"]), d["seed"], TransformParams(**d["params"]),
                   d.get("constraints"), d.get("residuals"))


def _has_missing(entry: dict) -> bool:
    return float(entry.get("missing_rate") or 0.0) > 0.0


def _integer_label(df: pd.DataFrame, entries: list[dict], target: str | None,
                   fixed: set[str]) -> str | None:
    """The target when it is an integer class label (<= _MAX_LABELS values, german_credit's
    0/1 `risk`) that no fit or rule sets: it is encoded as a category (a one-hot span), so
    training by sampling conditions the generator on it like any label, and decoding gives
    back its integers. None otherwise."""
    entry = next((e for e in entries if e["name"] == target), None)
    if entry is None or entry["role"] != "integer" or target in fixed \
            or df[target].nunique() > _MAX_LABELS:
        return None
    return target


def _schema_columns(df: pd.DataFrame, schema: dict) -> list[dict]:
    """The schema's column entries, checked against the table and the known roles."""
    entries = schema.get("columns")
    if not isinstance(entries, list) or not entries:
        raise UserError("schema has no 'columns' list")
    for e in entries:
        if e.get("role") not in ROLES:
            raise UserError(f"column '{e.get('name')}' has unknown role {e.get('role')!r} "
                            f"(expected one of: {', '.join(ROLES)})")
    absent = [e["name"] for e in entries if e["name"] not in df.columns]
    if absent:
        raise UserError(f"table lacks schema column(s): {', '.join(absent)}")
    return [{**e, "dtype": e.get("dtype") or str(df[e["name"]].dtype)} for e in entries]
