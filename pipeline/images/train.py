"""`synth train` for images: the DCGAN family on the shared Trainer, checkpoint and DVCLive.

Reuses `runtime.build_trainer` (accelerator/devices/DDP/precision, max_minutes),
`resume.resume_point` (resumable last.ckpt) and `stages.train.save_checkpoint` (atomic,
rank 0). Hyperparameters come from `train:` with image meanings: `embedding_dim` is the
latent size, `generator_dims`/`discriminator_dims` are conv channel widths (one stride-2
layer each). `SnapshotCallback` keeps generated images at a few rounds for the report's
"separability over training" curve (`<log-dir>/snapshots.npz`).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from pipeline.config import Params, TrainParams
from pipeline.errors import UserError
from pipeline.families import FAMILIES, check_prepared
from pipeline.images.codec import ImageCodec
from pipeline.images.files import write_npz
from pipeline.images.prepare import read_prepared
from pipeline.log import logger
from pipeline.models import MODELS
from pipeline.models.checkpoint import synth_meta
from pipeline.resume import fingerprint, resume_point
from pipeline.runtime import EpochTimer, build_trainer, training_rounds

SNAPSHOTS = 5  # rounds at which generated images are kept (evenly spaced, last included)
SNAPSHOT_IMAGES = 200


def run(params: Params, data_dir: Path, model_path: Path, log_dir: Path) -> None:
    check_prepared(Path(data_dir), FAMILIES["image"], params.train.model)
    images, labels, schema = read_prepared(Path(data_dir))
    train_images(images, labels, schema, params.train, params.seed, Path(model_path),
                 Path(log_dir) if log_dir is not None else None)


def build(train: TrainParams, codec: ImageCodec, seed: int, per_round: int | None):
    h, w = codec.height, codec.width
    for key, dims in (("generator_dims", train.generator_dims),
                      ("discriminator_dims", train.discriminator_dims)):
        if h % (1 << len(dims)) or w % (1 << len(dims)):
            raise UserError(f"params key train.{key}: {len(dims)} stride-2 layers need image "
                            f"sides divisible by {1 << len(dims)}, images are {h}x{w}")
    return MODELS[train.model](
        height=h, width=w, channels=codec.channels, n_classes=codec.n_classes,
        embedding_dim=train.embedding_dim, generator_dims=list(train.generator_dims),
        discriminator_dims=list(train.discriminator_dims), batch_size=train.batch_size,
        generator_lr=train.generator_lr, discriminator_lr=train.discriminator_lr,
        betas=list(train.betas), critic_steps=train.critic_steps, gp_weight=train.gp_weight,
        seed=seed, steps_per_epoch=per_round, ema_decay=train.ema_decay)


def train_images(images: np.ndarray, labels: np.ndarray, schema: dict, train: TrainParams,
                 seed: int, model_path: Path | None, log_dir: Path | None = None):
    """Fit the image GAN; write the checkpoint (and snapshots into log_dir) when given."""
    from pipeline.stages.train import _dvclive, save_checkpoint

    pl.seed_everything(seed, workers=True, verbose=False)
    if train.cpu_threads and (train.accelerator == "cpu" or not torch.cuda.is_available()):
        torch.set_num_threads(train.cpu_threads)
    codec = ImageCodec.from_dict(schema["codec"])
    planned, per_round = training_rounds(train)
    model = build(train, codec, seed, per_round)
    flat = images.reshape(len(images), -1)
    run_id = fingerprint(flat, train, seed)
    model.synth_meta = {**synth_meta(train.model, schema, codec.to_dict(),
                                     dataclasses.asdict(train), seed), "fingerprint": run_id}
    model.set_training_data(codec.to_tensor(images), torch.as_tensor(labels))
    snapshots = SnapshotCallback(planned, codec.n_classes, seed)
    callbacks: list[pl.Callback] = [timer := EpochTimer(), snapshots]
    ckpt_path = resume_point(model_path, train, run_id, planned, callbacks)
    per_epoch = per_round or max(1, -(-len(images) // train.batch_size))
    trainer = build_trainer(train, _dvclive(log_dir, train, seed, ckpt_path is not None,
                                            per_epoch),
                            callbacks, checkpointing=model_path is not None)
    started = time.perf_counter()
    trainer.fit(model, ckpt_path=ckpt_path)
    logger.info("trained %d rounds (%d optimiser steps) in %.1fs (%.3fs per round)",
                trainer.current_epoch, trainer.global_step, time.perf_counter() - started,
                timer.seconds_per_epoch())
    if model_path is not None:
        save_checkpoint(trainer, Path(model_path))
    if log_dir is not None and trainer.is_global_zero and snapshots.steps:
        write_npz(Path(log_dir) / "snapshots.npz", steps=np.array(snapshots.steps),
                  images=np.stack(snapshots.images), labels=snapshots.labels)
    return model, trainer


class SnapshotCallback(pl.Callback):
    """Generated images (fixed seed and labels) at SNAPSHOTS evenly spaced round ends."""

    def __init__(self, rounds: int, n_classes: int, seed: int) -> None:
        picks = np.linspace(0, rounds - 1, min(SNAPSHOTS, rounds)).round().astype(int)
        self.at = set(picks.tolist())
        self.labels = np.arange(SNAPSHOT_IMAGES) % n_classes
        self.seed = seed
        self.steps: list[int] = []
        self.images: list[np.ndarray] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch in self.at and trainer.is_global_zero:
            self._take(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # a run stopped early (train.max_minutes) still gets its final images
        done = int(trainer.global_step) // (pl_module.hparams.critic_steps + 1)
        if trainer.is_global_zero and (not self.steps or self.steps[-1] != done):
            self._take(trainer, pl_module)

    def _take(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        gen = torch.Generator(device=pl_module.device).manual_seed(self.seed + 1)
        x = pl_module.sample(torch.as_tensor(self.labels, device=pl_module.device), gen)
        # GAN steps (generator updates), as train.steps counts them
        self.steps.append(int(trainer.global_step) // (pl_module.hparams.critic_steps + 1))
        self.images.append(((x.float().cpu() + 1) * 127.5).round().clamp(0, 255)
                           .to(torch.uint8).permute(0, 2, 3, 1).numpy())
