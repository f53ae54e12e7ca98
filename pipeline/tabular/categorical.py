"""One-hot encoding of categorical and boolean columns, with a rare bucket and a missing slot.

Slots are ordered: kept categories by frequency (most frequent first), then the rare bucket
(when two or more categories are pooled), then the missing slot (when the column has missing
values). A category is pooled when it is rarer than `rare_fraction` of the rows or is not among
the `max_categories` most frequent. Decoding the bucket draws one pooled category per row with
its real within-bucket frequency (vectorised `searchsorted` on the cumulative frequencies), so
the generator reproduces the rare categories' marginal without a slot for each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import UserError
from pipeline.tabular.values import json_value, restore_dtype

OTHER_LABEL = "__other__"
MISSING_LABEL = "__missing__"


def _unique_label(base: str, taken: set[str]) -> str:
    label = base
    while label in taken:
        label = f"_{label}_"
    return label


@dataclass
class CategoricalEncoder:
    """Fitted slots of one discrete column. Values are plain JSON scalars (str/int/float/bool)."""

    name: str
    dtype: str
    kept: list[Any]
    pooled: list[Any] = field(default_factory=list)
    pooled_freq: list[float] = field(default_factory=list)
    has_missing: bool = False
    dtype_categories: list[Any] | None = None  # the real pandas Categorical's categories

    @classmethod
    def fit(cls, series: pd.Series, dtype: str, rare_fraction: float, max_categories: int,
            has_missing: bool) -> "CategoricalEncoder":
        counts = series.value_counts(dropna=True)
        values = [json_value(v) for v in counts.index]
        # Most frequent first; ties broken by the string form so the order is reproducible.
        order = np.lexsort((np.array([str(v) for v in values], dtype=object).astype(str),
                            -counts.to_numpy()))
        values = [values[i] for i in order]
        freq = counts.to_numpy()[order].astype(np.float64)
        rare = (freq < rare_fraction * len(series)) | (np.arange(len(freq)) >= max_categories)
        if rare.sum() < 2:  # a bucket of one is just that category
            rare[:] = False
        dtype_categories = None
        if isinstance(series.dtype, pd.CategoricalDtype):
            dtype_categories = [json_value(v) for v in series.cat.categories]
        pooled_freq = freq[rare] / freq[rare].sum() if rare.any() else freq[:0]
        return cls(str(series.name), dtype, [v for v, r in zip(values, rare) if not r],
                   [v for v, r in zip(values, rare) if r], pooled_freq.tolist(),
                   bool(has_missing or series.isna().any()), dtype_categories)

    @property
    def other_index(self) -> int | None:
        return len(self.kept) if self.pooled else None

    @property
    def missing_index(self) -> int | None:
        return len(self.kept) + (1 if self.pooled else 0) if self.has_missing else None

    @property
    def width(self) -> int:
        return len(self.kept) + (1 if self.pooled else 0) + (1 if self.has_missing else 0)

    @property
    def labels(self) -> list[str]:
        """String label of each slot (what `DiscreteColumn.categories` shows)."""
        labels = [str(v) for v in self.kept]
        if self.pooled:
            labels.append(_unique_label(OTHER_LABEL, set(labels)))
        if self.has_missing:
            labels.append(_unique_label(MISSING_LABEL, set(labels)))
        return labels

    def codes(self, series: pd.Series) -> np.ndarray:
        """Slot index per row; unseen categories go to the bucket (an error if there is none)."""
        values = series.astype(object)
        missing = series.isna().to_numpy()
        codes = pd.Index(self.kept, dtype=object).get_indexer(values)
        if self.pooled:
            codes[(codes < 0) & ~missing] = self.other_index
        if missing.any():
            if not self.has_missing:
                raise UserError(f"column '{self.name}' has missing values but had none when "
                                "the transformer was fitted")
            codes[missing] = self.missing_index
        if (codes < 0).any():
            unseen = values[codes < 0].iloc[0]
            raise UserError(f"column '{self.name}' has category {unseen!r} not seen when the "
                            "transformer was fitted")
        return codes

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Real values from slot indices; bucket rows draw a pooled category by frequency."""
        slots = np.array(self.kept + [None, None], dtype=object)  # pads bucket/missing slots
        values = slots[codes]
        if self.pooled:
            bucket = codes == self.other_index
            cum = np.cumsum(self.pooled_freq)
            draw = np.searchsorted(cum, rng.random(int(bucket.sum())) * cum[-1], side="right")
            values[bucket] = np.array(self.pooled, dtype=object)[np.minimum(draw,
                                                                             len(cum) - 1)]
        missing = codes == self.missing_index if self.has_missing else None
        if missing is not None:
            fill = self.kept[0] if self.kept else self.pooled[0] if self.pooled else np.nan
            values[missing] = fill  # placeholder of the right type, masked by restore_dtype
        categories = self.dtype_categories
        return restore_dtype(values, missing, self.dtype, self.name, categories)

    def slot_of(self, value: Any) -> int:
        """Slot index for a condition value, given as the real value or its string form."""
        labels = self.labels
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if self.has_missing:
                return self.missing_index
            raise UserError(f"column '{self.name}' has no missing values to condition on")
        text = str(value)
        if text in labels:
            return labels.index(text)
        folded = [i for i, lab in enumerate(labels) if lab.lower() == text.lower()]
        if len(folded) == 1:
            return folded[0]
        number = _as_float(text)
        if number is not None:
            hits = [i for i, v in enumerate(self.kept) if _as_float(v) == number]
            if len(hits) == 1:
                return hits[0]
        if text in {str(v) for v in self.pooled}:
            raise UserError(f"category {text!r} of column '{self.name}' is rarer than "
                            "transform.rare_category_fraction and was pooled; cannot condition "
                            "on it")
        shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
        raise UserError(f"unknown category {text!r} for column '{self.name}' (valid: {shown})")

    def to_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "kept": self.kept, "pooled": self.pooled,
                "pooled_freq": self.pooled_freq, "has_missing": self.has_missing,
                "dtype_categories": self.dtype_categories}

    @classmethod
    def from_dict(cls, d: dict) -> "CategoricalEncoder":
        return cls(**d)


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
