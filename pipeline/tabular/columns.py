"""Per-column codecs: what spans one column occupies, how it encodes and decodes its block.

Every codec has `layout()` -> [(kind, width)], `encode(series, rng)` -> float32 block,
`decode(block, rng, start_row)` -> Series, and `to_dict()`. `TableTransformer` lays the
blocks side by side. A column with missing values gets a trailing ("present", "missing")
one-hot span, except discrete columns, whose missing values have their own category slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import TransformParams
from pipeline.errors import UserError
from pipeline.tabular.categorical import CategoricalEncoder
from pipeline.tabular.numeric import ModeNormalizer, QuantileScaler
from pipeline.tabular.values import NumberCodec, json_value, restore_dtype

_ENCODE_BLOCK = 1 << 18


def _onehot(index: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(index), width), dtype=np.float32)
    out[np.arange(len(index)), index] = 1.0
    return out


def _missing_block(missing: np.ndarray) -> np.ndarray:
    return _onehot(missing.astype(np.int64), 2)


@dataclass
class NumericColumn:
    """A numerical, integer or datetime column: scalar [+ mode one-hot] [+ missing one-hot]."""

    codec: NumberCodec
    encoder: ModeNormalizer | QuantileScaler
    has_missing: bool
    # Missing rows encode a value drawn from the column's own fitted marginal (with an rng;
    # without one, `fill`, the median). With one fixed fill, 80 % of nyc_weather `wind_gust`
    # rows (missing) sat on the median's scalar, the generator tied that mass to the missing
    # flag only loosely, and 63 % of generated present gusts came out as the median (KS 0.69).
    fill: float

    @classmethod
    def fit(cls, series: pd.Series, role: str, dtype: str, params: TransformParams,
            seed: int, has_missing: bool) -> "NumericColumn":
        return cls.fit_many([(series, role, dtype, seed, has_missing)], params)[0]

    @classmethod
    def fit_many(cls, columns: list[tuple[pd.Series, str, str, int, bool]],
                 params: TransformParams) -> list["NumericColumn"]:
        """Fit numeric columns given as (series, role, dtype, seed, has_missing).

        With `numerical: gmm` all their mixtures are fitted in one batch (`gmm.py`); each
        column's result is the same as when fitted alone.
        """
        codecs, values, missing_any = [], [], []
        for series, role, dtype, _, _ in columns:
            codec = NumberCodec.fit(series, role, dtype)
            x, missing = codec.to_float(series)
            codecs.append(codec)
            values.append(x[~missing])
            missing_any.append(bool(missing.any()))
        seeds = [c[3] for c in columns]
        if params.numerical == "gmm":
            encoders: list = ModeNormalizer.fit_many(values, params.max_modes,
                                                     params.weight_threshold, params.fit_rows,
                                                     seeds)
        else:
            encoders = [QuantileScaler.fit(x, params.fit_rows, seed, params.exact_values_max)
                        for x, seed in zip(values, seeds)]
        return [cls(codec, encoder, bool(col[4] or miss), float(np.median(x)))
                for codec, encoder, col, miss, x in zip(codecs, encoders, columns, missing_any,
                                                         values)]

    @property
    def name(self) -> str:
        return self.codec.name

    def layout(self) -> list[tuple[str, int]]:
        spans = [("scalar", 1)]
        if isinstance(self.encoder, ModeNormalizer) and self.encoder.n_modes > 1:
            spans.append(("onehot", self.encoder.n_modes))
        if self.has_missing:
            spans.append(("onehot", 2))
        return spans

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        x, missing = self.codec.to_float(series)
        if missing.any() and not self.has_missing:
            raise UserError(f"column '{self.name}' has missing values but had none when the "
                            "transformer was fitted")
        x = np.where(missing, self.fill, x)
        if rng is not None and missing.any():
            x[missing] = self._draw(int(missing.sum()), rng)
        blocks = []
        if isinstance(self.encoder, ModeNormalizer):
            # Row blocks bound the [rows, modes] temporaries (~0.5 KB a row) on huge tables.
            parts = [self.encoder.encode(x[i:i + _ENCODE_BLOCK], rng)
                     for i in range(0, len(x), _ENCODE_BLOCK)] or [self.encoder.encode(x, rng)]
            scalar = np.concatenate([p[0] for p in parts])
            mode = np.concatenate([p[1] for p in parts])
            blocks.append(scalar[:, None].astype(np.float32))
            if self.encoder.n_modes > 1:
                blocks.append(_onehot(mode, self.encoder.n_modes))
        else:
            blocks.append(self.encoder.encode(x, rng)[:, None].astype(np.float32))
        if self.has_missing:
            blocks.append(_missing_block(missing))
        return np.concatenate(blocks, axis=1)

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` values from the fitted marginal: the quantile encoder's inverse at normal
        scalars, or the kept mixture's modes."""
        if isinstance(self.encoder, QuantileScaler):
            return self.encoder.decode(rng.standard_normal(n) / 4.0)
        enc = self.encoder
        mode = rng.choice(enc.n_modes, size=n, p=np.asarray(enc.weights) / np.sum(enc.weights))
        return rng.normal(np.asarray(enc.means)[mode], np.asarray(enc.stds)[mode])

    def decode(self, block: np.ndarray, rng: np.random.Generator, start_row: int) -> pd.Series:
        scalar = block[:, 0].astype(np.float64)
        if isinstance(self.encoder, ModeNormalizer):
            k = self.encoder.n_modes
            mode = block[:, 1:1 + k].argmax(axis=1) if k > 1 else np.zeros(len(block), int)
            x = self.encoder.decode(np.clip(scalar, -1.0, 1.0), mode)
        else:
            x = self.encoder.decode(scalar)
        missing = block[:, -2:].argmax(axis=1) == 1 if self.has_missing else None
        return self.codec.from_float(x, missing)

    def to_dict(self) -> dict:
        kind = "gmm" if isinstance(self.encoder, ModeNormalizer) else "quantile"
        return {"type": "numeric", "codec": self.codec.to_dict(), "encoding": kind,
                "encoder": vars(self.encoder).copy(), "has_missing": self.has_missing,
                "fill": self.fill}

    @classmethod
    def from_dict(cls, d: dict) -> "NumericColumn":
        enc_cls = ModeNormalizer if d["encoding"] == "gmm" else QuantileScaler
        return cls(NumberCodec.from_dict(d["codec"]), enc_cls(**d["encoder"]),
                   d["has_missing"], d["fill"])


@dataclass
class DiscreteCodec:
    """A categorical or boolean column: one one-hot span over its slots."""

    encoder: CategoricalEncoder

    @property
    def name(self) -> str:
        return self.encoder.name

    def layout(self) -> list[tuple[str, int]]:
        return [("onehot", self.encoder.width)]

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        return _onehot(self.encoder.codes(series), self.encoder.width)

    def decode(self, block: np.ndarray, rng: np.random.Generator, start_row: int) -> pd.Series:
        return self.encoder.decode(block.argmax(axis=1), rng)

    def to_dict(self) -> dict:
        return {"type": "discrete", **self.encoder.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "DiscreteCodec":
        return cls(CategoricalEncoder.from_dict({k: v for k, v in d.items() if k != "type"}))


FRESH_ID_PREFIX = "syn-"  # free-form string ids: synthetic ones are "syn-000001", ...


def id_scheme(values: pd.Series) -> dict[str, Any]:
    """How synthetic ids are numbered so that none equals a real one (`values`: every real id,
    train and holdout). Integer ids: a fresh range after the real maximum. String ids that all
    are one prefix + a fixed number of digits ("C00042"): the same shape, numbered after the
    real maximum. Other strings: FRESH_ID_PREFIX + digits, with a prefix no real id starts with.
    """
    values = values.dropna()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return {"start": int(np.floor(values.max())) + 1 if len(values) else 0}
    text = values.astype(str)
    parts = text.str.extract(r"^(\D*)(\d+)$")
    if len(parts) and parts.notna().all().all() and parts[0].nunique() == 1 \
            and parts[1].str.len().nunique() == 1 and len(parts[1].iloc[0]) <= 18:
        return {"prefix": str(parts[0].iloc[0]), "digits": int(parts[1].str.len().iloc[0]),
                "offset": int(parts[1].astype("int64").max()) + 1}
    prefix, k = FRESH_ID_PREFIX, 0
    while bool(text.str.startswith(prefix).any()):
        k += 1
        prefix = f"syn{k}-"
    return {"prefix": prefix, "digits": max(6, len(str(len(values)))), "offset": 1}


@dataclass
class IdColumn:
    """An identifier: no span; decoding numbers rows uniquely from `start_row` in a range that
    never holds a real id (`id_scheme`): integers from `start` (real max + 1), strings
    `prefix` + zero-padded (`digits`) numbers from `offset`.
    """

    name: str
    dtype: str
    start: int | None = None
    prefix: str = "id_"
    digits: int = 6
    offset: int = 0

    @classmethod
    def fit(cls, series: pd.Series, dtype: str,
            scheme: dict[str, Any] | None = None) -> "IdColumn":
        """`scheme` from `id_scheme` on every real id (prepare passes train + holdout);
        None: derived from `series` alone."""
        return cls(str(series.name), dtype, **(scheme or id_scheme(series)))

    def layout(self) -> list[tuple[str, int]]:
        return []

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        return np.zeros((len(series), 0), dtype=np.float32)

    def decode(self, block: np.ndarray, rng: np.random.Generator, start_row: int) -> pd.Series:
        rows = np.arange(start_row, start_row + len(block), dtype=np.int64)
        if self.start is not None:
            ids = rows + self.start
            target = pd.api.types.pandas_dtype(self.dtype)
            target = getattr(target, "numpy_dtype", target)  # Int64 -> int64
            if target.kind in "iu" and len(ids) and ids[-1] > np.iinfo(target).max:
                raise UserError(f"column '{self.name}' ({self.dtype}) cannot hold new ids "
                                f"after the real maximum {self.start - 1}")
            return restore_dtype(ids, None, self.dtype, self.name)
        text = np.char.add(self.prefix, np.char.zfill((rows + self.offset).astype(str),
                                                      self.digits))
        return restore_dtype(text.astype(object), None, self.dtype, self.name)

    def to_dict(self) -> dict:
        return {"type": "id", **vars(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "IdColumn":
        return cls(**{k: v for k, v in d.items() if k != "type"})


@dataclass
class ConstantColumn:
    """A single-valued column: no span, or only a missing span when it has missing values."""

    name: str
    dtype: str
    value: Any
    has_missing: bool = False

    @classmethod
    def fit(cls, series: pd.Series, dtype: str, schema_value: Any,
            has_missing: bool) -> "ConstantColumn":
        values = series.dropna()
        value = json_value(values.iloc[0]) if len(values) else schema_value
        return cls(str(series.name), dtype, value, bool(has_missing or series.isna().any()))

    def layout(self) -> list[tuple[str, int]]:
        return [("onehot", 2)] if self.has_missing else []

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        if not self.has_missing:
            return np.zeros((len(series), 0), dtype=np.float32)
        return _missing_block(series.isna().to_numpy())

    def decode(self, block: np.ndarray, rng: np.random.Generator, start_row: int) -> pd.Series:
        values = np.full(len(block), self.value, dtype=object)
        missing = block[:, -2:].argmax(axis=1) == 1 if self.has_missing else None
        if pd.api.types.is_datetime64_any_dtype(pd.api.types.pandas_dtype(self.dtype)):
            values = pd.to_datetime(values).to_numpy()
        return restore_dtype(values, missing, self.dtype, self.name, [self.value])

    def to_dict(self) -> dict:
        return {"type": "constant", **vars(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "ConstantColumn":
        return cls(**{k: v for k, v in d.items() if k != "type"})


CODECS = {"numeric": NumericColumn, "discrete": DiscreteCodec, "id": IdColumn,
          "constant": ConstantColumn}
