"""Markdown tables (quality vs epsilon, attacks) from benchmarks/privacy_runs.sh outputs.

Usage: python benchmarks/privacy_table.py WORK_DIR DATASET [DATASET ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

QUALITY = [("fidelity.column_shapes", "shapes"), ("fidelity.column_pair_trends_all", "pairs"),
           ("detection.auc", "detection AUC"), ("utility.ratio", "utility ratio"),
           ("privacy.dcr_overfitting_protection", "DCR protection")]
ATTACKS = [("privacy.mia_auc", "distance MIA AUC"), ("privacy.mia_density_auc", "density MIA AUC"),
           ("privacy.mia_density_tpr_at_1pct_fpr", "TPR@1%FPR"),
           ("privacy.singling_out_risk", "singling out"), ("privacy.linkability_risk", "linkability"),
           ("privacy.inference_risk", "inference")]
ORDER = ["off", "10", "3", "1"]
TAGS = {"tuned": "batch_size 100, steps 1000", "dparch": "pac 1, no calibration"}


def fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def main(work: Path, datasets: list[str]) -> None:
    for cols, title in ((QUALITY, "quality"), (ATTACKS, "attacks")):
        print(f"\n| dataset | epsilon (spent) | " + " | ".join(c[1] for c in cols) + " |")
        print("|---" * (len(cols) + 2) + "|")
        for ds in datasets:
            runs = [f"eps_{s}" for s in ORDER] + sorted(
                p.name for p in (work / ds).glob("eps_*_*"))
            for run in runs:
                path = work / ds / run / "eval" / "metrics.json"
                if not path.is_file():
                    continue
                m = json.loads(path.read_text())
                s, _, tag = run[4:].partition("_")
                eps = "off" if s == "off" else f"{s} ({fmt(m.get('privacy.epsilon'))})"
                eps += f", {TAGS.get(tag, tag)}" if tag else (" (defaults)" if s == "off" else "")
                print(f"| {ds} | {eps} | " + " | ".join(fmt(m.get(k)) for k, _ in cols) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
