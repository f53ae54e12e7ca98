"""Benchmark harness: synth-pipeline vs the reference tools, same machine, same run, as ratios.

Every measurement is one subprocess (benchmarks/workers/*.py) printing one JSON line: reference
tools (ctgan, SDV) run in .venv-bench (`make bench-setup`), our code in the interpreter running
this script, so versions never clash and peak RSS is per tool. Each comparison pair runs back to
back. Results are merged into benchmarks/results/<dataset>.json (re-running some sections keeps
the others) and rendered into docs/benchmarks.md between the results markers.

    python benchmarks/run.py --dataset diamonds --epochs 5
    python benchmarks/run.py --dataset my.csv --only transformer,dcr
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKERS = HERE / "workers"
sys.path.insert(0, str(HERE))

from machine import describe  # noqa: E402
from report import render  # noqa: E402

SECTIONS = ["transformer", "train", "sdv", "sample_big", "dcr", "evaluate", "budget", "quality"]


def run_worker(python: str, script: str, args: list[str], timeout: int) -> dict:
    """Run one worker; its last stdout line is the JSON result. Failures become {"error": ...}."""
    cmd = [python, str(WORKERS / script), *args]
    print(f"$ {' '.join(cmd)}", flush=True)
    load_before = os.getloadavg()[0]  # the 2 cores are shared: record how busy they were
    start = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=WORKERS)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s", "command": " ".join(cmd)}
    wall = time.perf_counter() - start
    lines = [ln for ln in res.stdout.strip().splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        tail = (res.stderr.strip().splitlines() or ["no output"])[-1][:300]
        print(f"  failed ({res.returncode}): {tail}", flush=True)
        return {"error": tail, "command": " ".join(cmd)}
    out = json.loads(lines[-1])
    out["process_wall_s"] = wall
    out["load1_before"], out["load1_after"] = load_before, os.getloadavg()[0]
    out["command"] = " ".join(cmd)
    print(f"  ok in {wall:.1f} s", flush=True)
    return out


def budget_seconds(results: dict) -> float | None:
    """ctgan's total fit time (setup + epochs) in the train section: our wall-clock budget."""
    return results.get("train", {}).get("ctgan", {}).get("fit_total_s")


def checkpoints(epochs: int) -> str:
    """1, 2, 5, 10, 20, 50, ... below `epochs` (the last epoch is always saved)."""
    marks, k = [], 0
    while True:
        v = [1, 2, 5][k % 3] * 10 ** (k // 3)
        if v >= epochs:
            return ",".join(map(str, marks))
        marks.append(v)
        k += 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", default="diamonds", help="built-in name or a CSV/Parquet path")
    p.add_argument("--epochs", type=int, default=10, help="training epochs for every GAN/VAE")
    p.add_argument("--only", default=",".join(SECTIONS), help="comma list of " + ",".join(SECTIONS))
    p.add_argument("--sample-rows", type=int, default=100_000)
    p.add_argument("--big-rows", type=int, default=10_000_000)
    p.add_argument("--dcr-rows", type=int, default=2_000)
    p.add_argument("--quality-rows", type=int, default=10_000)
    p.add_argument("--bench-python", default=str(REPO / ".venv-bench" / "bin" / "python"))
    p.add_argument("--work-dir", default="/tmp/synth-bench")
    p.add_argument("--results", default=None, help="JSON path (default benchmarks/results/<name>.json)")
    p.add_argument("--doc", default=str(REPO / "docs" / "benchmarks.md"))
    p.add_argument("--timeout", type=int, default=1800, help="seconds per worker")
    p.add_argument("--render-only", action="store_true", help="re-render the doc from the JSON")
    args = p.parse_args()

    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    name = Path(args.dataset).stem.split(".")[0]
    results_path = Path(args.results or HERE / "results" / f"{name}.json")
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if args.render_only:
        render(results, Path(args.doc), name)
        return
    work = Path(args.work_dir) / name
    synth_dir = work / "synthetic"
    synth_dir.mkdir(parents=True, exist_ok=True)
    ours_py, ref_py = sys.executable, args.bench_python
    has_ref = Path(ref_py).is_file()
    common = ["--data", args.dataset]
    sample = ["--sample-rows", str(args.sample_rows), "--quality-rows", str(args.quality_rows),
              "--synth-dir", str(synth_dir)]
    E = str(args.epochs)
    no_ref = {"error": f"reference venv missing ({ref_py}): run `make bench-setup`"}

    def ref(script: str, a: list[str]) -> dict:
        return run_worker(ref_py, script, a, args.timeout) if has_ref else dict(no_ref)

    def ours(a: list[str]) -> dict:
        return run_worker(ours_py, "ours.py", a, args.timeout)

    def store(section: str, entry: dict) -> None:
        entry["_when"] = dt.datetime.now().isoformat(timespec="seconds")
        entry["_args"] = {"epochs": args.epochs, "dataset": args.dataset}
        results[section] = entry
        results["machine"] = describe(ours_py, ref_py if has_ref else None)
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1, default=float) + "\n")
        render(results, Path(args.doc), name)

    if {"sample_big", "evaluate"} & set(only):
        shutil.rmtree(work / "pipeline", ignore_errors=True)  # fresh prepare + train each run
    if "transformer" in only:
        store("transformer", {"ctgan": ref("ref_tools.py", ["ctgan-transformer", *common]),
                              "ours": ours(["transformer", *common])})
    if "train" in only:
        for old in [*synth_dir.glob("ctgan_e*.parquet"), *synth_dir.glob("ours_e*.parquet")]:
            old.unlink()  # stale checkpoints of another epoch count must not be scored
        entry = {"ctgan": ref("ref_tools.py", ["ctgan", *common, "--epochs", E,
                                               "--checkpoints", checkpoints(args.epochs), *sample]),
                 "ours": ours(["fit_sample", *common, "--epochs", E, *sample])}
        dims = entry["ours"].get("dims") or {}
        tr = results.get("transformer", {}).get("ctgan", {})
        data_dim = dims.get("data_dim") or tr.get("output_dim")
        cond_dim = dims.get("cond_dim") or tr.get("cond_dim")
        rows = entry["ctgan"].get("rows") or entry["ours"].get("rows")
        if data_dim and cond_dim and rows:
            entry["floor"] = run_worker(ours_py, "floor.py", [
                "--rows", str(rows), "--data-dim", str(data_dim), "--cond-dim", str(cond_dim),
                "--epochs", "3"], args.timeout)
        else:
            entry["floor"] = {"error": "needs the data/condition widths from ours or ctgan"}
        store("train", entry)
    if "sdv" in only:
        store("sdv", {"gaussian_copula": ref("ref_tools.py", ["gaussian_copula", *common, *sample]),
                      "tvae": ref("ref_tools.py", ["tvae", *common, "--epochs", E, *sample])})
    if "sample_big" in only:
        # the same at a tenth of the rows: equal peak RSS shows memory does not grow with rows
        big = {f"ours_{tag}": ours(["generate_big", *common, "--rows", str(rows),
                                    "--out", str(work / "big.parquet"),
                                    "--work-dir", str(work / "pipeline")])
               for tag, rows in (("tenth", max(args.big_rows // 10, 1)), ("full", args.big_rows))}
        store("sample_big", {"ours": big["ours_full"], "ours_tenth": big["ours_tenth"]})
    if "dcr" in only:
        synth = sorted(synth_dir.glob("ctgan_e*.parquet")) or sorted(synth_dir.glob("*.parquet"))
        if not synth:
            store("dcr", {"error": "no synthetic rows yet: run the train section first"})
        else:
            a = [*common, "--synthetic", str(synth[-1]), "--dcr-rows", str(args.dcr_rows)]
            store("dcr", {"sdmetrics": run_worker(ours_py, "scoring.py", ["dcr-sdmetrics", *a],
                                                  args.timeout),
                          "ours": run_worker(ours_py, "scoring.py", ["dcr-ours", *a], args.timeout)})
    if "evaluate" in only:
        store("evaluate", {"ours": ours(["evaluate", *common, "--work-dir", str(work / "pipeline")])})
    if "budget" in only:
        budget = budget_seconds(results)
        for old in synth_dir.glob("ours_budget_e*.parquet"):
            old.unlink()
        if budget is None:
            store("budget", {"error": "needs ctgan from the train section"})
        else:
            # ours trains until one more epoch would overrun ctgan's fit time (setup included)
            store("budget", {"budget_s": budget, "ours": ours([
                "fit_sample", *common, "--epochs", "100000", "--budget-s", f"{budget:.3f}",
                "--tag", "budget", "--checkpoints", "all", *sample])})
    if "quality" in only:
        files = sorted(str(f) for f in synth_dir.glob("*.parquet"))
        store("quality", run_worker(ours_py, "scoring.py", [
            "quality", *common, "--quality-rows", str(args.quality_rows), "--synthetic", *files],
            args.timeout) if files else {"error": "no synthetic files yet"})
    print(f"results: {results_path}\nreport: {args.doc}")


if __name__ == "__main__":
    main()
