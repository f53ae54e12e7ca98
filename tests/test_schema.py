"""Schema inference: roles, statistics, overrides, and the sdmetrics metadata form."""

import numpy as np
import pandas as pd
import pytest

from pipeline.data.schema import (
    ID_MIN_ROWS, build_schema, coerce, infer_role, infer_roles, to_sdmetrics_metadata,
)
from pipeline.errors import UserError

N = 120


def mixed_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    income = rng.normal(50.0, 10.0, N)
    income[:12] = np.nan
    return pd.DataFrame({
        "row": np.arange(1000, 1000 + N),
        "income": income,
        "age": rng.integers(18, 90, N),
        "kids_float": np.where(np.arange(N) % 10 == 0, np.nan, rng.integers(0, 4, N)),
        "colour": rng.choice(["red", "green", "blue"], N),
        "smoker": rng.choice([True, False], N),
        "joined": pd.date_range("2020-01-01", periods=N, freq="D").strftime("%Y-%m-%d"),
        "seen": pd.date_range("2021-05-01", periods=N, freq="h"),
        "code": [f"C{i:05d}" for i in range(N)],
        "country": "US",
    })


def schema_by_name(df, roles=None, **kw):
    roles = roles or infer_roles(df)
    schema = build_schema(coerce(df, roles), roles, "frame", **kw)
    return {c["name"]: c for c in schema["columns"]}, schema


def test_every_role_is_inferred_from_values():
    roles = infer_roles(mixed_frame())
    assert roles == {
        "row": "id", "income": "numerical", "age": "integer", "kids_float": "integer",
        "colour": "categorical", "smoker": "boolean", "joined": "datetime",
        "seen": "datetime", "code": "id", "country": "constant",
    }


def test_statistics_describe_the_frame():
    cols, schema = schema_by_name(mixed_frame(), target="colour", dropped=["gone"])
    assert schema["version"] == 1 and schema["n_rows"] == N
    assert schema["target"] == "colour" and schema["dropped"] == ["gone"]
    assert cols["income"]["missing_rate"] == pytest.approx(0.1)
    income, age = cols["income"], cols["age"]
    assert isinstance(income["min"], float) and income["min"] < income["max"]
    assert isinstance(age["min"], int) and 18 <= age["min"] <= age["max"] < 90
    assert cols["kids_float"]["dtype"] == "float64" and isinstance(cols["kids_float"]["max"], int)
    assert sum(cols["colour"]["categories"].values()) == N
    assert set(cols["smoker"]["categories"]) <= {"true", "false"}
    assert cols["joined"]["dtype"].startswith("datetime64")
    assert (cols["joined"]["min"], cols["joined"]["max"]) == ("2020-01-01T00:00:00",
                                                              "2020-04-29T00:00:00")
    assert cols["country"]["value"] == "US"
    assert "categories" not in cols["row"] and "min" not in cols["row"]


def test_category_keys_are_strings_and_counts_skip_unseen_categories():
    df = pd.DataFrame({"g": pd.Categorical([1, 2, 2, None], categories=[1, 2, 3])})
    cols, _ = schema_by_name(df, roles={"g": "categorical"})
    assert cols["g"]["categories"] == {"2": 2, "1": 1}
    assert cols["g"]["missing_rate"] == 0.25


def test_low_cardinality_integers_stay_integer():
    df = pd.DataFrame({"flag": np.arange(N) % 2, "level": np.arange(N) % 4})
    assert infer_roles(df) == {"flag": "integer", "level": "integer"}


def test_id_rule_needs_unique_dense_complete_and_enough_rows():
    assert infer_role(pd.Series(np.arange(N))) == "id"
    assert infer_role(pd.Series(np.arange(N) * 1000)) == "integer"  # sparse: a measure
    assert infer_role(pd.Series(np.arange(ID_MIN_ROWS - 1))) == "integer"  # too few rows
    assert infer_role(pd.Series(np.arange(N, dtype=float) + 0.5)) == "numerical"  # floats never
    with_gap = pd.Series([f"u{i}" for i in range(N - 1)] + [None])
    assert infer_role(with_gap) == "categorical"
    assert infer_role(pd.Series(pd.array(np.arange(N), dtype="Int64"))) == "id"


def test_date_strings_parse_but_lookalikes_do_not():
    assert infer_role(pd.Series(["03/15/2021", "12/01/2020"] * 30)) == "datetime"
    assert infer_role(pd.Series(["2021-03-15 10:00:00", None] * 30)) == "datetime"
    assert infer_role(pd.Series(["10-20", "20-30", "30-40"] * 20)) == "categorical"
    assert infer_role(pd.Series(["radio/TV", "car"] * 30)) == "categorical"
    assert infer_role(pd.Series(["2021", "2022"] * 30)) == "categorical"


def test_constant_needs_one_value_and_no_missing():
    assert infer_role(pd.Series([7] * 10)) == "constant"
    assert infer_role(pd.Series([7.0] * 9 + [np.nan])) == "integer"
    assert infer_role(pd.Series([True] * 10)) == "constant"


def test_boolean_with_missing_values_from_object_column():
    col = pd.Series([True, False, None, True], dtype=object)
    assert infer_role(col) == "boolean"
    cols, _ = schema_by_name(pd.DataFrame({"b": col}))
    assert cols["b"]["categories"] == {"true": 2, "false": 1}


def test_overrides_win_and_are_checked():
    df = mixed_frame()
    roles = infer_roles(df, {"age": "categorical", "row": "integer"})
    assert roles["age"] == "categorical" and roles["row"] == "integer"
    cols, _ = schema_by_name(df, roles)
    assert all(isinstance(k, str) for k in cols["age"]["categories"])
    with pytest.raises(UserError, match="prepare.columns names column 'nope'"):
        infer_roles(df, {"nope": "integer"})
    with pytest.raises(UserError, match="unknown role 'text'"):
        infer_roles(df, {"age": "text"})
    with pytest.raises(UserError, match="prepare.columns.colour: role 'numerical' needs numbers"):
        infer_roles(df, {"colour": "numerical"})
    with pytest.raises(UserError, match="prepare.columns.income: role 'integer'"):
        infer_roles(df, {"income": "integer"})
    with pytest.raises(UserError, match="prepare.columns.colour: role 'boolean'"):
        infer_roles(df, {"colour": "boolean"})
    with pytest.raises(UserError, match="column 'colour' cannot be parsed as dates"):
        infer_roles(df, {"colour": "datetime"})


def test_metadata_maps_roles_to_sdtypes():
    _, schema = schema_by_name(mixed_frame())
    meta = to_sdmetrics_metadata(schema)["tables"]["table"]
    cols = meta["columns"]
    assert cols["income"] == {"sdtype": "numerical"}  # no computer_representation: SDV 2
    assert cols["age"] == {"sdtype": "numerical"}     # rejects it; schema.json has int/float
    assert cols["colour"] == {"sdtype": "categorical"}
    assert cols["smoker"] == {"sdtype": "boolean"}
    assert cols["joined"] == {"sdtype": "datetime"}
    assert cols["code"] == {"sdtype": "id"} and cols["country"] == {"sdtype": "categorical"}
    assert meta["primary_key"] == "row"


def test_metadata_is_accepted_by_a_real_sdmetrics_quality_report():
    from sdmetrics.reports import QualityReport

    df = mixed_frame()
    roles = infer_roles(df)
    df = coerce(df, roles)
    metadata = to_sdmetrics_metadata(build_schema(df, roles, "frame"))
    synth = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    report = QualityReport()
    report.generate({"table": df}, {"table": synth}, metadata, verbose=False)
    shapes = report.get_details("Column Shapes")
    assert report.get_score() == pytest.approx(1.0)
    assert set(shapes["Column"]) == {c for c, r in roles.items() if r != "id"}


def test_coerce_makes_parquet_safe_dtypes(tmp_path):
    df = pd.DataFrame({"mixed": pd.Series([1, "a", None] * 20, dtype=object),
                       "flag": pd.Series([True, False, None] * 20, dtype=object)})
    roles = infer_roles(df)
    out = coerce(df, roles)
    assert roles == {"mixed": "categorical", "flag": "boolean"}
    assert out["mixed"].iloc[0] == "1" and out["mixed"].isna().sum() == 20
    assert str(out["flag"].dtype) == "boolean"
    out.to_parquet(tmp_path / "t.parquet")
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert str(back["flag"].dtype) == "boolean" and back["mixed"].iloc[1] == "a"


def test_a_few_bad_dates_stay_datetime_with_those_values_missing(caplog):
    dates = pd.date_range("2020-01-01", periods=N, freq="D").strftime("%Y-%m-%d").to_series()
    dates = dates.reset_index(drop=True)
    dates.iloc[[0, 7, 30]] = ["unknown", "2020-13-45", "n/a"]  # the first value is bad too
    df = pd.DataFrame({"d": dates})
    roles = infer_roles(df)
    assert roles == {"d": "datetime"}
    with caplog.at_level("WARNING", logger="pipeline"):
        out = coerce(df, roles)
    assert out["d"].dtype.kind == "M"
    assert out["d"].isna().sum() == 3 and out["d"].isna()[[0, 7, 30]].all()
    assert out["d"].iloc[1] == pd.Timestamp("2020-01-02")
    assert f"3 of {N} values are not dates" in caplog.text


def test_mostly_unparseable_dates_stay_categorical_and_refuse_an_override():
    values = pd.Series(["2020-01-01", "2020-02-01"] * 10 + ["soon", "later", "never"] * 10)
    assert infer_role(values) == "categorical"
    with pytest.raises(UserError, match="column .d. cannot be parsed as dates"):
        infer_roles(pd.DataFrame({"d": values.sort_values(ignore_index=True)}),
                    {"d": "datetime"})
