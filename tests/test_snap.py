"""Decode snapping (`pipeline/models/snap.py`): the refiner scores rows by the values they
decode to, so generated rows that differ from real ones only where decoding cannot see
(position inside a tied value's CDF step, the fill behind a missing value) are not "fake"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from pipeline.config import TransformParams
from pipeline.models.refine import Refiner
from pipeline.models.snap import DecodeSnap
from pipeline.tabular.transformer import TableTransformer


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    debt = np.where(rng.random(n) < 0.7, 0.0, rng.lognormal(8, 1, n).round(2))  # point mass
    wind = rng.gamma(3, 4, n).round(1)
    wind[rng.random(n) < 0.4] = np.nan  # missing
    return pd.DataFrame({"time": rng.choice(np.arange(6, 72, 6), n).astype(float),  # lattice
                         "debt": debt, "wind": wind})


def _schema(df: pd.DataFrame) -> dict:
    return {"columns": [{"name": c, "role": "numerical", "dtype": "float64",
                         "missing_rate": float(df[c].isna().mean())} for c in df.columns]}


def _fit(df: pd.DataFrame) -> TableTransformer:
    return TableTransformer.fit(df, _schema(df), TransformParams(residual_r2=None), seed=0)


def test_rows_snap_alike_exactly_when_they_decode_alike() -> None:
    df = _table(6000, seed=0)
    tr = _fit(df)
    snap = DecodeSnap()
    snap.set(tr.tie_tables())
    assert snap.cols.numel() == 3
    gen = torch.Generator().manual_seed(1)
    m = torch.from_numpy(tr.transform(df))
    rows = m[torch.randint(0, len(df), (4000,), generator=gen)].clone()
    # scalars anywhere in [-1, 1] (the generator's range), flags kept
    rows[:, snap.cols] = torch.rand(4000, 3, generator=gen) * 2 - 1
    decoded = tr.inverse_transform(rows.numpy())
    snapped = snap(rows)
    for j, (name, col) in enumerate(zip(df.columns, snap.cols.tolist())):
        f, v = snapped[:, col].numpy(), decoded[name].to_numpy()
        miss = np.isnan(v)
        assert np.all(f[miss] == -1) and np.all(f[~miss] >= 0)
        order = np.argsort(f[~miss], kind="stable")
        fs, vs = f[~miss][order], v[~miss][order]
        assert np.all(np.diff(vs) >= 0)  # the rank orders rows as their decoded values
        if tr.codecs[j].encoder.step:  # exact values: equal rank <=> equal value
            assert np.array_equal(fs[1:] == fs[:-1], vs[1:] == vs[:-1])
        else:  # linear knots: a point mass is one rank
            assert len(np.unique(fs[vs == 0])) == 1
    # every other matrix column passes through
    others = [c for c in range(m.shape[1]) if c not in snap.cols.tolist()]
    assert torch.equal(snapped[:, others], rows[:, others])
    again = DecodeSnap()
    again.load_state_dict(snap.state_dict())
    assert torch.equal(again(rows), snapped)


def test_refiner_ignores_differences_that_decoding_removes() -> None:
    """Generated rows: real rows re-encoded at the middle of each tied value's step and with a
    constant fill behind missing values. Every one decodes to a real row, so a refiner that
    reads the raw matrix finds them (AUC near 1) and one that reads decoded values does not
    (off: AUC < 0.55)."""
    df = _table(8000, seed=2)
    tr = _fit(df)
    real = torch.from_numpy(tr.transform(df))
    rng = np.random.default_rng(3)

    def draw(n: int) -> torch.Tensor:
        rows = df.iloc[rng.integers(0, len(df), n)]
        out = np.concatenate([c.encode(rows[c.name], None) for c in tr.codecs], axis=1)
        return torch.from_numpy(out)

    raw, snapped = Refiner(), Refiner()
    raw.fit(real, draw, seed=0, max_draws=8)
    snapped.fit(real, draw, seed=0, max_draws=8, ties=tr.tie_tables())
    assert float(raw.auc) > 0.9 and bool(raw.on)
    assert float(snapped.auc) < 0.55 and not bool(snapped.on)
