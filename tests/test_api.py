"""The notebook API: fit a DataFrame, sample with conditions, save/load round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import pipeline
from pipeline.errors import UserError

TINY = {"epochs": 2, "batch_size": 40, "pac": 4, "embedding_dim": 8,
        "generator_dims": [16, 16], "discriminator_dims": [16, 16], "accelerator": "cpu"}


def _table(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "height": rng.normal(170, 10, n).round(1),
        "colour": rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
        "vip": rng.random(n) < 0.2,
    })


@pytest.fixture(scope="module")
def fitted():
    return pipeline.Synthesizer(**TINY, seed=3).fit(_table())


def test_sample_has_the_real_columns_and_dtypes(fitted) -> None:
    out = fitted.sample(150)
    real = _table()
    assert len(out) == 150 and list(out.columns) == list(real.columns)
    assert out["vip"].dtype == bool and set(out["colour"]) <= {"red", "green", "blue"}


def test_conditions_hold_and_sampling_is_seeded(fitted) -> None:
    out = fitted.sample(90, conditions={"colour": "blue", "vip": True}, seed=4)
    assert (out["colour"] == "blue").all() and out["vip"].all()
    pd.testing.assert_frame_equal(out, fitted.sample(90, conditions={"colour": "blue",
                                                                     "vip": True}, seed=4))


def _same_weights(a, b) -> None:
    sa, sb = a._model.state_dict(), b._model.state_dict()
    assert list(sa) == list(sb)
    for name in sa:  # bit for bit: same dtype, same shape, same values
        assert sa[name].dtype == sb[name].dtype and torch.equal(sa[name], sb[name]), name


def test_save_load_round_trip_is_bit_identical(fitted, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m.ckpt")
    loaded = pipeline.Synthesizer.load(tmp_path / "m.ckpt")
    _same_weights(fitted, loaded)
    pd.testing.assert_frame_equal(fitted.sample(120, seed=9), loaded.sample(120, seed=9),
                                  check_exact=True)
    loaded.save(tmp_path / "again.ckpt")  # a loaded model saves the same checkpoint again
    again = pipeline.Synthesizer.load(tmp_path / "again.ckpt")
    _same_weights(loaded, again)
    pd.testing.assert_frame_equal(loaded.sample(50, seed=2), again.sample(50, seed=2),
                                  check_exact=True)
    assert loaded.train_params.epochs == 2 and loaded.seed == 3


def test_user_errors(fitted, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="never saw such a value"):
        fitted.sample(5, conditions={"height": ">=400"})
    with pytest.raises(UserError, match="not fitted"):
        pipeline.Synthesizer(**TINY).sample(5)
    with pytest.raises(UserError, match="train.pac"):
        pipeline.Synthesizer(batch_size=45, pac=10)
    with pytest.raises(UserError, match="unknown params key"):
        pipeline.Synthesizer(learning_rate=0.1)
    with pytest.raises(UserError, match="checkpoint not found"):
        pipeline.Synthesizer.load(tmp_path / "missing.ckpt")


def test_import_pipeline_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, pipeline; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_augment_modes(fitted) -> None:
    real = _table()
    counts = real["colour"].value_counts()
    balanced = fitted.augment(real, mode="rebalance", target="colour", seed=1)
    assert balanced.iloc[:len(real)].equals(real)  # the real rows first, untouched
    assert (balanced["colour"].value_counts() == counts.max()).all()
    tripled = fitted.augment(real, mode="multiply", target="colour", factor=3, flag="synth")
    assert len(tripled) == 3 * len(real) and tripled["synth"].sum() == 2 * len(real)
    share = tripled["colour"].value_counts(normalize=True)
    assert (share - counts / len(real)).abs().max() < 0.01  # class shares kept
    group = {"colour": "blue", "vip": True}
    have = int(((real.colour == "blue") & real.vip).sum())
    filled = fitted.augment(real, mode="fill", groups=[{"conditions": group, "rows": have + 40}])
    assert len(filled) == len(real) + 40
    assert ((filled.colour == "blue") & filled.vip).sum() == have + 40
    with pytest.raises(UserError, match="needs a target"):
        fitted.augment(real, mode="rebalance")
    with pytest.raises(UserError, match="augment.mode must be one of"):
        fitted.augment(real, mode="triple", target="colour")


def test_checkpoint_from_an_older_schema_or_missing_a_weight_is_refused(fitted,
                                                                       tmp_path) -> None:
    """A version-2 checkpoint (trees without decode snapping) is refused with a "retrain" line; a
    checkpoint missing a weight is a one-line "does not match" error; the intact one loads
    and samples the same rows."""
    import torch

    from pipeline.errors import UserError

    fitted.save(tmp_path / "m.ckpt")
    pd.testing.assert_frame_equal(pipeline.Synthesizer.load(tmp_path / "m.ckpt").sample(
        80, seed=4), fitted.sample(80, seed=4), check_exact=True)
    ckpt = torch.load(tmp_path / "m.ckpt", weights_only=True)
    ckpt["synth"]["schema_version"] = 2
    torch.save(ckpt, tmp_path / "old.ckpt")
    with pytest.raises(UserError, match="schema_version 2.*retrain"):
        pipeline.Synthesizer.load(tmp_path / "old.ckpt")
    ckpt["synth"]["schema_version"] = 5
    del ckpt["state_dict"]["cal_bias"]
    torch.save(ckpt, tmp_path / "broken.ckpt")
    with pytest.raises(UserError, match="does not match model"):
        pipeline.Synthesizer.load(tmp_path / "broken.ckpt")
