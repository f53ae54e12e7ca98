"""The row space the privacy attacks search in, and an exact chunked k-nearest-neighbour search.

`encode` puts train, holdout and synthetic rows in one numeric space: numeric and datetime
columns scaled by the train range (missing: 0 plus a missing flag), discrete columns one-hot
with weight 1/2 (a different category costs 1; at most 255 levels, rarer ones pooled, as in
`features.model_matrix`). Distances are L1, so per column a difference costs at most about
1, like the DCR distance. `knn` scans the reference in blocks of rows with torch.cdist and
keeps a running top-k, so memory stays at (query block x reference block) whatever the
table sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.metrics.features import model_matrix, usable_columns

QUERY_BLOCK = 1024
REFERENCE_BLOCK = 8192


def encode(frames: list[pd.DataFrame], schema: dict[str, Any]
           ) -> tuple[list[np.ndarray], dict[str, slice], list[np.ndarray]]:
    """(encoded frames, column -> its slice of the encoding, raw model-matrix frames).

    frames[0] is the train table: it sets the numeric ranges and the pooled levels.
    """
    mats, is_cat, _ = model_matrix(frames, schema)
    cols = usable_columns(schema)
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    slices, start = {}, 0
    for j, (col, cat) in enumerate(zip(cols, is_cat)):
        values = [m[:, j] for m in mats]
        if cat:
            levels = int(np.nanmax([np.nanmax(v) if np.isfinite(v).any() else -1
                                    for v in values])) + 2  # + missing level
            for block, v in zip(blocks, values):
                code = np.where(np.isfinite(v), v, levels - 1).astype(np.int64)
                hot = np.zeros((len(v), levels), dtype=np.float32)
                hot[np.arange(len(v)), code] = 0.5
                block.append(hot)
            width = levels
        else:
            ref = values[0][np.isfinite(values[0])]
            lo, span = (float(ref.min()), float(np.ptp(ref))) if len(ref) else (0.0, 1.0)
            span = span if span > 0 else 1.0
            for block, v in zip(blocks, values):
                missing = ~np.isfinite(v)
                scaled = np.where(missing, 0.0, (v - lo) / span).astype(np.float32)
                block.append(np.column_stack([scaled, missing.astype(np.float32)]))
            width = 2
        slices[col] = slice(start, start + width)
        start += width
    out = [np.hstack(b) if b else np.zeros((len(f), 0), np.float32)
           for b, f in zip(blocks, frames)]
    return out, slices, mats


def knn(query: np.ndarray, reference: np.ndarray, k: int = 1
        ) -> tuple[np.ndarray, np.ndarray]:
    """Exact L1 k nearest reference rows per query row: (distances, indices), ascending."""
    nq, nr = len(query), len(reference)
    k = min(k, nr)
    dist = np.empty((nq, k), dtype=np.float64)
    idx = np.empty((nq, k), dtype=np.int64)
    ref = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float32))
    for qs in range(0, nq, QUERY_BLOCK):
        q = torch.from_numpy(np.ascontiguousarray(query[qs:qs + QUERY_BLOCK],
                                                  dtype=np.float32))
        best_d = torch.full((len(q), k), float("inf"))
        best_i = torch.zeros((len(q), k), dtype=torch.long)
        for rs in range(0, nr, REFERENCE_BLOCK):
            d = torch.cdist(q, ref[rs:rs + REFERENCE_BLOCK], p=1.0)
            cand_d = torch.cat([best_d, d], 1)
            cand_i = torch.cat([best_i, torch.arange(rs, rs + d.shape[1]).expand(len(q), -1)],
                               1)
            best_d, pos = torch.topk(cand_d, k, dim=1, largest=False, sorted=True)
            best_i = torch.gather(cand_i, 1, pos)
        dist[qs:qs + len(q)], idx[qs:qs + len(q)] = best_d.double().numpy(), best_i.numpy()
    return dist, idx
