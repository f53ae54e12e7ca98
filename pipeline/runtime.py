"""Seeding and Trainer construction shared by `synth train` and the notebook API.

GANs under DDP need `find_unused_parameters=True` (each optimiser step uses only G or D, and
Lightning wraps both in one DDP module), so "ddp"/"auto" with several devices are mapped to
the `*_find_unused_parameters_true` strategies.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from lightning_fabric.utilities.exceptions import MisconfigurationException

from pipeline.config import TrainParams
from pipeline.errors import UserError
from pipeline.log import logger

STRATEGIES = {"ddp": "ddp_find_unused_parameters_true",
              "ddp_spawn": "ddp_spawn_find_unused_parameters_true"}


def resolve_strategy(train: TrainParams) -> str:
    """The Lightning strategy string for `train.strategy` (GAN-safe DDP)."""
    if train.strategy == "auto" and (train.devices not in (1, "1") or train.num_nodes > 1):
        return STRATEGIES["ddp"]
    return STRATEGIES.get(train.strategy, train.strategy)


def show_progress_bar() -> bool:
    """A progress bar only for a person at a terminal: never in CI or redirected logs."""
    return sys.stderr.isatty() and not os.environ.get("CI")


ROUND_STEPS = 100  # under a step budget, one Lightning "epoch" is this many GAN steps


def training_rounds(train: TrainParams) -> tuple[int, int | None]:
    """(Lightning epochs, GAN steps per epoch). A step budget runs ceil(steps / ROUND_STEPS)
    rounds of ROUND_STEPS steps, so its cost does not grow with the table's rows; `epochs`
    instead gives passes over the data (steps per epoch None: ceil(rows / batch_size))."""
    if train.epochs is not None:
        return train.epochs, None
    per = min(ROUND_STEPS, train.steps)
    return max(1, -(-train.steps // per)), per


def build_trainer(train: TrainParams, logger_: Any = False, callbacks: list | None = None,
                  checkpointing: bool = False) -> pl.Trainer:
    """A Trainer from the `train:` params (accelerator, devices, nodes, strategy, precision)."""
    epochs, _ = training_rounds(train)
    quiet_lightning()
    callbacks = list(callbacks or [])
    if train.max_minutes is not None:
        callbacks.append(ProcessTimer(train.max_minutes))
    try:
        return pl.Trainer(
            max_epochs=epochs, accelerator=train.accelerator, devices=train.devices,
            num_nodes=train.num_nodes, strategy=resolve_strategy(train),
            precision=train.precision, logger=logger_, callbacks=callbacks,
            enable_checkpointing=checkpointing, enable_progress_bar=False,
            enable_model_summary=False, log_every_n_steps=1, num_sanity_val_steps=0)
    except (MisconfigurationException, ValueError, TypeError) as exc:
        raise UserError(f"invalid train params for the Trainer: {exc}") from None


LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric",
                     "lightning.fabric")


def quiet_lightning() -> None:
    """The terminal shows our progress lines only: Lightning's banners ("GPU available"),
    its logging-service tip and "`Trainer.fit` stopped" are INFO records, kept for
    `synth --verbose`; a deprecation notice from Lightning's own torch calls is not the
    user's to act on."""
    level = logging.INFO if logger.isEnabledFor(logging.DEBUG) else logging.WARNING
    for name in LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(level)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


class ProcessTimer(pl.callbacks.Timer):
    """`train.max_minutes`: stops training at the first round end past the cap.

    Checked at round (epoch) ends, so a capped run stops on a round boundary, where its
    resumable checkpoint continues exactly (it overshoots by at most one round). The cap
    counts this process's training only: the time a resumed checkpoint had already spent is
    not restored (Lightning's Timer would restore it and stop a resumed run at once).
    """

    def __init__(self, minutes: float) -> None:
        super().__init__(duration=dt.timedelta(minutes=minutes), interval="epoch",
                         verbose=False)

    def state_dict(self) -> dict[str, Any]:
        return {}  # nothing to restore (and no "add the ProcessTimer callback" warning)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._offset = 0  # the cap counts this process's training only


class EpochTimer(pl.Callback):
    """Training progress on rank 0: a progress bar with ETA (generator steps) for a person at
    a terminal, else a plain line every tenth of the run through the package logger."""

    def __init__(self, every: int = 0, bar: bool | None = None) -> None:
        self.every = every
        self.bar_wanted = show_progress_bar() if bar is None else bar
        self.bar: Any = None
        self.started = 0.0
        self.fit_started = 0.0
        self.epochs = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fit_started = time.perf_counter()
        self.epochs = 0
        if self.bar_wanted and trainer.is_global_zero:
            from tqdm import tqdm

            per = getattr(pl_module.hparams, "steps_per_epoch", None)
            total, done = trainer.max_epochs, trainer.current_epoch
            self.bar = tqdm(total=total * per if per else total, initial=done * (per or 1),
                            unit="step" if per else "epoch", desc="synth: training",
                            file=sys.stderr, dynamic_ncols=True, leave=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epochs += 1
        epoch, total = trainer.current_epoch + 1, trainer.max_epochs
        per = getattr(pl_module.hparams, "steps_per_epoch", None)
        if self.bar is not None:
            self.bar.update(per or 1)
            return
        every = self.every or max(1, total // 10)
        if trainer.is_global_zero and (epoch % every == 0 or epoch == total):
            spent = time.perf_counter() - self.fit_started
            eta = spent / self.epochs * (total - epoch)
            what = (f"step {epoch * per}/{total * per}" if per else f"epoch {epoch}/{total}")
            logger.info("%s: %.2fs per %s, %.0fs elapsed, about %.0fs left", what,
                        time.perf_counter() - self.started,
                        f"{per} steps" if per else "epoch", spent, eta)

    def seconds_per_epoch(self) -> float:
        return (time.perf_counter() - self.fit_started) / max(self.epochs, 1)


def checkpoint_dir(model_path: Path) -> Path:
    """The resumable checkpoint (`checkpoints/last.ckpt`) lives beside the model file (not a
    DVC output)."""
    return Path(model_path).parent / "checkpoints"
