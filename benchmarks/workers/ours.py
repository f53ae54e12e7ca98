"""synth-pipeline worker (main venv). Same tasks and JSON keys as ref_tools.py where they pair.

Tasks:
  transformer  schema inference + TableTransformer.fit + transform on the whole table
  fit_sample   train at CTGAN's default architecture for --epochs (per-epoch times, samples at
               checkpoint epochs), then sample --sample-rows through the generate path
  generate_big `synth generate` path (generate.run: chunked Parquet) for --rows rows; the
               checkpoint comes from `synth prepare` + `synth train` (1 epoch) run in children
               so this process's peak RSS is generation only
  evaluate     `synth evaluate` (in-process, timed) on the prepared table + as many
               generated rows as the training split (setup in children, as above)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from common import BUILTIN, REPO, emit, load_table, resolve_table, timer, worker_parser

warnings.filterwarnings("ignore")


def transformer(args: argparse.Namespace) -> dict:
    import ours_api

    df = load_table(args.data, args.max_rows)
    out: dict = {"rows": len(df), "columns": df.shape[1]}
    with timer(out, "schema_s"):
        table, schema = ours_api.prepare(df, Path(args.data).stem)
    with timer(out, "fit_s"):
        tr = ours_api.fit_transformer(table, schema)
    with timer(out, "transform_s"):
        matrix = tr.transform(table)
    out["output_dim"] = int(matrix.shape[1])
    out["fit_transform_s"] = out["fit_s"] + out["transform_s"]
    out.update(ours_api.dims(tr))
    return out


def fit_sample(args: argparse.Namespace) -> dict:
    import ours_api

    df = load_table(args.data, args.max_rows)
    out: dict = {"rows": len(df), "epochs": args.epochs, "batch_size": 500, "pac": 10}
    synth_dir = Path(args.synth_dir) if args.synth_dir else None
    prefix = "ours_budget" if args.tag == "budget" else "ours"
    every = args.checkpoints == "all"
    marks = set() if every else {int(e) for e in args.checkpoints.split(",") if e}
    state: dict = {}

    def on_epoch_end(epoch: int, module) -> None:
        if synth_dir is not None and (every or epoch in marks):
            ours_api.sample(module, state["tr"], state["schema"], args.quality_rows,
                            seed=epoch).to_parquet(synth_dir / f"{prefix}_e{epoch}.parquet")

    start = time.perf_counter()
    table, schema = ours_api.prepare(df, Path(args.data).stem)
    tr = ours_api.fit_transformer(table, schema)
    state.update(tr=tr, schema=schema)
    model, clock = ours_api.train(table, schema, tr, args.epochs, on_epoch_end=on_epoch_end,
                                  budget_s=args.budget_s, started=start)
    out["epochs"] = len(clock.epoch_s)  # fewer than --epochs when --budget-s stopped it
    out["fit_total_s"] = time.perf_counter() - start - clock.paused
    out["setup_s"] = clock.loop_start - start  # schema + transformer fit/transform + model
    out["epoch_s"] = clock.epoch_s
    out["cum_train_s"] = [out["setup_s"] + sum(clock.epoch_s[: i + 1])
                          for i in range(len(clock.epoch_s))]
    out["s_per_epoch"] = sum(clock.epoch_s) / len(clock.epoch_s)
    out["train_rows_per_s"] = max(len(df) // 500, 1) * 500 / out["s_per_epoch"]
    out["dims"] = ours_api.dims(tr)
    ours_api.sample(model, tr, schema, 1_000)  # warm-up, as for ctgan
    with timer(out, "sample_s"):
        sample = ours_api.sample(model, tr, schema, args.sample_rows)
    out["sample_rows"] = len(sample)
    out["sample_rows_per_s"] = len(sample) / out["sample_s"]
    if synth_dir is not None:
        sample.head(args.quality_rows).to_parquet(synth_dir / f"{prefix}_e{out['epochs']}.parquet")
    return out


def _setup_pipeline(args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    """prepare + train (1 epoch) through the CLI, in child processes; reused when present."""
    import yaml

    work.mkdir(parents=True, exist_ok=True)
    params, model = work / "params.yaml", work / "model.ckpt"
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    source = resolve_table(args.data)
    # a built-in name goes through our registry; any other path as given (.csv/.parquet)
    raw["prepare"].update(dataset=args.data if source.parent == BUILTIN else str(source),
                          target=None)
    raw["train"].update(epochs=1, accelerator="cpu")
    params.write_text(yaml.safe_dump(raw))
    synth = [sys.executable, "-m", "pipeline"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if not model.is_file():
        for cmd in (["prepare", "--out-dir", str(work / "prepared")],
                    ["train", "--data-dir", str(work / "prepared"), "--model", str(model),
                     "--log-dir", str(work / "train_log")]):
            res = subprocess.run([*synth, cmd[0], "--params", str(params), *cmd[1:]], cwd=work,
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
            if res.returncode:
                raise SystemExit(f"synth {cmd[0]} failed: {res.stderr.strip()[-300:]}")
    return params, model


def generate_big(args: argparse.Namespace) -> dict:
    work = Path(args.work_dir)
    params_path, model = _setup_pipeline(args, work)
    from pipeline.config import load_params
    from pipeline.stages import generate

    out_path = Path(args.out or work / "big.parquet")
    out: dict = {"rows": args.rows}
    with timer(out, "seconds"):
        generate.run(load_params(params_path), model, out_path, rows=args.rows)
    out["rows_per_s"] = args.rows / out["seconds"]
    out["file_mb"] = out_path.stat().st_size / 2**20
    out_path.unlink()  # gigabytes of benchmark output are not worth keeping
    return out


def evaluate(args: argparse.Namespace) -> dict:
    import pandas as pd

    work = Path(args.work_dir)
    params_path, model = _setup_pipeline(args, work)
    synthetic = work / "synthetic.parquet"
    if not synthetic.is_file():
        subprocess.run([sys.executable, "-m", "pipeline", "generate", "--params", str(params_path),
                        "--model", str(model), "--out", str(synthetic)], check=True, cwd=work,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL)
    from pipeline.cli import cli

    out: dict = {"rows": len(pd.read_parquet(work / "prepared" / "train.parquet"))}
    with timer(out, "seconds"):
        cli.main(["evaluate", "--params", str(params_path), "--data-dir", str(work / "prepared"),
                  "--synthetic", str(synthetic), "--out-dir", str(work / "reports")],
                 standalone_mode=False)
    return out


def main() -> None:
    p = worker_parser(__doc__, ["transformer", "fit_sample", "generate_big", "evaluate"])
    p.add_argument("--tag", default="")
    p.add_argument("--budget-s", type=float, default=None,
                   help="stop training before this many seconds (setup included) are spent")
    p.add_argument("--quality-rows", type=int, default=10_000)
    p.add_argument("--synth-dir", default=None)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--out", default=None)
    p.add_argument("--work-dir", default="/tmp/synth-bench/pipeline")
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    if args.synth_dir:
        Path(args.synth_dir).mkdir(parents=True, exist_ok=True)
    import torch

    tasks = {"transformer": transformer, "fit_sample": fit_sample,
             "generate_big": generate_big, "evaluate": evaluate}
    result = tasks[args.task](args)
    result.update(task=args.task, tool="ours", torch_threads=torch.get_num_threads())
    emit(result)


if __name__ == "__main__":
    main()
