"""Rows that decode alike, scored alike: the refiner's view of a transformed row.

A quantile-encoded scalar (`numeric.QuantileScaler`) spreads each tied value over its CDF step
(dequantisation), and a missing value's scalar is a random fill: inside a step the real rows'
position is noise, the generator's is not, and decoding removes the difference. A classifier
on the raw matrix spends its splits there (wage: held-out AUC 0.94 on encoded rows whose
decoded rows a detection classifier scores 0.505). `DecodeSnap` replaces each such scalar by
the rank of the value it decodes to (`QuantileScaler.tie_table`) and a missing value's by -1,
so two rows that decode to the same table row look the same to the refiner. One
searchsorted per column on [columns, rows]; the tables travel in the state_dict.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.models.boosted import take_shapes


class DecodeSnap(nn.Module):
    """Per snapped matrix column: its index, its missing-flag column (-1: none), the scalar
    edges of its decoded values (padded with +inf) and their ranks (padded with the last)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("cols", torch.zeros(0, dtype=torch.long))
        self.register_buffer("missing", torch.zeros(0, dtype=torch.long))
        self.register_buffer("edges", torch.zeros(0, 0))
        self.register_buffer("ranks", torch.zeros(0, 1))

    def set(self, tables: list[dict]) -> None:
        """Load `TableTransformer.tie_tables()` (empty: identity)."""
        width = max((len(t["edges"]) for t in tables), default=0)
        edges = torch.full((len(tables), width), float("inf"))
        ranks = torch.zeros(len(tables), width + 1)
        for i, t in enumerate(tables):
            e, r = torch.as_tensor(t["edges"]).float(), torch.as_tensor(t["ranks"]).float()
            edges[i, :len(e)] = e
            ranks[i, :len(r)], ranks[i, len(r):] = r, r[-1]
        device = self.edges.device
        self.cols = torch.tensor([t["column"] for t in tables], dtype=torch.long, device=device)
        self.missing = torch.tensor([t["missing"] for t in tables], dtype=torch.long,
                                    device=device)
        self.edges, self.ranks = edges.to(device), ranks.to(device)

    def forward(self, x: Tensor) -> Tensor:
        if self.cols.numel() == 0:
            return x
        s = x[:, self.cols].t().contiguous()  # [columns, rows]
        snapped = self.ranks.gather(1, torch.searchsorted(self.edges, s))
        flag = x[:, self.missing.clamp(min=0)].t() > 0.5
        snapped = torch.where(flag & (self.missing >= 0)[:, None], -1.0, snapped)
        out = x.clone()
        out[:, self.cols] = snapped.t()
        return out

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the tables' sizes are the transformer's: take them from the checkpoint
        take_shapes(self, state_dict, prefix, ("cols", "missing", "edges", "ranks"))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
