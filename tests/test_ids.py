"""Regenerated identifiers never point at a real record (train or holdout) and keep the real
ids' dtype and shape: `pipeline.tabular.columns.id_scheme` / `IdColumn`."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.tabular.columns import IdColumn, id_scheme

RNG = np.random.default_rng(0)


def decode(values: pd.Series, rows: int, start_row: int = 0) -> pd.Series:
    col = IdColumn.fit(values.rename("id"), str(values.dtype), id_scheme(values))
    return col.decode(np.zeros((rows, 0), np.float32), RNG, start_row)


@pytest.mark.parametrize("values", [
    pd.Series(np.arange(100, 400)),                                # dense integers
    pd.Series(RNG.permutation(np.arange(-50, 250)).astype("int32")),  # shuffled, negative
    pd.Series(pd.array(np.arange(300), dtype="Int64")),            # nullable integers
    pd.Series([f"C{i:05d}" for i in range(300)]),                  # prefix + digits
    pd.Series([f"user-{i}@x.org" for i in range(300)]),            # free-form strings
    pd.Series([f"syn-{i:06d}" for i in range(300)]),               # looks like our scheme
])
def test_synthetic_ids_are_new_unique_and_same_dtype(values):
    out = decode(values, 1000, start_row=0)
    assert out.dtype == values.dtype
    assert out.is_unique
    assert not set(out.astype(str)) & set(values.astype(str))
    later = decode(values, 10, start_row=1000)
    assert not set(later) & set(out)  # chunks continue the numbering


def test_integer_ids_start_after_the_real_maximum():
    assert decode(pd.Series(np.arange(7, 107)), 3).tolist() == [107, 108, 109]


def test_string_ids_keep_their_shape_or_use_a_free_prefix():
    assert decode(pd.Series([f"C{i:05d}" for i in range(50)]), 2).tolist() == ["C00050",
                                                                               "C00051"]
    free = decode(pd.Series([f"syn-{i}" for i in range(60)] + ["syn1-x"]), 2)
    assert free.tolist() == ["syn2-000001", "syn2-000002"]


def test_ids_that_do_not_fit_the_dtype_are_a_user_error():
    from pipeline.errors import UserError

    with pytest.raises(UserError, match="cannot hold new ids"):
        decode(pd.Series(np.arange(0, 120, dtype="int8")), 20)


def test_prepare_reserves_holdout_ids_too(tmp_path):
    n = 200
    pd.DataFrame({"key": np.arange(n), "x": RNG.normal(size=n),
                  "code": [f"K{i:04d}" for i in range(n)]}).to_csv(tmp_path / "t.csv",
                                                                     index=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(
        {"prepare": {"dataset": str(tmp_path / "t.csv"), "target": None}}))
    result = CliRunner().invoke(cli, ["prepare", "--params", str(tmp_path / "params.yaml"),
                                      "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    schema = json.loads((tmp_path / "out" / "schema.json").read_text())
    schemes = {c["name"]: c.get("id_scheme") for c in schema["columns"] if c["role"] == "id"}
    # The train split alone may not hold the largest id; the scheme is over every real row.
    assert schemes == {"key": {"start": n},
                       "code": {"prefix": "K", "digits": 4, "offset": n}}
    state = json.loads((tmp_path / "out" / "transformer.json").read_text())
    ids = {c["name"]: c for c in state["columns"] if c["type"] == "id"}
    assert ids["key"]["start"] == n and ids["code"]["offset"] == n
