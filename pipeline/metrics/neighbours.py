"""Exact nearest neighbours with a KD-tree where the DCR distance is an L1 distance.

The DCR distance (`distance.py`) is a sum of per-column terms. It equals the L1 distance of
an embedding, exactly, when no |a - b| / range can exceed the cap of 1 (every column's
present values span at most one range) and every categorical is one-hot:
- numeric a (shifted so the column's smallest present value is 0, so a in [0, 1]):
  one coordinate a; with missing values anywhere in the column two coordinates
  (a/2, (1-a)/2) and missing -> (-1/4, -1/4): present-present |a-b|, missing-present
  a/2 + 1/4 + (1-a)/2 + 1/4 = 1, missing-missing 0, as the DCR distance says;
- categorical one-hot scaled by 1/2: equal 0, different 1 (missing is its own level).
A KD-tree (sklearn, manhattan metric, float64) then answers k-nearest queries exactly, in
about O(log n) per query on clustered data instead of the O(n) of a block scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.neighbors import KDTree

if TYPE_CHECKING:  # distance.py imports this module lazily; no import cycle at runtime
    from pipeline.metrics.distance import DistanceSpace, Embedded

TREE_MIN_ROWS = 20_000  # below this the torch block scan is as fast and needs no tree build
TREE_MAX_DIMS = 64  # KD-trees lose their pruning in many dimensions; scan instead


def tree_ok(frames: list[Embedded], space: DistanceSpace) -> bool:
    """True when the DCR distance between any rows of `frames` is an exact L1 embedding.

    False for a wide (coded) categorical, a numeric column whose present values span more
    than its range over all frames (the cap could bind), a category level the space never
    saw, or more than TREE_MAX_DIMS dimensions. True for `frames` stays true for any subset
    of their rows.
    """
    if any(e.codes.shape[1] for e in frames):
        return False
    width = frames[0].onehot.shape[1] if frames else 0
    for j in range(len(space.numeric)):
        lo, hi, missing = _span(frames, j)
        if hi - lo > 1.0:
            return False
        width += 2 if missing else 1
    if width > TREE_MAX_DIMS:
        return False
    start = 0
    for levels in (lv for lv, wide in zip(space.levels, space.wide) if not wide):
        stop = start + len(levels)
        for e in frames:  # exactly one level per row, or a level never seen
            if len(e.onehot) and not bool((e.onehot[:, start:stop].sum(1) == 1).all()):
                return False
        start = stop
    return True


def l1_embedding(query: Embedded, reference: Embedded, space: DistanceSpace
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """(query, reference) float64 matrices whose L1 distance is the summed DCR distance,
    or None where `tree_ok` says no exact embedding exists."""
    if not tree_ok([query, reference], space):
        return None
    q_parts, r_parts = [], []
    for j in range(len(space.numeric)):
        lo, _, missing = _span([query, reference], j)
        for parts, e in ((q_parts, query), (r_parts, reference)):
            a = e.values[:, j].numpy() - lo
            if missing:
                coords = np.column_stack([a / 2, (1 - a) / 2])
                coords[e.missing[:, j].numpy() > 0] = -0.25
                parts.append(coords)
            else:
                parts.append(a[:, None])
    q_parts.append(0.5 * query.onehot.numpy().astype(np.float64))
    r_parts.append(0.5 * reference.onehot.numpy().astype(np.float64))
    return (np.ascontiguousarray(np.hstack(q_parts)),
            np.ascontiguousarray(np.hstack(r_parts)))


def _span(frames: list[Embedded], j: int) -> tuple[float, float, bool]:
    """Smallest and largest present value of numeric column j over frames; any missing."""
    lo, hi, missing = np.inf, -np.inf, False
    for e in frames:
        m = e.missing[:, j] > 0
        v = e.values[:, j][~m]
        if len(v):
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
        missing = missing or bool(m.any())
    return (0.0, 0.0, missing) if lo > hi else (lo, hi, missing)


def tree_nearest(query: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """(n_query, k) ascending L1 distances to the k nearest reference rows (+inf beyond)."""
    out = np.full((len(query), k), np.inf)
    kk = min(k, len(reference))
    if kk == 0 or len(query) == 0:
        return out
    tree = KDTree(reference, metric="manhattan")
    out[:, :kk] = tree.query(query, k=kk, return_distance=True, sort_results=True)[0]
    return out
