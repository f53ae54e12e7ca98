"""The quality benchmark's pure parts: result merging, issue 8 target flags, rendering, the
independent baseline, dtype casting of reference-tool output and `--set` overrides."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import quality  # noqa: E402
import quality_render  # noqa: E402
from quality_results import beats_references, merge, summary, target_table  # noqa: E402
from quality_tables import cast_like, independent_sample  # noqa: E402


def entry(**metrics):
    base = dict(shapes=0.98, trends=0.95, detection=0.6, utility=0.97, dcr_share=0.5,
                copy_rate=0.0, holdout_copy_rate=0.0, mia=0.5)
    train_s = metrics.pop("train_s", 100.0)
    return {"status": "ok", "metrics": {**base, **metrics}, "train_s": train_s, "sample_s": 1.0}


def result(split="s1", **tools):
    return {"dataset": "d", "target": "y", "rows": {"train": 70, "holdout": 30}, "split": split,
            "when": "2026-01-01T00:00:00", "tools": tools}


def test_merge_keeps_other_tools_on_the_same_split_and_replaces_rerun_ones():
    old = result(ours=entry(detection=0.9), tvae=entry(detection=0.8))
    new = result(ours=entry(detection=0.7))
    merged = merge(old, new)
    assert set(merged["tools"]) == {"ours", "tvae"}
    assert merged["tools"]["ours"]["metrics"]["detection"] == 0.7
    assert merged["tools"]["tvae"]["metrics"]["detection"] == 0.8
    assert list(merged["tools"]) == ["ours", "tvae"]  # the doc's tool order, not insertion


def test_merge_drops_entries_of_another_split():
    merged = merge(result(ours=entry(), ctgan=entry()), result(split="s2", ours=entry()))
    assert set(merged["tools"]) == {"ours"} and merged["dropped"] == ["ctgan"]
    assert merge(None, result(ours=entry()))["tools"].keys() == {"ours"}


def test_merge_keeps_the_machine_each_kept_tool_ran_on_and_the_doc_lists_both():
    intel = {"cpu": "Intel Xeon", "cores": 2, "bench_venv": {"versions": {"sdv": "2.0.0"}}}
    amd = {"cpu": "AMD EPYC", "cores": 2, "bench_venv": None}
    old = {**result(ours=entry(), tvae=entry(), ctgan=entry()), "machine": intel}
    once = merge(old, {**result(ours=entry(detection=0.7)), "machine": amd})
    assert once["machine"] == amd and once["tools"]["ours"]["machine"] == amd
    assert once["tools"]["tvae"]["machine"] == intel == once["tools"]["ctgan"]["machine"]
    twice = merge(once, {**result(ours=entry(detection=0.6)), "machine": amd})
    assert twice["tools"]["tvae"]["machine"] == intel  # not lost on the next rerun either
    doc = quality_render.render({"d": twice})
    machine_part = doc.split("## Machine")[1].split("## Ablation")[0]
    assert "Ran ours (1 table):" in machine_part and "- AMD EPYC, 2 cores" in machine_part
    assert "Ran tvae (1 table), ctgan (1 table):" in machine_part
    assert "- Intel Xeon, 2 cores" in machine_part and "sdv 2.0.0" in machine_part


def test_target_flags_measure_gaps_and_treat_missing_values_as_not_applicable():
    good = entry(utility=None)  # no target: utility n/a, not a failure
    bad = entry(detection=0.8, shapes=0.9, copy_rate=0.02, holdout_copy_rate=0.01, train_s=900)
    rows = target_table({"a": result(ours=good), "b": result(ours=bad)})["rows"]
    assert rows["a"]["utility ratio ≥ 0.95"] == (None, None, None)
    assert all(rows["a"][t][1] for t in rows["a"] if t.startswith(("detection", "column", "MIA")))
    value, met, gap = rows["b"]["detection AUC ≤ 0.75"]
    assert (value, met) == (0.8, False) and gap == pytest.approx(0.05)
    assert rows["b"]["column shapes ≥ 0.97"][1] is False
    assert rows["b"]["exact copies ≤ holdout's"][1] is False  # bound is the holdout's own rate
    assert rows["b"]["training ≤ 10 min"][2] == pytest.approx(300.0)


def test_median_detection_target_is_over_tables():
    results = {n: result(ours=entry(detection=d)) for n, d in (("a", 0.6), ("b", 0.7), ("c", 0.9))}
    table = target_table(results)
    assert table["median_detection"] == 0.7 and table["median_met"] is False
    results["c"]["tools"]["ours"] = {"status": "error", "error": "boom"}
    assert target_table(results)["median_detection"] == pytest.approx(0.65)


def test_beats_references_names_what_is_worse():
    tools = {"ours": entry(detection=0.7, trends=0.9), "gaussian_copula": entry(detection=0.8),
             "tvae": entry(detection=0.6)}
    met, what = beats_references(tools)
    assert met is False and what == "trends vs GaussianCopula, detection vs TVAE, trends vs TVAE"
    assert beats_references({"ours": entry()})[0] is None


def test_summary_takes_median_worst_and_extremes_per_tool():
    results = {"a": result(ours=entry(detection=0.6, shapes=0.9), tvae=entry(mia=0.7)),
               "b": result(ours=entry(detection=0.8), tvae={"status": "error", "error": "x"})}
    s = summary(results)
    assert s["ours"]["median_detection"] == pytest.approx(0.7)
    assert s["ours"]["worst_detection"] == 0.8 and s["ours"]["min_shapes"] == 0.9
    assert s["tvae"]["failed"] == 1 and s["tvae"]["max_mia"] == 0.7
    assert list(s) == ["ours", "tvae"]


def test_render_flags_cells_and_keeps_the_ablation_block(tmp_path):
    results = {"d": result(ours=entry(detection=0.8),
                           ctgan={"status": "error", "error": "evaluate: exit 1: too | many"})}
    old = quality_render.render(results, "| change | detection |\n|---|---|\n| ema | 0.7 |")
    assert "| ema | 0.7 |" in old
    doc = quality_render.render(results, quality_render.ablation_block(old))
    assert "| ema | 0.7 |" in doc and doc.count(quality_render.ABLATION_START) == 1
    rows = [ln for ln in doc.splitlines() if ln.startswith("| ours (default params) |")]
    summary_row, table_row = rows  # the summary (no flags), then the dataset's table
    assert "0.800 ✗" in table_row and "0.980 ✓" in table_row and "✗" not in summary_row
    assert "**error**: evaluate: exit 1: too \\| many" in doc  # a pipe would break the table
    assert "✗ 0.800 (by 0.050)" in doc
    assert quality_render.ablation_block(None) == quality_render.ABLATION_PLACEHOLDER
    assert "Not default params" not in doc
    results["d"]["tools"]["ours"]["overrides"] = ["train.epochs=2"]
    assert "**Not default params**: ours ran with d: `--set train.epochs=2`." in \
        quality_render.render(results)


def test_independent_baseline_keeps_marginals_and_breaks_dependence():
    rng = np.random.default_rng(0)
    x = rng.normal(size=4000)
    train = pd.DataFrame({"x": x, "y": x + 0.01 * rng.normal(size=4000),
                          "c": np.where(rng.random(4000) < 0.2, None, "a")})
    out = independent_sample(train, 6000, seed=1)
    assert out.shape == (6000, 3) and list(out.dtypes) == list(train.dtypes)
    assert set(out["x"]) <= set(train["x"])
    assert abs(out["c"].isna().mean() - 0.2) < 0.03  # missing values drawn at their rate
    assert abs(np.corrcoef(out["x"], out["y"])[0, 1]) < 0.05  # was ~1 in train
    assert out.equals(independent_sample(train, 6000, seed=1))


def test_cast_like_gives_the_real_dtypes():
    real = pd.DataFrame({"i": [1, 2], "f": [0.5, np.nan], "s": ["1", "b"],
                         "t": pd.to_datetime(["2013-01-01", "2013-01-02"]), "b": [True, False]})
    tool = pd.DataFrame({"b": ["True", "False"], "extra": [0, 0], "i": [1.4, 2.6],
                         "f": ["0.25", None], "s": [1.0, None], "t": ["2013-01-03", "x"]})
    out = cast_like(tool, real)
    assert list(out.columns) == list(real.columns) and (out.dtypes == real.dtypes).all()
    assert out["i"].tolist() == [1, 3] and out["s"].tolist() == ["1", None]
    assert out["b"].tolist() == [True, False] and pd.isna(out["t"][1])
    with pytest.raises(ValueError, match=r"lacks columns \['i'\]"):
        cast_like(tool.drop(columns="i"), real)


def test_set_overrides_parse_yaml_values_and_reject_unknown_keys():
    params = {"seed": 1, "train": {"epochs": 300, "dims": [1]}}
    out = quality.apply_overrides(params, ["train.epochs=2", "train.dims=[4, 4]", "seed=7"])
    assert out == {"seed": 7, "train": {"epochs": 2, "dims": [4, 4]}}
    with pytest.raises(SystemExit, match="no key 'epoch'"):
        quality.apply_overrides(params, ["train.epoch=2"])
    with pytest.raises(SystemExit, match="expected key=value"):
        quality.apply_overrides(params, ["train.epochs"])


def test_datasets_default_to_every_builtin_with_its_target(tmp_path):
    specs = quality.parse_datasets(None)
    assert ("flights", "flights", "carrier") in specs and specs[0][0] == "penguins"
    table = tmp_path / "my.table.csv"
    table.write_text("a,b\n1,2\n")
    assert quality.parse_datasets(f"wage=,{table}=b") == [("wage", "wage", None),
                                                          ("my", str(table), "b")]
    with pytest.raises(SystemExit, match="neither a built-in"):
        quality.parse_datasets("nope")


def test_rescore_only_evaluates_tools_with_stored_rows(tmp_path, capsys):
    """--rescore re-evaluates stored rows; a tool without them is skipped, never fitted (it
    once started TVAE on flights' 235k rows)."""
    work = tmp_path / "flights"
    for tool, files in {"ours": ("synthetic.parquet", "fit.json"),
                        "tvae": ("fit.json",), "ctgan": ()}.items():
        (work / tool).mkdir(parents=True)
        for f in files:
            (work / tool / f).write_text("x")
    assert quality.rescorable(work, ["ours", "tvae", "ctgan", "independent"]) == ["ours"]
    out = capsys.readouterr().out
    assert "tvae: no stored rows" in out and "independent: no stored rows" in out
