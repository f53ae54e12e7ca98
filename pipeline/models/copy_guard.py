"""Refusing verbatim copies: generated rows equal to a training row that no other row shares.

A generator that reproduces a training record word for word publishes that record, however
good the rest of its rows are; `evaluate` counts such rows (`privacy.exact_copy_rate`). The
guard keeps the 64-bit keys (`metrics.features.row_keys`: every column but ids, in a
dtype-independent form) of the training rows whose key occurs once in the training table, and
`generate` redraws any row whose key is one of them, in the same bounded loop as conditions and
the decoded-row refiner. A row that two or more training rows share is a pattern of the
population, not one record (a grid of three yes/no columns is all such rows), and stays
allowed: a table whose rows are all shared keeps every draw.

Privacy: the keys are the training rows' hashes, so whoever holds the checkpoint can test
whether a given full row was a unique training row (a membership test for that exact row; the
keyset and lattice rules of the transformer already hold real value combinations, see
docs/privacy.md). With `train.privacy` the guard stays off: it reads every real row outside the
DP-SGD accounting. `train.refuse_copies: false` turns it off.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from pipeline.metrics.features import row_keys
from pipeline.models.boosted import take_shapes

logger = logging.getLogger(__name__)


def _schema(columns: list[str], roles: list[str]) -> dict[str, Any]:
    return {"columns": [{"name": c, "role": r} for c, r in zip(columns, roles)]}


class CopyGuard(nn.Module):
    """Sorted int64 keys of the training rows seen once, and an on/off flag (state_dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("keys", torch.zeros(0, dtype=torch.long))
        self.register_buffer("on", torch.zeros((), dtype=torch.bool))
        self.refused = 0  # drawn rows found to be copies since loading (`generate` logs it)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        take_shapes(self, state_dict, prefix, ("keys",))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def fit(self, real: pd.DataFrame, columns: list[str], roles: list[str]) -> None:
        """Keep the keys of the rows of `real` that no other row of it shares."""
        keys = row_keys(real, _schema(columns, roles)).view(np.int64)
        levels, counts = np.unique(keys, return_counts=True)  # sorted
        once = levels[counts == 1]
        self.keys = torch.from_numpy(np.ascontiguousarray(once))
        self.on.fill_(len(once) > 0)
        logger.info("copy guard: %d of %d training rows are unique; generated copies of them "
                    "are redrawn", len(once), len(real))

    def keep(self, frame: pd.DataFrame, columns: list[str], roles: list[str]) -> np.ndarray:
        """bool per row of `frame`: True unless it equals a unique training row."""
        if not bool(self.on) or len(frame) == 0:
            return np.ones(len(frame), dtype=bool)
        table = self.keys.cpu().numpy()
        keys = row_keys(frame, _schema(columns, roles)).view(np.int64)
        pos = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        fresh = table[pos] != keys
        self.refused += int((~fresh).sum())
        return fresh
