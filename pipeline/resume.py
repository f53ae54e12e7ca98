"""Crash recovery for `synth train`: periodic atomic resumable checkpoints, and the run
fingerprint that `train.resume: true` checks before continuing from one.

A resumable checkpoint (`<model dir>/checkpoints/last.ckpt`) is written at the end of a round
(one Lightning epoch) every `train.checkpoint_every` rounds and/or `train.checkpoint_minutes`
minutes, and at the end of training. It is written to a temporary file in the same directory
and renamed over `last.ckpt` (`os.replace`), so a `kill -9` at any moment leaves either the
previous checkpoint or the new one, never a torn file. Lightning's own writer is not atomic
here: fsspec writes into the system temp dir and `shutil.move`s it, which is a copy when that
is another filesystem.

Resuming at a round boundary replays exactly what an uninterrupted run does (the module
reseeds per round), so kill + resume gives the same model bit for bit on CPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl

from pipeline.config import TrainParams
from pipeline.errors import UserError
from pipeline.log import logger

# Train params a user may change and still continue a run: the budget (raise it to train on),
# the cadence of checkpoints, where it runs, and what happens after training. Every other
# train param (and the seed and the training matrix) must match the checkpoint's.
CONTINUABLE = frozenset({
    "steps", "epochs", "max_minutes", "resume", "checkpoint_every", "checkpoint_minutes",
    "accelerator", "devices", "num_nodes", "strategy", "compile", "calibrate", "refine_draws",
    "refine_rows_draws", "refuse_copies", "cpu_threads",
})


def fingerprint(matrix: np.ndarray, train: TrainParams, seed: int) -> dict[str, Any]:
    """What a resumable checkpoint must match: the training matrix's sha256 (the data as
    transformed), the seed and the train params outside CONTINUABLE. Plain types only."""
    data = np.ascontiguousarray(matrix)
    digest = hashlib.sha256(f"{data.dtype.str}{data.shape}".encode())
    digest.update(memoryview(data).cast("B"))
    params = {k: v for k, v in dataclasses.asdict(train).items() if k not in CONTINUABLE}
    return {"data": digest.hexdigest(), "seed": int(seed), "train": params}


def check_resumable(ckpt: dict[str, Any], path: Path, expected: dict[str, Any]) -> None:
    """A one-line UserError unless `ckpt` (read from `path`) was written by this very run."""
    found = (ckpt.get("synth") or {}).get("fingerprint")
    fix = "delete it or set train.resume: false to start afresh"
    if not isinstance(found, dict):
        raise UserError(f"train.resume: {path} has no run fingerprint (written by an older "
                        f"synth-pipeline); {fix}")
    if found.get("data") != expected["data"]:
        raise UserError(f"train.resume: {path} was trained on other data (training matrix "
                        f"sha256 {str(found.get('data'))[:12]} there, {expected['data'][:12]} "
                        f"here); {fix}")
    diffs = [f"seed {found.get('seed')!r} there, {expected['seed']!r} here"
             ] if found.get("seed") != expected["seed"] else []
    old, new = found.get("train") or {}, expected["train"]
    diffs += [f"train.{k} {_show(old.get(k))} there, {_show(new.get(k))} here"
              for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if diffs:
        raise UserError(f"train.resume: {path} was trained with other params "
                        f"({'; '.join(diffs)}); {fix}")


def check_budget(ckpt: dict[str, Any], path: Path, planned: int) -> None:
    """A one-line UserError when `ckpt` holds more rounds than this run's budget: Lightning
    would silently return the longer-trained model."""
    done = (ckpt.get("callbacks") or {}).get(RoundCheckpoint.__qualname__, {}).get("rounds")
    if isinstance(done, int) and done > planned:
        raise UserError(f"train.resume: {path} holds {done} rounds, more than this run's "
                        f"budget of {planned} (train.steps / train.epochs); raise it or set "
                        f"train.resume: false to start afresh")


def _show(value: Any) -> str:
    return "unset" if value is None else repr(value)


class RoundCheckpoint(pl.callbacks.Checkpoint):
    """Writes `path` atomically at the end of every `every`-th round, when `minutes` have
    passed since the last write, and at the last round (also when `max_minutes` stops the
    run). 0 / None turn the periodic triggers off (the final checkpoint is always written).

    A `Checkpoint` subclass, so Lightning runs it after the module's epoch-end hook (like
    ModelCheckpoint) and adds no default ModelCheckpoint beside it.
    """

    def __init__(self, path: Path, every: int = 0, minutes: float | None = None) -> None:
        self.path = Path(path)
        self.every = every
        self.seconds = None if minutes is None else minutes * 60
        self.last_write = 0.0
        self.writes = 0
        self._rounds = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.last_write = time.monotonic()

    def state_dict(self) -> dict[str, Any]:
        # Rounds completed when written (stored under checkpoint["callbacks"]): resume compares
        # them with the budget. Written at a round end, so current_epoch has not advanced yet.
        return {"rounds": self._rounds}

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        done = trainer.current_epoch + 1
        due = (trainer.should_stop or done >= (trainer.max_epochs or done)
               or (self.every > 0 and done % self.every == 0)
               or (self.seconds is not None
                   and time.monotonic() - self.last_write >= self.seconds))
        # Ranks must agree (the minutes trigger reads each rank's clock): rank 0 decides.
        if trainer.strategy.broadcast(bool(due), src=0):
            self.write(trainer)

    def write(self, trainer: pl.Trainer) -> None:
        """Every rank calls `trainer.save_checkpoint` (it synchronises); rank 0 renames."""
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._rounds = trainer.current_epoch + 1
        trainer.save_checkpoint(tmp, weights_only=False)
        if trainer.is_global_zero:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
            os.replace(tmp, self.path)
            logger.debug("wrote resumable checkpoint %s (round %d)", self.path,
                         trainer.current_epoch + 1)
        self.writes += 1
        self.last_write = time.monotonic()


def resume_point(model_path: Path | None, train: TrainParams, run_id: dict[str, Any],
                 planned: int, callbacks: list[pl.Callback]) -> str | None:
    """Add the round checkpoint callback (when there is a model path) and return the
    checkpoint to resume from: `last.ckpt` when `train.resume` asks and it matches this run
    (UserError otherwise), else None. Shared by every model family's train verb."""
    if model_path is None:
        return None
    from pipeline.models.checkpoint import read_checkpoint
    from pipeline.runtime import checkpoint_dir

    last = checkpoint_dir(Path(model_path)) / "last.ckpt"
    # One file, replaced atomically: a fresh run overwrites last.ckpt (no last-v1.ckpt
    # next to a stale one that a later resume would pick up).
    callbacks.append(RoundCheckpoint(last, train.checkpoint_every, train.checkpoint_minutes))
    if not train.resume:
        return None
    if not last.is_file():
        logger.info("train.resume: no %s yet, starting from scratch", last)
        return None
    state = read_checkpoint(last)
    check_resumable(state, last, run_id)
    check_budget(state, last, planned)
    logger.info("resuming from %s (%d optimiser steps done)", last, state.get("global_step", 0))
    return str(last)
