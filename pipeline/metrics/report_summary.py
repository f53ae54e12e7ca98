"""The report's first screen: the gate's verdict, four headline scores with what they mean
(and their gate threshold), and the biggest problems with pictures: the worst columns'
real-vs-synthetic distributions and the worst column pairs' trend errors."""

from __future__ import annotations

import html
import math
from typing import Any

from pipeline.metrics.gating import check_rows
from pipeline.metrics.svg import bars

HEADLINE = (("detection.auc", "detection AUC",
             "0.5 = a strong classifier cannot tell synthetic rows from real ones; 1 = it always can"),
            ("fidelity.column_shapes", "column shapes",
             "1 = every column has the real column's distribution"),
            ("fidelity.column_pair_trends_all", "pair trends (all pairs)",
             "1 = every pair of columns moves together as in the real table"),
            ("utility.ratio", "utility ratio",
             "1 = a model trained on synthetic rows predicts the real holdout as well as one "
             "trained on real rows"))
WORST = 3  # columns and pairs shown as the biggest problems


def fmt(v: Any) -> str:
    """A metric value as the report prints it everywhere (4 decimals; n/a when missing)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.4f}"


def headline(metrics: dict[str, Any], thresholds: dict[str, float]) -> str:
    """The four scores a manager reads first, each with its meaning and gate threshold."""
    checks = {r["metric"]: r for r in check_rows(metrics, thresholds)}
    items = []
    for key, label, meaning in HEADLINE:
        if key not in metrics:
            continue
        gate = ""
        if key in checks:
            c = checks[key]
            sign = ">=" if c["direction"] == "maximize" else "<="
            gate = (f" <span class='{'pass' if c['passed'] else 'fail'}'>gate {sign} "
                    f"{c['threshold']:g}: {'pass' if c['passed'] else 'FAIL'}</span>")
        items.append(f"<li data-metric='{html.escape(key)}'><strong>{html.escape(label)} "
                     f"{fmt(metrics.get(key))}</strong>{gate} "
                     f"<span class='muted'>({html.escape(meaning)})</span></li>")
    return f"<ul id='headline'>{''.join(items)}</ul>"


def problems(details: dict[str, Any], distributions: dict[str, Any]) -> str:
    """The worst columns (lowest shape score) with their distributions, and the worst pairs."""
    shapes = [s for s in details.get("column_shapes", []) if _finite(s.get("score"))]
    pairs = [p for p in details.get("pair_trends", []) if _finite(p.get("score"))]
    if not shapes and not pairs:
        return ""
    parts = ["<h2>Biggest problems</h2>"]
    worst = sorted(shapes, key=lambda s: s["score"])[:WORST]
    if worst:
        names = ", ".join(f"{s['column']} ({fmt(s['score'])})" for s in worst)
        parts.append(f"<p id='worst-columns'>Columns least like the real ones (shape score, "
                     f"1 = same): {html.escape(names)}.</p><div class='grid'>")
        parts += [bars(d["labels"], {"real": d["real"], "synthetic": d["synthetic"]},
                       f"{s['column']}: shape {fmt(s['score'])}")
                  for s in worst if (d := distributions.get(s["column"])) and d["labels"]]
        parts.append("</div>")
    bad_pairs = sorted(pairs, key=lambda p: p["score"])[:WORST]
    if bad_pairs:
        labels = [f"{p['column_1']} / {p['column_2']}" for p in bad_pairs]
        text = ", ".join(f"{lab} ({fmt(p['score'])})" for lab, p in zip(labels, bad_pairs))
        parts += [f"<p id='worst-pairs'>Column pairs whose relationship is least kept "
                  f"(pair score, 1 = same trend): {html.escape(text)}.</p><div class='grid'>",
                  bars(labels, {"trend error (1 - pair score)": [1 - p["score"]
                                                                for p in bad_pairs]},
                       "Worst column pairs: trend error (0 = same as real)",
                       w=max(360, 150 * len(labels))), "</div>"]
    return "".join(parts)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
