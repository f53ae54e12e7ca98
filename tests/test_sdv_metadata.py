"""data/prepared/metadata.json in the form sdmetrics and SDV 2 read, and an SDV metadata JSON
as an input to prepare (`prepare.metadata`): roles from its sdtypes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import pandas as pd
import pytest

from tests.test_prepare import assert_fails, mixed_table, run_prepare, write_params

SDV_PYTHON = Path("/work/main/.venv-bench/bin/python")  # the benchmark env (SDV 2.x), if any


@pytest.fixture()
def prepared(tmp_path):
    src = tmp_path / "table.parquet"
    mixed_table().to_parquet(src, index=False)
    result, out = run_prepare(tmp_path, write_params(tmp_path, {"dataset": str(src)}))
    assert result.exit_code == 0, result.output
    return src, out


def _roles(out: Path) -> dict[str, str]:
    return {c["name"]: c["role"] for c in json.loads((out / "schema.json").read_text())["columns"]}


def test_metadata_json_passes_the_pinned_sdmetrics_validation(prepared):
    from sdmetrics._utils_metadata import _validate_metadata, _validate_unified_metadata
    from sdmetrics.reports import DiagnosticReport

    _, out = prepared
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["METADATA_SPEC_VERSION"] == "V1" and meta["relationships"] == []
    assert set(meta["tables"]) == {"table"}
    columns = meta["tables"]["table"]["columns"]
    assert all("computer_representation" not in c for c in columns.values())
    _validate_unified_metadata(meta)
    _validate_metadata(meta)
    train = pd.read_parquet(out / "train.parquet")
    report = DiagnosticReport()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "metadata does not match the data" warnings
        report.generate({"table": train}, {"table": train}, meta, verbose=False)
    assert report.get_score() == pytest.approx(1.0)


@pytest.mark.slow  # ~11 s: imports SDV in the benchmark env
@pytest.mark.skipif(not SDV_PYTHON.exists(), reason="needs SDV 2.x in .venv-bench (make bench)")
def test_sdv_2_loads_and_validates_metadata_json_without_warnings(prepared):
    _, out = prepared
    script = (
        "import json, warnings, pandas as pd\n"
        "warnings.simplefilter('error')\n"
        "from sdv.metadata import Metadata\n"
        f"m = Metadata.load_from_dict(json.load(open({str(out / 'metadata.json')!r})))\n"
        "m.validate()\n"
        f"m.validate_data({{'table': pd.read_parquet({str(out / 'train.parquet')!r})}})\n"
        "print(sorted(m.tables['table'].columns))\n")
    proc = subprocess.run([str(SDV_PYTHON), "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(sorted(_roles(out)))


def test_our_metadata_as_input_gives_the_same_roles(tmp_path, prepared):
    src, out = prepared
    again = tmp_path / "again"
    again.mkdir()
    params = write_params(again, {"dataset": str(src), "metadata": str(out / "metadata.json")})
    result, out2 = run_prepare(again, params)
    assert result.exit_code == 0, result.output
    assert _roles(out2) == _roles(out)


def test_sdv_metadata_roles_win_over_inference_and_columns_wins_over_both(tmp_path):
    df = mixed_table()
    df["zip"] = (df.index % 7 + 10000).astype("int64")  # inferred integer; SDV says categorical
    df["email"] = [f"user{i % 150}@example.com" for i in range(len(df))]
    src = tmp_path / "t.parquet"
    df.to_parquet(src, index=False)
    sdv = {"METADATA_SPEC_VERSION": "V1", "tables": {"customers": {
        "primary_key": "key",
        "columns": {"key": {"sdtype": "id"}, "zip": {"sdtype": "categorical"},
                    "kids": {"sdtype": "numerical", "computer_representation": "Int64"},
                    "income": {"sdtype": "numerical", "computer_representation": "Float"},
                    "email": {"sdtype": "email", "pii": True},
                    "label": {"sdtype": "categorical"},
                    "flag": {"sdtype": "boolean"}}}}}
    (tmp_path / "sdv.json").write_text(json.dumps(sdv))
    params = write_params(tmp_path, {"dataset": str(src), "metadata": str(tmp_path / "sdv.json"),
                                     "columns": {"label": "boolean"}})
    result, out = run_prepare(tmp_path, params)
    assert result.exit_code == 0, result.output
    roles = _roles(out)
    assert roles["zip"] == "categorical" and roles["kids"] == "integer"
    assert roles["income"] == "numerical" and roles["key"] == "id"
    assert roles["email"] == "id"  # personal data: fresh synthetic values, never a real one
    assert roles["label"] == "boolean"  # prepare.columns wins over the metadata
    assert roles["colour"] == "categorical" and roles["joined"] == "datetime"  # inferred


@pytest.mark.parametrize("content, needles", [
    ("{not json", ["meta.json: not a JSON file"]),
    ('{"tables": {"a": {"columns": {}}, "b": {"columns": {}}}}',
     ["describes 2 tables (a, b)", "keep only its entry"]),
    ('{"tables": {"t": {"primary_key": "key"}}}', ["tables.t has no 'columns' object"]),
    ('{"columns": {"nope": {"sdtype": "categorical"}}}', ["column 'nope' is not in the table"]),
    ('{"columns": {"colour": {"sdtype": "numerical"}}}',
     ["column 'colour' is sdtype numerical but holds"]),
    ('{"columns": {"income": {"pii": true}}}', ["column 'income' has no sdtype"]),
    ('{"columns": {"income": {"sdtype": "numerical", "computer_representation": "Int64"}}}',
     ["column 'income' is computer_representation Int64 but holds fractions"]),
    ('{"columns": {"colour": {"sdtype": "boolean"}}}',
     ["meta.json: column 'colour' (meta.json: sdtype boolean): role 'boolean'",
      "3 distinct values"]),
])
def test_a_bad_sdv_metadata_file_is_a_one_line_error(tmp_path, content, needles):
    src = tmp_path / "t.parquet"
    mixed_table().to_parquet(src, index=False)
    (tmp_path / "meta.json").write_text(content)
    params = write_params(tmp_path, {"dataset": str(src), "metadata": str(tmp_path / "meta.json")})
    assert_fails(tmp_path, params, *needles)


def test_a_missing_sdv_metadata_file_is_a_one_line_error(tmp_path):
    src = tmp_path / "t.parquet"
    mixed_table().to_parquet(src, index=False)
    params = write_params(tmp_path, {"dataset": str(src), "metadata": str(tmp_path / "no.json")})
    assert_fails(tmp_path, params, "prepare.metadata: file not found")
