"""Chunked torch DCR distances equal a brute-force numpy reference and sdmetrics' DCR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.metrics.distance import embed, fit_space, nearest
from tests.metrics_fixtures import make_metadata, make_schema, make_table


def brute_force(query: pd.DataFrame, ref: pd.DataFrame, schema: dict) -> np.ndarray:
    """Full (n_query, n_ref) matrix of sdmetrics-style mean distances, straight from the text."""
    parts = []
    for col in schema["columns"]:
        name, role = col["name"], col["role"]
        if role in ("id", "constant"):
            continue
        a, b = query[name], ref[name]
        if role in ("categorical", "boolean"):
            av = a.astype(object).where(a.notna(), "<NA>").to_numpy()[:, None]
            bv = b.astype(object).where(b.notna(), "<NA>").to_numpy()[None, :]
            parts.append((av != bv).astype(float))
            continue
        if role == "datetime":
            a = a.astype("int64") / 1e9
            b = b.astype("int64") / 1e9
        a, b = a.to_numpy(float)[:, None], b.to_numpy(float)[None, :]
        rng = np.nanmax(b) - np.nanmin(b)
        d = np.minimum(np.abs(a - b) / rng, 1.0)
        d = np.where(np.isnan(a) ^ np.isnan(b), 1.0, d)
        d = np.where(np.isnan(a) & np.isnan(b), 0.0, d)
        parts.append(d)
    return np.mean(parts, axis=0)


@pytest.mark.parametrize("missing", [False, True])
def test_chunked_equals_brute_force(missing: bool) -> None:
    ref = make_table(150, seed=1, missing=missing)
    query = make_table(97, seed=2, missing=missing)
    # Push some query values outside the reference range so the capped path is exercised.
    query.loc[:5, "income"] = query["income"].max() * 50
    schema = make_schema(ref)
    space = fit_space(ref, schema, (query,))
    got = nearest(embed(query, space), embed(ref, space), space, k=2, chunk_rows=32)
    full = np.sort(brute_force(query, ref, schema), axis=1)[:, :2]
    np.testing.assert_allclose(got, full, atol=1e-5)


def test_matches_sdmetrics_dcr() -> None:
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    ref = make_table(120, seed=3)
    query = make_table(80, seed=4)
    schema = make_schema(ref)
    table_meta = make_metadata()["tables"]["table"]
    expected = calculate_dcr(query, ref, table_meta).to_numpy()
    space = fit_space(ref, schema, (query,))
    got = nearest(embed(query, space), embed(ref, space), space, k=1, chunk_rows=50)[:, 0]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_copy_has_zero_distance_and_k_beyond_reference_is_inf() -> None:
    ref = make_table(10, seed=5)
    space = fit_space(ref, make_schema(ref))
    got = nearest(embed(ref, space), embed(ref, space), space, k=12, chunk_rows=4)
    assert np.all(got[:, 0] == 0.0)
    assert np.isinf(got[:, -1]).all()


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("outside", [False, True])
def test_kd_tree_equals_block_scan(missing: bool, outside: bool) -> None:
    """The KD-tree path is exact, also where values leave the reference range (the cap
    binds and the tree's clipped distance is only a lower bound)."""
    ref = make_table(400, seed=6, missing=missing)
    query = make_table(150, seed=7, missing=missing)
    if outside:
        query.loc[:20, "income"] = query["income"].max() * np.linspace(2, 50, 21)
        query.loc[21:30, "age"] = 200
    else:
        for col in ("age", "income", "start"):  # inside the reference range
            query[col] = query[col].clip(ref[col].min(), ref[col].max())
    schema = make_schema(ref)
    space = fit_space(ref, schema, (query,))
    q, r = embed(query, space), embed(ref, space)
    matrix = brute_force(query, ref, schema)  # ranges from ref, as in the space
    full = np.sort(matrix, axis=1)[:, :3]
    np.testing.assert_allclose(nearest(q, r, space, k=3, method="tree"), full, atol=1e-9)
    np.testing.assert_allclose(nearest(q, r, space, k=3, method="brute"), full, atol=1e-5)
    # Reference side out of range too (queries of the membership attack hit synthetic rows).
    back = np.sort(matrix.T, axis=1)[:, :2]
    np.testing.assert_allclose(nearest(r, q, space, k=2, method="tree"), back, atol=1e-9)


def test_kd_tree_refuses_wide_categoricals() -> None:
    ref, query = make_table(100, seed=8), make_table(50, seed=9)
    ref["code"], query["code"] = ref.index.astype(str), query.index.astype(str)
    schema = make_schema(ref)
    schema["columns"].append({"name": "code", "role": "categorical"})
    space = fit_space(ref, schema, (query,))
    with pytest.raises(ValueError, match="no KD-tree path"):
        nearest(embed(query, space), embed(ref, space), space, method="tree")


def test_wide_categorical_is_coded_and_exact() -> None:
    """A 300-level column is compared as codes (no 300-wide one-hot) with the same result."""
    from pipeline.metrics.distance import ONEHOT_LEVELS

    rng = np.random.default_rng(10)
    ref, query = make_table(200, seed=10), make_table(90, seed=11)
    ref["code"] = rng.integers(0, 300, len(ref)).astype(str)
    query["code"] = rng.integers(0, 300, len(query)).astype(str)
    query.loc[0, "code"] = ref.loc[5, "code"]
    schema = make_schema(ref)
    schema["columns"].append({"name": "code", "role": "categorical"})
    space = fit_space(ref, schema, (query,))
    assert space.wide[-1] and not any(space.wide[:-1])
    e = embed(query, space)
    assert e.codes.shape == (90, 1) and e.onehot.shape[1] < ONEHOT_LEVELS * 3
    got = nearest(e, embed(ref, space), space, k=2, chunk_rows=32)
    full = np.sort(brute_force(query, ref, schema), axis=1)[:, :2]
    np.testing.assert_allclose(got, full, atol=1e-5)
