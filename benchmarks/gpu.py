"""GPU benchmark, one run on one device: ours vs ctgan on diamonds, same GPU, same process.

    python benchmarks/gpu.py --out results.json            # everything (about 5 minutes, H100)
    python benchmarks/gpu.py --only ours --batches 500      # a subset

Needs torch with CUDA, pytorch-lightning, pandas, scikit-learn, pyarrow; ctgan (+ rdt, Faker)
only for the `ctgan` section (called as a black box, as in workers/ref_tools.py). Nothing here
imports dvclive, dvc or sdmetrics. Every section is independent (a failure is recorded and the
run goes on) and the JSON is rewritten after each one, so a run cut short keeps what it had.

Measures
  ours      Lightning training (the `synth train` path: build_model + build_trainer) at each
            batch size x precision, s/epoch (median of the epochs after the first), training
            rows/s (steps x batch / s), GPU utilisation (NVML, sampled every 20 ms in a
            thread), then sampling rows/s (generator + inverse transform to a DataFrame, the
            `synth generate` path) and in matrix space.
  step      our GAN step outside the Lightning loop: ms/step, GPU busy time per step from the
            profiler (sum of kernel times), and host-device syncs counted with
            torch.cuda.set_sync_debug_mode("warn") (must be 0).
  graph     the same step (same modules, raw capturable fused Adam) captured as one CUDA
            graph: ms/step replayed vs eager. A measurement of the launch-overhead ceiling.
  compile   torch.compile(generator) (`train.compile: true`) at one batch size.
  ctgan     CTGAN(enable_gpu=True) at its defaults (batch 500, pac 10, 256x2), s/epoch and
            sample rows/s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "workers"), str(HERE.parent)]
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import discrete_columns, load_table  # noqa: E402

RESULTS: dict = {}
ACCEL, DEVICE = "gpu", "cuda"  # a CPU smoke test of this script sets "cpu", "cpu"


def save(path: Path) -> None:
    path.write_text(json.dumps(RESULTS, indent=1, default=float))


class GpuUtil:
    """Mean NVML utilisation (% of time a kernel ran) over a block, sampled in a thread."""

    def __init__(self, period: float = 0.02) -> None:
        self.period, self.samples, self._stop = period, [], threading.Event()
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        except Exception:  # no NVML: utilisation is reported as None
            self._nvml = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
            time.sleep(self.period)

    def __enter__(self) -> "GpuUtil":
        if self._nvml is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._nvml is not None:
            self._thread.join()

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.samples)) if self.samples else None


def setup(dataset: str) -> dict:
    import ours_api

    df = load_table(dataset)
    t0 = time.perf_counter()
    table, schema = ours_api.prepare(df, Path(dataset).stem)
    tr = ours_api.fit_transformer(table, schema)
    RESULTS["setup"] = {"rows": len(df), "transformer_s": time.perf_counter() - t0,
                        **ours_api.dims(tr)}
    return {"df": df, "table": table, "schema": schema, "tr": tr}


def _train(env: dict, batch: int, precision: str, epochs: int, compile_: bool = False,
           at_end=None):
    import pytorch_lightning as pl

    from pipeline.config import TrainParams
    from pipeline.runtime import build_trainer
    from pipeline.stages.train import build_model

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.epoch_s: list[float] = []

        def on_train_epoch_start(self, trainer, module) -> None:
            torch.cuda.synchronize()
            self.t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, module) -> None:
            torch.cuda.synchronize()
            self.epoch_s.append(time.perf_counter() - self.t0)

        def on_train_end(self, trainer, module) -> None:
            # Before Lightning's teardown moves the module and optimiser states to the CPU.
            if at_end is not None:
                at_end(module)

    params = TrainParams(epochs=epochs, batch_size=batch, accelerator=ACCEL, devices=1,
                         precision=precision, compile=compile_)
    pl.seed_everything(42, verbose=False)
    matrix = np.ascontiguousarray(env["tr"].transform(env["table"]), dtype=np.float32)
    model = build_model(params, env["tr"], 42)
    model.set_training_data(matrix)
    clock = Clock()
    trainer = build_trainer(params, False, [clock], checkpointing=False)
    with GpuUtil() as util:
        trainer.fit(model)
    model.to(DEVICE)  # teardown left it on the CPU; sampling is measured on the GPU
    steps = math.ceil(len(matrix) / batch)
    timed = clock.epoch_s[1:] or clock.epoch_s  # the first epoch holds warm-up / compilation
    s = statistics.median(timed)
    return model, trainer, {
        "batch": batch, "precision": precision, "compile": compile_, "epochs": epochs,
        "steps_per_epoch": steps, "epoch_s": clock.epoch_s, "s_per_epoch": s,
        "ms_per_step": 1e3 * s / steps, "train_rows_per_s": steps * batch / s,
        "first_epoch_s": clock.epoch_s[0], "gpu_util_pct": util.mean}


def _sampling(model, env: dict, n: int) -> dict:
    import ours_api

    out = {}
    ours_api.sample(model, env["tr"], env["schema"], 10_000)  # warm-up
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    df = ours_api.sample(model, env["tr"], env["schema"], n, chunk_rows=max(n // 4, 1))
    out["sample_rows_per_s"] = len(df) / (time.perf_counter() - t0)
    g = torch.Generator(device=model.device).manual_seed(0)
    model.sample(10_000, generator=g)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(5):
        model.sample(n, generator=g, batch=n)
    torch.cuda.synchronize()
    out["matrix_rows_per_s"] = 5 * n / (time.perf_counter() - t0)
    return out


def section_ours(env: dict, args, path: Path) -> None:
    runs = RESULTS.setdefault("ours", [])
    for batch in args.batches:
        for precision in args.precisions:
            epochs = args.epochs if batch <= 1000 else max(args.epochs, 12)
            key = f"{batch}/{precision}"
            print(f"[ours] batch {batch} {precision} ...", flush=True)
            first = batch == args.batches[0] and precision == "32-true"
            try:
                model, _, row = _train(env, batch, precision, epochs,
                                       at_end=(lambda m: section_step(m, path)) if first
                                       else None)
                if precision == "32-true":
                    row.update(_sampling(model, env, args.sample_rows))
            except Exception as exc:
                row = {"batch": batch, "precision": precision, "error": repr(exc)}
                traceback.print_exc()
            row["key"] = key
            runs.append(row)
            print(json.dumps(row, default=float), flush=True)
            save(path)


def section_step(model, path: Path, steps: int = 30) -> None:
    """The GAN step outside Lightning's loop: ms/step, kernel-busy ms/step, host syncs."""
    out: dict = {"batch": model.hparams.batch_size}
    try:
        model.train()
        for _ in range(5):
            model._gan_step()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            model._gan_step()
        torch.cuda.synchronize()
        out["ms_per_step_eager"] = 1e3 * (time.perf_counter() - t0) / steps
        # Host-device syncs inside the step: every one raises a warning in "warn" mode.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for _ in range(5):
                    model._gan_step()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        # (the mode itself prints one "prototype feature" notice: not a sync)
        syncs = [str(w.message) for w in caught
                 if "synchronizing" in str(w.message).lower()
                 and "prototype" not in str(w.message)]
        out["host_syncs_in_5_steps"] = len(syncs)
        out["sync_messages"] = sorted(set(syncs))[:5]
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(10):
                model._gan_step()
            torch.cuda.synchronize()
            wall = time.perf_counter() - t0
        busy_us = sum(e.self_device_time_total for e in prof.key_averages()
                      if e.self_device_time_total > 0)
        out["gpu_busy_ms_per_step"] = busy_us / 1e3 / 10
        out["profiled_ms_per_step"] = 1e3 * wall / 10
        out["kernels_per_step"] = sum(e.count for e in prof.key_averages()
                                      if e.device_type.name == "CUDA") / 10
    except Exception as exc:
        out["error"] = repr(exc)
        traceback.print_exc()
    RESULTS.setdefault("step", []).append(out)
    print("[step]", json.dumps(out, default=float), flush=True)
    save(path)


def section_graph(env: dict, args, path: Path) -> None:
    """Whole GAN step (critic + generator update, sampler draws included) as one CUDA graph."""
    from pipeline.models.layers import gradient_penalty
    from pipeline.stages.train import build_model
    from pipeline.config import TrainParams

    rows = []
    for batch in args.graph_batches:
        out: dict = {"batch": batch}
        try:
            params = TrainParams(batch_size=batch)
            torch.manual_seed(0)
            m = build_model(params, env["tr"], 42)
            matrix = np.ascontiguousarray(env["tr"].transform(env["table"]), dtype=np.float32)
            m = m.to(DEVICE)
            m.set_training_data(matrix)
            G, D, act, sampler = m.generator, m.critic, m.activation, m.sampler
            kw = dict(lr=2e-4, betas=(0.5, 0.9), weight_decay=1e-6, fused=True,
                      capturable=True)
            g_opt = torch.optim.Adam(G.parameters(), **kw)
            d_opt = torch.optim.Adam(D.parameters(), **kw)
            n, pac, emb = batch, params.pac, params.embedding_dim

            def gen(cond):
                z = torch.randn(cond.shape[0], emb, device=cond.device)
                return act(G(torch.cat([z, cond], 1)))

            def step():
                cond, _, _, r = sampler.sample_train(n)
                real = torch.cat([m.data[r], cond], 1)
                with torch.no_grad():
                    fake = torch.cat([gen(cond)[0], cond], 1)
                for p in G.parameters():
                    p.requires_grad_(False)
                sc = D(torch.cat([real, fake], 0))
                loss_d = (sc[n // pac:].mean() - sc[: n // pac].mean()
                          + 10 * gradient_penalty(D, real, fake, pac))
                loss_d.backward()
                d_opt.step()
                d_opt.zero_grad(set_to_none=False)
                for p in G.parameters():
                    p.requires_grad_(True)
                for p in D.parameters():
                    p.requires_grad_(False)
                cond, col, cat, _ = sampler.sample_train(n)
                fake, logits = gen(cond)
                loss_g = -D(torch.cat([fake, cond], 1)).mean() + act.cond_loss(logits, col, cat)
                loss_g.backward()
                g_opt.step()
                g_opt.zero_grad(set_to_none=False)
                for p in D.parameters():
                    p.requires_grad_(True)
                return loss_d.detach(), loss_g.detach()

            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(5):
                    step()
            torch.cuda.current_stream().wait_stream(side)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(30):
                step()
            torch.cuda.synchronize()
            out["ms_per_step_eager"] = 1e3 * (time.perf_counter() - t0) / 30
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                losses = step()
            for _ in range(3):
                graph.replay()
            torch.cuda.synchronize()
            reps = 200 if batch <= 1000 else 50
            t0 = time.perf_counter()
            for _ in range(reps):
                graph.replay()
            torch.cuda.synchronize()
            out["ms_per_step_graph"] = 1e3 * (time.perf_counter() - t0) / reps
            out["train_rows_per_s_graph"] = batch / out["ms_per_step_graph"] * 1e3
            out["losses_finite"] = bool(torch.isfinite(torch.stack(losses)).all())
            out["speedup"] = out["ms_per_step_eager"] / out["ms_per_step_graph"]
        except Exception as exc:
            out["error"] = repr(exc)
            traceback.print_exc()
        rows.append(out)
        print("[graph]", json.dumps(out, default=float), flush=True)
        RESULTS["graph"] = rows
        save(path)


def section_compile(env: dict, args, path: Path) -> None:
    print(f"[compile] batch {args.compile_batch} ...", flush=True)
    try:
        _, _, row = _train(env, args.compile_batch, "bf16-mixed", max(args.epochs, 12), True)
    except Exception as exc:
        row = {"error": repr(exc)}
        traceback.print_exc()
    RESULTS["compile"] = row
    print("[compile]", json.dumps(row, default=float), flush=True)
    save(path)


def section_ctgan(env: dict, args, path: Path) -> None:
    print("[ctgan] ...", flush=True)
    out: dict = {"batch": 500}
    try:
        from ctgan import CTGAN
        from ref_tools import _Clock, _instrument_ctgan

        df = env["df"]
        model = CTGAN(epochs=args.ctgan_epochs, batch_size=500, pac=10, embedding_dim=128,
                      generator_dim=(256, 256), discriminator_dim=(256, 256), verbose=False,
                      enable_gpu=True)
        clock = _Clock()
        _instrument_ctgan(clock, lambda epoch: torch.cuda.synchronize())
        t0 = time.perf_counter()
        with GpuUtil() as util:
            model.fit(df, discrete_columns(df))
        out["fit_total_s"] = time.perf_counter() - t0
        out["setup_s"] = clock.loop_start - t0
        out["epoch_s"] = clock.epoch_s
        timed = clock.epoch_s[1:] or clock.epoch_s
        out["s_per_epoch"] = statistics.median(timed)
        steps = max(len(df) // 500, 1)
        out["ms_per_step"] = 1e3 * out["s_per_epoch"] / steps
        out["train_rows_per_s"] = steps * 500 / out["s_per_epoch"]
        out["gpu_util_pct"] = util.mean
        out["device"] = str(getattr(model, "_device", "?"))
        model.sample(10_000)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        sample = model.sample(args.ctgan_sample_rows)
        out["sample_rows_per_s"] = len(sample) / (time.perf_counter() - t0)
    except Exception as exc:
        out["error"] = repr(exc)
        traceback.print_exc()
    RESULTS["ctgan"] = out
    print("[ctgan]", json.dumps(out, default=float), flush=True)
    save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="diamonds")
    p.add_argument("--out", default="gpu_results.json")
    p.add_argument("--only", default="ours,graph,compile,ctgan")
    p.add_argument("--batches", default="500,4000,16000",
                   help="multiples of pac (10); the first also gets the step section")
    p.add_argument("--precisions", default="32-true,bf16-mixed")
    p.add_argument("--graph-batches", default="500,16000")
    p.add_argument("--compile-batch", type=int, default=16000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--ctgan-epochs", type=int, default=3)
    p.add_argument("--sample-rows", type=int, default=1_000_000)
    p.add_argument("--ctgan-sample-rows", type=int, default=200_000)
    args = p.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    args.precisions = args.precisions.split(",")
    args.graph_batches = [int(b) for b in args.graph_batches.split(",")]
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs a CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False  # 32-true means fp32 matmuls
    path = Path(args.out)
    RESULTS["device"] = torch.cuda.get_device_name()
    RESULTS["versions"] = {"torch": torch.__version__, "cuda": torch.version.cuda,
                           "python": sys.version.split()[0]}
    try:
        import pytorch_lightning as pl
        import pandas as pd

        RESULTS["versions"].update(lightning=pl.__version__, pandas=pd.__version__)
    except ImportError:
        pass
    RESULTS["started"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    env = setup(args.dataset)
    save(path)
    sections = {"ours": section_ours, "graph": section_graph, "compile": section_compile,
                "ctgan": section_ctgan}
    for name in args.only.split(","):
        t0 = time.perf_counter()
        sections[name](env, args, path)
        RESULTS.setdefault("section_s", {})[name] = time.perf_counter() - t0
        save(path)
    ours = {r.get("key"): r for r in RESULTS.get("ours", [])}
    ctgan = RESULTS.get("ctgan", {})
    if ctgan.get("train_rows_per_s"):
        RESULTS["speedup_train_rows_per_s_vs_ctgan"] = {
            k: r["train_rows_per_s"] / ctgan["train_rows_per_s"]
            for k, r in ours.items() if r.get("train_rows_per_s")}
    save(path)
    print(json.dumps({k: RESULTS.get(k) for k in ("speedup_train_rows_per_s_vs_ctgan",)},
                     default=float), flush=True)


if __name__ == "__main__":
    main()
