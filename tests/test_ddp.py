"""A real 2-process CPU DDP (gloo) training run through `python -m pipeline train`.

Run as a subprocess: Lightning's ddp launcher re-executes sys.argv per rank, which inside
pytest would re-run the test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pipeline.models.checkpoint import read_checkpoint
from pipeline.stages.generate import load_checkpoint
from test_train_generate import make_project


def _train_two_ranks(root: Path) -> subprocess.CompletedProcess:
    """`synth -v train` of the project at `root` as a fresh process (Lightning spawns the
    second rank), Lightning's banner kept for the assertions."""
    env = {**os.environ, "CI": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("LOCAL_RANK", None)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "-v", "train", "--params", str(root / "params.yaml"),
         "--data-dir", str(root / "prepared"), "--model", str(root / "model.ckpt"),
         "--log-dir", str(root / "log")],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_two_process_cpu_ddp_trains_and_writes_one_checkpoint(tmp_path: Path) -> None:
    root = make_project(tmp_path, n=160, devices=2, strategy="ddp", epochs=2)
    proc = _train_two_ranks(root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "distributed_backend=gloo" in proc.stderr and "All distributed processes" in proc.stderr
    ckpt = read_checkpoint(root / "model.ckpt")
    # 160 rows / batch 40 = 4 steps per epoch, split over 2 ranks: 2 batches x 2 optimisers.
    assert ckpt["epoch"] == 2 and ckpt["global_step"] == 2 * 2 * 2
    assert not list(root.glob(".model.ckpt*.tmp"))
    model, _, _, _ = load_checkpoint(root / "model.ckpt")
    rows = model.sample(50, generator=torch.Generator().manual_seed(0))
    assert rows.shape[0] == 50 and torch.isfinite(rows).all()
    assert (root / "log" / "metrics.json").is_file()


@pytest.mark.slow
def test_two_process_cpu_ddp_with_dp_training(tmp_path: Path) -> None:
    """DP-SGD under DDP: ranks split one shared Poisson sample, all-reduce the noisy clipped
    sums (pipeline/models/dp.py), and the accountant counts the synchronous steps."""
    root = make_project(tmp_path, n=160, devices=2, strategy="ddp", epochs=2, pac=1,
                        calibrate=False, refine_draws=None, refine_rows_draws=None, cond_anyway=0.0,
                        target_loss=0.0, refuse_copies=False,
                        privacy={"epsilon": 2.0})
    proc = _train_two_ranks(root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "distributed_backend=gloo" in proc.stderr
    ckpt = read_checkpoint(root / "model.ckpt")
    # 2 ranks: sample rate 2 * 40 / 112 train rows; 2 epochs x 2 synchronous steps
    plan = ckpt["synth"]["privacy"]
    assert plan["world"] == 2 and plan["steps"] == 4
    assert plan["sample_rate"] == pytest.approx(80 / plan["rows"])
    logged = json.loads((root / "log" / "metrics.json").read_text())
    assert 1.95 <= logged["privacy_epsilon"] <= 2.0 + 1e-6
    model, _, _, _ = load_checkpoint(root / "model.ckpt")
    rows = model.sample(50, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(rows).all()
