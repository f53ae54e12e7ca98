"""The Parquet schema of generated rows comes from the transformer, not from the first chunk:
a mostly-missing column that is all null in one chunk must not break the next ones."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pipeline.config import TransformParams
from pipeline.data.schema import build_schema, infer_roles
from pipeline.stages.generate import arrow_schema, write_parquet_stream
from pipeline.tabular.transformer import TableTransformer

N = 200


def fitted() -> tuple[pd.DataFrame, TableTransformer]:
    rng = np.random.default_rng(1)
    note = np.where(rng.random(N) < 0.95, None, rng.choice(["late", "early"], N)).astype(object)
    df = pd.DataFrame({
        "note": note,                                             # 95 % missing text
        "score": np.where(rng.random(N) < 0.9, np.nan, rng.normal(size=N)),
        "count": pd.array(np.where(rng.random(N) < 0.9, None, rng.integers(0, 9, N)),
                          dtype="Int64"),
        "when": pd.Series(pd.date_range("2021-01-01", periods=N, freq="D", tz="UTC"))
                  .where(rng.random(N) < 0.2),
        "size": pd.Categorical(rng.choice(["S", "M", "L"], N)),
    })
    schema = build_schema(df, infer_roles(df), "t")
    return df, TableTransformer.fit(df, schema, TransformParams(fit_rows=200), 0)


def test_a_column_all_null_in_the_first_chunk_streams_with_the_transformers_schema(tmp_path):
    df, tr = fitted()
    matrix = tr.transform(df)
    # The first chunk of 3 rows is missing in every mostly-missing column.
    first = matrix[:3].copy()
    for span in tr.spans:
        if span.kind == "onehot" and span.column != "size":
            first[:, span.start:span.start + span.width] = 0.0
            first[:, span.start + span.width - 1] = 1.0  # the last slot: missing
    chunks = [tr.inverse_transform(first, start_row=0)]
    chunks += [tr.inverse_transform(matrix[i:i + 3], start_row=i) for i in range(3, 30, 3)]
    assert chunks[0][["note", "score", "count", "when"]].isna().all().all()
    assert chunks[1:] and pd.concat(chunks[1:])["note"].notna().any()

    path = tmp_path / "synthetic.parquet"
    assert write_parquet_stream(iter(chunks), path, arrow_schema(tr)) == 30
    back = pd.read_parquet(path)
    expected = pd.concat(chunks, ignore_index=True)
    expected["note"] = expected["note"].astype(object).where(expected["note"].notna(), None)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False, check_categorical=False)
    types = {f.name: str(f.type) for f in pq.read_schema(path)}
    assert types["note"] == "string" and types["count"] == "int64"
    assert types["when"].startswith("timestamp") and "UTC" in types["when"]
    assert types["size"].startswith("dictionary")


def test_schema_is_the_same_whatever_the_first_rows_hold():
    _, tr = fitted()
    assert arrow_schema(tr) == arrow_schema(tr)
    assert not any(str(f.type) == "null" for f in arrow_schema(tr))
