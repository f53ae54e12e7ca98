"""The training run's DVCLive logger and its `dvc metrics` summary (`reports/train/`).

Lightning adds an `epoch` entry to every logged dict and counts optimiser steps (generator
and critic together); a user reads curves against generator steps, the training budget
(`train.steps`). So the logger drops `epoch`, logs each round's means at the generator step
that ends the round, and `write_summary` writes `summary.json`, the last value of each
curve grouped under `train` and nothing else (no epoch/step counters), which `dvc.yaml`
declares as the stage's metrics. DVCLive's own `metrics.json` stays as it is (it needs its
`step` counter to resume).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dvclive.lightning import DVCLiveLogger

from pipeline import io

SUMMARY = "summary.json"
NOT_METRICS = ("epoch", "step")


class TrainLogger(DVCLiveLogger):
    """DVCLive logger with generator steps on x and no `epoch` curve."""

    def __init__(self, steps_per_epoch: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.last: dict[str, float] = {}

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None,
                    sync: bool | None = False) -> None:
        epoch = metrics.get("epoch")
        kept = {k: v for k, v in metrics.items() if k not in NOT_METRICS}
        if not kept:
            return
        if epoch is not None:  # metrics are logged once per round, at its end
            step = (int(epoch) + 1) * self.steps_per_epoch
        self.last.update({k: float(v) for k, v in kept.items()})
        super().log_metrics(kept, step, sync)

    def write_summary(self, log_dir: Path) -> None:
        """`summary.json`: {"train": {curve: last value}} for `dvc metrics show` (kept as it
        is when this process logged nothing, e.g. a resume with no round left)."""
        if not self.last:
            return
        io.write_json({"train": dict(sorted(self.last.items()))}, Path(log_dir) / SUMMARY)
