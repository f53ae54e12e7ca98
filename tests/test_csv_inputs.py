"""CSV files as users export them: other delimiters, a byte-order mark, Windows/Latin-1 text,
`prepare.csv` options, and tables with nothing left to model."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import params_from_dict
from pipeline.errors import UserError

N = 120


def table(n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "amount": rng.normal(100, 20, n).round(2),
        "city": rng.choice(["Zürich", "Málaga", "Kraków"], n),
        "kids": rng.integers(0, 4, n),
    })


def prepare(tmp_path, csv_path, **csv):
    prepare_params = {"dataset": str(csv_path), "target": None}
    if csv:
        prepare_params["csv"] = csv
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"seed": 1, "prepare": prepare_params}, allow_unicode=True))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["prepare", "--params", str(params), "--out-dir", str(out)])
    return result, out


def roles(out) -> dict[str, str]:
    schema = json.loads((out / "schema.json").read_text())
    return {c["name"]: c["role"] for c in schema["columns"]}


def test_semicolon_csv_with_bom_is_read_as_its_columns(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + table().to_csv(sep=";", index=False).encode())
    result, out = prepare(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert roles(out) == {"amount": "numerical", "city": "categorical", "kids": "integer"}
    assert "delimiter ';'" in result.output and "byte-order mark" in result.output
    train = pd.read_parquet(out / "train.parquet")
    assert set(train["city"]) == {"Zürich", "Málaga", "Kraków"}


@pytest.mark.parametrize("sep", ["\t", "|"])
def test_tab_and_pipe_delimiters_are_sniffed(tmp_path, sep):
    path = tmp_path / "t.csv"
    table().to_csv(path, sep=sep, index=False)
    result, out = prepare(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert set(roles(out)) == {"amount", "city", "kids"}


def test_latin1_file_is_detected_and_logged(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(table().to_csv(index=False).encode("latin-1"))
    result, out = prepare(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert "reading it as cp1252" in result.output
    assert set(pd.read_parquet(out / "train.parquet")["city"]) == {"Zürich", "Málaga", "Kraków"}


def test_explicit_csv_options_win(tmp_path):
    path = tmp_path / "euro.csv"
    text = table().to_csv(sep=";", decimal=",", index=False)
    path.write_bytes(text.encode("latin-1"))
    result, out = prepare(tmp_path, path, sep=";", encoding="latin-1", decimal=",")
    assert result.exit_code == 0, result.output
    assert roles(out)["amount"] == "numerical"
    train = pd.read_parquet(out / "train.parquet")
    assert train["amount"].dtype == np.float64 and train["amount"].between(0, 300).all()


def test_wrong_explicit_encoding_is_one_line_error(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(table().to_csv(index=False).encode("latin-1"))
    result, out = prepare(tmp_path, path, encoding="utf-8")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    assert "not valid utf-8 text" in result.output and not out.exists()


@pytest.mark.parametrize("csv, message", [
    ({"sep": ";;"}, "prepare.csv.sep must be one character"),
    ({"decimal": ","}, None),
    ({"sep": ",", "decimal": ","}, "prepare.csv.decimal must be different"),
    ({"encoding": "klingon"}, "unknown encoding 'klingon'"),
    ({"quote": "'"}, "unknown params key(s): prepare.csv.quote"),
    ({"sep": 3}, "params key prepare.csv.sep: expected"),
])
def test_csv_params_are_validated(csv, message):
    if message is None:
        assert params_from_dict({"prepare": {"csv": csv}}).prepare.csv.decimal == ","
        return
    with pytest.raises(UserError) as err:
        params_from_dict({"prepare": {"csv": csv}})
    assert message in str(err.value)


def test_nothing_to_model_is_a_one_line_prepare_error(tmp_path):
    # The semicolon file read as one comma column: unique strings -> id, nothing to model.
    path = tmp_path / "export.csv"
    table().assign(amount=np.linspace(1, 300, N).round(3)).to_csv(path, sep=";", index=False)
    result, out = prepare(tmp_path, path, sep=",")
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: ") and "nothing to model" in line and "prepare.csv.sep" in line
    assert not out.exists()


def test_only_ids_and_constants_is_nothing_to_model(tmp_path):
    path = tmp_path / "ids.csv"
    pd.DataFrame({"key": np.arange(N), "country": "NO"}).to_csv(path, index=False)
    result, out = prepare(tmp_path, path)
    assert result.exit_code == 2, result.output
    assert "key (id), country (constant)" in result.output and not out.exists()


@pytest.mark.parametrize("target, kind", [("country", "a constant"), ("key", "an id")])
def test_a_constant_or_id_target_is_a_prepare_error(tmp_path, target, kind):
    path = tmp_path / "t.csv"
    table().assign(country="NO", key=np.arange(N)).to_csv(path, index=False)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"prepare": {"dataset": str(path), "target": target}}))
    result = CliRunner().invoke(cli, ["prepare", "--params", str(params),
                                      "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"prepare.target '{target}' is {kind} column" in result.output
    assert not (tmp_path / "out").exists()
