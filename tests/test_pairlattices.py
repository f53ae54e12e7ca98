"""Lattices over a pair (`pipeline/tabular/pairlattices.py`): a column that two recorded
columns nearly fix is moved onto the values its (a, b) pair holds in training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import TransformParams
from pipeline.data.schema import build_schema, infer_roles
from pipeline.tabular import pairlattices
from pipeline.tabular.transformer import TableTransformer


def feels(n: int = 6000, seed: int = 3) -> pd.DataFrame:
    """`feel` is a rounded function of a 40-value temperature and a 30-value humidity (a
    heat index), so each temperature goes with several `feel` values and each pair with one;
    `free` is rounded noise on a similar grid."""
    rng = np.random.default_rng(seed)
    temp = rng.integers(0, 40, n).astype(float)
    hum = rng.integers(0, 30, n) * 3.0
    feel = np.round(temp + 0.08 * temp * hum / 10.0)
    free = np.round(rng.normal(20, 5, n))
    return pd.DataFrame({"temp": temp, "hum": hum, "feel": feel, "free": free})


def schema_of(df: pd.DataFrame) -> dict:
    return build_schema(df, infer_roles(df, {}), "t", None, [])


def test_a_column_that_a_pair_fixes_is_snapped_onto_the_pair_set() -> None:
    df = feels()
    rules = pairlattices.discover(df, schema_of(df), set(), set())
    assert [(r["column"], sorted(r["sources"])) for r in rules] == [("feel", ["hum", "temp"])]
    rule = rules[0]
    assert min(rule["counts"]) >= 2  # no triple that one training row holds
    # generated rows: the real (temp, hum) with `feel` off by up to 2: snapping puts almost
    # every row back on its pair's value (it moves to a neighbour of its set otherwise)
    off = df.assign(feel=df["feel"] + np.random.default_rng(1).integers(-2, 3, len(df)))
    before = (off["feel"] == df["feel"]).mean()
    pairlattices.snap(off, rule, np.random.default_rng(2))
    assert (off["feel"] == df["feel"]).mean() > 0.97 > before + 0.5
    # a pair the training rows lack keeps the generated value
    odd = pd.DataFrame({"temp": [0.5], "hum": [3.0], "feel": [7.0], "free": [1.0]})
    pairlattices.snap(odd, rule, np.random.default_rng(2))
    assert odd["feel"].tolist() == [7.0]


def test_no_pair_rule_where_one_source_suffices_or_the_joint_is_dense() -> None:
    df = feels()
    only_temp = df.assign(feel=df["temp"] * 2.0)  # one source fixes it: chance 1
    assert pairlattices.discover(only_temp, schema_of(only_temp), set(), set()) == []
    noise = df.assign(feel=np.round(np.random.default_rng(5).normal(50, 20, len(df))))
    assert pairlattices.discover(noise, schema_of(noise), set(), set()) == []
    assert pairlattices.discover(df.head(900), schema_of(df), set(), set()) == []


def test_the_transformer_decodes_generated_rows_onto_the_training_triples() -> None:
    """Fitted end to end, `feel` gets its lattice with `hum` and then `temp` the pair rule on
    (`hum`, `feel`): rows decoded from a scrambled `feel` span land on training triples."""
    df = feels()
    t = TableTransformer.fit(df, schema_of(df), TransformParams(), seed=0)
    assert any(r["kind"] == "lattice2" for r in t.rules)
    matrix = t.transform(df)
    span = next(s for s in t.spans if s.column == "feel")
    matrix[:, span.start] = np.random.default_rng(1).permutation(matrix[:, span.start])
    back = t.inverse_transform(matrix, generator=np.random.default_rng(3))
    seen = set(df[["temp", "hum", "feel"]].itertuples(index=False, name=None))
    on = np.mean([r in seen for r in back[["temp", "hum", "feel"]].itertuples(
        index=False, name=None)])
    assert on > 0.95, on


def test_a_target_with_more_values_than_exact_values_max_still_gets_its_pair_rule() -> None:
    """A relative humidity in hundredths from a temperature and a dew point on grids has
    thousands of values, far more than any per-column value list holds; two sources still fix
    it, so it is snapped like a few-valued one."""
    rng = np.random.default_rng(4)
    n = 30000
    temp = rng.integers(0, 100, n).astype(float)
    dewp = temp - rng.integers(0, 30, n)
    humid = np.round(100.0 * np.exp(0.06 * (dewp - temp)) * (1.0 + temp / 400.0), 2)
    df = pd.DataFrame({"temp": temp, "dewp": dewp, "humid": humid})
    assert df["humid"].nunique() > TransformParams().exact_values_max
    rules = pairlattices.discover(df, schema_of(df), set(), set())
    assert [(r["column"], sorted(r["sources"])) for r in rules] == [("humid", ["dewp", "temp"])]
