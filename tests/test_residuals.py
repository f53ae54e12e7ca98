"""Residual encoding (`tabular/residuals.py`): near-functional columns found, encoded as their
residual, decoded back exactly, and kept on the real band in generated rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pipeline
from pipeline.config import TransformParams
from pipeline.data.schema import build_schema, infer_roles
from pipeline.errors import UserError
from pipeline.tabular import residuals
from pipeline.tabular.transformer import TableTransformer

TINY = {"steps": 100, "batch_size": 100, "pac": 4, "embedding_dim": 16,
        "generator_dims": [32, 32], "discriminator_dims": [32, 32], "accelerator": "cpu"}


def _gems(n: int, seed: int = 0) -> pd.DataFrame:
    """width ~ length (tight), weight ~ length^2 * depth in logs (tight, width has a few zeros),
    a missing-value tail in `depth`, a free column and a column fixed by an exact sum."""
    rng = np.random.default_rng(seed)
    length = rng.lognormal(1.5, 0.3, n).round(2)
    width = (length * rng.normal(1.0, 0.01, n)).round(2)
    width[:5] = 0.0
    depth = rng.uniform(0.55, 0.7, n).round(3)
    weight = (0.02 * length ** 2 * depth * np.exp(rng.normal(0, 0.02, n))).round(3)
    depth_m = depth.copy()
    depth_m[rng.random(n) < 0.05] = np.nan
    a, b = rng.integers(0, 50, n), rng.integers(0, 50, n)
    return pd.DataFrame({"length": length, "width": width, "depth": depth_m, "weight": weight,
                         "free": rng.normal(size=n), "a": a, "b": b, "total": a + b})


def _fit(df: pd.DataFrame, **params) -> TableTransformer:
    schema = build_schema(df, infer_roles(df, {}), "t", None, [])
    return TableTransformer.fit(df, schema, TransformParams(**params), seed=0)


def test_near_functional_columns_are_found_and_no_others() -> None:
    t = _fit(_gems(3000))
    found = {f["column"]: (f["space"], set(f["sources"])) for f in t.fits}
    # width and length predict each other: exactly one of them is the target
    assert ("width" in found) != ("length" in found)
    assert found["weight"][0] == "log" and found["weight"][1] & {"length", "width"}
    assert "free" not in found and not any("free" in s for _, s in found.values())
    # `total` is recomputed by the exact rule total = a + b: it takes no part
    assert not {"total"} & (set(found) | {s for _, ss in found.values() for s in ss})
    # no cycles: every predictor is restored before the targets it predicts
    done: set[str] = set()
    for f in t.fits:
        assert all(s not in found or s in done for s in f["sources"])
        done.add(f["column"])
    rng = np.random.default_rng(1)
    unrelated = pd.DataFrame({c: rng.normal(size=1000) for c in "abcd"})
    assert _fit(unrelated).fits == []
    assert _fit(_gems(3000), residual_r2=None).fits == []


def test_round_trip_gives_back_the_real_values_with_missing_and_zeros() -> None:
    df = _gems(3000)
    t = _fit(df)
    assert t.fits
    back = t.inverse_transform(t.transform(df))
    for f in t.fits:
        col = f["column"]
        pd.testing.assert_series_equal(back[col], df[col], check_names=False)
    # the JSON state decodes the same matrix to the same rows
    again = TableTransformer.from_dict(t.to_dict())
    pd.testing.assert_frame_equal(again.inverse_transform(t.transform(df)), back)


def test_decoded_rows_stay_on_the_band_whatever_the_residual_span_holds() -> None:
    """Shuffling the target's span across rows (a generator that learnt nothing of the joint)
    still decodes to a width within the real residual spread of the length."""
    df = _gems(3000)
    t = _fit(df)
    target = next(f for f in t.fits if f["column"] in ("width", "length"))
    other = "length" if target["column"] == "width" else "width"
    matrix = t.transform(df)
    span = next(s for s in t.spans if s.column == target["column"])
    shuffled = matrix.copy()
    shuffled[:, span.start:span.start + span.width] = np.random.default_rng(2).permutation(
        matrix[:, span.start:span.start + span.width])
    out = t.inverse_transform(shuffled)
    ok = (df["width"] > 0).to_numpy() & (out["width"] > 0).to_numpy()
    ratio = np.abs(np.log(out["width"].to_numpy()[ok] / out["length"].to_numpy()[ok]))
    assert np.quantile(ratio, 0.99) < 0.06  # real: |N(0, 0.01)|, 99th percentile 0.026
    # the same shuffle without the residual encoding loses the relation
    plain = _fit(df, residual_r2=None)
    m = plain.transform(df)
    span = next(s for s in plain.spans if s.column == target["column"])
    m[:, span.start:span.start + span.width] = np.random.default_rng(2).permutation(
        m[:, span.start:span.start + span.width])
    lost = plain.inverse_transform(m)
    ok = (lost["width"] > 0).to_numpy()
    ratio = np.abs(np.log(lost["width"].to_numpy()[ok] / lost["length"].to_numpy()[ok]))
    assert np.median(ratio) > 0.1
    assert other in out.columns


def test_generated_rows_keep_a_tight_relation_only_with_residuals() -> None:
    real = _gems(1500)
    def band(out: pd.DataFrame) -> float:
        w, l = out["width"].to_numpy(float), out["length"].to_numpy(float)
        ok = (w > 0) & (l > 0)
        return float(np.mean(np.abs(np.log(w[ok] / l[ok])) <= 0.05))
    assert band(real) > 0.99
    with_res = pipeline.Synthesizer(**TINY, seed=2).fit(real).sample(2000, seed=3)
    without = pipeline.Synthesizer(**TINY, seed=2, transform={"residual_r2": None}).fit(
        real).sample(2000, seed=3)
    assert band(with_res) >= 0.95
    assert band(without) < 0.6


def _weather(n: int, seed: int = 0) -> pd.DataFrame:
    """Relative humidity falls about 6 % per degree between temperature and dew point: the
    log of `humid` is nearly linear in the two raw columns, `humid` itself is not (and the
    dew point, which can be negative, has no log)."""
    rng = np.random.default_rng(seed)
    temp = rng.uniform(-5, 35, n).round(1)
    dewp = (temp - rng.gamma(2.0, 4.0, n)).round(1)
    humid = (100 * np.exp(-0.06 * (temp - dewp) + rng.normal(0, 0.005, n))).round(2)
    return pd.DataFrame({"temp": temp, "dewp": dewp, "humid": np.minimum(humid, 100.0)})


def test_a_log_target_on_raw_predictors_is_fitted_and_decodes_exactly() -> None:
    """A log target on raw predictors ("logt") explains `humid` better than any raw, log or
    rank fit; the round trip is exact, and a residual span shuffled across rows (a generator
    that learnt nothing of the joint) still decodes onto the real band."""
    df = _weather(4000)
    t = _fit(df)
    fit = next(f for f in t.fits if f["column"] == "humid")
    assert fit["space"] == "logt" and set(fit["sources"]) == {"temp", "dewp"}
    assert fit["r2"] > 0.99
    matrix = t.transform(df)
    pd.testing.assert_series_equal(t.inverse_transform(matrix)["humid"], df["humid"])
    span = next(s for s in t.spans if s.column == "humid")
    matrix[:, span.start] = np.random.default_rng(1).permutation(matrix[:, span.start])

    def off_band(frame: pd.DataFrame) -> np.ndarray:
        return np.abs(np.log(frame["humid"] / 100) + 0.06 * (frame["temp"] - frame["dewp"]))

    shuffled = df.assign(humid=np.random.default_rng(1).permutation(df["humid"]))
    assert np.quantile(off_band(df), 0.99) < 0.02  # the real band
    assert np.quantile(off_band(t.inverse_transform(matrix)), 0.99) < 0.03
    assert np.quantile(off_band(shuffled), 0.5) > 0.2  # no encoding: off the band


def test_a_curved_pair_fit_takes_second_order_terms() -> None:
    """c = 2 a + b + 0.3 a b (a and b take negative values: no logs): the straight pair fit
    leaves ~10 % of the variance, the fit with a^2, b^2, a b almost none; it is chosen,
    decodes exactly, and a shuffled residual stays on the band (the straight fit's would
    not)."""
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-3, 3, 4000).round(2), rng.uniform(-3, 3, 4000).round(2)
    df = pd.DataFrame({"a": a, "b": b, "c": (2 * a + b + 0.3 * a * b
                                             + rng.normal(0, 0.02, 4000)).round(3)})
    t = _fit(df)
    fit = next(f for f in t.fits if f["column"] == "c")
    assert fit["quadratic"] and set(fit["sources"]) == {"a", "b"} and fit["r2"] > 0.999
    matrix = t.transform(df)
    pd.testing.assert_series_equal(t.inverse_transform(matrix)["c"], df["c"])
    span = next(s for s in t.spans if s.column == "c")
    matrix[:, span.start] = np.random.default_rng(1).permutation(matrix[:, span.start])
    off = t.inverse_transform(matrix)
    band = np.abs(off["c"] - (2 * off["a"] + off["b"] + 0.3 * off["a"] * off["b"]))
    assert np.quantile(band, 0.99) < 0.1
    design = np.column_stack([df["a"], df["b"], np.ones(4000)])
    straight = df["c"] - design @ np.linalg.lstsq(design, df["c"], rcond=None)[0]
    assert np.quantile(np.abs(straight), 0.99) > 1.0  # what a straight fit's residual spans


def test_bad_threshold_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="transform.residual_r2"):
        TransformParams(residual_r2=1.5).check()
    assert residuals.describe({"column": "y", "sources": ["x"], "space": "log",
                               "r2": 0.99}) == ("y ~ log x (log, R^2 0.9900; encoded as the "
                                                "residual)")


def _panel(n_time: int = 300, seed: int = 0) -> pd.DataFrame:
    """Six cities, one row per city and day; each city's value follows its own level plus a
    shared seasonal curve, with small noise."""
    rng = np.random.default_rng(seed)
    city = np.repeat(np.array(list("abcdef")), n_time)
    day = np.tile(np.arange(n_time), 6)
    level = np.repeat(rng.uniform(10, 100, 6), n_time)
    value = level + 8 * np.sin(day / 20) + rng.normal(0, 0.3, len(day))
    return pd.DataFrame({"city": city, "day": day, "value": value.round(3),
                         "other": rng.normal(size=len(day))})


def _shuffled_span(t: TableTransformer, df: pd.DataFrame, column: str) -> pd.DataFrame:
    matrix = t.transform(df)
    span = next(s for s in t.spans if s.column == column)
    block = slice(span.start, span.start + span.width)
    matrix[:, block] = np.random.default_rng(5).permutation(matrix[:, block])
    return t.inverse_transform(matrix)


def test_a_panel_series_is_encoded_along_its_key_within_each_group() -> None:
    df = _panel()
    t = _fit(df)
    fit = next(f for f in t.fits if f["column"] == "value")
    assert fit["trend"]["key"]["columns"] == ["day"] and fit["trend"]["group"] == "city"
    # every knot is the mean of >= 10 training rows (300 per city): no single row shows through
    assert fit["trend"]["run_rows"] >= 10
    assert all(len(x) <= 300 // 10 for x in fit["trend"]["x"])
    truth = df.groupby("city")["value"].transform("mean") + 8 * np.sin(df["day"] / 20) \
        - (8 * np.sin(df["day"] / 20)).mean()
    out = _shuffled_span(t, df, "value")
    assert np.mean(np.abs(out["value"] - truth) < 1.5) > 0.95
    lost = _shuffled_span(_fit(df, residual_r2=None), df, "value")
    assert np.mean(np.abs(lost["value"] - truth) < 1.5) < 0.3
    pd.testing.assert_series_equal(t.inverse_transform(t.transform(df))["value"], df["value"])
    # under 1,000 rows there are no fits (they pull generated rows to the real ones)
    assert _fit(_panel(n_time=150)).fits == []


def test_trend_knots_are_means_of_runs_of_at_least_m_rows() -> None:
    from pipeline.tabular import trends

    rng = np.random.default_rng(0)
    key, y = rng.permutation(23).astype(float), rng.normal(size=23)
    state = trends.fit(key, np.zeros(23, np.int64), y, 1, 5)
    order = np.argsort(key)
    runs = [order[:5], order[5:10], order[10:15], order[15:]]  # the short tail joins the last
    assert np.allclose(state["x"][0], [key[r].mean() for r in runs])
    assert np.allclose(state["y"][0], [y[r].mean() for r in runs])
    # between knots the trend is linear; unknown groups take the overall mean
    mid = trends.predict(state, np.array([np.mean(state["x"][0][:2])]), np.zeros(1, np.int64))
    assert np.isclose(mid[0], np.mean(state["y"][0][:2]))
    assert trends.predict(state, np.array([3.0]), np.array([-1]))[0] == pytest.approx(y.mean())


def test_a_day_number_refined_by_the_hour_is_a_key() -> None:
    """Hourly weather: the series runs along day + hour / 24, which no single column holds,
    with a daily cycle in the hour."""
    rng = np.random.default_rng(0)
    day, hr = np.repeat(np.arange(120), 24), np.tile(np.arange(24), 120)
    t = day + hr / 24
    temp = 15 + 10 * np.sin(t / 15) + 5 * np.sin(2 * np.pi * hr / 24) + rng.normal(0, 0.3,
                                                                                   len(t))
    df = pd.DataFrame({"day": day, "hr": hr, "temp": temp.round(2),
                       "wind": rng.gamma(2, 2, len(t)).round(1)}).sample(frac=0.7,
                                                                        random_state=0)
    fit = next(f for f in _fit(df, residual_r2=0.9).fits if f["column"] == "temp")
    assert fit["trend"]["key"]["columns"] == ["day", "hr"]
    assert np.allclose(fit["trend"]["key"]["steps"], [1.0, 1 / 24])
    # the daily cycle, which runs of >= 10 rows (~14 hours here) smooth away, is hr's profile
    assert fit["profile"]["column"] == "hr"
    truth = 15 + 10 * np.sin((df["day"] + df["hr"] / 24) / 15) + 5 * np.sin(
        2 * np.pi * df["hr"] / 24)
    pred = residuals._prediction(df, fit)
    assert np.median(np.abs(pred - truth)) < 2.0  # missing the cycle (amplitude 5): ~3.5


def test_key_search_is_capped_and_prefers_grid_like_keys() -> None:
    from pipeline.tabular import trends

    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame({f"n{i}": rng.normal(size=n).round(3) for i in range(20)})
    df["day"] = rng.integers(0, 300, n)  # fills its grid of 300 days
    df["hr"] = rng.integers(0, 24, n)
    for i in range(6):
        df[f"c{i}"] = rng.choice([f"l{j}" for j in range(3 + i)], n)
    entries = [{**e, "dtype": str(df[e["name"]].dtype)} for e in build_schema(
        df, infer_roles(df, {}), "t", None, [])["columns"]]
    keys, groups, profiles = trends.candidates(df, entries, set())
    assert keys[0]["columns"] == ["day"]
    assert len(keys) <= trends._MAX_KEYS + trends._REFINED_KEYS * trends._FINE_PER_KEY
    assert {"columns": ["day", "hr"], "origins": [0.0, 0.0], "steps": [1.0, 1 / 24]} in keys
    assert groups == [None, "c5", "c4", "c3"]  # the three with the most levels
    assert "hr" in profiles and "c5" in profiles


def _routes(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Flights-like rows: 40 destinations, each with its own flight time (5-minute schedule
    lattice); the scheduled arrival is the departure (hh:mm) plus that time, wrapping at
    midnight; one destination has only 5 rows."""
    rng = np.random.default_rng(seed)
    dests = np.array([f"d{i:02d}" for i in range(40)])
    dest = dests[rng.integers(0, 39, n)]
    dest[:5] = dests[39]
    minutes = {d: 60 + 10 * i for i, d in enumerate(dests)}
    mean = np.array([minutes[d] for d in dest], dtype=float)
    flight = mean + rng.normal(0.0, 4.0, n).round()
    dep = rng.integers(5 * 12, 24 * 12, n) * 5  # minutes after midnight, on a 5-minute grid
    sched = (mean + rng.choice([-5, 0, 5], n)).astype(int)
    arr = np.mod(dep + sched, 1440)
    hhmm = lambda m: (m // 60) * 100 + m % 60  # noqa: E731
    return pd.DataFrame({"dest": dest, "air_time": flight, "sched_dep_time": hhmm(dep),
                         "sched_arr_time": hhmm(arr), "other": rng.normal(size=n)})


def test_a_discrete_column_alone_predicts_through_its_level_means() -> None:
    df = _routes()
    t = _fit(df)
    fit = next(f for f in t.fits if f["column"] == "air_time")
    assert fit["profile"]["column"] == "dest" and fit["trend"] is None
    means = dict(zip(fit["profile"]["labels"], fit["profile"]["means"]))
    # a level with fewer than 10 rows gets no mean of its own: its 5 rows do not show through
    assert means["d39"] == 0.0
    assert all(m != 0.0 for d, m in means.items() if d != "d39")
    out = _shuffled_span(t, df, "air_time")
    truth = df.groupby("dest")["air_time"].transform("mean")
    common = df["dest"] != "d39"
    # (a raw or a log fit: within 15 % of the level's mean either way)
    assert np.mean(np.abs(out["air_time"] / truth - 1)[common] < 0.15) > 0.95
    # (no keyset rule either: it would redraw each destination from its flight time)
    lost = _shuffled_span(_fit(df, residual_r2=None, constraints=False), df, "air_time")
    assert np.mean(np.abs(lost["air_time"] / truth - 1)[common] < 0.15) < 0.3
    pd.testing.assert_series_equal(t.inverse_transform(t.transform(df))["air_time"],
                                   df["air_time"])


def test_a_clock_column_is_encoded_as_minutes_after_another() -> None:
    df = _routes().drop(columns="air_time")
    t = _fit(df)
    fit = next(f for f in t.fits if f["column"] in ("sched_arr_time", "sched_dep_time"))
    other = ({"sched_arr_time", "sched_dep_time"} - {fit["column"]}).pop()
    assert fit["space"] == "clock" and fit["clock"]["start"] == other
    assert fit["profile"]["column"] == "dest"
    back = t.inverse_transform(t.transform(df))
    pd.testing.assert_series_equal(back["sched_arr_time"], df["sched_arr_time"])
    pd.testing.assert_series_equal(back["sched_dep_time"], df["sched_dep_time"])

    def gap(frame: pd.DataFrame) -> np.ndarray:
        m = lambda c: (frame[c] // 100) * 60 + frame[c] % 100  # noqa: E731
        return np.mod(m("sched_arr_time") - m("sched_dep_time"), 1440).to_numpy()

    # residuals drawn apart from their rows: still valid clock times, still the destination's
    # scheduled time (within the +-5 minutes of the real schedules), still on the 5-minute grid
    out = _shuffled_span(t, df, fit["column"])
    assert (out[fit["column"]] % 100 < 60).all()
    want = df["dest"].map(df.assign(g=gap(df)).groupby("dest")["g"].mean()).to_numpy()
    common = (df["dest"] != "d39").to_numpy()  # 5 rows: no level mean of its own
    assert np.mean(np.abs(gap(out) - want)[common] <= 10) > 0.95
    assert np.mean(gap(out) % 5 == 0) > 0.99
    lost = _shuffled_span(_fit(df, residual_r2=None), df, fit["column"])
    assert np.mean(np.abs(gap(lost) - want)[common] <= 10) < 0.3


def _rides(n: int = 12000, seed: int = 3) -> pd.DataFrame:
    """Hourly rides: commuting peaks at 8:00 and 17:00 on working days only; `workday` is a
    lookup of the day of the year (5 days in 7)."""
    rng = np.random.default_rng(seed)
    day, hr = rng.integers(1, 366, n), rng.integers(0, 24, n)
    workday = (day % 7 < 5).astype(int)
    peak = np.where(np.isin(hr, [8, 17]) & (workday == 1), 400.0, 0.0)
    rides = 50.0 + 4.0 * hr + peak + rng.normal(0, 10, n)
    return pd.DataFrame({"day": day, "hr": hr, "workday": workday, "rides": rides.round(1)})


def test_level_means_over_a_pair_read_a_column_a_lookup_rule_sets() -> None:
    df = _rides()
    t = _fit(df)
    assert any(r["kind"] == "lookup" and r["column"] == "workday" for r in t.rules)
    fit = next(f for f in t.fits if f["column"] == "rides")
    assert sorted(fit["profile"]["column"]) == ["hr", "workday"]
    # one level column alone explains far less: the peaks need both
    alone = _fit(df.assign(workday=0))
    fit_alone = next((f for f in alone.fits if f["column"] == "rides"), None)
    assert fit_alone is None or fit_alone["r2"] < fit["r2"] - 0.2
    # a generator's `workday` off its day: decoding sets it from the day first, then restores
    # `rides` from the final (hr, workday): the peaks stay on working days
    matrix = t.transform(df)
    span = next(s for s in t.spans if s.column == "workday")
    block = slice(span.start, span.start + span.width)
    matrix[:, block] = np.random.default_rng(1).permutation(matrix[:, block])
    back = t.inverse_transform(matrix)
    pd.testing.assert_series_equal(back["workday"], df["workday"])
    np.testing.assert_allclose(back["rides"], df["rides"], atol=0.051)


def test_a_residual_whose_spread_depends_on_the_level_is_scaled_per_level() -> None:
    """Rides on working days spread 4x wider than on other days around their level means:
    residuals drawn apart from their rows (a shuffled span) decode with each level's own
    spread only when they are scaled per level."""
    rng = np.random.default_rng(4)
    n = 12000
    day, hr = rng.integers(1, 366, n), rng.integers(0, 24, n)
    workday = (day % 7 < 5).astype(int)
    level = 100.0 + 10.0 * hr + 300.0 * workday
    rides = level + rng.normal(0, 1, n) * np.where(workday == 1, 40.0, 10.0)
    df = pd.DataFrame({"day": day, "hr": hr, "workday": workday, "rides": rides.round(1)})
    t = _fit(df)
    fit = next(f for f in t.fits if f["column"] == "rides")
    assert fit["profile"]["scales"] is not None
    back = t.inverse_transform(t.transform(df))
    np.testing.assert_allclose(back["rides"], df["rides"], atol=0.051)  # exact round trip

    def spread_ratios(transformer: TableTransformer) -> np.ndarray:
        out = _shuffled_span(transformer, df, "rides")
        gap_out, gap_real = out["rides"] - level, df["rides"] - level
        return np.array([gap_out[workday == w].std() / gap_real[workday == w].std()
                         for w in (0, 1)])

    assert np.all(np.abs(np.log(spread_ratios(t))) < np.log(1.25))
    fit["profile"]["scales"] = None  # one spread for all: quiet days blur, busy days shrink
    assert np.abs(np.log(spread_ratios(t))).max() > np.log(1.5)


def _winds(n: int = 6000, seed: int = 5) -> pd.DataFrame:
    """Hourly wind: a direction that drifts (a random walk round the compass, whole tens of
    degrees, 360 = north) and is 0 exactly when the wind is calm (speed 0, 6 % of hours)."""
    rng = np.random.default_rng(seed)
    walk = np.mod(200.0 + np.cumsum(rng.normal(0, 12, n)), 360.0)
    direction = np.round(walk / 10.0) * 10.0
    direction[direction == 0] = 360.0
    speed = np.where(rng.random(n) < 0.06, 0.0, rng.gamma(3.0, 3.0, n).round(1) + 0.1)
    direction[speed == 0] = 0.0
    when = pd.Timestamp("2013-01-01") + pd.to_timedelta(np.arange(n), unit="h")
    return pd.DataFrame({"time": when, "direction": direction.astype(int), "speed": speed})


def test_a_direction_follows_its_trend_round_the_compass_and_keeps_calm_hours() -> None:
    df = _winds()
    t = _fit(df)
    assert any(r["kind"] == "together" for r in t.rules)
    fit = next(f for f in t.fits if f["column"] == "direction")
    assert fit["space"] == "circ" and fit["circ"]["tie"]["column"] == "speed"
    assert fit["r2"] > 0.8
    back = t.inverse_transform(t.transform(df))
    pd.testing.assert_series_equal(back["direction"], df["direction"])  # exact, 360 and 0 too
    # residuals drawn apart from their hours: the direction stays near its hour's (the
    # trend's) and the calm hours are exactly the calm ones; the value shares stay real
    out = _shuffled_span(t, df, "direction")
    assert ((out["direction"] == 0) == (df["speed"] == 0)).all()
    moving = df["speed"] > 0
    gap = np.abs(np.mod(out["direction"] - df["direction"] + 180, 360) - 180)[moving]
    free = np.abs(np.mod(np.random.default_rng(0).permutation(df["direction"][moving])
                         - df["direction"][moving] + 180, 360) - 180)
    assert np.median(gap) < 45 and np.median(free) > 75
    shares = pd.concat([out["direction"].value_counts(normalize=True),
                        df["direction"].value_counts(normalize=True)], axis=1).fillna(0)
    assert 0.5 * np.abs(shares.iloc[:, 0] - shares.iloc[:, 1]).sum() < 0.08


def test_a_pair_of_level_columns_is_chosen_with_the_predictor_it_is_fitted_with() -> None:
    """Rides peak at 8:00 and 17:00 on working days and follow the temperature, which the season
    mostly sets. Alone, the hour x season means explain more than the hour x working day ones
    (the season stands in for the temperature); with the temperature added, the hour x working
    day means leave only the noise. Trying additions on the best pair alone found the former."""
    rng = np.random.default_rng(6)
    n = 6000
    day, hr = rng.integers(1, 366, n), rng.integers(0, 24, n)
    season, workday = (day - 1) // 92 + 1, (day % 7 < 5).astype(int)
    temp = 10.0 * season + rng.normal(0, 2, n)
    peak = np.where(np.isin(hr, [8, 17]) & (workday == 1), 400.0, 0.0)
    rides = 50.0 + 4.0 * hr + peak + 15.0 * temp + rng.normal(0, 10, n)
    df = pd.DataFrame({"day": day, "hr": hr, "season": season, "workday": workday,
                       "temp": temp.round(2), "rides": rides.round(1)})
    codes = {c: residuals.trends.group_codes(df[c]) for c in ("hr", "season", "workday")}
    pairs = residuals._pairs(rides, "hr", ["season", "workday"], codes, n)
    assert [p[1][1] for p in pairs] == ["season", "workday"]  # alone, the season pair leads
    t = _fit(df)
    fit = next(f for f in t.fits if f["column"] == "rides")
    assert sorted(fit["profile"]["column"]) == ["hr", "workday"]
    assert fit["sources"] == ["temp"] and fit["r2"] > 0.95
    back = t.inverse_transform(t.transform(df))
    np.testing.assert_allclose(back["rides"], df["rides"], atol=0.051)


def _windy(seed: int = 0) -> pd.DataFrame:
    """Hourly rows: a temperature that follows the days tightly, a wind whose mean follows a
    slow wave under large hour-to-hour noise (a weak trend), a calm column of pure noise, a
    second weak-trend column `gusty` and a `gust` that follows it (1.5 x, with noise)."""
    rng = np.random.default_rng(seed)
    day, hr = np.repeat(np.arange(200), 24), np.tile(np.arange(24), 200)
    t = day + hr / 24
    temp = 15 + 10 * np.sin(t / 15) + rng.normal(0, 0.3, len(t))
    wave = 1.0 + 0.5 * np.sin(t / 3)
    wind = rng.gamma(2, 2, len(t)) * wave
    gusty = rng.gamma(2, 2, len(t)) * wave
    return pd.DataFrame({"day": day, "hr": hr, "temp": temp.round(2), "wind": wind.round(2),
                         "calm": rng.normal(size=len(t)).round(3), "gusty": gusty.round(2),
                         "gust": (1.5 * gusty + rng.normal(0, 0.2, len(t))).round(2)}
                        ).sample(frac=0.7, random_state=0).reset_index(drop=True)


def test_a_weak_trend_is_kept_for_a_column_nothing_reads_along_the_series_key() -> None:
    df = _windy()
    t = _fit(df)
    fits = {f["column"]: f for f in t.fits}
    assert fits["temp"]["trend"]["key"]["columns"] == ["day", "hr"]
    wind = fits["wind"]
    assert wind["trend"]["key"] == fits["temp"]["trend"]["key"] and not wind["sources"]
    assert 0.1 <= wind["r2"] < 0.75 and wind["trend"]["run_rows"] >= 50  # 2 x >= 25 rows
    # `calm` follows nothing; `gusty` has the same weak trend as `wind`, but one of the
    # gust pair reads the other, and the one read takes no lone trend: decoded from a
    # shuffled residual its continuous marginal moves past the KS bar
    assert "calm" not in fits
    pair = [c for c in ("gust", "gusty") if c in fits]
    assert len(pair) == 1 and fits[pair[0]]["trend"] is None
    assert fits[pair[0]]["sources"] == [({"gust", "gusty"} - set(pair)).pop()]
    # decoded from a shuffled residual, the wind still follows its wave; without the fit
    # (trend_r2 off) nothing ties it to the hours
    wave = 1.0 + 0.5 * np.sin((df["day"] + df["hr"] / 24) / 3)
    kept = _shuffled_span(t, df, "wind")["wind"]
    lost = _shuffled_span(_fit(df, trend_r2=None), df, "wind")["wind"]
    assert np.corrcoef(kept, wave)[0, 1] > 0.25 > 0.05 > abs(np.corrcoef(lost, wave)[0, 1])
    pd.testing.assert_series_equal(t.inverse_transform(t.transform(df))["wind"], df["wind"])
    with pytest.raises(UserError, match="transform.trend_r2"):
        TransformParams(trend_r2=0.0).check()


def _windy_knots(seed: int = 0) -> pd.DataFrame:
    """Hourly rows as nyc_weather reports them: a temperature that follows the days tightly,
    a wind of whole knots in mph (31 values) whose mean follows a slow wave, and a gust that
    is reported only in strong winds (30 % of rows) and follows the wind."""
    rng = np.random.default_rng(seed)
    day, hr = np.repeat(np.arange(200), 24), np.tile(np.arange(24), 200)
    t = day + hr / 24
    temp = 15 + 10 * np.sin(t / 15) + rng.normal(0, 0.3, len(t))
    wave = 1.0 + 0.6 * np.sin(t / 3)
    wind = np.round(np.round(rng.gamma(3, 2, len(t)) * wave) * 1.15078, 5)
    gust = np.where(wind >= 9, np.round(wind * 1.4 + rng.normal(0, 1.0, len(t)), 1), np.nan)
    return pd.DataFrame({"day": day, "hr": hr, "temp": temp.round(2), "wind": wind, "gust": gust}
                        ).sample(frac=0.7, random_state=0).reset_index(drop=True)


def test_a_column_another_fit_reads_takes_its_weak_trend_too() -> None:
    """The gust's fit reads the wind; the wind still takes its own weak trend along the days
    (nyc_weather `wind_speed` under `wind_gust`), decodes on its lattice and follows the wave.
    `day` is read too (by the temperature's trend) but a trend of `day` along `temp` would
    need itself: no cycle is accepted (one made `discover` loop forever)."""
    df = _windy_knots()
    t = _fit(df)
    fits = {f["column"]: f for f in t.fits}
    assert fits["gust"]["sources"] == ["wind"]
    wind = fits["wind"]
    assert wind["trend"]["key"] == fits["temp"]["trend"]["key"] and not wind["sources"]
    assert 0.1 <= wind["r2"] < 0.75 and wind["space"] == "rank"
    assert "day" not in fits and "hr" not in fits
    wave = 1.0 + 0.6 * np.sin((df["day"] + df["hr"] / 24) / 3)
    kept = _shuffled_span(t, df, "wind")["wind"]
    lost = _shuffled_span(_fit(df, trend_r2=None), df, "wind")["wind"]
    assert np.corrcoef(kept, wave)[0, 1] > 0.25 > 0.05 > abs(np.corrcoef(lost, wave)[0, 1])
    assert set(kept) <= set(df["wind"])  # on the real lattice
    pd.testing.assert_series_equal(t.inverse_transform(t.transform(df))["wind"], df["wind"])
