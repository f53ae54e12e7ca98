"""Quality benchmark (issue 8): our default pipeline vs SDV GaussianCopula, SDV TVAE, ctgan and an
independent-columns baseline, on the same split, scored by our own `synth evaluate`.

Per dataset: `synth prepare` once (the repo's params.yaml, prepare.dataset/target set to the
dataset and its suggested target), then every tool fits on that train split, generates as many
rows as it has, and `synth evaluate` scores the rows on the same prepared dir. Results merge into
benchmarks/results/quality/<dataset>.json; docs/quality.md is re-rendered after each dataset.

    make bench-setup                                   # once: .venv-bench (ctgan, SDV)
    python benchmarks/quality.py                       # every built-in dataset, default settings
    python benchmarks/quality.py --datasets penguins,german_credit --ref-epochs 5 \
        --set train.epochs=2                           # the quick end-to-end check
    python benchmarks/quality.py --datasets data/my.csv=label --tools ours,independent
    python benchmarks/quality.py --render-only         # docs/quality.md from the stored JSON

A dataset is a built-in name or a CSV/Parquet path, optionally `=TARGET` (`name=` for none);
built-ins default to their registry target. `--set key=value` (repeatable, YAML values, like
`dvc exp run -S`) overrides the repo's params.yaml for our stages (evaluate too, so for every
tool). Outside the default test run: this takes hours on 2 cores for every dataset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO)]

from machine import describe  # noqa: E402
from quality_render import ablation_block, render  # noqa: E402
from quality_results import TOOLS, merge  # noqa: E402
from quality_tools import Split, StepError, run_tool, step, synth  # noqa: E402

RESULTS = HERE / "results" / "quality"
DOC = REPO / "docs" / "quality.md"


def parse_datasets(spec: str | None) -> list[tuple[str, str, str | None]]:
    """[(name, source, target)]: built-in names or paths, `=TARGET` optional."""
    from pipeline.data.registry import DATASETS

    if not spec:
        return [(d.name, d.name, d.target) for d in sorted(DATASETS.values(), key=lambda d: d.rows)]
    out = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        source, has_target, target = item.partition("=")
        if source in DATASETS:
            name, default = source, DATASETS[source].target
        elif Path(source).is_file():
            name, default = Path(source).name.split(".")[0], None
            source = str(Path(source).resolve())
        else:
            raise SystemExit(f"error: {source!r} is neither a built-in dataset "
                             f"({', '.join(DATASETS)}) nor a file")
        out.append((name, source, (target or None) if has_target else default))
    return out


def apply_overrides(params: dict, overrides: list[str]) -> dict:
    """params with each `a.b.c=value` set (value parsed as YAML); an unknown key is an error."""
    for item in overrides:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            raise SystemExit(f"error: --set {item!r}: expected key=value")
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                raise SystemExit(f"error: --set {key}: no section {part!r} in params.yaml")
        if leaf not in node:
            raise SystemExit(f"error: --set {key}: no key {leaf!r} in params.yaml")
        node[leaf] = yaml.safe_load(raw)
    return params


def split_fingerprint(prepared: Path) -> str:
    """Content hash of the train and holdout rows: entries of other splits are not merged."""
    parts = []
    for name in ("train", "holdout"):
        frame = pd.read_parquet(prepared / f"{name}.parquet")
        digest = int(pd.util.hash_pandas_object(frame, index=False).sum()) & (2**64 - 1)
        parts.append(f"{len(frame)}:{digest:016x}")
    return "/".join(parts)


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, text=True, capture_output=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def run_dataset(name: str, source: str, target: str | None, args: argparse.Namespace,
                tools: list[str]) -> dict | None:
    work = Path(args.work_dir) / name
    # Tool folders are kept (run_tool replaces the ones it refits), so --rescore can reuse them.
    shutil.rmtree(work / "prepared", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["prepare"].update(dataset=source, target=target)
    params = apply_overrides(params, args.set)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    split = Split(name=name, work=work, params=work / "params.yaml", seed=int(params["seed"]),
                  timeout=args.timeout, bench_python=args.bench_python,
                  ref_epochs=args.ref_epochs, ref_max_rows=args.ref_max_rows, overrides=args.set,
                  rescore=args.rescore)
    shown: list[str] = []
    try:
        step(synth("prepare", "--params", str(split.params), "--out-dir", str(split.prepared)),
             work / "prepare.log", args.timeout, shown)
    except StepError as exc:
        print(f"{name}: prepare failed, dataset skipped: {exc}", flush=True)
        return None
    rows = {k: len(pd.read_parquet(split.prepared / f"{k}.parquet")) for k in ("train", "holdout")}
    when = dt.datetime.now().isoformat(timespec="seconds")
    run_command = shlex.join(["python", "benchmarks/quality.py", *sys.argv[1:]])
    entries = {}
    for tool in rescorable(work, tools) if args.rescore else tools:
        print(f"== {name}: {tool}", flush=True)
        entries[tool] = run_tool(tool, split, rows["train"])
        entries[tool].update(when=when, run_command=run_command, commit=git_commit())
    return {"dataset": name, "source": source, "target": target, "rows": rows,
            "split": split_fingerprint(split.prepared), "prepare_command": shown[0],
            "when": when, "command": run_command, "commit": git_commit(),
            "settings": {"overrides": list(args.set), "ref_epochs": args.ref_epochs,
                         "ref_max_rows": args.ref_max_rows, "timeout_s": args.timeout},
            "machine": describe(sys.executable,
                                args.bench_python if Path(args.bench_python).is_file() else None),
            "tools": entries}


def rescorable(work: Path, tools: list[str]) -> list[str]:
    """The tools with stored rows and fit record under `work` (what --rescore can evaluate
    again); the others are skipped with a line, never fitted, and keep their stored entries."""
    keep = [t for t in tools if (work / t / "synthetic.parquet").is_file()
            and (work / t / "fit.json").is_file()]
    for tool in tools:
        if tool not in keep:
            print(f"== {work.name}: {tool}: no stored rows to re-score; skipped", flush=True)
    return keep


def load_results(results_dir: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))}


def write_doc(results_dir: Path, doc: Path) -> None:
    results = load_results(results_dir)
    results = dict(sorted(results.items(), key=lambda kv: kv[1].get("rows", {}).get("train", 0)))
    old = doc.read_text() if doc.is_file() else None
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(render(results, ablation_block(old)))
    print(f"report: {doc}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datasets", default=None,
                   help="comma list of built-in names / CSV or Parquet paths, each optionally "
                        "=TARGET (default: every built-in dataset)")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma list of " + ",".join(TOOLS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override our params.yaml, e.g. train.epochs=2 (repeatable)")
    p.add_argument("--ref-epochs", type=int, default=None,
                   help="epochs for TVAE and ctgan (default: their own, 300 each)")
    p.add_argument("--ref-max-rows", type=int, default=None,
                   help="fit the reference tools on a seeded subsample of this many train rows "
                        "(they still generate as many rows as train; noted in the results)")
    p.add_argument("--timeout", type=int, default=7200,
                   help="seconds per step (fit, generate, evaluate, ...)")
    p.add_argument("--bench-python", default=str(REPO / ".venv-bench" / "bin" / "python"))
    p.add_argument("--work-dir", default="/tmp/synth-quality")
    p.add_argument("--results-dir", default=str(RESULTS))
    p.add_argument("--doc", default=str(DOC))
    p.add_argument("--rescore", action="store_true",
                   help="reuse each tool's stored synthetic rows and fit times; only evaluate again")
    p.add_argument("--render-only", action="store_true", help="only rebuild the doc from the JSON")
    args = p.parse_args()
    results_dir, doc = Path(args.results_dir), Path(args.doc)
    if args.render_only:
        write_doc(results_dir, doc)
        return
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        p.error(f"unknown tools: {', '.join(unknown)} (known: {', '.join(TOOLS)})")
    datasets = parse_datasets(args.datasets)
    apply_overrides(yaml.safe_load((REPO / "params.yaml").read_text()), args.set)  # fail early
    results_dir.mkdir(parents=True, exist_ok=True)
    for name, source, target in datasets:
        new = run_dataset(name, source, target, args, tools)
        if new is None:
            continue
        path = results_dir / f"{name}.json"
        old = json.loads(path.read_text()) if path.is_file() else None
        merged = merge(old, new)
        if merged.get("dropped"):
            print(f"{name}: split changed, dropped old entries of {merged['dropped']}", flush=True)
        path.write_text(json.dumps(merged, indent=1, default=float) + "\n")
        write_doc(results_dir, doc)
    print(f"results: {results_dir}", flush=True)


if __name__ == "__main__":
    main()
