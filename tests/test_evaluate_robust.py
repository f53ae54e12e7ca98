"""Evaluate on what real users bring: huge cardinalities, other tools' dtypes, nulls, sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import params_from_dict
from pipeline.errors import UserError
from pipeline.io import write_json, write_parquet
from pipeline.metrics.features import TREE_LEVELS, model_matrix
from pipeline.metrics.svg import bars
from pipeline.stages import evaluate
from tests.metrics_fixtures import make_metadata, make_schema, make_table, write_inputs


def _with_title(df: pd.DataFrame, seed: int, levels: int = 1000) -> pd.DataFrame:
    """Add a free-text-like categorical column with `levels` levels (Zipf-ish frequencies)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, levels + 1)
    out = df.copy()
    out["title"] = np.array([f"title {i:04d}" for i in range(levels)])[
        rng.choice(levels, len(df), p=p / p.sum())]
    # Every level at least once in train so the column really has `levels` levels.
    if seed == 0:
        out.loc[: levels - 1, "title"] = [f"title {i:04d}" for i in range(levels)]
    return out


def _write_title_inputs(tmp: Path, target: str | None = "title") -> tuple[Path, Path]:
    train = _with_title(make_table(3000, 70), 0)
    holdout = _with_title(make_table(800, 71), 1)
    synthetic = _with_title(make_table(2000, 72), 2)
    data_dir, syn = write_inputs(tmp, train, holdout, synthetic, target="grade")
    schema = make_schema(train, target="grade")
    schema["columns"].append({"name": "title", "role": "categorical", "dtype": "object",
                              "missing_rate": 0.0})
    meta = make_metadata()
    meta["tables"]["table"]["columns"]["title"] = {"sdtype": "categorical"}
    write_json(schema, data_dir / "schema.json")
    write_json(meta, data_dir / "metadata.json")
    return data_dir, syn


def test_model_matrix_pools_rare_levels_by_training_frequency() -> None:
    real = _with_title(make_table(3000, 70), 0)
    other = _with_title(make_table(500, 72), 2)
    other.loc[0, "title"] = "never seen in real"
    schema = make_schema(real)
    schema["columns"].append({"name": "title", "role": "categorical"})
    (x_real, x_other), mask, pooled = model_matrix([real, other], schema)
    col = [c["name"] for c in schema["columns"] if c["role"] not in ("id", "constant")]
    j = col.index("title")
    assert mask[j]
    assert pooled == {"title": {"levels": 1001, "kept": TREE_LEVELS - 1}}
    codes = np.concatenate([x_real[:, j], x_other[:, j]])
    assert len(np.unique(codes)) <= TREE_LEVELS and codes.max() == TREE_LEVELS - 1
    # The most frequent real level keeps its own code; a level only the other frame has,
    # and the rarest real levels, share the pooled code.
    top = real["title"].value_counts().index[0]
    assert x_real[(real["title"] == top).to_numpy(), j][0] < TREE_LEVELS - 1
    assert x_other[0, j] == TREE_LEVELS - 1
    rare = real["title"].value_counts().index[-1]
    assert x_real[(real["title"] == rare).to_numpy(), j][0] == TREE_LEVELS - 1


def test_evaluate_scores_a_1000_level_column_and_says_so(tmp_path: Path) -> None:
    data_dir, syn = _write_title_inputs(tmp_path)
    params = params_from_dict({"evaluate": {"detection_folds": 2}})
    metrics = evaluate.run(params, data_dir, syn, None, tmp_path / "out")
    assert 0.0 <= metrics["detection.auc"] <= 1.0
    assert metrics["utility.real_score"] is not None
    details = json.loads((tmp_path / "out" / "details.json").read_text())
    # Detection sees an equal-size sample of train (2,000 of 3,000 rows), utility all of it.
    assert details["high_cardinality"]["utility"]["title"] == {"levels": 1000, "kept": 254}
    det = details["high_cardinality"]["detection"]["title"]
    assert det["kept"] == 254 and det["levels"] > 255
    page = (tmp_path / "out" / "report.html").read_text()
    assert "utility: column title has 1000 levels" in page


def test_privacy_uses_the_full_training_table(tmp_path: Path) -> None:
    """A copy of train stays a copy when max_rows is small: references are never capped."""
    train, holdout = make_table(2000, 80), make_table(800, 81)
    data_dir, syn = write_inputs(tmp_path, train, holdout, train.copy())
    params = params_from_dict({"evaluate": {"max_rows": 200, "privacy_query_rows": 300,
                                            "detection_folds": 2}})
    metrics = evaluate.run(params, data_dir, syn, None, tmp_path / "out")
    assert metrics["privacy.exact_copy_rate"] == 1.0
    assert metrics["privacy.dcr_share"] == 1.0
    assert metrics["privacy.dcr_synthetic_median"] == 0.0
    details = json.loads((tmp_path / "out" / "details.json").read_text())
    priv = details["sampling"]["privacy"]
    assert priv["reference_rows"] == {"train": 2000, "holdout": 800, "synthetic": 2000}
    assert priv["query_rows"]["synthetic"] == 300 and priv["query_subsampled"] is True
    assert details["sampling"]["scored_rows"]["train"] == 200
    page = (tmp_path / "out" / "report.html").read_text()
    assert "complete tables" in page and "Seeded query subsample: 300 synthetic" in page


def test_query_subsample_states_its_standard_error(tmp_path: Path) -> None:
    train, holdout, fresh = make_table(1500, 82), make_table(1500, 83), make_table(1500, 84)
    data_dir, syn = write_inputs(tmp_path, train, holdout, fresh)
    runs = {}
    for cap in (400, None):
        params = params_from_dict({"evaluate": {"privacy_query_rows": cap,
                                                "detection_folds": 2}})
        evaluate.run(params, data_dir, syn, None, tmp_path / str(cap))
        out = tmp_path / str(cap)
        runs[cap] = {**json.loads((out / "metrics.json").read_text()),
                     "details": json.loads((out / "details.json").read_text())}
    sub, full = (runs[c]["details"]["sampling"]["privacy"] for c in (400, None))
    assert full["dcr_share_se"] == 0.0 and full["query_subsampled"] is False
    assert 0.005 < sub["dcr_share_se"] < 0.05
    # The subsample's share lies within a few standard errors of the all-rows share.
    gap = abs(runs[400]["privacy.dcr_share"] - runs[None]["privacy.dcr_share"])
    assert gap < 4 * sub["dcr_share_se"]


def test_bars_draw_missing_values_as_na() -> None:
    svg = bars(["a", "b", "c"], {"score": [0.9, None, float("nan")]}, "shapes")
    assert svg.count("n/a") == 2 and svg.startswith("<svg")


def _other_tool_sample(n: int, seed: int) -> pd.DataFrame:
    """The fixture table as another tool writes it: other dtypes, an all-null column."""
    df = make_table(n, seed)
    return pd.DataFrame({
        "user_id": df["user_id"].astype("float64"),
        "age": df["age"].astype("float64"),  # ints as floats
        "income": pd.Series([None] * n, dtype=object),  # the tool could not model it
        "grade": df["grade"].astype("category"),
        "color": df["color"].astype("string"),
        "smoker": df["smoker"].map({True: "True", False: "False"}),  # booleans as text
        "start": df["start"].dt.strftime("%Y-%m-%d"),  # dates as text
    })


def test_evaluate_scores_another_tools_dtypes_and_all_null_column(tmp_path: Path) -> None:
    data_dir, syn = write_inputs(tmp_path, make_table(600, 90), make_table(300, 91),
                                 _other_tool_sample(600, 92), target="grade")
    metrics = evaluate.run(params_from_dict({"evaluate": {"detection_folds": 2}}),
                           data_dir, syn, None, tmp_path / "out")
    details = json.loads((tmp_path / "out" / "details.json").read_text())
    coerced = " ".join(details["coerced_columns"])
    for col in ("user_id", "age", "income", "grade", "color", "smoker", "start"):
        assert col in coerced, col
    shapes = {r["column"]: r["score"] for r in details["column_shapes"]}
    assert shapes["age"] > 0.5 and shapes["smoker"] > 0.5  # converted, so comparable
    assert 0.0 <= metrics["detection.auc"] <= 1.0
    assert "Synthetic columns converted" in (tmp_path / "out" / "report.html").read_text()


def test_report_survives_a_missing_column_shape(tmp_path: Path) -> None:
    from pipeline.metrics.report_html import render

    details = {"rows": {"train": 1}, "column_shapes": [
        {"column": "a", "metric": "KSComplement", "score": 0.8},
        {"column": "b", "metric": "KSComplement", "score": None}]}
    page = render({"fidelity.column_shapes": None}, details, {}, [], {},
                  {"fidelity.column_shapes": 0.5}, title="t")
    assert "n/a" in page and "FAIL" in page and "not computable" in page


def test_unconvertible_synthetic_column_is_a_one_line_error(tmp_path: Path) -> None:
    bad = make_table(200, 93)
    bad["age"] = bad["age"].astype(str)  # numbers as text convert; one word does not
    bad.loc[3, "age"] = "forty"
    data_dir, syn = write_inputs(tmp_path, make_table(300, 94), make_table(100, 95), bad)
    with pytest.raises(UserError, match=r"column 'age': 1 value\(s\) are not numbers.*forty"):
        evaluate.load_inputs(data_dir, syn)
    params = tmp_path / "params.yaml"
    params.write_text("seed: 1\n")
    res = CliRunner().invoke(cli, ["evaluate", "--params", str(params), "--data-dir",
                                   str(data_dir), "--synthetic", str(syn),
                                   "--out-dir", str(tmp_path / "out")])
    assert res.exit_code == 2 and "forty" in res.output
    assert not (tmp_path / "out").exists()
