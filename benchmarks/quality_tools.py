"""Run one tool of the quality benchmark on a prepared split and score it with `synth evaluate`.

Every step is a subprocess (our stages through `python -m pipeline`, the reference tools through
workers/quality_ref.py in .venv-bench) with a timeout; its output goes to a log file next to the
rows it wrote. A failing step becomes an entry {"status": "error", "error": <last stderr line>}
and the benchmark goes on with the next tool.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from quality_results import extract_metrics
from quality_tables import cast_like, independent_sample

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


class StepError(RuntimeError):
    """A subprocess failed or timed out; the message is what the result records."""


@dataclass
class Split:
    """One dataset's prepared split and the settings every tool runs with."""

    name: str
    work: Path  # <work-dir>/<dataset>
    params: Path  # the params.yaml written for this dataset (repo values + overrides)
    seed: int
    timeout: int
    bench_python: str
    ref_epochs: int | None = None
    ref_max_rows: int | None = None
    overrides: list[str] = field(default_factory=list)
    rescore: bool = False  # reuse each tool's stored rows (and fit times), evaluate again

    @property
    def prepared(self) -> Path:
        return self.work / "prepared"


def step(cmd: list[str], log: Path, timeout: int, shown: list[str]) -> float:
    """Run cmd (cwd: repo root), log its output, return its wall seconds; StepError on failure."""
    shown.append(shlex.join(_display(cmd)))
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    print(f"$ {shown[-1]}", flush=True)
    start = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                             env=env)
    except subprocess.TimeoutExpired as exc:
        log.write_text(f"timed out after {timeout} s\n{exc.stdout or ''}\n{exc.stderr or ''}")
        raise StepError(f"{Path(cmd[2] if cmd[1] == '-m' else cmd[1]).name}: "
                        f"timed out after {timeout} s") from None
    wall = time.perf_counter() - start
    log.write_text(f"$ {shown[-1]}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}")
    if res.returncode != 0:
        lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()] or ["no output"]
        raise StepError(f"exit {res.returncode}: {lines[-1].strip()[:300]} (log: {log})")
    print(f"  ok in {wall:.1f} s", flush=True)
    return wall


def _display(cmd: list[str]) -> list[str]:
    """`synth ...` for our CLI, the venv-relative python for workers: readable commands."""
    if cmd[1:3] == ["-m", "pipeline"]:
        return ["synth", *cmd[3:]]
    return [os.path.relpath(c, REPO) if c.startswith(str(REPO) + os.sep) else c for c in cmd]


def synth(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


def run_tool(tool: str, split: Split, train_rows: int) -> dict:
    """Fit + sample + evaluate one tool; the entry stored in the results."""
    out_dir = split.work / tool
    synthetic = out_dir / "synthetic.parquet"
    fit_record = out_dir / "fit.json"
    entry: dict = {"commands": [], "train_rows": train_rows, "overrides": list(split.overrides)}
    if split.rescore and synthetic.is_file() and fit_record.is_file():
        # --rescore: keep the tool's earlier fit and rows, only evaluate again.
        entry.update(json.loads(fit_record.read_text()), rescored=True)  # fit commands only
    else:
        shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        if not entry.get("rescored"):
            entry.update(_fit(tool, split, out_dir, synthetic, train_rows, entry["commands"]))
            fit_record.write_text(json.dumps({k: v for k, v in entry.items()
                                              if k != "overrides"}))
        step(synth("evaluate", "--params", str(split.params), "--data-dir", str(split.prepared),
                   "--synthetic", str(synthetic), "--train-log", str(out_dir / "train_log"),
                   "--out-dir", str(out_dir / "eval")),
             out_dir / "evaluate.log", split.timeout, entry["commands"])
        metrics = json.loads((out_dir / "eval" / "metrics.json").read_text())
        details = json.loads((out_dir / "eval" / "details.json").read_text())
        entry.update(status="ok", metrics=extract_metrics(metrics),
                     utility_task=details.get("utility_task"))
    except StepError as exc:
        entry.update(status="error", error=str(exc))
        print(f"  {tool}: {exc}", flush=True)
    return entry


def _fit(tool: str, split: Split, out_dir: Path, synthetic: Path, rows: int,
         shown: list[str]) -> dict:
    """Fit `tool` and write its rows to `synthetic`; its train/sample seconds."""
    if tool == "ours":
        return _ours(split, out_dir, synthetic, shown)
    if tool == "independent":
        return _independent(split, synthetic, rows)
    return _reference(tool, split, out_dir, synthetic, rows, shown)


def _ours(split: Split, out_dir: Path, synthetic: Path, shown: list[str]) -> dict:
    model = out_dir / "model.ckpt"
    train_s = step(synth("train", "--params", str(split.params), "--data-dir", str(split.prepared),
                         "--model", str(model), "--log-dir", str(out_dir / "train_log")),
                   out_dir / "train.log", split.timeout, shown)
    sample_s = step(synth("generate", "--params", str(split.params), "--model", str(model),
                          "--out", str(synthetic)),
                    out_dir / "generate.log", split.timeout, shown)
    return {"train_s": train_s, "sample_s": sample_s}


def _independent(split: Split, synthetic: Path, rows: int) -> dict:
    train = pd.read_parquet(split.prepared / "train.parquet")
    start = time.perf_counter()
    sample = independent_sample(train, rows, split.seed)
    sample_s = time.perf_counter() - start
    sample.to_parquet(synthetic, index=False)
    return {"train_s": 0.0, "sample_s": sample_s}


def _reference(tool: str, split: Split, out_dir: Path, synthetic: Path, rows: int,
               shown: list[str]) -> dict:
    if not Path(split.bench_python).is_file():
        raise StepError(f"reference venv missing ({split.bench_python}): run `make bench-setup`")
    raw = out_dir / "raw.parquet"
    raw.unlink(missing_ok=True)
    cmd = [split.bench_python, str(HERE / "workers" / "quality_ref.py"), tool,
           "--train", str(split.prepared / "train.parquet"),
           "--metadata", str(split.prepared / "metadata.json"),
           "--rows", str(rows), "--out", str(raw), "--seed", str(split.seed)]
    if split.ref_epochs is not None and tool != "gaussian_copula":
        cmd += ["--epochs", str(split.ref_epochs)]
    if split.ref_max_rows is not None:
        cmd += ["--max-rows", str(split.ref_max_rows)]
    log = out_dir / "fit_sample.log"
    step(cmd, log, split.timeout, shown)
    lines = [ln for ln in log.read_text().split("--- stderr")[0].splitlines() if ln.startswith("{")]
    if not lines:
        raise StepError(f"{tool}: worker printed no result (log: {log})")
    result = json.loads(lines[-1])
    real = pd.read_parquet(split.prepared / "train.parquet")
    try:
        cast_like(pd.read_parquet(raw), real).to_parquet(synthetic, index=False)
    except (ValueError, TypeError) as exc:
        raise StepError(f"{tool}: cannot cast its rows to the real dtypes: {exc}") from None
    keys = ("train_s", "sample_s", "fit_rows", "epochs", "torch_threads")
    return {k: result.get(k) for k in keys}
