"""Atomic writes: a failure leaves the previous file untouched and no temporary files."""

import pandas as pd
import pytest

from pipeline.errors import UserError
from pipeline.io import atomic_path, read_json, read_table, write_json, write_parquet


def test_failed_write_keeps_the_old_file_and_leaves_no_tmp(tmp_path):
    target = tmp_path / "out.json"
    write_json({"good": 1}, target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert read_json(target) == {"good": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_outputs_are_readable_by_others(tmp_path):
    target = tmp_path / "t.json"
    write_json({}, target)
    assert target.stat().st_mode & 0o044


def test_parquet_round_trip_keeps_dtypes(tmp_path):
    df = pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": ["x", "y"],
                       "c": pd.to_datetime(["2020-01-01", "2021-01-01"])})
    write_parquet(df, tmp_path / "t.parquet")
    back = read_table(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(back, df)


def test_unsupported_suffix_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="unsupported file format '.xlsx'"):
        read_table(tmp_path / "t.xlsx")
    with pytest.raises(UserError, match="file not found"):
        read_table(tmp_path / "missing.csv")
