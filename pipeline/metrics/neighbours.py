"""Exact nearest neighbours with a KD-tree: an L1 lower bound, then an exact check.

The DCR distance (`distance.py`) is a sum of per-column terms. Clip every scaled numeric
value to [0, 1] (the train range) and it becomes the L1 distance of an embedding:
- numeric a: one coordinate a; with missing values anywhere in the column two coordinates
  (a/2, (1-a)/2) and missing -> (-1/4, -1/4): present-present |a-b|, missing-present
  a/2 + 1/4 + (1-a)/2 + 1/4 = 1, missing-missing 0, as the DCR distance says;
- categorical one-hot scaled by 1/2: equal 0, different 1 (missing is its own level).
Clipping to a unit interval never increases a difference and |clip(a) - clip(b)| <= 1, so
this L1 distance is a lower bound of the true one, equal to it for pairs with no value
outside the range. A KD-tree (sklearn, manhattan, float64) returns each query's k + EXTRA
nearest rows under the bound; their true distances are computed exactly, and the k smallest
are certified when the k-th is no larger than the bound of the last candidate (no row left
out can be closer). Rows that cannot be certified are answered by the exact block scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.neighbors import KDTree

if TYPE_CHECKING:  # distance.py imports this module lazily; no import cycle at runtime
    from pipeline.metrics.distance import DistanceSpace, Embedded

TREE_MIN_ROWS = 20_000  # below this the torch block scan is as fast and needs no tree build
TREE_MAX_DIMS = 64  # KD-trees lose their pruning in many dimensions; scan instead
EXTRA = 8  # candidates beyond k per query: room for out-of-range values to reorder them
CHECK_ROWS = 8192  # query rows per exact-check batch (memory ~ rows x (k + EXTRA) x columns)


def tree_ok(frames: list[Embedded], space: DistanceSpace) -> bool:
    """True when the KD-tree path applies to rows of `frames`: no wide (coded) categorical,
    every row has exactly one level per one-hot column, at most TREE_MAX_DIMS dimensions.
    True for `frames` stays true for any subset of their rows."""
    if any(e.codes.shape[1] for e in frames):
        return False
    width = frames[0].onehot.shape[1] if frames else 0
    width += sum(2 if any(bool(e.missing[:, j].any()) for e in frames) else 1
                 for j in range(len(space.numeric)))
    if width > TREE_MAX_DIMS:
        return False
    for start, stop in _blocks(space):
        for e in frames:  # exactly one level per row, or a level never seen
            if len(e.onehot) and not bool((e.onehot[:, start:stop].sum(1) == 1).all()):
                return False
    return True


def _blocks(space: DistanceSpace) -> list[tuple[int, int]]:
    """Column ranges of each one-hot categorical inside `Embedded.onehot`."""
    out, start = [], 0
    for levels in (lv for lv, wide in zip(space.levels, space.wide) if not wide):
        out.append((start, start + len(levels)))
        start += len(levels)
    return out


def _embed_l1(e: Embedded, with_missing: list[bool]) -> np.ndarray:
    """The clipped L1 embedding of one side (module docstring)."""
    parts = []
    for j, has_missing in enumerate(with_missing):
        a = np.clip(e.values[:, j].numpy(), 0.0, 1.0)
        if has_missing:
            coords = np.column_stack([a / 2, (1 - a) / 2])
            coords[e.missing[:, j].numpy() > 0] = -0.25
            parts.append(coords)
        else:
            parts.append(a[:, None])
    parts.append(0.5 * e.onehot.numpy().astype(np.float64))
    return np.ascontiguousarray(np.hstack(parts))


def _codes(e: Embedded, space: DistanceSpace) -> np.ndarray:
    """(n, one-hot columns) level index per row (one level per row, see tree_ok)."""
    hot = e.onehot.numpy()
    cols = [hot[:, a:b].argmax(1) for a, b in _blocks(space)]
    return np.column_stack(cols) if cols else np.zeros((len(hot), 0), dtype=np.int64)


def _true(q: Embedded, r: Embedded, qc: np.ndarray, rc: np.ndarray, idx: np.ndarray,
          rows: slice) -> np.ndarray:
    """Exact summed DCR distances from query rows `rows` to their candidates idx[rows]."""
    cand = idx[rows]
    out = (qc[rows][:, None, :] != rc[cand]).sum(-1).astype(np.float64)
    qv, qm = q.values[rows].numpy(), q.missing[rows].numpy() > 0
    rv, rm = r.values.numpy(), r.missing.numpy() > 0
    for j in range(qv.shape[1]):
        a, am = qv[:, j][:, None], qm[:, j][:, None]
        b, bm = rv[cand, j], rm[cand, j]
        term = np.minimum(np.abs(a - b), 1.0)
        out += np.where(am ^ bm, 1.0, np.where(am & bm, 0.0, term))
    return out


def tree_nearest(query: Embedded, reference: Embedded, space: DistanceSpace, k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(n_query, k) ascending summed distances and a mask of the rows certified exact.

    Rows not certified hold a placeholder; the caller answers them another way.
    """
    nq, nr = query.values.shape[0], reference.values.shape[0]
    out = np.full((nq, k), np.inf)
    kk = min(k + EXTRA, nr)
    if kk == 0 or nq == 0:
        return out, np.ones(nq, dtype=bool)
    with_missing = [bool(query.missing[:, j].any()) or bool(reference.missing[:, j].any())
                    for j in range(len(space.numeric))]
    tree = KDTree(_embed_l1(reference, with_missing), metric="manhattan")
    bound, idx = tree.query(_embed_l1(query, with_missing), k=kk, sort_results=True)
    qc, rc = _codes(query, space), _codes(reference, space)
    ok = np.ones(nq, dtype=bool)
    for start in range(0, nq, CHECK_ROWS):
        rows = slice(start, start + CHECK_ROWS)
        exact = np.sort(_true(query, reference, qc, rc, idx, rows), axis=1)[:, :min(k, kk)]
        out[rows, :exact.shape[1]] = exact
        if kk < nr:  # with every reference row a candidate there is nothing left out
            ok[rows] = exact[:, -1] <= bound[rows, -1]
    return out, ok
