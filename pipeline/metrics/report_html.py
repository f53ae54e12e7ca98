"""The self-contained HTML report: score table, distributions, pair trends, DCR, curves.

One file, inline SVG and CSS only (no scripts, no external assets), so it can be attached to
a CI run or opened from a DVC cache as it is.
"""

from __future__ import annotations

import html
import math
from typing import Any

from pipeline.metrics.attacks_report import attack_section
from pipeline.metrics.gating import absent_keys, check_rows
from pipeline.metrics.registry import METRICS
from pipeline.metrics.report_summary import fmt, headline, problems
from pipeline.metrics.svg import bars, heatmap, lines

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{margin-bottom:4px} h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:4px 8px}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:12px} .grid svg{border:1px solid #eee}
.muted{color:#777;font-size:13px} .pass{color:#1a7f37} .fail{color:#c62828}
"""


_value = fmt  # one number format for the whole page


def score_table(metrics: dict[str, Any], thresholds: dict[str, float]) -> str:
    """Every registry metric present in `metrics`: value, direction, ideal, gate, meaning."""
    gate_head = "<th>gate</th>" if thresholds else ""
    checks = {r["metric"]: r for r in check_rows(metrics, thresholds)}
    rows = ["<tr><th>metric</th><th>value</th><th>better</th><th>ideal</th>"
            f"{gate_head}<th>meaning</th></tr>"]
    for key, info in METRICS.items():
        if key not in metrics:
            continue
        value = metrics[key]
        arrow = "higher" if info.goal == "maximize" else "lower"
        ideal = "baseline" if info.ideal is None else f"{info.ideal:g}"
        gate = "<td></td>" if thresholds else ""
        if key in checks:
            ok, why = checks[key]["passed"], checks[key]["reason"]
            sign = ">=" if info.goal == "maximize" else "<="
            gate = (f'<td><span class="{"pass" if ok else "fail"}">{sign} {thresholds[key]:g} '
                    f'{"pass" if ok else "FAIL"}{": " + html.escape(why) if why else ""}'
                    f'</span></td>')
        rows.append(f"<tr id='metric-{html.escape(key)}'><td><code>{html.escape(key)}</code>"
                    f"</td><td class='num'>{_value(value)}</td><td>{arrow}</td><td>{ideal}</td>"
                    f"{gate}<td>{html.escape(info.description)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def verdict(metrics: dict[str, Any], thresholds: dict[str, float]) -> str:
    """One line: the gate's verdict on these metrics (the same rule as `synth gate`)."""
    if not thresholds:
        return "<p id='gate-verdict' class='muted'>Gate: no thresholds set.</p>"
    rows = check_rows(metrics, thresholds)
    absent = absent_keys(metrics, thresholds)
    failed = [r["metric"] for r in rows if not r["passed"]]
    if absent:
        text, cls = (f"Gate: ERROR, threshold(s) on metrics this run did not write: "
                     f"{', '.join(absent)}", "fail")
    elif failed:
        text, cls = f"Gate: FAIL, {len(failed)} of {len(rows)} checks failed: " + \
            ", ".join(failed), "fail"
    else:
        text, cls = f"Gate: PASS, all {len(rows)} checks passed.", "pass"
    return f"<p id='gate-verdict' class='{cls}'><strong>{html.escape(text)}</strong></p>"


def notes(details: dict[str, Any]) -> str:
    """What evaluate did to the data: subsamples, pooled categories, converted dtypes."""
    items = []
    samp = details.get("sampling", {})
    if samp.get("subsampled"):
        rows = ", ".join(f"{k}: {v}" for k, v in samp["scored_rows"].items())
        items.append(f"Fidelity, diagnostic, detection and utility scored a seeded subsample "
                     f"(evaluate.max_rows = {samp['max_rows']}; {rows}); detection AUC "
                     f"standard error {_value(samp.get('detection_auc_se'))}.")
    priv = samp.get("privacy", {})
    if priv:
        q = priv["query_rows"]
        ref = ", ".join(f"{k}: {v}" for k, v in priv["reference_rows"].items())
        text = (f"Privacy: nearest neighbours over the complete tables ({ref}), "
                f"{priv['method']}; exact copies over all rows.")
        if priv.get("query_subsampled"):
            text += (f" Seeded query subsample: {q['synthetic']} synthetic and {q['holdout']} "
                     f"holdout rows; standard error of dcr_share "
                     f"{_value(priv['dcr_share_se'])}.")
        text += (f" Membership attack on {q['mia_members']} members and as many non-members,"
                 f" AUC standard error {_value(priv.get('mia_auc_se'))}.")
        items.append(text)
    for where, pooled in details.get("high_cardinality", {}).items():
        for col, info in pooled.items():
            items.append(f"{where}: column {col} has {info['levels']} levels; its "
                         f"{info['kept']} most frequent (in the real rows) keep a code and the "
                         f"rest share one (gradient boosting takes at most 255).")
    if details.get("coerced_columns"):
        items.append("Synthetic columns converted to the real dtypes: "
                     + "; ".join(details["coerced_columns"]) + ".")
    if not items:
        return ""
    return ("<h2>How this was scored</h2><ul id='scoring-notes'>"
            + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")


def pair_heatmap(pairs: list[dict[str, Any]]) -> str:
    """Matrix of 1 - pair score (0 = same trend in real and synthetic) over all pairs."""
    names: list[str] = []
    for p in pairs:
        for c in (p["column_1"], p["column_2"]):
            if c not in names:
                names.append(c)
    if len(names) < 2:
        return "<p class='muted'>Fewer than two comparable columns.</p>"
    index = {n: i for i, n in enumerate(names)}
    matrix: list[list[float | None]] = [[0.0 if i == j else None for j in range(len(names))]
                                        for i in range(len(names))]
    for p in pairs:
        i, j = index[p["column_1"]], index[p["column_2"]]
        err = None if p["score"] is None or not math.isfinite(p["score"]) else 1 - p["score"]
        matrix[i][j] = matrix[j][i] = err
    return heatmap(names, matrix, "Pair-trend error (1 - pair score), all pairs", vmax=0.5)


def render(metrics: dict[str, Any], details: dict[str, Any], distributions: dict[str, Any],
           dcr_rows: list[dict[str, float]], curves: dict[str, Any],
           thresholds: dict[str, float], title: str) -> str:
    """The whole page as one string."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p class='muted'>{html.escape(_summary(details))}</p>",
             verdict(metrics, thresholds), headline(metrics, thresholds),
             problems(details, distributions),
             "<h2>Scores</h2>", score_table(metrics, thresholds), notes(details)]
    shapes = details.get("column_shapes", [])
    if shapes:
        parts += ["<h2>Column shapes</h2><div class='grid'>",
                  bars([s["column"] for s in shapes], {"score": [s["score"] for s in shapes]},
                       "Per-column shape score (1 = same marginal)", w=max(360, 40 * len(shapes))),
                  "</div>"]
    parts += ["<h2>Real vs synthetic distributions</h2><div class='grid'>"]
    parts += [bars(d["labels"], {"real": d["real"], "synthetic": d["synthetic"]}, col)
              for col, d in distributions.items() if d["labels"]]
    parts += ["</div>", "<h2>Column pair trends</h2>",
              "<p class='muted'>Numeric pairs: |&Delta;correlation|/2; other pairs: total "
              "variation distance of the (binned) contingency table.</p>",
              pair_heatmap(details.get("pair_trends", []))]
    if dcr_rows:
        names = [k for k in dcr_rows[0] if k != "distance"]
        parts += ["<h2>Privacy: distance to closest record</h2>",
                  "<p class='muted'>Synthetic rows should sit no closer to train rows than "
                  "fresh holdout rows do; a spike at 0 means copies.</p><div class='grid'>",
                  bars([f"{r['distance']:.3f}" for r in dcr_rows],
                       {n: [r[n] for r in dcr_rows] for n in names},
                       "DCR histogram (share of rows per bin)", w=720, h=260), "</div>"]
    parts.append(attack_section(details.get("attacks", {})))
    parts.append("<h2>Training curves</h2>")
    if curves:
        parts.append("<div class='grid'>")
        parts += [lines(x, {name: y}, name, x_label="generator step")
                  for name, (x, y) in curves.items()]
        parts.append("</div>")
    else:
        parts.append("<p class='muted'>No DVCLive training logs found.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(details: dict[str, Any]) -> str:
    rows = details.get("rows", {})
    text = ", ".join(f"{k}: {v}" for k, v in rows.items())
    task = details.get("utility_task")
    return f"Rows {text}." + (f" Utility task: {task}." if task else "")
