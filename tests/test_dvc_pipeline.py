"""The real pipeline under real DVC: `dvc repro` in a temporary git repository.

Runs every stage on a small built-in dataset with a short training run, then checks the
outputs, that the gate passed the repo's own privacy and validity thresholds, that a second
`dvc repro` is a no-op, that re-running generate reproduces the same bytes (dvc.lock
unchanged), and that a failing gate fails `dvc repro` with the codes the README documents.
"""

import html
import json
import os
import re
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
    (repo / ".dvc/plots").mkdir()
    for name in (".dvc/config", ".dvc/.gitignore", ".dvc/plots/offline.html", ".dvcignore",
                 "dvc.yaml"):
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
    repro = _run(["dvc", "repro"], repo)
    (repo / "repro.err").write_text(repro.stderr)
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


LIGHTNING_NOISE = ("GPU available", "TPU available", "Tip:", "litlogger", "deprecated",
                   "`Trainer.fit` stopped")


def test_stages_print_only_our_progress_lines(repo):
    """What the stages write to stderr under `dvc repro` (stdout is DVC's and the gate's)."""
    err = (repo / "repro.err").read_text()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("synth: ") for ln in lines), lines
    assert "synth: epoch 2/2" in err and "left" in err  # CI: plain lines, no bar
    assert "\r" not in err
    for noise in LIGHTNING_NOISE:
        assert noise not in err, noise


def test_training_curves_use_generator_steps_and_summary_is_grouped(repo):
    curves = repo / "reports/train/plots/metrics"
    names = {p.stem for p in curves.glob("*.tsv")}
    assert {"loss_g", "loss_d", "critic_real", "critic_fake", "gradient_penalty"} <= names
    assert "epoch" not in names
    rows = len(pd.read_parquet(repo / "data/prepared/train.parquet"))
    per_epoch = -(-rows // 50)  # batch_size 50: one epoch is ceil(rows / 50) generator steps
    loss = pd.read_csv(curves / "loss_g.tsv", sep="\t")
    assert loss["step"].tolist() == [per_epoch, 2 * per_epoch]
    summary = json.loads((repo / "reports/train/summary.json").read_text())
    assert set(summary) == {"train"} and set(summary["train"]) == names
    assert summary["train"]["loss_g"] == pytest.approx(loss["loss_g"].iloc[-1])


def test_dvc_metrics_show_reads_numbers_in_groups(repo):
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], repo).stdout)
    data = shown[""]["data"] if "" in shown else next(iter(shown.values()))["data"]
    files = {path: entry["data"] for path, entry in data.items()}
    assert set(files) == {"reports/metrics.json", "reports/train/summary.json",
                          "reports/gate.json", "reports/augment/metrics.json"}
    assert set(files["reports/train/summary.json"]) == {"train"}
    for path, values in files.items():
        flat = _leaves(values)
        assert flat, path
        if path != "reports/gate.json":  # gate.json: passed + the checks it made
            assert all(isinstance(v, (int, float)) for v in flat.values()), path
    groups = {key.split(".")[0] for key in files["reports/metrics.json"]}
    assert groups == {"fidelity", "diagnostic", "detection", "utility", "privacy"}
    table = _run(["dvc", "metrics", "show"], repo).stdout
    header = table.splitlines()[0].split()
    assert "epoch" not in header and "step" not in header
    assert "train.loss_g" in header and "fidelity.column_shapes" in header


def _leaves(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_leaves(v, f"{prefix}{k}."))
        return out
    return {} if isinstance(tree, list) else {prefix[:-1]: tree}


CHROMIUM = Path("/usr/bin/chromium")
PLOTS = {"training_losses": "generator step", "training_critic": "generator step",
         "training_penalties": "generator step",
         "reports_plots_column_shapes_json": "shape score",
         "reports_plots_dcr_json": "distance to the closest training row"}


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_dvc_plots_show_renders_offline_once_each(repo, tmp_path):
    _run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], repo)
    page = (tmp_path / "plots" / "index.html").read_text()
    assert "<script src=" not in page and "cdn.jsdelivr" not in page  # nothing from the web
    divs = re.findall(r'<div id = "([^"]+)"', page)
    assert sorted(divs) == sorted(PLOTS)  # each plot once
    dom = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=10000", "--dump-dom",
                          f"--user-data-dir={tmp_path / 'profile'}",
                          (tmp_path / "plots" / "index.html").as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    for div, x_label in PLOTS.items():
        chart = dom[dom.index(f'<div id="{div}"'):]
        chart = chart[:chart.index("</svg>")]
        texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", chart)]
        assert x_label in texts, (div, texts[:20])  # drawn by Vega in the browser
        assert any(t.startswith(("Training:", "Column shape", "Distance")) for t in texts), div
        assert chart.count("<path") > 3, div  # marks, not an empty frame


@pytest.mark.slow  # ~40 s: generate, evaluate and gate rerun inside `dvc exp run`
def test_dvc_exp_run_sweep_and_exp_show(repo):
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "baseline"], repo)
    _run(["dvc", "exp", "run", "-S", "generate.rows=120", "-n", "rows120"], repo)
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], repo).stdout)
    exps = [e for commit in shown for e in (commit.get("experiments") or [])]
    runs = [r for e in exps for r in e.get("revs", [])]
    mine = [r for r in runs if r.get("name") == "rows120"]
    assert mine, shown
    data = mine[0]["data"]
    assert data["params"]["params.yaml"]["data"]["generate"]["rows"] == 120
    scores = data["metrics"]["reports/metrics.json"]["data"]
    assert 0.0 <= scores["fidelity.column_shapes"] <= 1.0
    table = _run(["dvc", "exp", "show", "--csv", "--only-changed"], repo).stdout
    assert "rows120" in table and "fidelity.column_shapes" in table.splitlines()[0]
    assert "generate.rows" in table.splitlines()[0]


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
