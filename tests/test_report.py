"""The HTML report: its numbers are metrics.json's, its verdict is the gate's, every column
is there; self-contained; renders in headless Chromium."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from pipeline.config import params_from_dict
from pipeline.errors import GateFailed
from pipeline.stages import evaluate, gate
from tests.metrics_fixtures import make_schema, make_table, write_inputs

CHROMIUM = Path("/usr/bin/chromium")
THRESHOLDS = {"fidelity.column_shapes": 0.75, "privacy.exact_copy_rate": 0.05,
              "privacy.dcr_overfitting_protection": 0.6, "detection.auc": 0.55}


def _report(tmp: Path, synthetic=None, thresholds=None) -> Path:
    synthetic = make_table(600, 62) if synthetic is None else synthetic
    data_dir, syn = write_inputs(tmp, make_table(600, 60), make_table(300, 61), synthetic,
                                 target="grade")
    curves = tmp / "train" / "plots" / "metrics" / "train"
    curves.mkdir(parents=True)
    (curves / "loss_g_epoch.tsv").write_text("step\tloss_g_epoch\n0\t1.5\n1\t1.1\n2\t0.9\n")
    (curves / "loss_d_epoch.tsv").write_text("step\tloss_d_epoch\n0\t0.3\n1\t0.1\n2\t-0.2\n")
    params = params_from_dict({"gate": {"thresholds": thresholds or THRESHOLDS}})
    evaluate.run(params, data_dir, syn, tmp / "train", tmp / "out")
    return tmp / "out" / "report.html"


def _table_values(page: str) -> dict[str, str]:
    """metric key -> the value cell of its row in the score table."""
    rows = re.findall(r"<tr id='metric-([^']+)'><td><code>[^<]+</code></td>"
                      r"<td class='num'>([^<]+)</td>", page)
    return dict(rows)


@pytest.mark.parametrize("copy", [False, True])
def test_report_shows_metrics_json_and_the_gate_verdict(tmp_path: Path, copy: bool) -> None:
    """Every score equals metrics.json (4 decimals); the verdict and each check's pass/fail
    are what `synth gate` decides on the same file; every real column has its chart."""
    train = make_table(600, 60)
    report = _report(tmp_path, train.copy() if copy else None)
    page = report.read_text()
    metrics = json.loads((report.parent / "metrics.json").read_text())
    shown = _table_values(page)
    numbers = metrics  # flat: every value a number or null (`dvc metrics show` reads it)
    assert all(v is None or isinstance(v, float) for v in numbers.values())
    assert set(shown) == set(numbers)
    for key, value in numbers.items():
        assert shown[key] == ("n/a" if value is None else f"{value:.4f}"), key
    params = params_from_dict({"gate": {"thresholds": THRESHOLDS}})
    try:
        result = gate.run(params, report.parent / "metrics.json", tmp_path / "gate.json")
    except GateFailed:
        result = json.loads((tmp_path / "gate.json").read_text())
    assert result["passed"] is (not copy)  # a copy of train must fail the privacy checks
    verdict = re.search(r"<p id='gate-verdict'[^>]*><strong>([^<]+)</strong>", page).group(1)
    assert verdict.startswith("Gate: PASS" if result["passed"] else "Gate: FAIL")
    for check in result["checks"]:
        row = re.search(rf"<tr id='metric-{re.escape(check['metric'])}'>.*?</tr>", page)
        assert ("pass</span>" if check["passed"] else "FAIL") in row.group(0), check
        if not check["passed"]:
            assert check["metric"] in verdict
    columns = [c["name"] for c in make_schema(train)["columns"] if c["role"] != "id"]
    titles = set(re.findall(r'aria-label="([^"]+)"', page))
    assert set(columns) <= {html.unescape(t) for t in titles}
    details = json.loads((report.parent / "details.json").read_text())
    shapes = {r["column"] for r in details["column_shapes"]}
    assert shapes == set(columns)
    # The first lines after the verdict: detection, shapes, trends, utility, metrics.json's.
    head = page[page.index("id='gate-verdict'"):page.index("<h2>Scores</h2>")]
    for key, label in (("detection.auc", "detection AUC"),
                       ("fidelity.column_shapes", "column shapes"),
                       ("utility.ratio", "utility ratio")):
        assert f"{label} {metrics[key]:.4f}" in html.unescape(head), key


def test_report_is_self_contained_with_all_sections(tmp_path: Path) -> None:
    page = _report(tmp_path).read_text()
    for needle in ("fidelity.column_shapes", "privacy.dcr_share", "utility.ratio",
                   "Real vs synthetic distributions", "Pair-trend error", "DCR histogram",
                   "train/loss_g_epoch", "<svg", "Privacy: attacks", "privacy.linkability_risk",
                   "privacy.mia_density_auc"):
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
    assert shot.is_file()
    dom = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", "--user-data-dir=" + str(tmp_path / "profile2"),
                          report.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    # What the browser parsed holds the scores and the verdict, not just some pixels.
    assert "Gate: PASS" in dom and "fidelity.column_shapes" in dom
    assert dom.count("<svg") == report.read_text().count("<svg")
