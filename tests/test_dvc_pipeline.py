"""The real pipeline under real DVC: `dvc repro` in a temporary git repository.

Runs every stage on a small built-in dataset with a short training run, then checks the
outputs, that the gate passed the repo's own privacy and validity thresholds, that a second
`dvc repro` is a no-op, that re-running generate reproduces the same bytes (dvc.lock
unchanged), and that a failing gate fails `dvc repro` with the codes the README documents.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATASET = "penguins"
REPO_THRESHOLDS = yaml.safe_load((ROOT / "params.yaml").read_text())["gate"]["thresholds"]
# The repo's thresholds but marginals and detection (2 epochs cannot learn those); the privacy and
# validity lines are the ones any model must pass, trained long or not.
THRESHOLDS = {k: v for k, v in REPO_THRESHOLDS.items()
              if k not in ("fidelity.column_shapes", "detection.auc")}


def _run(args, cwd, check=True):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "CI": "true"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("dvcrepo")
    shutil.copytree(ROOT / "pipeline", repo / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".dvc").mkdir()
    for name in (".dvc/config", ".dvc/.gitignore", ".dvcignore", "dvc.yaml"):
        shutil.copy(ROOT / name, repo / name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["prepare"].update(dataset=DATASET, target="species")
    params["train"].update(epochs=2, batch_size=50, pac=5, generator_dims=[32, 32],
                           discriminator_dims=[32, 32], embedding_dim=16)
    params["evaluate"]["detection_folds"] = 2
    params["gate"]["thresholds"] = THRESHOLDS
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "init", "-q"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "init"], repo)  # dvclive needs a commit (ecosystem.md §0.6)
    _run(["dvc", "repro"], repo)
    return repo


def test_every_stage_ran_and_wrote_its_outputs(repo):
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) >= {"prepare", "train", "generate", "evaluate"}
    for name in ("train.parquet", "holdout.parquet", "schema.json", "metadata.json",
                 "transformer.json"):
        assert (repo / "data/prepared" / name).is_file(), name
    assert (repo / "data/models/model.ckpt").is_file()
    synthetic = pd.read_parquet(repo / "data/synthetic/synthetic.parquet")
    real = pd.read_parquet(repo / "data/prepared/train.parquet")
    assert list(synthetic.columns) == list(real.columns)
    assert len(synthetic) == len(real)
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert 0.0 <= metrics["fidelity.column_shapes"] <= 1.0
    gate = json.loads((repo / "reports/gate.json").read_text())
    assert len(THRESHOLDS) >= 4 and "privacy.exact_copy_rate" in THRESHOLDS
    assert gate["passed"] is True
    assert {c["metric"]: c["threshold"] for c in gate["checks"]} == THRESHOLDS
    for check in gate["checks"]:  # the stored values really clear the thresholds
        value = metrics[check["metric"]]
        assert value == check["value"]
        assert (value >= check["threshold"]) if check["direction"] == "maximize" else \
            (value <= check["threshold"])
    page = (repo / "reports/report.html").read_text()
    assert "Gate: PASS" in page and "species" in page


def test_second_repro_is_a_no_op(repo):
    before = (repo / "dvc.lock").read_text()
    out = _run(["dvc", "repro"], repo)
    assert "up to date" in out.stdout, out.stdout
    assert (repo / "dvc.lock").read_text() == before


def test_rerunning_generate_reproduces_the_same_bytes(repo):
    before = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["generate"]["outs"]
    _run(["dvc", "repro", "--force", "--single-item", "generate"], repo)
    after = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["generate"]["outs"]
    assert before == after


def test_failing_gate_fails_dvc_repro(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["gate"]["thresholds"] = {"fidelity.column_shapes": 1.01}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = _run(["dvc", "repro", "gate"], repo, check=False)
    # README: "the gate exits 3, DVC reports 255".
    assert proc.returncode == 255, (proc.returncode, proc.stderr)
    assert "exited with 3" in proc.stdout + proc.stderr, proc.stderr
    gate = json.loads((repo / "reports/gate.json").read_text())
    assert gate["passed"] is False
    assert [c["metric"] for c in gate["checks"] if not c["passed"]] == ["fidelity.column_shapes"]
    direct = _run(["synth", "gate", "--params", "params.yaml", "--metrics",
                   "reports/metrics.json", "--out", str(repo / "gate_direct.json")], repo,
                  check=False)
    assert direct.returncode == 3 and "FAIL" in direct.stdout
