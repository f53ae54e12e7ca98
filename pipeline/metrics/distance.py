"""Exact nearest-neighbour distances in sdmetrics' DCR metric: a KD-tree or chunked torch.

Distance between two rows = mean over columns of a per-column distance (sdmetrics `dcr_utils`):
numerical/datetime |a-b| / range capped at 1 (range 0: 0 if equal else 1), categorical/boolean
0 if equal else 1 (missing equals missing), missing vs present 1, both missing 0.

It is computed as an embedding instead of sdmetrics' pandas cross-merge:
- categoricals (missing = its own level) with at most ONEHOT_LEVELS levels one-hot;
  mismatches = n_cat - onehot_a . onehot_b, one matrix product per chunk pair; wider ones
  (free text, codes: thousands of levels) as integer codes compared per column, so memory
  stays O(rows x columns) whatever the cardinality;
- numericals scaled by the reference range; when every query value lies inside the
  reference [min, max] no |a-b| can exceed the range, so the cap never binds and one L1
  `torch.cdist` handles all such columns; columns with out-of-range values take an exact
  per-column clamp path;
- missing numerics: value 0 plus a missing flag; xor of flags adds 1.
Only a (chunk x chunk) block is ever in memory; a running k-smallest is kept per query row.

Large references without wide categoricals go through a KD-tree instead (`neighbours`: an
L1 lower bound of this distance, then an exact check of the candidates; about O(log n) per
query on clustered data instead of O(n)); rows it cannot certify fall back to the scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.metrics.features import DISCRETE_ROLES, NUMERIC_ROLES, as_float, as_text, roles

ONEHOT_LEVELS = 32  # discrete columns with more levels are compared as codes, not one-hot


@dataclass(frozen=True)
class DistanceSpace:
    """Per-column scaling fitted on a reference frame; embeds any frame with the same columns."""

    numeric: list[str]
    discrete: list[str]
    low: np.ndarray  # reference min per numeric column
    span: np.ndarray  # reference range per numeric column (0: constant)
    levels: list[list[str | None]]  # reference + query levels per discrete column

    @property
    def n_columns(self) -> int:
        return len(self.numeric) + len(self.discrete)

    @property
    def wide(self) -> list[bool]:
        """Per discrete column: compared as codes (True) rather than one-hot."""
        return [len(levels) > ONEHOT_LEVELS for levels in self.levels]


@dataclass
class Embedded:
    """A frame in the distance space: scaled numerics, missing flags, one-hot categoricals."""

    values: torch.Tensor  # float64 (n, n_numeric), missing -> 0
    missing: torch.Tensor  # float64 (n, n_numeric) 1.0 where missing
    onehot: torch.Tensor  # float32 (n, total levels of the narrow discrete columns)
    codes: torch.Tensor  # int64 (n, wide discrete columns), -1 = a level the space never saw

    def rows(self, index: np.ndarray | slice) -> "Embedded":
        """The same embedding restricted to some rows."""
        return Embedded(self.values[index], self.missing[index], self.onehot[index],
                        self.codes[index])


def fit_space(reference: pd.DataFrame, schema: dict[str, Any],
              others: tuple[pd.DataFrame, ...] = ()) -> DistanceSpace:
    """Ranges from `reference` (as sdmetrics does); category levels from all frames."""
    role = roles(schema)
    numeric = [c for c, r in role.items() if r in NUMERIC_ROLES or r == "datetime"]
    discrete = [c for c, r in role.items() if r in DISCRETE_ROLES]
    ref = np.column_stack([as_float(reference[c]) for c in numeric]) if numeric else \
        np.zeros((len(reference), 0))
    with np.errstate(all="ignore"):
        low = np.nanmin(ref, axis=0) if len(ref) else np.zeros(len(numeric))
        span = np.nanmax(ref, axis=0) - low if len(ref) else np.zeros(len(numeric))
    low, span = np.nan_to_num(low), np.nan_to_num(span)
    levels = []
    for col in discrete:
        seen = pd.concat([as_text(f[col]) for f in (reference, *others)], ignore_index=True)
        present = sorted(set(seen.dropna()))
        levels.append(present + ([None] if seen.isna().any() else []))
    return DistanceSpace(numeric, discrete, low, span, levels)


def embed(frame: pd.DataFrame, space: DistanceSpace) -> Embedded:
    """Embed a frame; values are (x - min) / range in float64 so the scale is exact."""
    n = len(frame)
    if space.numeric:
        raw = np.column_stack([as_float(frame[c]) for c in space.numeric])
        safe_span = np.where(space.span > 0, space.span, 1.0)
        scaled = (raw - space.low) / safe_span
        # Range 0: any difference counts fully (sdmetrics: (diff > 0) -> 1).
        scaled[:, space.span == 0] = np.where(raw[:, space.span == 0] == space.low[space.span == 0],
                                              0.0, 2.0)
        missing = np.isnan(scaled)
        values = np.where(missing, 0.0, scaled)
    else:
        values = missing = np.zeros((n, 0))
    hot, wide = [], []
    for col, levels, is_wide in zip(space.discrete, space.levels, space.wide):
        codes = pd.Categorical(as_text(frame[col]).fillna("\x00missing"),
                               categories=[("\x00missing" if lv is None else lv) for lv in levels]
                               ).codes.astype(np.int64)
        if is_wide:
            wide.append(codes)
            continue
        block = np.zeros((n, len(levels)), dtype=np.float32)
        known = codes >= 0  # a level the space never saw matches nothing
        block[np.nonzero(known)[0], codes[known]] = 1.0
        hot.append(block)
    onehot = np.concatenate(hot, axis=1) if hot else np.zeros((n, 0), dtype=np.float32)
    coded = np.column_stack(wide) if wide else np.zeros((n, 0), dtype=np.int64)
    return Embedded(torch.from_numpy(values), torch.from_numpy(missing.astype(np.float64)),
                    torch.from_numpy(onehot), torch.from_numpy(coded))


def _block(q: Embedded, r: Embedded, in_range: torch.Tensor, n_narrow: int) -> torch.Tensor:
    """Summed per-column distances of a query chunk to a reference chunk (float32)."""
    out = torch.zeros(q.values.shape[0], r.values.shape[0], dtype=torch.float32)
    if n_narrow:
        out += n_narrow - q.onehot @ r.onehot.T
    for k in range(q.codes.shape[1]):  # wide categoricals; unseen (-1) matches nothing
        qc, rc = q.codes[:, k, None], r.codes[None, :, k]
        out += ((qc != rc) | (qc < 0)).float()
    if q.values.shape[1]:
        qv, rv = q.values.float(), r.values.float()
        fast = in_range.nonzero().flatten()
        slow = (~in_range).nonzero().flatten()
        if len(fast):
            out += torch.cdist(qv[:, fast], rv[:, fast], p=1)
        for k in slow.tolist():
            out += (qv[:, k, None] - rv[None, :, k]).abs_().clamp_(max=1.0)
        qm, rm = q.missing.float(), r.missing.float()
        if bool(qm.any()) or bool(rm.any()):
            # Present vs missing pairs got |value - 0| above; replace it with exactly 1.
            both = qm @ rm.T
            xor = qm.sum(1, keepdim=True) + rm.sum(1)[None, :] - 2 * both
            # Missing values were embedded as 0, so the wrongly added term is min(|other|, 1).
            wrong = (qv.abs().clamp(max=1.0) @ rm.T) + (qm @ rv.abs().clamp(max=1.0).T)
            out += xor - wrong
    return out


def _cap_free(query: Embedded, reference: Embedded) -> torch.Tensor:
    """Per numeric column: True when no |a - b| can exceed 1 (all values span <= 1)."""
    both_v = torch.cat([query.values, reference.values])
    both_m = torch.cat([query.missing, reference.missing]).bool()
    if both_v.shape[0] == 0:
        return torch.ones(both_v.shape[1], dtype=torch.bool)
    hi = torch.where(both_m, -torch.inf, both_v).amax(0)
    lo = torch.where(both_m, torch.inf, both_v).amin(0)
    # Missing values sit at 0 in the embedding, so 0 belongs to the span too.
    hi, lo = hi.clamp(min=0.0), lo.clamp(max=0.0)
    return hi - lo <= 1.0


def nearest(query: Embedded, reference: Embedded, space: DistanceSpace, k: int = 1,
            chunk_rows: int = 2048, method: str = "auto") -> np.ndarray:
    """(n_query, k) smallest mean distances to `reference`, ascending; exact over all rows.

    method: "brute" (chunked torch block scan), "tree" (KD-tree with an exact check, the
    rows it cannot certify by block scan; ValueError where `neighbours.tree_ok` says no) or
    "auto" (tree where it applies and the reference has at least TREE_MIN_ROWS rows).
    Missing reference neighbours (k > len(reference)) are +inf.
    """
    from pipeline.metrics.neighbours import TREE_MIN_ROWS, tree_nearest, tree_ok

    if method not in ("auto", "brute", "tree"):
        raise ValueError(f"method must be auto, brute or tree, not {method!r}")
    nr = reference.values.shape[0]
    if method == "tree" or (method == "auto" and nr >= TREE_MIN_ROWS):
        if tree_ok([query, reference], space):
            found, ok = tree_nearest(query, reference, space, k)
            if not ok.all():
                rest = np.nonzero(~ok)[0]
                found[rest] = _scan(query.rows(rest), reference, space, k, chunk_rows)
            return found / max(space.n_columns, 1)
        if method == "tree":
            raise ValueError("no KD-tree path here (wide categoricals or too many dimensions)")
    return (_scan(query, reference, space, k, chunk_rows) / max(space.n_columns, 1)
            ).clip(min=0)


def _scan(query: Embedded, reference: Embedded, space: DistanceSpace, k: int,
          chunk_rows: int) -> np.ndarray:
    """(n_query, k) smallest summed distances by exact chunked block scan (float32)."""
    nq, nr = query.values.shape[0], reference.values.shape[0]
    in_range = _cap_free(query, reference)
    best = torch.full((nq, k), float("inf"), dtype=torch.float32)
    n_narrow = sum(not w for w in space.wide)
    for qs in range(0, nq, chunk_rows):
        q = query.rows(slice(qs, qs + chunk_rows))
        run = best[qs:qs + chunk_rows]
        for rs in range(0, nr, chunk_rows):
            d = _block(q, reference.rows(slice(rs, rs + chunk_rows)), in_range, n_narrow)
            kk = min(k, d.shape[1])
            small = torch.topk(d, kk, dim=1, largest=False).values
            run = torch.topk(torch.cat([run, small], dim=1), k, dim=1, largest=False).values
        best[qs:qs + chunk_rows] = run
    return best.numpy().astype(np.float64)
