"""`synth train`: fit the GAN on the prepared training table and write a self-contained checkpoint.

Everything before `Trainer.fit` runs on every DDP rank (Lightning re-executes the command per
rank), so it only reads; only rank 0 writes the final checkpoint. Resumable checkpoints go to
`<model dir>/checkpoints/last.ckpt` (not a DVC output) for `train.resume: true`
(`pipeline/resume.py`: atomic, every `train.checkpoint_every` rounds, fingerprint-checked).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from pipeline import io
from pipeline.config import Params, TrainParams
from pipeline.errors import UserError
from pipeline.log import logger
from pipeline.models import MODELS
from pipeline.models import row_refine
from pipeline.models.checkpoint import synth_meta
from pipeline.models.refine import MIN_ROWS
from pipeline.resume import fingerprint, resume_point
from pipeline.runtime import EpochTimer, build_trainer, training_rounds
from pipeline.tabular.spans import discrete_to_list, spans_to_list

PREPARED = ("train.parquet", "schema.json", "transformer.json")
# Shares of train.max_minutes: the GAN's rounds when a refiner follows (flights, on a 2-core
# box where its 150 trees took ~100 s: 721 s in all under a 10-minute cap before), and the
# refiner's trees; its re-calibration (seconds) comes after.
_GAN_SHARE = 0.85
_REFINE_SHARE = 0.95


def run(params: Params, data_dir: Path, model_path: Path, log_dir: Path) -> None:
    """Train `MODELS[params.train.model]` and write `model_path` (+ DVCLive files in log_dir)."""
    from pipeline.tabular.transformer import TableTransformer

    data_dir, model_path = Path(data_dir), Path(model_path)
    _check_inputs(data_dir, params.train)
    schema = io.read_json(data_dir / "schema.json")
    transformer = TableTransformer.from_dict(io.read_json(data_dir / "transformer.json"))
    table = io.read_table(data_dir / "train.parquet")
    train_model(table, schema, transformer, params.train, params.seed, model_path,
                log_dir=Path(log_dir))


def train_model(table: pd.DataFrame, schema: dict, transformer: Any, train: TrainParams,
                seed: int, model_path: Path | None, log_dir: Path | None = None
                ) -> tuple[pl.LightningModule, pl.Trainer]:
    """Transform, build, fit; write the checkpoint to `model_path` when given.

    Shared by the train stage and `Synthesizer.fit`.
    """
    pl.seed_everything(seed, workers=True, verbose=False)
    if train.cpu_threads and (train.accelerator == "cpu" or not torch.cuda.is_available()):
        torch.set_num_threads(train.cpu_threads)
    started = time.perf_counter()
    matrix = np.ascontiguousarray(transformer.transform(table), dtype=np.float32)
    logger.info("training matrix: %d rows x %d dims (%d spans, %d conditionable columns), "
                "transformed in %.2fs", matrix.shape[0], matrix.shape[1], len(transformer.spans),
                len(transformer.discrete), time.perf_counter() - started)
    planned, per_round = training_rounds(train)
    refines = matrix.shape[0] >= MIN_ROWS and (train.refine_draws is not None
                                               or train.refine_rows_draws is not None)
    cap, deadline = _time_budget(train.max_minutes, refines, started)
    model = build_model(train, transformer, seed, per_round, schema.get("target"))
    run_id = fingerprint(matrix, train, seed)
    model.synth_meta = {**synth_meta(train.model, schema, transformer.to_dict(),
                                     dataclasses.asdict(train), seed), "fingerprint": run_id}
    model.set_training_data(matrix)

    callbacks: list[pl.Callback] = [timer := EpochTimer()]
    ckpt_path = resume_point(model_path, train, run_id, planned, callbacks)
    per_epoch = per_round or max(1, -(-matrix.shape[0] // train.batch_size))
    live = _dvclive(log_dir, train, seed, ckpt_path is not None, per_epoch)
    trainer = build_trainer(dataclasses.replace(train, max_minutes=cap), live, callbacks,
                            checkpointing=model_path is not None)
    if train.privacy.enabled:
        trainer.callbacks.append(enable_dp(model, train, seed, planned, per_round,
                                           trainer.world_size))
    trainer.fit(model, ckpt_path=ckpt_path)
    if live and trainer.is_global_zero:
        live.write_summary(log_dir)
    logger.info("trained %d rounds (%d optimiser steps) in %.0fs", trainer.current_epoch,
                trainer.global_step, timer.seconds_per_epoch() * max(timer.epochs, 1))
    if trainer.current_epoch < planned:
        share = f", {_GAN_SHARE:.0%} of it for the GAN with the refiner to fit" if refines \
            else ""
        logger.warning("train.max_minutes (%s%s) reached after %d of %d rounds: the model is "
                       "less trained than train.steps asks (train.resume: true continues it)",
                       train.max_minutes, share, trainer.current_epoch, planned)
    if train.calibrate:
        t0 = time.perf_counter()
        model.calibrate(seed=seed)
        logger.info("calibrated marginals in %.2fs", time.perf_counter() - t0)
    if train.refine_draws is not None:
        t0 = time.perf_counter()
        model.refine(seed=seed, max_draws=train.refine_draws,
                     ties=transformer.tie_tables(), deadline=deadline)
        logger.info("fitted the density-ratio refiner in %.2fs", time.perf_counter() - t0)
    if train.refuse_copies:  # before the decoded-row refiner, which learns from guarded draws
        model.copy_guard.fit(table, transformer.columns, transformer.roles)
    if train.refine_rows_draws is not None:
        t0 = time.perf_counter()
        refine_rows(model, transformer, table, seed, train.refine_rows_draws, deadline)
        logger.info("fitted the decoded-row refiner in %.2fs", time.perf_counter() - t0)
    if model_path is not None:
        save_checkpoint(trainer, Path(model_path))
    return model, trainer


def refine_rows(model: pl.LightningModule, transformer: Any, table: pd.DataFrame, seed: int,
                max_draws: float, deadline: float | None) -> None:
    """Fit `model.row_refiner` (`pipeline/models/row_refine.py`) on the real training rows
    against decoded rows drawn as `generate` draws them (encoded refiner, row rules)."""
    from pipeline.stages.generate import iter_chunks
    from pipeline.tabular.conditions import ConditionPlan

    plan = ConditionPlan()

    def draw(n: int) -> pd.DataFrame:
        return pd.concat(list(iter_chunks(model, transformer, n, plan, seed + 3, 50000)),
                         ignore_index=True)

    if deadline is not None and time.perf_counter() >= deadline:
        logger.warning("train.max_minutes: no time left for the decoded-row refiner "
                       "(train.refine_rows_draws); it stays off")
        model.row_refiner.on.fill_(False)
        return
    cols = row_refine.layout(transformer.columns, transformer.roles)
    model.row_refiner.fit(table, draw, cols, seed, max_draws, deadline)


def _time_budget(max_minutes: float | None, refines: bool, started: float
                 ) -> tuple[float | None, float | None]:
    """train.max_minutes caps the whole fit: the GAN rounds' cap in minutes (_GAN_SHARE of it
    when a refiner follows) and the time (perf_counter) past which the refiners add no trees
    (_REFINE_SHARE of it); (None, None) without a cap."""
    if not max_minutes:
        return None, None
    return (max_minutes * (_GAN_SHARE if refines else 1.0),
            started + 60 * max_minutes * _REFINE_SHARE)


def enable_dp(model: pl.LightningModule, train: TrainParams, seed: int, rounds: int,
              per_round: int | None, world: int) -> pl.Callback:
    """Calibrate DP-SGD for the planned critic steps, hand the model its DP critic, and
    return the callback that logs the epsilon spent (pipeline/models/dp.py)."""
    from pipeline.models.dp import DPCritic, PrivacyLog
    from pipeline.models.dp_accounting import plan

    rows = int(model.data.shape[0])
    per_epoch = per_round or max(1, -(-rows // train.batch_size))
    steps = rounds * -(-per_epoch // world) * train.critic_steps
    try:
        dp_plan = plan(train.privacy, rows, train.batch_size, world, steps,
                       model.sampler.n_discrete)
    except ValueError as exc:
        raise UserError(f"train.privacy: {exc}") from None
    if dp_plan["sample_rate"] >= 1.0:
        logger.warning("train.privacy: batch_size x devices >= training rows (%d): every step "
                       "sees every row, so no subsampling amplification; lower "
                       "train.batch_size for a smaller epsilon", rows)
    model.dp = DPCritic(dp_plan, seed)
    model.dp.attach(model)
    model.synth_meta["privacy"] = dp_plan
    logger.info("train.privacy: noise multiplier %.3f (counts %.3f), sample rate %.4f, "
                "%d critic steps, delta %.2e -> epsilon %.3f", dp_plan["noise_multiplier"],
                dp_plan["count_noise"], dp_plan["sample_rate"], steps, dp_plan["delta"],
                dp_plan["epsilon_planned"])
    return PrivacyLog(dp_plan, train.critic_steps)


def build_model(train: TrainParams, transformer: Any, seed: int,
                rounds: int | None = None, target: str | None = None) -> pl.LightningModule:
    """`MODELS[train.model]` sized for the transformer's spans, hyperparameters from params;
    a categorical `target` (its one-hot span) gets train.target_loss's classifier."""
    if train.model not in MODELS:
        raise UserError(f"params key train.model: unknown model '{train.model}'; "
                        f"known: {', '.join(MODELS)}")
    return MODELS[train.model](
        spans=spans_to_list(transformer.spans), discrete=discrete_to_list(transformer.discrete),
        embedding_dim=train.embedding_dim, generator_dims=list(train.generator_dims),
        discriminator_dims=list(train.discriminator_dims), batch_size=train.batch_size,
        generator_lr=train.generator_lr, discriminator_lr=train.discriminator_lr,
        betas=list(train.betas), generator_decay=train.generator_decay,
        discriminator_decay=train.discriminator_decay, pac=train.pac,
        critic_steps=train.critic_steps, gp_weight=train.gp_weight,
        log_frequency=train.log_frequency, seed=seed, compile=train.compile,
        steps_per_epoch=rounds, ema_decay=train.ema_decay,
        cond_anyway=train.cond_anyway, target_span=_target_span(transformer.spans, target),
        target_weight=train.target_loss)


def _target_span(spans: list, target: str | None) -> list[int] | None:
    """[start, width] of a categorical target's one-hot span, else None."""
    span = next((s for s in spans if s.column == target and s.kind == "onehot"), None)
    return [span.start, span.width] if span is not None else None


def save_checkpoint(trainer: pl.Trainer, model_path: Path) -> None:
    """Atomic write: every rank calls save_checkpoint (it synchronises), rank 0 renames."""
    model_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = model_path.with_name(f".{model_path.name}.tmp")
    trainer.save_checkpoint(tmp, weights_only=False)  # with optimiser states
    if trainer.is_global_zero:
        # Callback state holds absolute paths (ModelCheckpoint.dirpath); drop it so the same
        # data + params + seed give the same checkpoint bytes wherever the repo lives.
        state = torch.load(tmp, map_location="cpu", weights_only=False)
        state.pop("callbacks", None)
        torch.save(state, tmp)
        os.replace(tmp, model_path)
        logger.info("wrote %s (%.1f MB)", model_path, model_path.stat().st_size / 1e6)


def _dvclive(log_dir: Path | None, train: TrainParams, seed: int, resume: bool,
             steps_per_epoch: int):
    if log_dir is None:
        return False
    from pipeline.trainlog import TrainLogger

    # dvcyaml=False: dvc.yaml is ours; save_dvc_exp=False: never create experiments itself.
    live = TrainLogger(steps_per_epoch, dir=str(log_dir), dvcyaml=False, save_dvc_exp=False,
                       resume=resume)
    live.log_hyperparams({"seed": seed, **dataclasses.asdict(train)})
    return live


def _check_inputs(data_dir: Path, train: TrainParams) -> None:
    if not data_dir.is_dir():
        raise UserError(f"prepared data directory not found: {data_dir} (run `synth prepare`)")
    missing = [name for name in PREPARED if not (data_dir / name).is_file()]
    if missing:
        raise UserError(f"{data_dir} lacks {', '.join(missing)} (run `synth prepare`)")
    if train.model not in MODELS:
        raise UserError(f"params key train.model: unknown model '{train.model}'; "
                        f"known: {', '.join(MODELS)}")
