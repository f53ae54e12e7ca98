"""Render benchmarks/results/augment/*.json into docs/augmentation.md (between the markers).

    python benchmarks/augment_render.py
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks/results/augment"
DOC = REPO / "docs/augmentation.md"
TOOLS = ("ours", "smote", "gaussian_copula", "tvae")
BEGIN, END = "<!-- augment-results:begin -->", "<!-- augment-results:end -->"


def cell(tool: dict | None, key: str) -> str:
    if not tool:
        return "–"
    if "error" in tool:
        return "error"
    lift = tool["lift"][key]
    return f"{lift['mean']:+.3f} ± {lift['std']:.3f}"


def table() -> str:
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    out = []
    for key, title in (("minority_recall", "minority-class recall"),
                       ("balanced_accuracy", "balanced accuracy"), ("macro_f1", "macro F1")):
        out += [f"**Lift in {title}** (augmented - real-only; mean ± sd over the seeds)", "",
                "| dataset (target, rarest class) | rows (classes) | real-only | ours | SMOTE "
                "| GaussianCopula | TVAE |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            classes = "/".join(str(v) for v in r["classes"].values())
            out.append(f"| {r['dataset']} ({r['target']}, {r['minority']}) | {r['rows']} "
                       f"({classes}) | {r['real'][key]:.3f} | "
                       + " | ".join(cell(r["tools"].get(t), key) for t in TOOLS) + " |")
        out.append("")
    notes = []
    for r in rows:
        for t in TOOLS:
            tool = r["tools"].get(t) or {}
            if "error" in tool:
                notes.append(f"- {r['dataset']} {t}: {tool['error']}")
            if tool.get("short_rows"):
                notes.append(f"- {r['dataset']} {t}: {tool['short_rows']} of the requested "
                             f"rows of a class were not in its {tool['pool_rows']}-row sample")
    return "\n".join(out + notes)


def main() -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    DOC.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
