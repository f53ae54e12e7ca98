"""DP training end to end through the CLI: epsilon in the train log, in evaluate's
metrics.json, and gated; the checkpoint carries no extra data-derived state."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from pipeline.models.checkpoint import read_checkpoint
from test_train_generate import invoke, make_project, train

DP = {"pac": 1, "calibrate": False, "refine_draws": None, "refine_rows_draws": None,
      "cond_anyway": 0.0, "target_loss": 0.0, "refuse_copies": False,
      "privacy": {"epsilon": 2.0}}


def test_dp_run_reports_epsilon_and_passes_a_gate_on_it(tmp_path: Path) -> None:
    root = make_project(tmp_path, n=240, **DP)
    out = train(root).output
    assert "train.privacy: noise multiplier" in out
    logged = json.loads((root / "train_log" / "metrics.json").read_text())
    # every planned step ran: the whole target is spent, and not more
    assert 1.95 <= logged["privacy_epsilon"] <= 2.0 + 1e-6
    ckpt = read_checkpoint(root / "model.ckpt")
    assert ckpt["synth"]["privacy"]["noise_multiplier"] > 0
    assert ckpt["synth"]["train"]["privacy"]["epsilon"] == 2.0
    assert not any(k.startswith("dp.") for k in ckpt["state_dict"])
    invoke(root, "generate", "--model", root / "model.ckpt", "--out", root / "syn.parquet")
    invoke(root, "evaluate", "--data-dir", root / "prepared", "--synthetic",
           root / "syn.parquet", "--train-log", root / "train_log", "--out-dir", root / "rep")
    metrics = json.loads((root / "rep" / "metrics.json").read_text())
    assert metrics["privacy.epsilon"] == logged["privacy_epsilon"]
    assert metrics["privacy.delta"] == 1e-5
    assert "privacy.epsilon" in (root / "rep" / "report.html").read_text()
    for threshold, code in ((2.0, 0), (1.0, 3)):
        params = yaml.safe_load((root / "params.yaml").read_text())
        params["gate"] = {"thresholds": {"privacy.epsilon": threshold}}
        (root / "params.yaml").write_text(yaml.safe_dump(params))
        invoke(root, "gate", "--metrics", root / "rep" / "metrics.json", "--out",
               root / "gate.json", code=code)


def test_without_dp_epsilon_is_null_and_a_gate_on_it_fails(tmp_path: Path) -> None:
    root = make_project(tmp_path, n=120)
    train(root)
    invoke(root, "generate", "--model", root / "model.ckpt", "--out", root / "syn.parquet")
    invoke(root, "evaluate", "--data-dir", root / "prepared", "--synthetic",
           root / "syn.parquet", "--train-log", root / "train_log", "--out-dir", root / "rep")
    metrics = json.loads((root / "rep" / "metrics.json").read_text())
    assert metrics["privacy.epsilon"] is None
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["gate"] = {"thresholds": {"privacy.epsilon": 10.0}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    res = invoke(root, "gate", "--metrics", root / "rep" / "metrics.json", "--out",
                 root / "gate.json", code=3)
    assert "not computable" in res.output
