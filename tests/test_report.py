"""The HTML report: its numbers are metrics.json's, its verdict is the gate's, every column
is there; self-contained; renders in headless Chromium."""

from __future__ import annotations

import html
import json
import re
import subprocess
from html.parser import HTMLParser
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
    (curves / "epoch.tsv").write_text("step\tepoch\n0\t0\n1\t1\n2\t2\n")  # a counter
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


class _Dom(HTMLParser):
    """Text by element id, every <svg> title and <text> in the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.by_id: dict[str, str] = {}
        self.svg_texts: list[str] = []
        self.titles: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._tag = tag
        if tag == "svg" and attrs.get("aria-label"):
            self.titles.append(attrs["aria-label"])
        self.stack.append(attrs.get("id"))
        if attrs.get("id"):
            self.by_id.setdefault(attrs["id"], "")

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self._tag == "text":
            self.svg_texts.append(data)
        for element in {i for i in self.stack if i}:
            self.by_id[element] += data


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt install chromium)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    """What the browser parsed holds metrics.json's numbers, every column, the verdict and
    its thresholds, the worst columns, and labelled training curves without `epoch`."""
    report = _report(tmp_path, thresholds={**THRESHOLDS, "detection.auc": 0.5})
    dom_text = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                               "--dump-dom", "--user-data-dir=" + str(tmp_path / "profile"),
                               report.as_uri()], check=True, capture_output=True, text=True,
                              timeout=120).stdout
    dom = _Dom()
    dom.feed(dom_text)
    metrics = json.loads((report.parent / "metrics.json").read_text())
    for key, value in metrics.items():  # each score's row shows metrics.json's number
        row = dom.by_id[f"metric-{key}"]
        assert key in row and ("n/a" if value is None else f"{value:.4f}") in row, key
    result = json.loads((report.parent / "details.json").read_text())
    columns = [c["column"] for c in result["column_shapes"]]
    assert set(columns) <= set(dom.titles)  # every column has its distribution chart
    try:
        gated = gate.run(params_from_dict({"gate": {"thresholds": {**THRESHOLDS,
                                                                   "detection.auc": 0.5}}}),
                         report.parent / "metrics.json", tmp_path / "gate.json")
    except GateFailed:
        gated = json.loads((tmp_path / "gate.json").read_text())
    verdict = dom.by_id["gate-verdict"]
    assert verdict.startswith("Gate: FAIL") and not gated["passed"] and "detection.auc" in verdict
    for check in gated["checks"]:  # each threshold next to its metric, with the outcome
        sign = ">=" if check["direction"] == "maximize" else "<="
        row = dom.by_id[f"metric-{check['metric']}"]
        assert f"{sign} {check['threshold']:g} {'pass' if check['passed'] else 'FAIL'}" in row
    head = dom.by_id["headline"]  # first screen: scores, what they mean, their gate
    assert f"detection AUC {metrics['detection.auc']:.4f}" in head
    assert "gate <= 0.5: FAIL" in head and "cannot tell synthetic rows from real" in head
    worst = sorted(result["column_shapes"], key=lambda r: r["score"])[:3]
    for row in worst:
        assert f"{row['column']} ({row['score']:.4f})" in dom.by_id["worst-columns"]
        assert f"{row['column']}: shape {row['score']:.4f}" in dom.titles
    assert "Worst column pairs: trend error (0 = same as real)" in dom.titles
    assert "train/loss_g_epoch" in dom.titles and "epoch" not in dom.titles
    assert dom.svg_texts.count("generator step") == 2  # each curve's x axis is labelled
    # The first screen comes before the full score table.
    order = [dom_text.index(n) for n in ('id="gate-verdict"', 'id="headline"',
                                         'id="worst-columns"', "<h2>Scores</h2>")]
    assert order == sorted(order)
