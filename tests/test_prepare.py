"""`synth prepare` end to end through the CLI: outputs on good input, one-line errors and no
outputs on bad input."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import cli

OUTPUTS = {"train.parquet", "holdout.parquet", "schema.json", "metadata.json", "transformer.json"}


def write_params(tmp_path, prepare=None, raw=None):
    params = raw if raw is not None else {"seed": 7, "prepare": prepare or {}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def run_prepare(tmp_path, params_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["prepare", "--params", str(params_path),
                                      "--out-dir", str(out)])
    return result, out


def mixed_table(n=200):
    rng = np.random.default_rng(0)
    income = rng.normal(50, 10, n)
    income[::9] = np.nan
    return pd.DataFrame({
        "key": np.arange(n),
        "income": income,
        "kids": pd.array(rng.integers(0, 4, n), dtype="Int64"),
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
        "label": rng.choice(["yes", "no"], n, p=[0.8, 0.2]),
        "joined": pd.date_range("2020-01-01", periods=n, freq="D"),
        "flag": rng.choice([True, False], n),
    })


def assert_fails(tmp_path, params_path, *needles):
    result, out = run_prepare(tmp_path, params_path)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()  # progress lines, then the error
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:] and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    assert not out.exists()


def test_parquet_source_round_trips_dtypes_and_writes_every_output(tmp_path):
    src = tmp_path / "table.parquet"
    mixed_table().to_parquet(src, index=False)
    params = write_params(tmp_path, {"dataset": str(src), "target": "label",
                                     "holdout_fraction": 0.25})
    result, out = run_prepare(tmp_path, params)
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == OUTPUTS
    train, hold = pd.read_parquet(out / "train.parquet"), pd.read_parquet(out / "holdout.parquet")
    assert (len(train), len(hold)) == (150, 50)
    assert str(train["kids"].dtype) == "Int64" and str(train["colour"].dtype) == "category"
    assert str(train["joined"].dtype).startswith("datetime64") and train["flag"].dtype == bool
    share_no = (train["label"] == "no").mean()
    assert (hold["label"] == "no").mean() == pytest.approx(share_no, abs=0.02)

    schema = json.loads((out / "schema.json").read_text())
    roles = {c["name"]: c["role"] for c in schema["columns"]}
    assert roles == {"key": "id", "income": "numerical", "kids": "integer",
                     "colour": "categorical", "label": "categorical", "joined": "datetime",
                     "flag": "boolean"}
    assert schema["n_rows"] == 150 and schema["target"] == "label"
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["tables"]["table"]["primary_key"] == "key"


def test_same_seed_gives_identical_outputs(tmp_path):
    params = write_params(tmp_path, {"dataset": "penguins", "target": "species"})
    first, out = run_prepare(tmp_path, params)
    assert first.exit_code == 0, first.output
    train = (out / "train.parquet").read_bytes()
    schema = (out / "schema.json").read_text()
    second, _ = run_prepare(tmp_path, params)
    assert second.exit_code == 0
    assert (out / "train.parquet").read_bytes() == train
    assert (out / "schema.json").read_text() == schema


def test_csv_date_strings_become_datetimes_and_all_null_columns_are_dropped(tmp_path, caplog):
    df = mixed_table(60).drop(columns=["colour"])
    df["joined"] = df["joined"].dt.strftime("%d/%m/%Y")
    df["empty"] = np.nan
    src = tmp_path / "t.csv"
    df.to_csv(src, index=False)
    logger = logging.getLogger("pipeline")
    logger.addHandler(caplog.handler)  # the CLI's logger does not propagate to the root
    try:
        result, out = run_prepare(tmp_path, write_params(tmp_path, {"dataset": str(src)}))
    finally:
        logger.removeHandler(caplog.handler)
    assert result.exit_code == 0, result.output
    assert "dropping 1 column(s) with only missing values: empty" in caplog.text
    schema = json.loads((out / "schema.json").read_text())
    assert schema["dropped"] == ["empty"]
    joined = next(c for c in schema["columns"] if c["name"] == "joined")
    assert joined["role"] == "datetime" and joined["min"].startswith("2020-01")
    assert "empty" not in pd.read_parquet(out / "train.parquet").columns


def test_missing_file(tmp_path):
    assert_fails(tmp_path, write_params(tmp_path, {"dataset": str(tmp_path / "no.csv")}),
                 "file not found", "no.csv")


def test_unknown_dataset_name(tmp_path):
    assert_fails(tmp_path, write_params(tmp_path, {"dataset": "adult"}),
                 "'adult' is neither a built-in dataset")


def test_unsupported_format(tmp_path):
    src = tmp_path / "table.xlsx"
    src.write_text("a,b\n1,2\n")
    assert_fails(tmp_path, write_params(tmp_path, {"dataset": str(src)}), "table.xlsx")


def test_unreadable_parquet(tmp_path):
    src = tmp_path / "broken.parquet"
    src.write_bytes(b"this is not parquet")
    assert_fails(tmp_path, write_params(tmp_path, {"dataset": str(src)}),
                 "cannot read", "broken.parquet")


def test_empty_table(tmp_path):
    src = tmp_path / "empty.csv"
    src.write_text("a,b\n")
    assert_fails(tmp_path, write_params(tmp_path, {"dataset": str(src)}), "empty.csv", "empty")


def test_single_row(tmp_path):
    src = tmp_path / "one.csv"
    src.write_text("a,b\n1,x\n")
    assert_fails(tmp_path, write_params(tmp_path, {"dataset": str(src)}), "single row")


def test_duplicate_csv_header_is_caught_before_pandas_renames_it(tmp_path):
    src = tmp_path / "dup.csv"
    src.write_text("a,b,a\n1,2,3\n4,5,6\n")
    assert_fails(tmp_path, write_params(tmp_path, {"dataset": str(src)}),
                 "dup.csv", "duplicate column name(s): a")


def test_unknown_target_and_override_columns(tmp_path):
    params = write_params(tmp_path, {"dataset": "penguins", "target": "Status"})
    assert_fails(tmp_path, params, "prepare.target 'Status' is not a column of penguins")
    params = write_params(tmp_path, {"dataset": "penguins", "target": None,
                                     "columns": {"beak": "numerical"}})
    assert_fails(tmp_path, params, "prepare.columns", "beak")


def test_bad_override_role(tmp_path):
    params = write_params(tmp_path, {"dataset": "penguins", "columns": {"island": "numerical"}})
    assert_fails(tmp_path, params, "prepare.columns.island")


def test_all_null_column_is_an_error_when_not_dropping(tmp_path):
    src = tmp_path / "nulls.csv"
    src.write_text("a,b,gone\n1,x,\n2,y,\n3,z,\n")
    params = write_params(tmp_path, {"dataset": str(src), "drop_all_null": False})
    assert_fails(tmp_path, params, "only missing values: gone", "drop_all_null")


def test_unknown_params_key_and_wrong_type(tmp_path):
    assert_fails(tmp_path, write_params(tmp_path, {"datset": "credit"}), "prepare.datset")
    assert_fails(tmp_path, write_params(tmp_path, {"holdout_fraction": "half"}),
                 "prepare.holdout_fraction")
    assert_fails(tmp_path, write_params(tmp_path, {"stratify": "yes"}), "prepare.stratify")


def test_failure_leaves_an_existing_out_dir_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "schema.json").write_text("old")
    params = write_params(tmp_path, {"dataset": "penguins", "target": "nope"})
    result = CliRunner().invoke(cli, ["prepare", "--params", str(params), "--out-dir", str(out)])
    assert result.exit_code == 2
    assert [p.name for p in out.iterdir()] == ["schema.json"]
    assert (out / "schema.json").read_text() == "old"


def test_infinite_values(tmp_path):
    src = tmp_path / "inf.csv"
    src.write_text("a,b\n1.5,x\ninf,y\n2.5,z\n")
    assert_fails(tmp_path, write_params(tmp_path, {"dataset": str(src)}),
                 "infinite values in column(s): a")
