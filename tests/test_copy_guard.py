"""The copy guard: generated rows equal to a unique training row are redrawn, shared rows stay."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pipeline
from pipeline.config import Params
from pipeline.metrics.features import row_keys
from pipeline.stages import generate
from pipeline.models.copy_guard import CopyGuard

TINY = {"epochs": 3, "batch_size": 40, "pac": 4, "embedding_dim": 8,
        "generator_dims": [16, 16], "discriminator_dims": [16, 16], "accelerator": "cpu"}
COLUMNS, ROLES = ["a", "b", "n"], ["categorical", "categorical", "integer"]


def _grid(n: int, seed: int) -> pd.DataFrame:
    """n distinct cells of a 20 x 20 x 2 grid: every row unique, and a generator drawing the
    columns near their marginals lands on a training cell about n / 800 of the time."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(800, n, replace=False)
    return pd.DataFrame({"a": [f"a{c // 40}" for c in cells],
                         "b": [f"b{c // 2 % 20}" for c in cells], "n": cells % 2})


def _schema(columns: list[str], roles: list[str]) -> dict:
    return {"columns": [{"name": c, "role": r} for c, r in zip(columns, roles)]}


def _copies(synthetic: pd.DataFrame, real: pd.DataFrame) -> float:
    schema = _schema(COLUMNS, ROLES)
    return float(np.isin(row_keys(synthetic, schema), row_keys(real, schema)).mean())


def test_unique_rows_are_refused_shared_rows_and_new_rows_kept() -> None:
    real = pd.DataFrame({"a": ["x", "x", "y", "z"], "b": ["p", "p", "q", "q"], "n": [1, 1, 2, 3]})
    guard = CopyGuard()
    guard.fit(real, COLUMNS, ROLES)
    assert bool(guard.on) and len(guard.keys) == 2  # (x, p, 1) is shared by two rows
    # the same values in other dtypes (category, float) are the same rows
    drawn = pd.DataFrame({"a": pd.Categorical(["x", "y", "z", "y", "w"]),
                          "b": ["p", "q", "q", "p", "p"], "n": [1.0, 2.0, 3.0, 2.0, 1.0]})
    assert guard.keep(drawn, COLUMNS, ROLES).tolist() == [True, False, False, True, True]


def test_row_keys_follow_the_rows_not_the_index() -> None:
    """A filtered or shuffled frame (a notebook's DataFrame, rows an evaluate step dropped)
    hashes each row as it is: its own training rows are all refused, whatever the index."""
    real = _grid(300, seed=4)
    shuffled = real.sample(frac=1.0, random_state=1)
    shuffled.index = shuffled.index * 7 + 3
    schema = _schema(COLUMNS, ROLES)
    assert (row_keys(shuffled, schema) == row_keys(shuffled.reset_index(drop=True), schema)).all()
    guard = CopyGuard()
    guard.fit(shuffled, COLUMNS, ROLES)
    assert len(guard.keys) == 300
    assert not guard.keep(real.iloc[::-1], COLUMNS, ROLES).any()


def test_a_table_of_shared_rows_leaves_the_guard_off() -> None:
    real = pd.DataFrame({"a": ["x", "y"] * 5, "b": ["p"] * 10, "n": [1] * 10})
    guard = CopyGuard()
    guard.fit(real, COLUMNS, ROLES)
    assert not bool(guard.on) and len(guard.keys) == 0
    assert guard.keep(real, COLUMNS, ROLES).all()


@pytest.fixture(scope="module")
def fitted():
    return pipeline.Synthesizer(**TINY, seed=5).fit(_grid(320, seed=2))


def test_generated_rows_never_copy_a_unique_training_row(fitted, tmp_path: Path,
                                                         caplog) -> None:
    real = _grid(320, seed=2)
    guarded = fitted.sample(3000, seed=1)
    assert len(guarded) == 3000 and _copies(guarded, real) == 0.0
    conditioned = fitted.sample(1000, conditions={"a": "a3"}, seed=2)  # the rejection loop
    assert (conditioned["a"] == "a3").all() and _copies(conditioned, real) == 0.0
    fitted.save(tmp_path / "m.ckpt")  # the keys travel with the checkpoint
    loaded = pipeline.Synthesizer.load(tmp_path / "m.ckpt")
    pd.testing.assert_frame_equal(loaded.sample(500, seed=3), fitted.sample(500, seed=3))
    assert _copies(loaded.sample(2000, seed=4), real) == 0.0
    # `synth generate` says how many drawn rows were copies and were redrawn
    with caplog.at_level(logging.INFO, logger="pipeline"):
        generate.run(Params(), tmp_path / "m.ckpt", tmp_path / "rows.parquet", rows=1500)
    said = [r.getMessage() for r in caplog.records if "copy guard" in r.getMessage()]
    assert len(said) == 1 and int(said[0].split()[2]) > 0, said
    assert _copies(pd.read_parquet(tmp_path / "rows.parquet"), real) == 0.0
    fitted._model.copy_guard.on.fill_(False)  # the same model without the guard copies
    try:
        unguarded = fitted.sample(3000, seed=1)
    finally:
        fitted._model.copy_guard.on.fill_(True)
    # ~0.4 of draws land on a training cell; 0.1 is over 30 standard errors below that
    assert _copies(unguarded, real) > 0.1
    # the marginals stay the model's: redrawing the copies moves each level's share little
    for col in ("a", "b"):
        shares = pd.concat([guarded[col].value_counts(normalize=True),
                            unguarded[col].value_counts(normalize=True)], axis=1).fillna(0)
        assert 0.5 * (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().sum() < 0.1
