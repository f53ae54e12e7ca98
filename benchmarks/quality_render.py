"""Render the quality benchmark's results into docs/quality.md (pure text in, text out).

The doc is regenerated whole from benchmarks/results/quality/*.json, except the ablation block
between ABLATION_START and ABLATION_END, which is the lead's hand-written table and is carried
over from the existing doc verbatim.
"""

from __future__ import annotations

import re

from quality_results import (MEDIAN_DETECTION, TARGETS, machines, summary, target_table,
                             value_of)

ABLATION_START, ABLATION_END = "<!-- ablation:start -->", "<!-- ablation:end -->"
ABLATION_PLACEHOLDER = ("_No ablation yet: each model/encoding change, measured with this "
                        "benchmark, goes here._")
TOOL_NAMES = {"ours": "ours (default params)", "independent": "independent (baseline)",
              "gaussian_copula": "SDV GaussianCopula", "tvae": "SDV TVAE", "ctgan": "ctgan"}
COLUMNS = [("shapes", "shapes"), ("trends", "trends (all pairs)"), ("detection", "detection AUC"),
           ("utility", "utility ratio"), ("dcr_share", "DCR share"), ("copy_rate", "copies"),
           ("holdout_copy_rate", "holdout copies"), ("mia", "MIA AUC"),
           ("train_s", "train s"), ("sample_s", "sample s")]
TARGET_BY_KEY = {t.key: t for t in TARGETS}

HEADER = """# Quality benchmark

Every tool is fitted on the **same training split** (written once per dataset by `synth prepare`
with default params, the dataset's suggested target) and scored by **our own `synth evaluate`**
on that split and its holdout (same metrics, same code, for every tool). Each tool generates as
many rows as the training split. Tools: our default pipeline (`synth train` + `synth generate`
with the repo's `params.yaml`), the trivial **independent** baseline (each column drawn on its
own from its real training marginal, missing values included: it shows that column shapes
saturate, so a tool must beat it on trends, detection and utility), SDV GaussianCopula, SDV TVAE
and ctgan (SDV's `CTGANSynthesizer`), in `.venv-bench`, with the column types of the prepared
`metadata.json`. Their rows are cast to the real columns' dtypes before scoring.

Metrics (docs/metrics.md): column shapes and pair trends over all pairs (sdmetrics, 1 is best;
a numeric column of a mixed pair binned on the real column's edges for both tables),
detection AUC (gradient boosting, cross-validated; 0.5 = indistinguishable), utility ratio
(train-on-synthetic / train-on-real score on the real holdout), DCR share (share of synthetic
rows closer to train than to holdout, size-adjusted; 0.5 ideal), exact copies of training rows
(and the holdout's own copy rate as the bar), membership-inference AUC. `train s` for ours is
the wall clock of the `synth train` process (imports included); for the reference tools, their
`fit()` call. ✓ / ✗ mark issue 8's targets.

```bash
make bench-setup                 # once: .venv-bench with ctgan / SDV (minutes)
make bench-quality               # every built-in dataset (hours on 2 cores); QUALITY_ARGS="..."
python benchmarks/quality.py --datasets penguins,german_credit --ref-epochs 5 --set train.epochs=2
python benchmarks/quality.py --datasets my.csv=label --tools ours,independent   # your table
python benchmarks/quality.py --render-only   # rebuild this page from benchmarks/results/quality/
```
Re-running a dataset (or only some `--tools`) merges into its JSON and keeps the other tools'
entries while the split is the same. `--set key=value` overrides our params.yaml (like
`dvc exp run -S`), `--ref-epochs` / `--ref-max-rows` / `--timeout` cap the reference tools;
what was used is in each table's notes (a step over `--timeout`, default 7200 s, or a crash
is recorded as that tool's error and the run goes on).
"""


def fmt(value: float | None, key: str) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if key.endswith("_s") else f"{value:.3f}"


def flag(met: bool | None) -> str:
    return "" if met is None else (" ✓" if met else " ✗")


def dataset_table(result: dict) -> list[str]:
    """Tools as rows, metrics as columns, target flags in the cells, settings as notes."""
    run_overrides = (result.get("settings") or {}).get("overrides", [])
    lines = ["| tool | " + " | ".join(label for _, label in COLUMNS) + " | notes |",
             "|---|" + "---:|" * len(COLUMNS) + "---|"]
    for tool, entry in result.get("tools", {}).items():
        cells = []
        for key, _ in COLUMNS:
            target = TARGET_BY_KEY.get(key)
            met = target.check(entry)[1] if target else None
            cells.append(fmt(value_of(entry, key), key) + flag(met))
        lines.append(f"| {TOOL_NAMES.get(tool, tool)} | " + " | ".join(cells)
                     + f" | {notes(entry, run_overrides)} |")
    return lines


def notes(entry: dict, run_overrides: list[str] = ()) -> str:
    """Error, epochs, subsample, and overrides where they differ from the latest run's."""
    parts = []
    if entry.get("status") != "ok":
        parts.append(f"**error**: {str(entry.get('error', '?'))[:200]}".replace("|", "\\|"))
    if entry.get("epochs") is not None:
        parts.append(f"epochs {entry['epochs']}")
    if entry.get("fit_rows") is not None and entry.get("fit_rows") != entry.get("train_rows"):
        parts.append(f"fitted on {entry['fit_rows']:,} of {entry['train_rows']:,} train rows")
    if list(entry.get("overrides", [])) != list(run_overrides):
        parts.append("run with " + settings_text({"overrides": entry.get("overrides", [])}))
    return "; ".join(parts)


def settings_text(settings: dict | None) -> str:
    """`--set a=1 --ref-epochs 5 ...` as run, or 'default settings'."""
    settings = settings or {}
    parts = [f"`--set {o}`" for o in settings.get("overrides", [])]
    for key, flag_name in (("ref_epochs", "--ref-epochs"), ("ref_max_rows", "--ref-max-rows")):
        if settings.get(key) is not None:
            parts.append(f"`{flag_name} {settings[key]}`")
    return " ".join(parts) or "default settings"


def targets_section(results: dict[str, dict]) -> list[str]:
    table = target_table(results)
    labels = [t.label for t in TARGETS] + ["≥ GaussianCopula & TVAE"]
    lines = ["## Issue 8 targets (our default pipeline)", "",
             "Per table; ✗ gives the gap to the target. Computed from the results below.", "",
             "| dataset | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    met_count = total = 0
    for name, row in table["rows"].items():
        cells = []
        for label in labels:
            if label.startswith("≥"):
                met, what = row[label]
                cells.append("n/a" if met is None else ("✓" if met else f"✗ worse: {what}"))
            else:
                value, met, gap = row[label]
                key = next(t.key for t in TARGETS if t.label == label)
                if met is None:
                    cells.append("n/a")
                else:
                    cells.append(("✓ " if met else "✗ ") + fmt(value, key)
                                 + ("" if met else f" (by {fmt(gap, key)})"))
            if cells[-1] != "n/a":
                total += 1
                met_count += cells[-1].startswith("✓")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    median = table["median_detection"]
    changed = {n: r["tools"]["ours"].get("overrides") for n, r in results.items()
               if r.get("tools", {}).get("ours", {}).get("overrides")}
    if changed:  # then these are not the default pipeline's numbers: say so where they are read
        lines += ["", "**Not default params**: ours ran with "
                  + "; ".join(f"{n}: {settings_text({'overrides': o})}"
                              for n, o in changed.items())
                  + "."]
    lines += ["", f"Median detection AUC over {len(table['rows'])} tables: "
              f"{fmt(median, 'detection')}{flag(table['median_met'])} "
              f"(target ≤ {MEDIAN_DETECTION}). "
              f"Per-table targets met: {met_count} of {total}.", ""]
    return lines


def summary_section(results: dict[str, dict]) -> list[str]:
    cols = [("median_detection", "median detection"), ("worst_detection", "worst detection"),
            ("min_shapes", "min shapes"), ("min_trends", "min trends"),
            ("min_utility", "min utility"), ("max_dcr_share", "max DCR share"),
            ("max_mia", "max MIA"), ("max_train_s", "max train s")]
    lines = ["## Summary (per tool, over the datasets)", "",
             "| tool | datasets (failed) | " + " | ".join(c for _, c in cols) + " |",
             "|---|---:|" + "---:|" * len(cols)]
    for tool, s in summary(results).items():
        cells = [fmt(s[k], "train_s" if k.endswith("_s") else k) for k, _ in cols]
        lines.append(f"| {TOOL_NAMES.get(tool, tool)} | {s['datasets']} ({s['failed']}) | "
                     + " | ".join(cells) + " |")
    return lines + [""]


def machine_lines(machine: dict | None) -> list[str]:
    if not machine:
        return ["machine: not recorded"]
    main = (machine.get("main_venv") or {}).get("versions", {})
    bench = (machine.get("bench_venv") or {}).get("versions", {})
    pick = lambda v, ks: ", ".join(f"{k} {v[k]}" for k in ks if k in v)  # noqa: E731
    ours = ["python", "synth-pipeline", "torch", "pytorch-lightning", "sdmetrics", "scikit-learn"]
    return [f"- {machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('ram_gib')} GiB"
            f" RAM, {machine.get('os')}; {machine.get('gpu')}",
            f"- main venv: {pick(main, ours)}",
            f"- bench venv: {pick(bench, ['python', 'sdv', 'ctgan', 'rdt', 'torch']) or 'absent'}"]


def render(results: dict[str, dict], ablation: str = ABLATION_PLACEHOLDER) -> str:
    """The whole of docs/quality.md for these results (dataset name -> result)."""
    lines = [HEADER, *targets_section(results), *summary_section(results), "## Per dataset", ""]
    for name, result in results.items():
        rows = result.get("rows", {})
        lines += [f"### {name}", "",
                  f"{rows.get('train', '?'):,} train / {rows.get('holdout', '?'):,} holdout rows, "
                  f"target `{result.get('target')}`; run {result.get('when', '?')} at "
                  f"{result.get('commit', '?')} with {settings_text(result.get('settings'))}"
                  f" (timeout {(result.get('settings') or {}).get('timeout_s', '?')} s per step);"
                  f" utility task: {_utility_task(result)}.",
                  "",
                  *dataset_table(result), "", "<details><summary>commands</summary>", "",
                  "```bash", *_commands(result), "```", "", "</details>", ""]
    lines += ["## Machine", ""]
    for machine, tools in machines(results):
        lines += [f"Ran {', '.join(tools)}:", "", *machine_lines(machine), ""]
    lines += ["## Ablation", "", ABLATION_START, ablation.strip("\n"), ABLATION_END, ""]
    return "\n".join(lines)


def _utility_task(result: dict) -> str:
    tools = result.get("tools", {}).values()
    tasks = {e.get("utility_task") for e in tools if e.get("status") == "ok"}
    return ", ".join(sorted(str(t) for t in tasks)) or "–"


def _commands(result: dict) -> list[str]:
    """The prepare command, then per tool: the harness run it came from and its own commands."""
    lines = [f"# split: {result.get('prepare_command', '?')}"]
    for tool, entry in result.get("tools", {}).items():
        lines.append(f"# {tool} ({entry.get('when', '?')}): {entry.get('run_command', '?')}")
        lines += entry.get("commands", [])
    return lines


def ablation_block(doc: str | None) -> str:
    """The text between the ablation markers of an existing doc (placeholder when none)."""
    if not doc:
        return ABLATION_PLACEHOLDER
    m = re.search(re.escape(ABLATION_START) + r"\n?(.*?)\n?" + re.escape(ABLATION_END), doc, re.S)
    return m.group(1) if m and m.group(1).strip() else ABLATION_PLACEHOLDER
