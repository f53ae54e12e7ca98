"""Reference-tool worker: runs ctgan / SDV as black boxes, in .venv-bench only.

ctgan and SDV are Business Source License: this script only calls their public API (and wraps
two names in ctgan's module namespace to read the clock); it copies none of their code.

Tasks (one per process, result printed as JSON by common.emit):
  ctgan-transformer  ctgan.data_transformer.DataTransformer fit + transform on the table
  ctgan              CTGAN(default architecture).fit(epochs) with per-epoch timestamps, then
                     sample(n) timed; synthetic rows saved at checkpoint epochs for scoring
  gaussian_copula    sdv GaussianCopulaSynthesizer fit + sample (metadata detected by sdv)
  tvae               sdv TVAESynthesizer(epochs) fit + sample
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from common import discrete_columns, emit, load_table, timer, worker_parser

warnings.filterwarnings("ignore")


def ctgan_transformer(args: argparse.Namespace) -> dict:
    from ctgan.data_transformer import DataTransformer

    df = load_table(args.data, args.max_rows)
    disc = discrete_columns(df)
    out: dict = {"rows": len(df), "columns": df.shape[1],
                 "cond_dim": int(sum(df[c].nunique() for c in disc))}
    tr = DataTransformer()
    with timer(out, "fit_s"):
        tr.fit(df, disc)
    with timer(out, "transform_s"):
        matrix = tr.transform(df)
    out["output_dim"] = int(matrix.shape[1])
    out["fit_transform_s"] = out["fit_s"] + out["transform_s"]
    return out


class _Clock:
    """Per-epoch durations of ctgan's training loop (ctgan has no hooks of its own)."""

    def __init__(self) -> None:
        self.loop_start = 0.0
        self.epoch_s: list[float] = []
        self.paused = 0.0  # seconds spent saving checkpoint samples, excluded from epoch times


def _instrument_ctgan(clock: _Clock, on_epoch_end) -> None:
    """Replace the `tqdm` name in ctgan's module by a timed range (verbose=False: no bar)."""
    import ctgan.synthesizers.ctgan as mod

    def timed_range(iterable, disable=True):
        clock.loop_start = last = time.perf_counter()
        for i in iterable:
            yield i
            now = time.perf_counter()
            clock.epoch_s.append(now - last)
            on_epoch_end(i + 1)
            last = time.perf_counter()
            clock.paused += last - now

    mod.tqdm = timed_range


def ctgan_fit_sample(args: argparse.Namespace) -> dict:
    from ctgan import CTGAN

    df = load_table(args.data, args.max_rows)
    disc = discrete_columns(df)
    out: dict = {"rows": len(df), "epochs": args.epochs, "batch_size": 500, "pac": 10}
    checkpoints = {int(e) for e in args.checkpoints.split(",") if e} if args.checkpoints else set()
    synth_dir = Path(args.synth_dir) if args.synth_dir else None
    model = CTGAN(epochs=args.epochs, batch_size=500, pac=10, embedding_dim=128,
                  generator_dim=(256, 256), discriminator_dim=(256, 256), verbose=False,
                  enable_gpu=False)
    clock = _Clock()

    def on_epoch_end(epoch: int) -> None:
        if synth_dir is not None and epoch in checkpoints:
            model.sample(args.quality_rows).to_parquet(synth_dir / f"ctgan_e{epoch}.parquet")

    _instrument_ctgan(clock, on_epoch_end)
    start = time.perf_counter()
    model.fit(df, disc)
    fit_total = time.perf_counter() - start
    durations = clock.epoch_s
    out["epoch_s"] = durations
    out["fit_total_s"] = fit_total - clock.paused
    out["setup_s"] = clock.loop_start - start  # transformer fit + transform + sampler + nets
    out["cum_train_s"] = [out["setup_s"] + sum(durations[: i + 1]) for i in range(len(durations))]
    steps = max(len(df) // 500, 1)
    out["s_per_epoch"] = sum(durations) / len(durations)
    out["train_rows_per_s"] = steps * 500 / out["s_per_epoch"]
    model.sample(1_000)  # warm-up, as for ours: first-call allocations are not throughput
    with timer(out, "sample_s"):
        sample = model.sample(args.sample_rows)
    out["sample_rows"] = len(sample)
    out["sample_rows_per_s"] = len(sample) / out["sample_s"]
    if synth_dir is not None:
        sample.head(args.quality_rows).to_parquet(synth_dir / f"ctgan_e{args.epochs}.parquet")
    return out


def sdv_fit_sample(args: argparse.Namespace) -> dict:
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer, TVAESynthesizer

    df = load_table(args.data, args.max_rows)
    out: dict = {"rows": len(df)}
    metadata = Metadata.detect_from_dataframes({"table": df})
    if args.task == "tvae":
        out["epochs"] = args.epochs
        model = TVAESynthesizer(metadata, epochs=args.epochs, enable_gpu=False)
    else:
        model = GaussianCopulaSynthesizer(metadata)
    with timer(out, "fit_total_s"):
        model.fit({"table": df})  # SDV 2.x single-table synthesizers take {name: frame}
    with timer(out, "sample_s"):
        sample = model.sample(args.sample_rows)
    if isinstance(sample, dict):
        sample = sample["table"]
    out["sample_rows"] = len(sample)
    out["sample_rows_per_s"] = len(sample) / out["sample_s"]
    if args.synth_dir:
        name = f"tvae_e{args.epochs}" if args.task == "tvae" else "gaussian_copula"
        sample.head(args.quality_rows).to_parquet(Path(args.synth_dir) / f"{name}.parquet")
    return out


def main() -> None:
    p = worker_parser(__doc__, ["ctgan-transformer", "ctgan", "gaussian_copula", "tvae"])
    p.add_argument("--quality-rows", type=int, default=10_000)
    p.add_argument("--synth-dir", default=None)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.synth_dir:
        Path(args.synth_dir).mkdir(parents=True, exist_ok=True)
    tasks = {"ctgan-transformer": ctgan_transformer, "ctgan": ctgan_fit_sample,
             "gaussian_copula": sdv_fit_sample, "tvae": sdv_fit_sample}
    result = tasks[args.task](args)
    result.update(task=args.task, tool=args.task.split("-")[0], torch_threads=torch.get_num_threads())
    emit(result)


if __name__ == "__main__":
    main()
