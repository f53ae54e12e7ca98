"""Decoded-row refinement (`pipeline/models/row_refine.py`): kept rows follow the real rows'
rates and shapes where the raw draws do not, at the promised cost; it stays off where there is
nothing to correct; its state survives a state_dict; a trained model applies it in `generate`
reproducibly, under conditions too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pipeline
from pipeline.models import row_refine
from pipeline.models.row_refine import RowRefiner, layout

COLS = layout(["x", "c", "when"], ["numerical", "categorical", "datetime"])


def _table(n: int, shift: float, rate_a: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan  # missing values are a value of their own
    c = np.where(rng.random(n) < rate_a, "a", rng.choice(["b", "c"], n))
    when = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    return pd.DataFrame({"x": x, "c": pd.Categorical(c), "when": when})


def _draw(shift: float, rate_a: float, seed: int):
    rng = np.random.default_rng(seed)
    return lambda n: _table(n, shift, rate_a, int(rng.integers(1 << 30)))


def test_kept_rows_move_to_the_real_rate_and_shape_at_the_promised_cost() -> None:
    real = _table(6000, 0.0, 0.3, seed=0)
    draw = _draw(0.8, 0.6, seed=1)  # off in the numeric mean and in the rate of "a"
    refiner = RowRefiner()
    asked: list[int] = []
    refiner.fit(real, lambda n: asked.append(n) or draw(n), COLS, seed=0, max_draws=8)
    assert bool(refiner.on) and float(refiner.auc) > 0.6
    assert asked == [2 * len(real)]  # the drawn side twice the real one (module docstring)
    # ... but no more than the real side's cap: a large table's trees keep their time
    capped: list[int] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(row_refine, "_FIT_ROWS", 4000)  # real rows: 5,000 of 6,000
        RowRefiner().fit(real, lambda n: capped.append(n) or draw(n), COLS, seed=0, max_draws=8)
    assert capped == [5000]
    fresh = draw(40000)
    keep = refiner.keep(fresh, COLS, np.random.default_rng(2))
    kept = fresh[keep]
    # at most max_draws draws per kept row on average (the cap is set on held-out rows)
    assert keep.mean() > 1 / 8 * 0.9
    # the rate of "a": 0.6 drawn, 0.3 real; a two-sided binomial test against the raw rate
    # would reject at any level, and the kept rate sits much nearer the real one
    k = int((kept["c"] == "a").sum())
    assert stats.binomtest(k, len(kept), 0.6).pvalue < 1e-10
    assert abs(k / len(kept) - 0.3) < 0.5 * 0.3
    x_raw, x_kept, x_real = (f["x"].dropna() for f in (fresh, kept, real))
    assert (stats.ks_2samp(x_kept, x_real).statistic
            < 0.5 * stats.ks_2samp(x_raw, x_real).statistic)


def test_unseen_levels_missing_values_and_datetimes_have_features() -> None:
    real = _table(2000, 0.0, 0.3, seed=0)
    refiner = RowRefiner()
    refiner._fit_features(real, COLS)
    odd = pd.DataFrame({"x": [np.nan, 0.0], "c": ["zzz", None],
                        "when": [pd.Timestamp("2020-01-01"), pd.NaT]})
    f = refiner.features(odd, COLS).numpy()
    lo = np.nanmin(real["x"])
    assert f[0, 0] < np.nanmin(real["x"].to_numpy() - lo)  # missing below every real value
    assert f[1, 0] == np.float32(0.0 - lo)
    ranks = refiner.features(real, COLS).numpy()[:, 1]
    assert f[0, 1] > ranks.max()  # unseen level ranks after every seen one
    # levels rank by real frequency: "a" (30 %) after "b" and "c" (35 % each)
    assert set(ranks[(real["c"] == "a").to_numpy()]) == {2.0}
    assert f[0, 2] == 0.0 and f[1, 2] < 0  # seconds since the real minimum; NaT below it


def test_off_when_draws_look_real_or_the_table_is_tiny_and_state_survives() -> None:
    refiner = RowRefiner()
    refiner.fit(_table(6000, 0.0, 0.3, seed=0), _draw(0.0, 0.3, seed=3), COLS, 0, 8)
    assert not bool(refiner.on) and float(refiner.auc) < 0.55
    rows = _table(100, 0.0, 0.3, seed=4)
    assert refiner.keep(rows, COLS, np.random.default_rng(0)).all()
    refiner.fit(_table(500, 0.0, 0.3, seed=0), _draw(0.8, 0.6, seed=1), COLS, 0, 8)
    assert not bool(refiner.on)  # 500 rows: the trees would learn the rows themselves
    refiner.fit(_table(6000, 0.0, 0.3, seed=0), _draw(0.8, 0.6, seed=1), COLS, 0, 8)
    again = RowRefiner()
    again.load_state_dict(refiner.state_dict())
    rows = _draw(0.8, 0.6, seed=9)(5000)
    a = refiner.keep(rows, COLS, np.random.default_rng(7))
    assert 0.05 < a.mean() < 0.95
    np.testing.assert_array_equal(a, again.keep(rows, COLS, np.random.default_rng(7)))


TINY = dict(steps=150, batch_size=200, pac=10, embedding_dim=16, generator_dims=[32, 32],
            discriminator_dims=[32, 32], accelerator="cpu", seed=1)


def test_trained_model_keeps_decoded_rows_reproducibly_and_under_conditions(tmp_path) -> None:
    """An undertrained generator on a table where c's rate depends on x: the decoded rows
    kept by the row refiner sit nearer the real joint rate; sampling is reproducible, survives
    the checkpoint, and conditions still hold in every row."""
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=n)
    c = np.where(rng.random(n) < 1 / (1 + np.exp(-4 * x)), "hi", "lo")
    df = pd.DataFrame({"x": x, "c": c, "k": rng.integers(0, 4, n) * 5})
    synth = pipeline.Synthesizer(**TINY, refine_draws=None).fit(df)
    model = synth._model
    assert bool(model.row_refiner.on)
    a = synth.sample(4000, seed=5)
    pd.testing.assert_frame_equal(a, synth.sample(4000, seed=5))
    model.row_refiner.on.fill_(False)
    raw = synth.sample(4000, seed=5)
    model.row_refiner.on.fill_(True)

    def gap(rows: pd.DataFrame) -> float:  # rate of "hi" among x > 0.5, against the real one
        real = (df["c"][df["x"] > 0.5] == "hi").mean()
        return abs((rows["c"][rows["x"] > 0.5] == "hi").mean() - real)

    assert gap(a) < gap(raw) or gap(raw) < 0.02
    det_kept, det_raw = _detection(df, a), _detection(df, raw)
    assert det_kept < det_raw
    path = tmp_path / "m.ckpt"
    synth.save(path)
    again = pipeline.Synthesizer.load(path)
    pd.testing.assert_frame_equal(again.sample(4000, seed=5), a)
    # conditioned rows are kept by it too: nearer the real rows of that category
    real_lo = df[df["c"] == "lo"]
    lo = synth.sample(3000, seed=6, conditions={"c": "lo"})
    assert len(lo) == 3000 and (lo["c"] == "lo").all()
    model.row_refiner.on.fill_(False)
    lo_raw = synth.sample(3000, seed=6, conditions={"c": "lo"})
    model.row_refiner.on.fill_(True)
    assert _detection(real_lo, lo) < _detection(real_lo, lo_raw)


def _detection(real: pd.DataFrame, syn: pd.DataFrame) -> float:
    from pipeline.metrics.detection import detection_auc

    schema = {"columns": [{"name": "x", "role": "numerical"},
                          {"name": "c", "role": "categorical"},
                          {"name": "k", "role": "integer"}]}
    return detection_auc(real, syn, schema, folds=3, seed=0)["detection.auc"]


def test_refine_rows_draws_is_validated_and_off_with_privacy() -> None:
    from pipeline.config import PrivacyParams, TrainParams
    from pipeline.errors import UserError

    for bad in (1.0, 0.5):
        try:
            TrainParams(refine_rows_draws=bad).check()
        except UserError as exc:
            assert "train.refine_rows_draws" in str(exc)
        else:
            raise AssertionError(f"refine_rows_draws={bad} accepted")
    TrainParams(refine_rows_draws=None).check()
    dp = dict(pac=1, calibrate=False, refine_draws=None, cond_anyway=0.0, refuse_copies=False,
              privacy=PrivacyParams(epsilon=3.0))
    TrainParams(**dp, refine_rows_draws=None).check()
    try:
        TrainParams(**dp).check()  # the default 8 reads the real rows outside DP-SGD
    except UserError as exc:
        assert "train.refine_rows_draws must be null with train.privacy" in str(exc)
    else:
        raise AssertionError("refine_rows_draws accepted with train.privacy")
