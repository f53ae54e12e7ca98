"""Series rules (`pipeline/tabular/series.py`): a categorical column that stays for hours at a
time along a trend's key is drawn, on decode, from the counts of the key's run."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chisquare

from pipeline.config import TransformParams
from pipeline.data.schema import build_schema, infer_roles
from pipeline.tabular import series
from pipeline.tabular.transformer import TableTransformer

STATES = np.array(["clear", "misty", "rain"])


def hours(n_days: int = 300, seed: int = 2) -> pd.DataFrame:
    """One row per hour; the weather keeps a state for 6-30 hours, the temperature follows a
    seasonal curve and a daily cycle (a trend along day + hr / 24), and `noise` is a category
    drawn anew every hour."""
    rng = np.random.default_rng(seed)
    day, hr = np.repeat(np.arange(1, n_days + 1), 24), np.tile(np.arange(24), n_days)
    spells = np.repeat(rng.choice(3, 2000, p=[0.6, 0.3, 0.1]), rng.integers(6, 31, 2000))
    state = spells[: len(day)]
    temp = 15 + 10 * np.sin(day / 58.0) + 4 * np.sin((hr - 9) / 3.8) - 2.0 * state \
        + rng.normal(0, 0.5, len(day))
    return pd.DataFrame({"day": day, "hr": hr, "temp": temp.round(2), "weather": STATES[state],
                         "noise": rng.choice(["a", "b", "c"], len(day))})


def fitted(df: pd.DataFrame) -> TableTransformer:
    schema = build_schema(df, infer_roles(df, {}), "t", None, [])
    return TableTransformer.fit(df, schema, TransformParams(series=True), seed=0)


def test_a_category_of_a_series_is_drawn_from_its_run_and_a_free_one_is_left() -> None:
    df = hours()
    t = fitted(df)
    assert any(f.get("trend") for f in t.fits)  # temp's trend gives the key
    rules = [r for r in t.rules if r["kind"] == "series"]
    assert [r["column"] for r in rules] == ["weather"]  # `noise` has no run structure
    rule = rules[0]
    assert min(sum(c) for c in rule["counts"]) >= 10  # runs are counts of >= 10 rows
    # generated rows: keys from the table, the weather span scrambled across rows; decoding
    # draws each row's weather from its run, so it agrees with the real hour's state far
    # more often than the scrambled (marginal) value does
    matrix = t.transform(df)
    span = next(s for s in t.spans if s.column == "weather")
    block = slice(span.start, span.start + span.width)
    matrix[:, block] = np.random.default_rng(1).permutation(matrix[:, block])
    back = t.inverse_transform(matrix, generator=np.random.default_rng(3))
    hit = (back["weather"].astype(str) == df["weather"]).mean()
    marginal = df["weather"].value_counts(normalize=True)
    assert hit > 0.75 and hit > (marginal ** 2).sum() + 0.25, hit
    # drawn by count: the overall shares stay the real ones (chi-square, 7,200 rows)
    observed = back["weather"].astype(str).value_counts().reindex(STATES).to_numpy()
    expected = marginal.reindex(STATES).to_numpy() * len(df)
    assert chisquare(observed, expected).pvalue > 0.001


def test_no_rule_without_a_trend_or_on_a_small_table_or_by_default() -> None:
    df = hours()
    schema = build_schema(df, infer_roles(df, {}), "t", None, [])
    default = TableTransformer.fit(df, schema, TransformParams(), seed=0)
    assert not any(r["kind"] == "series" for r in default.rules)  # transform.series: false
    assert series.discover(df, schema, [], set()) == []  # no accepted trend: no key
    t = fitted(df)
    assert series.discover(df.head(900), schema, t.fits, set()) == []


def test_a_run_draw_is_seeded_and_keeps_rows_with_a_missing_key() -> None:
    df = hours()
    rule = next(r for r in fitted(df).rules if r["kind"] == "series")
    frame = df.assign(weather="clear")
    frame.loc[:9, "day"] = np.nan
    a, b = frame.copy(), frame.copy()
    series.apply(a, rule, np.random.default_rng(5))
    series.apply(b, rule, np.random.default_rng(5))
    pd.testing.assert_frame_equal(a, b)
    assert (a.loc[:9, "weather"] == "clear").all()
    assert (a.loc[10:, "weather"] != "clear").any()
