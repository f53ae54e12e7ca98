"""The HTML report's privacy-attack section: one row per attack, risk with its interval."""

from __future__ import annotations

import html
from typing import Any

ROWS = (("singling_out", "Singling out"), ("linkability", "Linkability"),
        ("inference", "Attribute inference (worst secret column)"))


def attack_section(attacks: dict[str, Any]) -> str:
    """'' when evaluate ran no attacks (evaluate.attack_rows: 0)."""
    if not attacks:
        return ""
    rows = ["<tr><th>attack</th><th>risk</th><th>95% interval</th><th>success on train</th>"
            "<th>success on holdout (control)</th><th>attacks</th></tr>"]
    for key, label in ROWS:
        r = attacks.get(key)
        if not r:
            continue
        rows.append(f"<tr><td>{html.escape(label)}</td><td class='num'>{r['risk']:.3f}</td>"
                    f"<td class='num'>{r['ci_low']:.3f} - {r['ci_high']:.3f}</td>"
                    f"<td class='num'>{r['train_rate']:.3f}</td>"
                    f"<td class='num'>{r['control_rate']:.3f}</td>"
                    f"<td class='num'>{r['attacks']}</td></tr>")
    by_col = attacks.get("inference_by_column", {})
    cols = ", ".join(f"{html.escape(c)} {r['risk']:.3f}" for c, r in by_col.items())
    mia = attacks.get("membership_density", {})
    return ("<h2 id='privacy-attacks'>Privacy: attacks</h2><p class='muted'>Risk = (success "
            "on train rows - success on holdout rows) / (1 - success on holdout), Giomi et "
            "al. 2023: what the synthetic rows reveal about the people trained on beyond what "
            "they reveal about anyone. 0 = nothing.</p><table>" + "".join(rows) + "</table>"
            + (f"<p class='muted'>Inference risk per secret column: {cols}.</p>" if cols else "")
            + (f"<p class='muted'>Density-ratio membership attack: {mia.get('members', 0)} "
               f"members vs {mia.get('non_members', 0)} holdout rows, real density from "
               f"{mia.get('reference_rows', 0)} other holdout rows.</p>" if mia else ""))
