"""Evaluate + gate end to end through the CLI: exit codes, gate.json, determinism, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import params_from_dict
from pipeline.metrics.registry import METRICS
from pipeline.stages import evaluate
from tests.metrics_fixtures import make_table, write_inputs

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_THRESHOLDS = yaml.safe_load((ROOT / "params.yaml").read_text())["gate"]["thresholds"]
TRAIN, HOLDOUT = make_table(700, seed=50), make_table(300, seed=51)


def _params(tmp: Path, thresholds: dict | None = None) -> Path:
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump({"seed": 1, "gate": {"thresholds": thresholds
                                                        if thresholds is not None
                                                        else DEFAULT_THRESHOLDS}}))
    return path


def _evaluate(tmp: Path, synthetic) -> tuple[Path, Path]:
    data_dir, syn = write_inputs(tmp, TRAIN, HOLDOUT, synthetic)
    params = _params(tmp)
    res = CliRunner().invoke(cli, ["evaluate", "--params", str(params), "--data-dir",
                                   str(data_dir), "--synthetic", str(syn), "--train-log",
                                   str(tmp / "no_logs"), "--out-dir", str(tmp / "reports")])
    assert res.exit_code == 0, res.output
    return params, tmp / "reports" / "metrics.json"


def _gate(params: Path, metrics: Path, out: Path):
    return CliRunner().invoke(cli, ["gate", "--params", str(params), "--metrics", str(metrics),
                                    "--out", str(out)])


def test_default_thresholds_are_known_metrics() -> None:
    assert DEFAULT_THRESHOLDS, "params.yaml should ship default gate thresholds"
    assert set(DEFAULT_THRESHOLDS) <= set(METRICS)


def test_copy_of_train_fails_the_gate_with_exit_3(tmp_path: Path) -> None:
    params, metrics = _evaluate(tmp_path, TRAIN.copy())
    res = _gate(params, metrics, tmp_path / "gate.json")
    assert res.exit_code == 3, res.output
    gate = json.loads((tmp_path / "gate.json").read_text())
    assert gate["passed"] is False
    failed = {c["metric"] for c in gate["checks"] if not c["passed"]}
    assert "privacy.exact_copy_rate" in failed
    assert "privacy.dcr_overfitting_protection" in failed
    # the attack-based lines fail on a leaked copy too (docs/privacy.md)
    assert {"privacy.mia_density_auc", "privacy.mia_density_tpr_at_1pct_fpr",
            "privacy.singling_out_risk", "privacy.linkability_risk",
            "privacy.inference_risk"} <= failed
    assert "FAIL" in res.output


def test_fresh_sample_passes_the_gate(tmp_path: Path) -> None:
    params, metrics = _evaluate(tmp_path, make_table(700, seed=52))
    res = _gate(params, metrics, tmp_path / "gate.json")
    assert res.exit_code == 0, res.output
    gate = json.loads((tmp_path / "gate.json").read_text())
    assert gate["passed"] is True and all(c["passed"] for c in gate["checks"])
    assert {c["metric"] for c in gate["checks"]} == set(DEFAULT_THRESHOLDS)


def test_directions_come_from_the_registry(tmp_path: Path) -> None:
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps({"detection.auc": 0.6, "fidelity.overall": 0.6}))
    ok = _gate(_params(tmp_path, {"detection.auc": 0.6, "fidelity.overall": 0.6}), metrics,
               tmp_path / "g.json")
    assert ok.exit_code == 0, ok.output  # ties pass both ways
    bad = _gate(_params(tmp_path, {"detection.auc": 0.55, "fidelity.overall": 0.7}), metrics,
                tmp_path / "g.json")
    assert bad.exit_code == 3
    checks = json.loads((tmp_path / "g.json").read_text())["checks"]
    assert [c["direction"] for c in checks] == ["minimize", "maximize"]


@pytest.mark.parametrize("thresholds, message", [
    ({"fidelity.not_a_metric": 0.5}, "unknown metric key"),
    ({"utility.ratio": 0.5}, "is missing from"),
])
def test_bad_threshold_keys_exit_2(tmp_path: Path, thresholds: dict, message: str) -> None:
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps({"fidelity.overall": 0.9}))
    res = _gate(_params(tmp_path, thresholds), metrics, tmp_path / "g.json")
    assert res.exit_code == 2
    assert message in res.output
    assert not (tmp_path / "g.json").exists()


def test_evaluate_is_deterministic(tmp_path: Path) -> None:
    data_dir, syn = write_inputs(tmp_path, TRAIN, HOLDOUT, make_table(500, seed=53))
    params = params_from_dict({"seed": 5, "evaluate": {"distance_chunk_rows": 128}})
    evaluate.run(params, data_dir, syn, None, tmp_path / "a")
    evaluate.run(params, data_dir, syn, None, tmp_path / "b")
    a, b = ((tmp_path / d / "metrics.json").read_bytes() for d in ("a", "b"))
    assert a == b
    assert (tmp_path / "a" / "plots" / "dcr.json").read_bytes() == \
        (tmp_path / "b" / "plots" / "dcr.json").read_bytes()


def test_evaluate_rejects_bad_inputs(tmp_path: Path) -> None:
    wrong = make_table(100, seed=54).drop(columns=["color"])
    data_dir, syn = write_inputs(tmp_path, TRAIN, HOLDOUT, wrong)
    args = ["evaluate", "--params", str(_params(tmp_path)), "--data-dir", str(data_dir),
            "--out-dir", str(tmp_path / "out")]
    res = CliRunner().invoke(cli, [*args, "--synthetic", str(syn)])
    assert res.exit_code == 2 and "color" in res.output
    res = CliRunner().invoke(cli, [*args, "--synthetic", str(tmp_path / "nope.parquet")])
    assert res.exit_code == 2 and "not found" in res.output
    assert not (tmp_path / "out").exists()


def test_null_metric_is_a_failed_check_with_a_reason(tmp_path: Path) -> None:
    """A metric evaluate could not compute (null) fails its check, exit 3, never exit 2."""
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps({"utility.ratio": None, "fidelity.overall": 0.9}))
    res = _gate(_params(tmp_path, {"utility.ratio": 0.5, "fidelity.overall": 0.8}), metrics,
                tmp_path / "g.json")
    assert res.exit_code == 3, res.output
    gate = json.loads((tmp_path / "g.json").read_text())
    assert gate["passed"] is False
    checks = {c["metric"]: c for c in gate["checks"]}
    bad, good = checks["utility.ratio"], checks["fidelity.overall"]
    assert bad["metric"] == "utility.ratio" and bad["passed"] is False
    assert bad["value"] is None and "not computable" in bad["reason"]
    assert good["passed"] is True and good["reason"] == ""
    assert "not computable" in res.output and "n/a" in res.output
