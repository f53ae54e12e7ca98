"""`synth train` at a terminal: a progress bar with ETA and no Lightning banners.

The plain-line case (CI, logs), the curves against generator steps and the grouped training
summary are checked on the real `dvc repro` in tests/test_dvc_pipeline.py."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SYNTH = [sys.executable, "-m", "pipeline"]
LIGHTNING_NOISE = ("GPU available", "TPU available", "Tip:", "litlogger", "deprecated",
                   "`Trainer.fit` stopped", "LOCAL_RANK")


def _tiny_repo(tmp: Path, steps: int = 200) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["prepare"].update(dataset="penguins", target="species")
    params["train"].update(steps=steps, batch_size=50, pac=5, generator_dims=[16],
                           discriminator_dims=[16], embedding_dim=8, calibrate=False)
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    subprocess.run(SYNTH + ["prepare"], cwd=tmp, check=True, capture_output=True, env=env)
    return tmp


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CI"}


@pytest.mark.slow  # ~20 s on a loaded 2-core machine; the plain-line case runs in
# tests/test_dvc_pipeline.py's `dvc repro`
def test_terminal_gets_a_progress_bar_with_eta(tmp_path: Path) -> None:
    repo = _tiny_repo(tmp_path, steps=100)
    pid, fd = pty.fork()
    if pid == 0:  # child: a terminal with a size, as a person's shell has
        os.chdir(repo)
        os.execvpe("bash", ["bash", "-c", "stty rows 40 cols 120; exec "
                            + " ".join(SYNTH) + " train"], _env())
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "synth: training:" in text and "100/100" in text and "step/s" in text
    assert "<00:" in text  # tqdm's time-left field
    for noise in LIGHTNING_NOISE:
        assert noise not in text, noise
