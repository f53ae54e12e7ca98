"""The HTML report: self-contained, has every section, renders in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.config import params_from_dict
from pipeline.stages import evaluate
from tests.metrics_fixtures import make_table, write_inputs

CHROMIUM = Path("/usr/bin/chromium")


def _report(tmp: Path) -> Path:
    data_dir, syn = write_inputs(tmp, make_table(600, 60), make_table(300, 61),
                                 make_table(600, 62), target="grade")
    curves = tmp / "train" / "plots" / "metrics" / "train"
    curves.mkdir(parents=True)
    (curves / "loss_g_epoch.tsv").write_text("step\tloss_g_epoch\n0\t1.5\n1\t1.1\n2\t0.9\n")
    (curves / "loss_d_epoch.tsv").write_text("step\tloss_d_epoch\n0\t0.3\n1\t0.1\n2\t-0.2\n")
    evaluate.run(params_from_dict({}), data_dir, syn, tmp / "train", tmp / "out")
    return tmp / "out" / "report.html"


def test_report_is_self_contained_with_all_sections(tmp_path: Path) -> None:
    page = _report(tmp_path).read_text()
    for needle in ("fidelity.column_shapes", "privacy.dcr_share", "utility.ratio",
                   "Real vs synthetic distributions", "Pair-trend error", "DCR histogram",
                   "train/loss_g_epoch", "<svg"):
        assert needle in page, needle
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_report_without_training_logs(tmp_path: Path) -> None:
    data_dir, syn = write_inputs(tmp_path, make_table(300, 63), make_table(200, 64),
                                 make_table(300, 65))
    evaluate.run(params_from_dict({}), data_dir, syn, tmp_path / "missing", tmp_path / "out")
    assert "No DVCLive training logs" in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt install chromium)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    report = _report(tmp_path)
    shot = tmp_path / "report.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={shot}", "--window-size=1200,3000",
                    "--user-data-dir=" + str(tmp_path / "profile"), report.as_uri()],
                   check=True, capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 50_000
    keep = Path("/tmp/synth_report_screenshot.png")  # for a human look after the run
    shutil.copy(shot, keep)
