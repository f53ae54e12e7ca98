"""Crash recovery: `kill -9` mid-run + `train.resume: true` gives the uninterrupted model bit
for bit on CPU; a `max_minutes` stop resumes the same way; a mismatched `last.ckpt` is refused.

Tiny table and nets under a step budget (rounds of 100 GAN steps). The killed run is a real
`python -m pipeline train` subprocess; the other runs go through the CLI in-process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from pipeline.config import TrainParams, section_from_dict
from pipeline.io import read_json, read_table
from pipeline.models.checkpoint import read_checkpoint
from pipeline.resume import RoundCheckpoint
from pipeline.stages.train import train_model
from pipeline.tabular.transformer import TableTransformer
from test_train_generate import invoke, make_project, set_train, train

TINY = {"epochs": None, "steps": 600, "checkpoint_every": 2, "max_minutes": None}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Every run here, in-process and subprocess, on one intra-op thread: the same kernels
    (bit-identity across them), and tiny nets on a loaded 2-core box stay fast (OpenMP
    threads spin-waiting on each other were measured at up to 10x slower per step)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_same_model(a: Path, b: Path) -> None:
    """Every state_dict tensor equal, exactly (generator_ema and cal_* buffers included)."""
    sa, sb = read_checkpoint(a)["state_dict"], read_checkpoint(b)["state_dict"]
    assert sa.keys() == sb.keys()
    assert any(k.startswith("generator_ema.") for k in sa) and "cal_gen" in sa
    assert bool(sa["cal_on"]), "calibration buffers were fitted"
    differ = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not differ, f"tensors differ: {differ[:5]}"


def train_cmd(root: Path, model: str, log: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "train", "--params", str(root / "params.yaml"),
            "--data-dir", str(root / "prepared"), "--model", str(root / model),
            "--log-dir", str(root / log)]


def test_kill_9_mid_run_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    # 10 rounds, a checkpoint every 2: killed right after the first one appears.
    root = make_project(tmp_path, n=160, **{**TINY, "steps": 1000})
    train(root, "straight.ckpt", "log_straight")
    last = root / "checkpoints" / "last.ckpt"
    last.unlink()  # the straight run's final one; the killed run must write its own

    env = {**os.environ, "CI": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(train_cmd(root, "model.ckpt", "log"), cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert not (root / "model.ckpt").exists()
    killed_at = read_checkpoint(last)  # a whole checkpoint despite the kill
    assert 0 < killed_at["global_step"] < 2 * 1000, "killed mid-run, after a checkpoint"

    set_train(root, resume=True)
    result = train(root, "model.ckpt", "log")
    assert "resuming from" in result.stderr
    resumed = read_checkpoint(root / "model.ckpt")
    assert resumed["global_step"] == 2 * 1000 and resumed["epoch"] == 10
    assert_same_model(root / "model.ckpt", root / "straight.ckpt")


def test_max_minutes_stop_resumes_to_the_uninterrupted_model(tmp_path: Path) -> None:
    """The cap stops at a round end; resuming restarts the cap (this process's time only)
    and continues exactly: capped + resumed == uninterrupted."""
    root = make_project(tmp_path, n=160, **TINY)
    train(root, "straight.ckpt", "log_straight")
    set_train(root, max_minutes=1e-4)  # 6 ms: past after the first round
    result = train(root, "model.ckpt", "log")
    assert "train.max_minutes (0.0001) reached after 1 of 6 rounds" in result.stderr
    first = read_checkpoint(root / "checkpoints" / "last.ckpt")
    assert first["global_step"] == 2 * 100
    # Same cap again: a timer restored from the checkpoint would stop at once (still 1
    # round); counted from this process's start, it runs one more round.
    set_train(root, resume=True)
    train(root, "model.ckpt", "log")
    assert read_checkpoint(root / "checkpoints" / "last.ckpt")["global_step"] == 2 * 200
    set_train(root, max_minutes=None)
    train(root, "model.ckpt", "log")
    assert read_checkpoint(root / "model.ckpt")["global_step"] == 2 * 600
    assert_same_model(root / "model.ckpt", root / "straight.ckpt")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("resume"), n=160, **{**TINY, "steps": 200})
    train(root)
    return root


@pytest.mark.parametrize("change, message", [
    ({"batch_size": 80}, "train.batch_size 40 there, 80 here"),
    ({"generator_dims": [16, 8]}, "train.generator_dims [16, 16] there, [16, 8] here"),
    ({"ema_decay": 0.5}, "train.ema_decay 0.999 there, 0.5 here"),
    ({"seed": 8}, "seed 7 there, 8 here"),
    ({"rows": 200}, "was trained on other data"),
    ({"steps": 100}, "holds 2 rounds, more than this run's budget of 1"),
])
def test_mismatched_checkpoint_is_refused_one_line_exit_2(tmp_path: Path, trained: Path,
                                                          change: dict, message: str) -> None:
    data_dir = trained / "prepared"
    if "rows" in change:  # same params, other rows
        data_dir = make_project(tmp_path, n=change.pop("rows")) / "prepared"
    params = yaml.safe_load((trained / "params.yaml").read_text())
    params["seed"] = change.pop("seed", params["seed"])
    params["train"].update(change, resume=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    last = trained / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    result = invoke(tmp_path, "train", "--data-dir", data_dir, "--model",
                    trained / "model.ckpt", "--log-dir", tmp_path / "log", code=2)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    line = errors[0]
    assert result.stderr.strip().endswith(line) and line.startswith("error: train.resume: ")
    assert message in line and str(last) in line
    assert last.read_bytes() == before and not (tmp_path / "log").exists()


def test_continuable_params_may_change_on_resume(trained: Path, tmp_path: Path) -> None:
    """Budget, cap, cadence and post-training settings are not part of the fingerprint."""
    (tmp_path / "checkpoints").mkdir()
    shutil.copy(trained / "checkpoints" / "last.ckpt", tmp_path / "checkpoints")
    params = yaml.safe_load((trained / "params.yaml").read_text())
    params["train"].update(resume=True, steps=300, max_minutes=30, checkpoint_every=0,
                           checkpoint_minutes=5, calibrate=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = invoke(tmp_path, "train", "--data-dir", trained / "prepared", "--model",
                    tmp_path / "model.ckpt", "--log-dir", tmp_path / "log")
    assert "resuming from" in result.stderr and "(400 optimiser steps done)" in result.stderr
    assert read_checkpoint(tmp_path / "model.ckpt")["global_step"] == 2 * 300


def test_checkpoint_cadence_and_no_temporary_left(tmp_path: Path) -> None:
    """600 steps = 6 rounds: every 2 -> rounds 2, 4, 6; every 4 -> 4 and the last; 0 -> the
    last only; a minutes trigger shorter than a round -> every round."""
    root = make_project(tmp_path, n=160, **TINY)
    prepared = root / "prepared"
    table, schema = read_table(prepared / "train.parquet"), read_json(prepared / "schema.json")
    transformer = TableTransformer.from_dict(read_json(prepared / "transformer.json"))
    base = yaml.safe_load((root / "params.yaml").read_text())["train"]
    for every, minutes, writes in ((2, None, 3), (4, None, 2), (0, None, 1), (0, 1e-6, 6)):
        tp = section_from_dict(TrainParams, {**base, "checkpoint_every": every,
                                             "checkpoint_minutes": minutes}, "train")
        _, trainer = train_model(table, schema, transformer, tp, 7, root / f"m{every}.ckpt")
        (cb,) = [c for c in trainer.callbacks if isinstance(c, RoundCheckpoint)]
        assert cb.writes == writes
    assert sorted(p.name for p in (root / "checkpoints").iterdir()) == ["last.ckpt"]
